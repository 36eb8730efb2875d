// Credential verification: paste or upload (POST /api/v1/credentials/verify), or the public page of one of
// our credentials (GET /api/v1/credentials/{id}/verification). Shows the verdict, what it states and each check.
import {api, formatDate, pageData} from "./api.js";
import {el} from "./render.js";

const report = document.getElementById("report");

function subjectFacts(vc) {
  if (!vc) return [];
  const subject = Array.isArray(vc.credentialSubject) ? vc.credentialSubject[0] : vc.credentialSubject || {};
  const achievement = subject.achievement || {};
  const issuer = typeof vc.issuer === "string" ? {id: vc.issuer} : vc.issuer || {};
  const facts = [
    ["Achievement", achievement.name], ["Description", achievement.description],
    ["Criteria", achievement.criteria?.narrative], ["Issuer", issuer.name || issuer.id],
    ["Issued", formatDate(vc.validFrom || vc.issuanceDate)], ["Expires", vc.validUntil ? formatDate(vc.validUntil) : null],
    ["Recipient", subject.identifier?.[0]?.identityHash ? "identified by a salted hash (ask the holder to prove it)" : subject.id],
  ];
  return facts.filter(([, v]) => v);
}

function show(result) {
  const valid = result.valid;
  const vc = result.credential;
  const name = vc ? ((Array.isArray(vc.credentialSubject) ? vc.credentialSubject[0] : vc.credentialSubject)?.achievement?.name) : null;
  const heading = document.getElementById("cred-h");
  if (heading && name) heading.textContent = name;
  report.replaceChildren(
    el("section", {class: `notice ${valid ? "notice-ok" : "notice-error"}`, "aria-labelledby": "verdict"}, [
      el("h2", {id: "verdict", text: valid ? "Valid credential" : "Not valid"}),
      el("p", {text: valid ? "The signature is correct, the issuer is known, the dates hold and it was not revoked."
                           : "At least one check failed: see below."}),
    ]),
    vc ? el("section", {class: "card", "aria-labelledby": "states-h"}, [
      el("h2", {id: "states-h", text: "What it states"}),
      el("dl", {class: "facts"}, subjectFacts(vc).flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {text: v})])),
    ]) : null,
    el("section", {class: "card", "aria-labelledby": "checks-h"}, [
      el("h2", {id: "checks-h", text: `Checks (${result.format === "jwt" ? "VC-JWT" : "embedded proof"})`}),
      el("div", {class: "table-wrap"}, el("table", {}, [
        el("caption", {class: "visually-hidden", text: "Verification checks"}),
        el("thead", {}, el("tr", {}, ["Check", "Result", "Detail"].map((h) => el("th", {scope: "col", text: h})))),
        el("tbody", {}, (result.checks || []).map((c) => el("tr", {}, [
          el("th", {scope: "row", text: c.name.replaceAll("_", " ")}),
          el("td", {}, el("span", {class: `badge ${c.ok === true ? "badge-published" : c.ok === false ? "badge-draft" : "badge-retired"}`,
                                   text: c.ok === true ? "passed" : c.ok === false ? "failed" : "not checked"})),
          el("td", {text: c.message || c.code || ""}),
        ]))),
      ])),
    ]),
  );
  report.querySelector("#verdict").setAttribute("tabindex", "-1");
  report.querySelector("#verdict").focus();
}

function fail(message) {
  report.replaceChildren(el("div", {class: "notice notice-error", role: "alert"}, el("p", {text: message})));
}

const form = document.getElementById("verify-form");
if (form) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let text = document.getElementById("credential-text").value.trim();
    const file = document.getElementById("credential-file").files[0];
    if (!text && file) text = (await file.text()).trim();
    if (!text) { fail("Paste a credential or choose its file first."); return; }
    let credential = text;
    if (text.startsWith("{")) {
      try { credential = JSON.parse(text); } catch { fail("This looks like JSON but cannot be read. Check that it is complete."); return; }
    }
    report.replaceChildren(el("p", {class: "muted", text: "Checking…"}));
    try {
      show(await api("POST", "/api/v1/credentials/verify", {credential}));
    } catch (err) {
      fail(err.status === 404 ? "Verification is not available on this server yet." : `The credential could not be checked: ${err.message}`);
    }
  });
} else {
  const {credential_id: id} = pageData();
  api("GET", `/api/v1/credentials/${encodeURIComponent(id)}/verification`).then(show).catch((err) => {
    fail(err.status === 404 ? "There is no credential at this address." : `The credential could not be checked: ${err.message}`);
  });
}
