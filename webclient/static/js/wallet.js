// The learner's credential wallet: GET /api/v1/credentials; downloads and the public page of each.
import {api, formatDate} from "./api.js";
import {el} from "./render.js";

const box = document.getElementById("wallet");

function bare(id) { return String(id).split(":").pop(); }

async function load() {
  try {
    const {items} = await api("GET", "/api/v1/credentials");
    if (!items.length) {
      box.replaceChildren(el("div", {class: "card"}, el("p", {text: "No credential yet. Pass an exam that awards one and it appears here."})));
      return;
    }
    box.replaceChildren(el("ul", {class: "card-grid", "aria-label": "Credentials"}, items.map((c) => {
      const id = bare(c.id);
      return el("li", {}, el("article", {class: "card", "aria-labelledby": `c-${id}`}, [
        el("h2", {id: `c-${id}`, text: c.achievement_name || "Credential"}),
        el("p", {class: "status-line"}, [
          el("span", {class: `badge ${c.is_revoked ? "badge-retired" : "badge-published"}`, text: c.is_revoked ? "revoked" : "valid"}),
          el("span", {text: (c.achievement_type || c.kind || "").replaceAll("_", " ")}),
          c.credits ? el("span", {text: `${c.credits} ${c.credit_framework || "credits"}`}) : null,
        ]),
        el("p", {class: "muted", text: `Issued ${formatDate(c.issued_at)}`}),
        c.is_revoked ? el("p", {class: "notice notice-warn", text: `Revoked ${formatDate(c.revoked_at)}${c.revocation_reason ? `: ${c.revocation_reason}` : ""}`}) : null,
        el("div", {class: "actions"}, [
          el("a", {class: "btn btn-small", href: `/verify/${id}`, text: "Public page", "aria-label": `Public page of ${c.achievement_name}`}),
          el("a", {class: "btn btn-small", href: `/api/v1/credentials/${id}/download.json`, text: "Download JSON", "aria-label": `Download JSON of ${c.achievement_name}`}),
          el("a", {class: "btn btn-small", href: `/api/v1/credentials/${id}/download.jwt`, text: "Download JWT", "aria-label": `Download JWT of ${c.achievement_name}`}),
        ]),
      ]));
    })));
  } catch (err) {
    box.replaceChildren(el("div", {class: "notice notice-warn"}, el("p", {text: err.status === 404
      ? "Credentials are not available on this server yet." : `Your credentials could not be loaded: ${err.message}`})));
  } finally {
    box.setAttribute("aria-busy", "false");
  }
}

load();
