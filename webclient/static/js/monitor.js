// The examiner's live monitor: the /monitor namespace (watch, act, broadcast) of docs/protocol.md.
// Rows come from `watch`'s snapshot and then `session_updates` pushes; actions ask for confirmation first.
import {api, formatDate, pageData} from "./api.js";
import {el} from "./render.js";

const page = pageData();
const $ = (id) => document.getElementById(id);
const M = {socket: null, examId: null, rows: new Map(), receivedAt: new Map(), connected: false};
const OPEN = new Set(["in_progress", "paused"]);

function clock(seconds) {
  if (seconds === null || seconds === undefined) return "no limit";
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}`;
}

function remainingNow(row) {
  if (row.remaining_s === null || row.remaining_s === undefined) return null;
  if (row.status !== "in_progress") return row.remaining_s;
  return row.remaining_s - (performance.now() - (M.receivedAt.get(row.session_id) || performance.now())) / 1000;
}

function merge(rows) {
  const now = performance.now();
  for (const row of rows) {
    if (M.examId !== null && row.exam_id !== undefined && row.exam_id !== M.examId) continue;
    M.rows.set(row.session_id, {...(M.rows.get(row.session_id) || {}), ...row});
    M.receivedAt.set(row.session_id, now);
  }
  draw();
}

function visibleRows() {
  const status = $("status-filter").value, text = $("text-filter").value.trim().toLowerCase(), offline = $("offline-filter").checked;
  let rows = [...M.rows.values()].filter((r) => {
    if (status === "open" && !OPEN.has(r.status)) return false;
    if (status === "closed" && OPEN.has(r.status)) return false;
    if (!["open", "closed", "all"].includes(status) && r.status !== status) return false;
    if (offline && r.is_connected) return false;
    if (text && !`${r.learner} ${r.email}`.toLowerCase().includes(text)) return false;
    return true;
  });
  const by = $("sort").value;
  const key = {
    risk: (r) => -(r.risk || 0) * 1000 - (r.flags || 0),
    remaining: (r) => remainingNow(r) ?? Infinity,
    progress: (r) => (r.n_items ? r.answered / r.n_items : 0),
    learner: (r) => (r.learner || r.email || "").toLowerCase(),
  }[by];
  rows.sort((a, b) => { const x = key(a), y = key(b); return x < y ? -1 : x > y ? 1 : 0; });
  return rows;
}

function actionButton(row, action, label) {
  return el("button", {type: "button", class: `btn-small${action === "terminate" ? " btn-danger" : ""}`, text: label,
                       "aria-label": `${label}: ${row.learner || row.email}`, onclick: () => openAction(row, action)});
}

function draw() {
  const rows = visibleRows();
  const body = $("attempt-rows");
  body.replaceChildren(...rows.map((r) => {
    const open = OPEN.has(r.status);
    const details = el("button", {type: "button", class: "btn-small", text: "Timeline", "aria-label": `Timeline: ${r.learner || r.email}`,
                                  onclick: () => openDetail(r.session_id)});
    const actions = open ? [details, actionButton(r, "message", "Message"),
      r.status === "paused" ? actionButton(r, "resume", "Resume") : actionButton(r, "pause", "Pause"),
      actionButton(r, "extend", "Extend time"), actionButton(r, "terminate", "End attempt")] : [details];
    return el("tr", {"data-session-id": r.session_id}, [
      el("th", {scope: "row"}, [r.learner || "—", el("span", {class: "hint", text: r.email})]),
      el("td", {}, el("span", {class: `badge ${r.status === "paused" ? "badge-draft" : open ? "badge-published" : "badge-retired"}`,
                               text: r.status.replaceAll("_", " ")})),
      el("td", {text: `${r.answered} / ${r.n_items}`}),
      el("td", {class: "time-left", text: clock(remainingNow(r))}),
      el("td", {text: r.is_connected ? "connected" : `disconnected${r.disconnected_total_s ? ` (${Math.round(r.disconnected_total_s)} s in total)` : ""}`}),
      el("td", {text: `${r.risk ?? 0}${r.flags ? ` · ${r.flags} flag${r.flags === 1 ? "" : "s"}` : ""}`}),
      el("td", {}, el("div", {class: "actions"}, actions)),
    ]);
  }));
  $("row-count").textContent = `${rows.length} attempt${rows.length === 1 ? "" : "s"} shown of ${M.rows.size}.`;
}

function tick() {
  for (const tr of $("attempt-rows").querySelectorAll("tr")) {
    const row = M.rows.get(tr.dataset.sessionId);
    if (row && row.status === "in_progress") tr.querySelector(".time-left").textContent = clock(remainingNow(row));
  }
}

// --- actions ------------------------------------------------------------------------------------------

const ACTION_TEXT = {
  message: ["Send a message", "Send"], pause: ["Pause the attempt", "Pause"], resume: ["Resume the attempt", "Resume"],
  extend: ["Extend the time", "Extend"], terminate: ["End the attempt", "End attempt"], broadcast: ["Message every learner", "Send to everyone"],
  confirm_flag: ["Confirm the flag", "Confirm flag"], dismiss_flag: ["Dismiss the flag", "Dismiss flag"],
};
let pendingAction = null;

function openAction(row, action, extra = {}) {
  pendingAction = {row, action, ...extra};
  const [title, confirm] = ACTION_TEXT[action];
  $("act-h").textContent = title;
  $("act-confirm").textContent = confirm;
  $("act-who").textContent = row ? `${row.learner || ""} ${row.email ? `(${row.email})` : ""}`
    : action === "broadcast" ? "Everyone with an attempt in progress." : $("detail-h").textContent;
  $("act-error").hidden = true;
  const fields = [];
  if (action === "message" || action === "broadcast") {
    fields.push(el("div", {class: "field"}, [el("label", {for: "act-text", text: "Message"}),
      el("textarea", {id: "act-text", rows: 3, maxlength: 2000, required: true})]));
  } else if (action === "extend") {
    fields.push(el("div", {class: "field"}, [el("label", {for: "act-minutes", text: "Extra minutes"}),
      el("input", {type: "number", id: "act-minutes", min: 1, max: 600, step: 1, value: 5, required: true})]));
  } else if (action === "terminate") {
    fields.push(el("p", {class: "notice notice-warn", text: "The attempt ends now and is scored as it stands. This cannot be undone."}),
      el("div", {class: "field"}, [el("label", {for: "act-reason", text: "Reason (recorded and shown to the learner)"}),
        el("input", {type: "text", id: "act-reason", maxlength: 500, required: true})]));
  } else if (action === "confirm_flag" || action === "dismiss_flag") {
    fields.push(el("div", {class: "field"}, [el("label", {for: "act-note", text: "Note (kept with the review)"}),
      el("textarea", {id: "act-note", rows: 2, maxlength: 2000, required: true})]));
  } else if (action === "pause") {
    fields.push(el("p", {text: "The learner's time stops and they cannot answer until you resume."}));
  } else if (action === "resume") {
    fields.push(el("p", {text: "The learner continues with the time they had left."}));
  }
  $("act-fields").replaceChildren(...fields);
  $("act-dialog").showModal();
  ($("act-dialog").querySelector("textarea, input") || $("act-confirm")).focus();
}

$("act-cancel").addEventListener("click", () => $("act-dialog").close());
$("act-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const {row, action, flagId} = pendingAction;
  let payload;
  if (action === "confirm_flag" || action === "dismiss_flag") {
    const note = $("act-note").value.trim();
    if (!note) return showActError("Write a note first.");
    const status = action === "confirm_flag" ? "confirmed" : "dismissed";
    M.socket.timeout(10_000).emit("review_flag", {flag_id: flagId, status, note}, (err, ack) => {
      if (err) return showActError("No answer from the server; try again.");
      if (!ack.ok) return showActError(ack.error?.message || "Refused.");
      $("act-dialog").close();
      $("row-count").textContent = `Flag ${status}.`;
      if (detailId) openDetail(detailId);
    });
    return;
  }
  if (action === "broadcast") {
    const text = $("act-text").value.trim();
    if (!text) return showActError("Write a message first.");
    M.socket.timeout(10_000).emit("broadcast", {exam_id: M.examId, text}, actDone);
    return;
  }
  payload = {session_id: row.session_id, action};
  if (action === "message") { payload.text = $("act-text").value.trim(); if (!payload.text) return showActError("Write a message first."); }
  if (action === "extend") {
    const minutes = Number($("act-minutes").value);
    if (!(minutes >= 1)) return showActError("Give a number of minutes (1 or more).");
    payload.seconds = minutes * 60;
  }
  if (action === "terminate") { payload.reason = $("act-reason").value.trim(); if (!payload.reason) return showActError("Give a reason."); }
  M.socket.timeout(10_000).emit("act", payload, actDone);
});

function showActError(text) { $("act-error").textContent = text; $("act-error").hidden = false; }

function actDone(err, ack) {
  if (err) return showActError("No answer from the server; try again.");
  if (!ack.ok) return showActError(ack.error?.message || "Refused.");
  if (ack.session) merge([ack.session]);
  $("act-dialog").close();
  $("row-count").textContent = `Done: ${ACTION_TEXT[pendingAction.action][0].toLowerCase()}.`;
}

$("broadcast-btn").addEventListener("click", () => { if (M.examId !== null) openAction(null, "broadcast"); });

// --- one attempt: flags (confirm or dismiss) and the timeline from the hash-chained log -------------------

let detailId = null;
async function openDetail(sessionId) {
  detailId = sessionId;
  const section = $("detail"), body = $("detail-body");
  section.hidden = false;
  body.replaceChildren(el("p", {class: "muted", text: "Loading…"}));
  $("detail-h").focus();
  let report;
  try {
    report = await api("GET", `/api/v1/sessions/${encodeURIComponent(sessionId)}/proctoring/report`);
  } catch (err) {
    body.replaceChildren(el("p", {text: `The timeline could not be loaded: ${err.message}`}));
    return;
  }
  const s = report.session;
  $("detail-h").textContent = `Attempt of ${s.learner || s.email}`;
  const flags = report.flags || [];
  body.replaceChildren(
    el("dl", {class: "facts"}, [
      el("dt", {text: "Status"}), el("dd", {text: s.status.replaceAll("_", " ")}),
      el("dt", {text: "Risk"}), el("dd", {text: s.risk ?? 0}),
      el("dt", {text: "Proctoring"}), el("dd", {text: report.policy?.level || "none"}),
      el("dt", {text: "Log"}), el("dd", {text: `${s.log_length} entries${report.chain?.ok === false ? " — the hash chain does NOT verify" : report.chain?.ok ? " (hash chain verified)" : ""}`}),
    ]),
    el("h3", {text: `Flags (${flags.length})`}),
    flags.length ? el("ul", {class: "stack"}, flags.map((f) => el("li", {}, [
      el("strong", {text: `${f.rule.replaceAll("_", " ")} (${f.severity}, ${f.status})`}), f.count ? ` × ${f.count}` : "",
      f.status === "open" ? el("span", {class: "actions"}, [
        el("button", {type: "button", class: "btn-small", text: "Confirm", "aria-label": `Confirm flag ${f.rule}`, onclick: () => review(f.id, "confirmed")}),
        el("button", {type: "button", class: "btn-small", text: "Dismiss", "aria-label": `Dismiss flag ${f.rule}`, onclick: () => review(f.id, "dismissed")}),
      ]) : null,
    ]))) : el("p", {class: "muted", text: "No flag."}),
    el("h3", {text: "Timeline"}),
    el("div", {class: "table-wrap"}, el("table", {}, [
      el("caption", {class: "visually-hidden", text: "Timeline of the attempt"}),
      el("thead", {}, el("tr", {}, ["Time", "Event", "Kind", "By", "Detail"].map((h) => el("th", {scope: "col", text: h})))),
      el("tbody", {}, (report.timeline || []).map((e) => el("tr", {"data-kind": e.kind}, [
        el("td", {}, el("time", {datetime: e.at, text: new Date(e.at).toLocaleTimeString()})), el("th", {scope: "row", text: (e.data?.kind || e.kind).replaceAll("_", " ")}),
        el("td", {text: e.category}), el("td", {text: e.actor ? `${e.actor.name || ""} (${e.actor.role})` : "system"}),
        el("td", {text: summarize(e.detail ?? e.data)}),
      ]))),
    ])),
  );
}

function summarize(data) {
  if (!data || typeof data !== "object") return "";
  return Object.entries(data).filter(([k]) => !["response", "signal_id"].includes(k))
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ").slice(0, 200);
}

function review(flagId, status) {
  openAction(null, status === "confirmed" ? "confirm_flag" : "dismiss_flag", {flagId});
}

$("detail-close").addEventListener("click", () => { $("detail").hidden = true; detailId = null; });

// --- connection ---------------------------------------------------------------------------------------

function watch() {
  if (!M.connected || M.examId === null) return;
  M.socket.timeout(10_000).emit("watch", {exam_id: M.examId}, (err, ack) => {
    if (err) { setTimeout(watch, 1000); return; }
    if (!ack.ok) { showError(ack.error?.message || "You may not watch this exam."); return; }
    M.rows.clear();
    merge(ack.sessions || []);
  });
}

function showError(text) { $("monitor-error").replaceChildren(el("p", {text})); $("monitor-error").hidden = false; }

function setConn() {
  $("conn-state").textContent = M.connected ? "● Live" : "○ Reconnecting…";
  $("conn-state").className = `conn ${M.connected ? "conn-online" : "conn-offline"}`;
}

async function start() {
  let exams = [];
  try {
    exams = (await api("GET", "/api/v1/exams?per_page=200")).items || [];
  } catch (err) {
    showError(`Your exams could not be loaded: ${err.message}`);
  }
  const select = $("exam-select");
  select.replaceChildren(...(exams.length ? exams.map((e) => el("option", {value: e.id, text: e.title}))
                                          : [el("option", {value: "", text: "No exam to watch"})]));
  const wanted = Number(new URLSearchParams(location.search).get("exam")) || exams[0]?.id || null;
  if (wanted) select.value = String(wanted);
  M.examId = exams.length ? Number(select.value) : null;
  select.addEventListener("change", () => {
    if (M.examId !== null && M.socket) M.socket.emit("unwatch", {exam_id: M.examId});
    M.examId = Number(select.value);
    history.replaceState(null, "", `?exam=${M.examId}`);
    watch();
  });
  for (const id of ["status-filter", "text-filter", "offline-filter", "sort"]) $(id).addEventListener("input", draw);
  $("monitor-controls").addEventListener("submit", (e) => e.preventDefault());

  let io;
  try { ({io} = await import(page.socket_lib)); } catch { showError("The live monitor cannot start: the Socket.IO client library is not installed on the server (make js)."); return; }
  M.socket = io("/monitor", {withCredentials: true});
  M.socket.on("connect", () => { M.connected = true; setConn(); watch(); });
  M.socket.on("disconnect", () => { M.connected = false; setConn(); });
  M.socket.on("connect_error", (err) => { M.connected = false; setConn(); if (err?.data?.message) showError(err.data.message); });
  M.socket.on("session_updates", (msg) => { if (msg.exam_id === M.examId) merge(msg.sessions || []); });
  M.socket.on("flag", (msg) => {
    const row = M.rows.get(msg.session_id);
    if (row) merge([{...row, risk: msg.risk ?? row.risk}]);
    if (msg.alert && row) $("alerts").textContent = `Alert: ${row.learner || row.email}: ${(msg.flag?.rule || "flag").replaceAll("_", " ")}.`;
    if (detailId === msg.session_id) openDetail(detailId);
  });
  setConn();
  setInterval(tick, 1000);
}

start();
