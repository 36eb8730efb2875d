// The result of one attempt: GET /api/v1/sessions/{id}/result once released.
import {api, formatDate, pageData} from "./api.js";
import {el} from "./render.js";

const {session_id: sessionId} = pageData();
const box = document.getElementById("result");

const number = new Intl.NumberFormat(undefined, {maximumFractionDigits: 2});
function pct(value) { return `${number.format(value)}%`; }
function pts(value) { return number.format(value); }

async function load() {
  let result;
  try {
    result = await api("GET", `/api/v1/sessions/${encodeURIComponent(sessionId)}/result`);
  } catch (err) {
    const text = {
      result_not_released: "Your exam is submitted. The result will be shown here once it is released.",
      result_not_ready: "Your exam is submitted and is being scored. This page updates by itself.",
      session_not_found: "There is no such attempt on your account.",
    }[err.code] || `The result could not be loaded: ${err.message}`;
    box.replaceChildren(el("div", {class: "card"}, [el("p", {text}), el("p", {}, el("a", {href: "/learn", text: "Back to my exams"}))]));
    if (err.code === "result_not_ready") setTimeout(load, 3000);
    return;
  }
  const verdict = result.pending ? "Waiting for marking" : result.passed === true ? "Passed" : result.passed === false ? "Not passed" : "Scored";
  const cls = result.passed === true ? "result-pass" : result.passed === false ? "result-fail" : "";
  const items = Object.entries(result.items || {});
  box.replaceChildren(
    el("section", {class: "card", "aria-labelledby": "verdict"}, [
      el("p", {class: `score-big ${cls}`, id: "verdict", text: verdict}),
      el("p", {class: "lead", text: `${pts(result.score)} of ${pts(result.max_score)} points (${pct(result.percentage)})`}),
      result.pending ? el("p", {text: "Some answers are marked by hand; your final result appears here once they are marked."}) : null,
      el("dl", {class: "facts"}, [
        el("dt", {text: "Submitted"}), el("dd", {text: formatDate(result.submitted_at) || "—"}),
        el("dt", {text: "Scored"}), el("dd", {text: formatDate(result.scored_at) || "—"}),
        result.log_head ? el("dt", {text: "Record fingerprint"}) : null,
        result.log_head ? el("dd", {}, el("code", {text: result.log_head})) : null,
      ]),
    ]),
    items.length ? el("section", {class: "card", "aria-labelledby": "per-q"}, [
      el("h2", {id: "per-q", text: "Per question"}),
      el("div", {class: "table-wrap"}, el("table", {}, [
        el("thead", {}, el("tr", {}, ["Question", "Points", "Outcome"].map((h) => el("th", {scope: "col", text: h})))),
        el("tbody", {}, items.map(([, r], i) => el("tr", {}, [
          el("td", {text: `Question ${i + 1}`}),
          el("td", {text: `${pts(r.score)} / ${pts(r.max_score)}`}),
          el("td", {text: r.is_pending_manual ? "to be marked" : r.is_correct ? "correct" : r.score > 0 ? "partly correct" : "not correct"}),
        ]))),
      ])),
    ]) : null,
    el("p", {}, el("a", {class: "btn", href: "/learn", text: "Back to my exams"})),
  );
}

load();
