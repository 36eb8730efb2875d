// QTI import on a bank's page: POST /api/v1/banks/{id}/qti (multipart `file`), then the per-item report.
import {ApiError, csrfToken} from "./api.js";
import {el} from "./render.js";

const form = document.getElementById("qti-form");
const out = document.getElementById("qti-report");

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = document.getElementById("qti-file").files[0];
  if (!file) {
    out.replaceChildren(el("p", {class: "field-error", role: "alert", text: "Choose a QTI package or item file first."}));
    return;
  }
  const body = new FormData();
  body.append("file", file);
  const publish = document.getElementById("qti-publish").checked;
  out.replaceChildren(el("p", {class: "muted", text: `Importing ${file.name}…`}));
  let report;
  try {
    const resp = await fetch(`/api/v1/banks/${form.dataset.bankId}/qti${publish ? "?publish=true" : ""}`, {
      method: "POST", body, credentials: "same-origin", headers: {"X-CSRF-Token": csrfToken(), Accept: "application/json"}});
    const data = await resp.json().catch(() => null);
    if (!resp.ok) throw new ApiError(resp.status, data?.error);
    report = data;
  } catch (err) {
    out.replaceChildren(el("div", {class: "notice notice-error", role: "alert"}, el("p", {text: `Not imported: ${err.message}`})));
    return;
  }
  const counts = Object.entries(report.counts || {}).map(([k, v]) => `${v} ${k}`).join(", ") || "nothing";
  out.replaceChildren(
    el("div", {class: "notice notice-ok", role: "status"}, [el("p", {text: `Import finished: ${counts}.`}),
      el("p", {}, el("a", {href: location.pathname, text: "Show the bank's items again"}))]),
    el("div", {class: "table-wrap"}, el("table", {}, [
      el("caption", {class: "visually-hidden", text: "QTI import report"}),
      el("thead", {}, el("tr", {}, ["Identifier", "Status", "Action", "Notes"].map((h) => el("th", {scope: "col", text: h})))),
      el("tbody", {}, (report.items || []).map((i) => el("tr", {}, [
        el("th", {scope: "row"}, i.item_id ? el("a", {href: `/author/items/${i.item_id}`, text: i.identifier}) : i.identifier),
        el("td", {text: i.status}), el("td", {text: (i.action || "").replaceAll("_", " ")}),
        el("td", {text: (i.reasons || []).join("; ")}),
      ]))),
    ])),
  );
});
