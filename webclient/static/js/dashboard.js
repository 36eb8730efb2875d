// The learner's dashboard: GET /api/v1/exams (window, attempts left, time limit), start (on the exam page,
// which waits for the exam to open if it must) or continue an attempt, and past attempts with their results.
import {HISTORY_KEY, api, formatDate, formatDuration, pageData} from "./api.js";
import {el} from "./render.js";

const page = pageData();

function windowText(exam) {
  const parts = [];
  if (exam.opens_at) parts.push(`opens ${formatDate(exam.opens_at)}`);
  if (exam.closes_at) parts.push(`closes ${formatDate(exam.closes_at)}`);
  return parts.length ? parts.join(", ") : "always open";
}

function examCard(exam) {
  const facts = el("dl", {class: "facts"}, [
    el("dt", {text: "Time limit"}), el("dd", {text: exam.time_limit_s ? formatDuration(exam.time_limit_s) : "none"}),
    el("dt", {text: "Questions"}), el("dd", {text: exam.n_items ?? "—"}),
    el("dt", {text: "Window"}), el("dd", {text: windowText(exam)}),
    el("dt", {text: "Attempts left"}), el("dd", {text: exam.attempts_left ?? (exam.max_attempts ? "—" : "unlimited")}),
  ]);
  let action;
  if (exam.active_session_id) {
    action = el("a", {class: "btn btn-primary", href: `${page.exam_url}${encodeURIComponent(exam.active_session_id)}`,
                      text: "Continue exam", "aria-label": `Continue exam: ${exam.title}`});
  } else if (exam.can_start) {
    action = el("button", {type: "button", class: "btn-primary", text: "Start exam", "aria-label": `Start exam: ${exam.title}`,
                           onclick: () => confirmStart(exam)});
  } else if (exam.cannot_start_reason === "exam_not_open") {
    // The waiting room: the exam page connects now and starts the attempt by itself when the exam opens.
    action = el("p", {}, [el("span", {class: "muted", text: `${reasonText(exam.cannot_start_reason)} `}),
      el("a", {class: "btn", href: takeUrl(exam), text: "Wait for the start", "aria-label": `Wait for the start: ${exam.title}`})]);
  } else {
    action = el("p", {class: "muted", text: reasonText(exam.cannot_start_reason)});
  }
  return el("li", {}, el("article", {class: "card", "aria-labelledby": `exam-${exam.id}-h`}, [
    el("h3", {id: `exam-${exam.id}-h`, text: exam.title}),
    exam.description ? el("p", {class: "muted", text: exam.description}) : null,
    facts,
    el("div", {class: "actions"}, action),
  ]));
}

function takeUrl(exam) { return `${page.take_url}${exam.id}/take`; }

function reasonText(code) {
  return {exam_not_open: "Not open yet.", exam_closed: "This exam has closed.", no_attempts_left: "No attempts left.",
          cooldown: "You can try again later."}[code] || (code ? `Not available (${code.replaceAll("_", " ")}).` : "Not available.");
}

let pending = null;
let pendingNotice = null;
async function confirmStart(exam) {
  pending = exam;
  pendingNotice = null;
  try { pendingNotice = await api("GET", `/api/v1/exams/${exam.id}/proctoring/notice`); } catch { pendingNotice = null; }
  const consent = pendingNotice?.consent_required
    ? el("label", {class: "check", for: "consent-box"}, [el("input", {type: "checkbox", id: "consent-box"}),
        "I have read this and agree to the proctoring described, including the webcam pictures."])
    : null;
  $("start-text").replaceChildren(
    el("p", {text: `“${exam.title}”: ${exam.n_items ?? "several"} questions.`}),
    el("p", {text: exam.time_limit_s ? `You will have ${formatDuration(exam.time_limit_s)}; the clock starts when you press Start now and keeps running if you close the page.`
                                     : "There is no time limit."}),
    el("p", {text: "Your answers are saved as you go, even if your connection drops."}),
    pendingNotice ? el("div", {class: `notice ${pendingNotice.is_recorded ? "notice-warn" : "notice-info"}`}, [
      el("h3", {text: pendingNotice.is_recorded ? "Proctoring" : "Not proctored"}), el("p", {text: pendingNotice.text}),
      pendingNotice.fullscreen_required ? el("p", {text: "The exam is taken in full screen."}) : null, consent]) : null,
    el("p", {class: "field-error", id: "start-error", role: "alert", hidden: true}),
  );
  $("start-dialog").showModal();
  $("start-confirm").focus();
}

const $ = (id) => document.getElementById(id);
$("start-cancel").addEventListener("click", () => $("start-dialog").close());
$("start-confirm").addEventListener("click", async () => {
  const exam = pending;
  if (pendingNotice?.consent_required && !$("consent-box").checked) {
    $("start-error").textContent = "This exam needs your agreement to the proctoring before it starts.";
    $("start-error").hidden = false;
    $("consent-box").focus();
    return;
  }
  // The exam page starts the attempt on its own connection (`start`, docs/protocol.md) and records the
  // agreement to proctoring given here for it.
  if (pendingNotice?.consent_required) sessionStorage.setItem(`exam-engine:consent-exam:${exam.id}`, "1");
  location.assign(takeUrl(exam));
});

async function loadExams() {
  const box = $("exams");
  try {
    const data = await api("GET", "/api/v1/exams?per_page=100");
    const exams = data.items || [];
    box.replaceChildren(exams.length ? el("ul", {class: "card-grid", "aria-label": "Available exams"}, exams.map(examCard))
                                     : el("div", {class: "card"}, el("p", {text: "No exam is open to you right now."})));
    return exams;
  } catch (err) {
    box.replaceChildren(el("div", {class: "notice notice-warn"}, el("p", {text: err.status === 404
      ? "Exams are not available on this server yet." : `Your exams could not be loaded: ${err.message}`})));
    return [];
  } finally {
    box.setAttribute("aria-busy", "false");
  }
}

async function loadResults(exams) {
  const box = $("results");
  let attempts = page.attempts;  // rendered by the server with the page
  if (!attempts) {  // an engine without attempts: the ones started in this browser

    const known = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
    attempts = (await Promise.all(known.map(async (a) => {
      try { return {...(await api("GET", `/api/v1/sessions/${encodeURIComponent(a.id)}`)), title: a.title}; } catch { return null; }
    }))).filter(Boolean);
  }
  const titles = new Map(exams.map((e) => [e.id, e.title]));
  if (!attempts.length) { box.replaceChildren(el("p", {class: "muted", text: "No attempt yet."})); return; }
  const rows = attempts.map((a) => {
    const open = a.status === "in_progress" || a.status === "paused";
    return el("tr", {}, [
      el("td", {text: a.title || titles.get(a.exam_id) || `Exam ${a.exam_id}`}),
      el("td", {text: a.attempt_no ?? ""}),
      el("td", {text: formatDate(a.started_at)}),
      el("td", {text: a.status.replaceAll("_", " ")}),
      el("td", {}, open ? el("a", {href: `${page.exam_url}${encodeURIComponent(a.id)}`, text: "Continue",
                                        "aria-label": `Continue ${a.title || "the exam"}, attempt ${a.attempt_no ?? ""}`})
                        : el("a", {href: `${page.exam_url}${encodeURIComponent(a.id)}/result`, text: "Result",
                                   "aria-label": `Result of ${a.title || "the exam"}, attempt ${a.attempt_no ?? ""}`})),
    ]);
  });
  box.replaceChildren(el("div", {class: "table-wrap"}, el("table", {}, [
    el("caption", {class: "visually-hidden", text: "Your attempts"}),
    el("thead", {}, el("tr", {}, ["Exam", "Attempt", "Started", "Status", ""].map((h, i) => el("th", {scope: "col", text: h || null}, i === 4 ? el("span", {class: "visually-hidden", text: "Link"}) : null)))),
    el("tbody", {}, rows),
  ])));
}

loadExams().then(loadResults);
