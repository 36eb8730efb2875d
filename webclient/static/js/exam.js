// The exam page: speaks only the /exam Socket.IO protocol of docs/protocol.md.
// join -> render; answers, flags and navigation go through the localStorage outbox with sequence numbers;
// the countdown follows the server's `time` pushes; `status` and `message` events show at once.
import {api, csrfToken, formatDate, pageData, rememberAttempt} from "./api.js";
import {Outbox} from "./outbox.js";
import {el, isAnswered, renderItem} from "./render.js";

const page = pageData();
// No attempt yet on the take page (/learn/exams/{id}/take): `start` makes it on this connection.
let SESSION_ID = page.session_id || null;
const TYPED = new Set(["text_entry", "numeric", "extended_text"]);
const TYPE_DELAY_MS = 700;
const ACK_TIMEOUT_MS = 10_000;
// Refusals worth sending again: a bug on the server, or no turn at its database in time (a burst).
const RETRYABLE = new Set(["internal_error", "server_busy"]);
// How long to wait before sending again: the server's hint when it gave one, spread so a burst does not return at once.
const retryDelay = (error, fallbackMs) =>
  (error?.details?.retry_after_s != null ? error.details.retry_after_s * 1000 : fallbackMs) + Math.random() * 1000;
// This page load: when its connection drops and it joins again before the server has noticed, the server
// releases its previous connection instead of counting a second window (docs/protocol.md, join).
const CLIENT_ID = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
const CLOSED = new Set(["submitted", "scored", "pending_grading", "terminated", "expired"]);
const ANNOUNCE_AT_S = [3600, 1800, 900, 600, 300, 120, 60, 30];

const $ = (id) => document.getElementById(id);
let outbox = SESSION_ID ? new Outbox(SESSION_ID) : null;

const S = {
  socket: null, joined: false, connected: false, online: navigator.onLine,
  session: null, items: [], byId: new Map(), responses: new Map(), flagged: new Set(),
  position: 0, status: null, saveState: new Map(), errors: new Map(), lastQueued: new Map(), timers: new Map(),
  remaining: null, syncedAt: 0, announced: new Set(), sending: false, submitting: false, pausedRequeue: new Set(),
  rendered: new Map(),
};

// --- connection -------------------------------------------------------------------------------------

async function start() {
  let io;
  try {
    ({io} = await import(page.socket_lib));
  } catch (err) {
    fatal("The exam cannot start: the Socket.IO client library is not installed on the server (make js).");
    return;
  }
  const socket = io("/exam", {withCredentials: true, reconnectionDelay: 500, reconnectionDelayMax: 5000});
  S.socket = socket;
  socket.on("connect", () => { S.connected = true; if (SESSION_ID) join(); else startAttempt(); });
  socket.on("disconnect", () => {
    S.connected = false; S.joined = false;
    socket.sendBuffer = [];  // our outbox resends after the next join; never let the library replay too
    outbox?.inflight.clear(); S.sending = false;
    updateConnection();
  });
  socket.on("connect_error", (err) => {
    S.connected = false;
    updateConnection();
    if (err?.data?.code === "unauthorized" || err?.data?.code === "invalid_token" || err?.data?.code === "token_expired") {
      fatal("Your login has ended. Log in again to continue: your saved answers are kept.", page.login_url, "Log in again");
    } else if (!socket.active) {
      setTimeout(() => socket.connect(), 2000);
    }
  });
  socket.on("time", (msg) => { if (msg.session_id === SESSION_ID) applyTime(msg); });
  socket.on("status", (msg) => { if (msg.session_id === SESSION_ID) applyStatus(msg.status, msg.reason, false, msg.detail); });
  socket.on("message", (msg) => { if (!msg.session_id || msg.session_id === SESSION_ID) showMessage(msg, true); });
  socket.on("warning", (msg) => { if (!msg.session_id || msg.session_id === SESSION_ID) showWarning(msg); });

  window.addEventListener("offline", () => {
    S.online = false;
    S.offlineAt = Date.now();
    signal("offline");
    if (S.socket.connected) S.socket.disconnect();
    updateConnection();
  });
  window.addEventListener("online", () => {
    S.online = true;
    signal("online", S.offlineAt ? {offline_ms: Date.now() - S.offlineAt} : {});
    if (!S.socket.connected) S.socket.connect();
    updateConnection();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && S.joined) requestTime();
  });
  window.addEventListener("pagehide", flushTyping);
  setInterval(tick, 1000);
  updateConnection();
}

function join() {
  S.socket.timeout(ACK_TIMEOUT_MS).emit("join", {session_id: SESSION_ID, client_id: CLIENT_ID}, (err, ack) => {
    if (err) { setTimeout(() => S.connected && join(), 1000); return; }
    if (!ack.ok && RETRYABLE.has(ack.error?.code)) { setTimeout(() => S.connected && join(), retryDelay(ack.error, 2000)); return; }
    if (!ack.ok) { joinFailed(ack.error); return; }
    joined(ack);
  });
}

function joined(ack) {
  S.joined = true;
  applyState(ack.session);
  updateConnection();
  pump();
}

// --- the waiting room: start the attempt on this connection once the exam is open --------------------

function startAttempt() {
  if (S.starting || SESSION_ID) return;
  S.starting = true;
  S.socket.timeout(ACK_TIMEOUT_MS).emit("start", {exam_id: page.exam_id, client_id: CLIENT_ID}, async (err, ack) => {
    S.starting = false;
    if (err) { setTimeout(() => S.connected && startAttempt(), 1000); return; }
    if (!ack.ok) {
      if (ack.error?.code === "exam_not_open") { waitForOpening(ack.error.details?.opens_in_s); return; }
      if (RETRYABLE.has(ack.error?.code)) { setTimeout(() => S.connected && startAttempt(), retryDelay(ack.error, 2000)); return; }
      const why = {exam_closed: "The exam has closed.", no_attempts_left: "You have used every attempt.",
                   cooldown: "Wait a little before the next attempt."}[ack.error?.code];
      fatal(why || `The exam could not start: ${ack.error?.message || "unknown error"}.`, page.dashboard_url, "Back to my exams");
      return;
    }
    $("waiting").hidden = true;
    $("timer").hidden = false;
    clearInterval(S.waitTimer);
    SESSION_ID = ack.session.id;
    outbox = new Outbox(SESSION_ID);
    page.result_url = page.result_url.replace("SESSION", encodeURIComponent(SESSION_ID));
    history.replaceState(null, "", page.exam_url.replace("SESSION", encodeURIComponent(SESSION_ID)));
    rememberAttempt(SESSION_ID, page.exam_id, ack.session.title);
    // Agreed to proctoring on the dashboard before the attempt existed: record it for this attempt.
    const agreed = `exam-engine:consent-exam:${page.exam_id}`;
    if (sessionStorage.getItem(agreed) && ack.session.proctoring?.consent_required) {
      try {
        await api("POST", `/api/v1/sessions/${encodeURIComponent(SESSION_ID)}/proctoring/consent`);
        localStorage.setItem(`exam-engine:consent:${SESSION_ID}`, new Date().toISOString());
      } catch { /* asked again on this page */ }
    }
    sessionStorage.removeItem(agreed);
    joined(ack);
  });
}

function waitForOpening(opensInS) {
  // By the server's clock: the exam opens in `opensInS` seconds. Start then, spread over a second so that a
  // thousand waiting pages do not all send at the same instant.
  const opensAt = Date.now() + Math.max(0, opensInS ?? 5) * 1000;
  const show = () => {
    const left = Math.max(0, Math.ceil((opensAt - Date.now()) / 1000));
    $("waiting-text").textContent = left > 0 ? `The exam opens in ${formatWait(left)}.` : "The exam is opening…";
  };
  $("exam-title").textContent = "Waiting for the exam to open";
  $("waiting").hidden = false;
  $("timer").hidden = true;
  updateConnection();
  show();
  clearInterval(S.waitTimer);
  S.waitTimer = setInterval(show, 1000);
  // A long wait asks the server again half a minute before the opening (a hidden tab's timers drift, and the
  // window may have been moved meanwhile); the last stretch waits for the opening itself.
  const wait = opensInS > 60 ? (opensInS - 30) * 1000 : opensAt - Date.now() + Math.random() * 1000;
  setTimeout(() => S.connected && startAttempt(), wait);
}

function formatWait(s) {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${sec} s` : `${sec} s`;
}

function joinFailed(error) {
  const code = error?.code;
  if (code === "session_in_use") {
    fatal("This exam is open in another window or device, and this exam does not allow a second one. Close the other window, then reload this page.");
  } else if (code === "session_not_found") {
    fatal("There is no such exam attempt on your account.", page.dashboard_url, "Back to my exams");
  } else {
    fatal(`The exam could not be opened: ${error?.message || "unknown error"}.`, location.href, "Try again");
  }
}

function fatal(text, href, label) {
  const box = $("exam-error");
  box.replaceChildren(el("p", {text}), href ? el("p", {}, el("a", {class: "btn", href, text: label})) : null);
  box.hidden = false;
  $("exam-title").textContent = "Exam";
}

function requestTime() {
  S.socket.timeout(ACK_TIMEOUT_MS).emit("time", {session_id: SESSION_ID}, (err, ack) => {
    if (!err && ack?.ok) applyTime(ack);
  });
}

// --- state from the server --------------------------------------------------------------------------

function applyState(session) {
  const first = S.session === null;
  S.session = session;
  S.items = session.items || [];
  S.byId = new Map(S.items.map((item) => [item.item_id, item]));
  S.flagged = new Set(session.flagged || []);
  S.responses = new Map(Object.entries(session.responses || {}).map(([k, v]) => [Number(k), v]));
  for (const item of S.items) S.saveState.set(item.item_id, S.responses.has(item.item_id) ? "saved" : "empty");
  outbox.observe(session.last_seq || 0);
  // Unsent work of this browser wins over the server's copy until it is acknowledged.
  for (const [itemId, response] of outbox.pendingAnswers()) {
    if (S.byId.has(itemId)) { S.responses.set(itemId, response); S.saveState.set(itemId, "pending"); }
  }
  for (const e of outbox.entries) {
    if (e.event === "flag") { if (e.payload.flagged) S.flagged.add(e.payload.item_id); else S.flagged.delete(e.payload.item_id); }
  }
  const pendingNav = [...outbox.entries].reverse().find((e) => e.event === "navigate");
  S.position = clampPosition(pendingNav ? pendingNav.payload.position : session.position || 0);
  for (const m of session.messages || []) if (first) showMessage(m, false);
  $("exam-title").textContent = session.title || "Exam";
  if (session.ends_at_window_close && session.effective_end_at) {
    const end = new Date(session.effective_end_at);
    $("ends-note").textContent = `Ends at ${end.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"})}, when the exam window closes.`;
    $("ends-note").hidden = false;
  }
  document.title = `${session.title || "Exam"} · Exam engine`;
  $("exam-layout").hidden = false;
  applyTime({remaining_s: session.remaining_s, status: session.status});
  applyStatus(session.status, null, true);
  if (first || S.rendered.size === 0) renderAll();
  else refreshAll();
  setupProctoring(session.proctoring);
}

function clampPosition(p) { return Math.max(0, Math.min(S.items.length - 1, Number.isInteger(p) ? p : 0)); }

function applyTime(msg) {
  if (msg.remaining_s === undefined) return;
  S.remaining = msg.remaining_s;
  S.syncedAt = performance.now();
  if (msg.status && msg.status !== S.status) applyStatus(msg.status, null);
  tick();
}

function applyStatus(status, reason, quiet = false, detail = null) {
  const previous = S.status;
  S.status = status;
  const paused = status === "paused";
  $("banner-paused").hidden = !paused;
  const closed = CLOSED.has(status);
  const superseded = status === "superseded";
  setInert(paused || closed || superseded);
  if (previous === "paused" && status === "in_progress") {
    for (const itemId of S.pausedRequeue) queueAnswer(itemId, true);
    S.pausedRequeue.clear();
    pump();
  }
  if (superseded) {
    $("closed-text").replaceChildren(el("p", {text: "This exam is now open in another window or device, so this window stopped. Your answers are safe."}),
      el("button", {type: "button", text: "Continue in this window instead", onclick: () => { $("banner-closed").hidden = true; S.status = null; setInert(false); join(); }}));
    $("banner-closed").hidden = false;
    return;
  }
  if (closed) {
    outbox.clear();
    const why = {time_expired: "Time is up: your exam has been submitted.", window_closed: "The exam window closed: your exam has been submitted.",
                 terminated: "An examiner ended your exam.", submitted: "Your exam is submitted."}[reason] || "Your exam is submitted.";
    $("closed-text").replaceChildren(el("p", {text: why}), ...(detail ? [el("p", {text: detail})] : []),
      el("p", {}, el("a", {class: "btn btn-primary", href: page.result_url, text: "See your result"})));
    $("banner-closed").hidden = false;
    if (!S.leaving) {
      S.leaving = true;
      const delay = quiet && previous === null ? 1500 : reason === "submitted" ? 300 : 2500;
      setTimeout(() => location.assign(page.result_url), delay);
    }
  }
}

function setInert(on) {
  const layout = $("exam-layout");
  layout.inert = on;
  layout.classList.toggle("overlay-block", on);
}

function showMessage(msg, fresh) {
  const list = $("messages");
  const when = msg.at ? formatDate(msg.at) : formatDate(new Date().toISOString());
  list.append(el("li", {}, [el("strong", {text: `Message from the examiner (${when}): `}), msg.text]));
  $("banner-messages").hidden = false;
  if (fresh) $("banner-messages").scrollIntoView({block: "nearest"});
}

// --- the countdown ----------------------------------------------------------------------------------

function currentRemaining() {
  if (S.remaining === null || S.remaining === undefined) return null;
  if (S.status === "paused") return S.remaining;
  return S.remaining - (performance.now() - S.syncedAt) / 1000;
}

function clock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}`;
}

function spoken(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) { const h = Math.floor(s / 3600), m = Math.round((s % 3600) / 60); return `${h} hour${h > 1 ? "s" : ""}${m ? ` ${m} minutes` : ""}`; }
  if (s >= 60) { const m = Math.round(s / 60); return `${m} minute${m > 1 ? "s" : ""}`; }
  return `${s} seconds`;
}

function tick() {
  const rem = currentRemaining();
  const timer = $("timer");
  if (rem === null) { $("timer-text").textContent = "No time limit"; return; }
  $("timer-text").textContent = S.status === "paused" ? `${clock(rem)} (paused)` : clock(rem);
  timer.classList.toggle("low", rem <= 300);
  // Announce politely at a few moments, never every second.
  for (const mark of ANNOUNCE_AT_S) {
    if (rem <= mark && rem > mark - 5 && !S.announced.has(mark)) {
      S.announced.add(mark);
      $("timer-announce").textContent = `${spoken(mark)} left.`;
    }
  }
  if (rem <= 0 && S.status === "in_progress" && !S.expiredAsked) {
    S.expiredAsked = true;
    $("timer-announce").textContent = "Time is up. Your answers are being submitted.";
    setTimeout(() => { S.expiredAsked = false; if (S.joined) requestTime(); }, ((S.session?.grace_s || 3) + 2) * 1000);
  }
}

// --- rendering --------------------------------------------------------------------------------------

function isOnePerPage() { return (S.session?.presentation || "one_at_a_time") === "one_at_a_time"; }
function isLinear() { return S.session?.navigation === "linear"; }

function renderAll() {
  const root = $("questions");
  root.replaceChildren();
  S.rendered.clear();
  S.items.forEach((item, index) => {
    const card = questionCard(item, index);
    S.rendered.set(item.item_id, card);
    root.append(card);
  });
  refreshAll();
}

function questionCard(item, index) {
  const headingId = `q-${index}-h`;
  const stateEl = el("span", {class: "save-state", "data-role": "save-state", "aria-live": "polite"});
  const flag = el("button", {type: "button", class: "btn-small flag-btn", "aria-pressed": "false", "data-role": "flag",
                             onclick: () => toggleFlag(item.item_id)}, "⚑ Flag for review");
  const body = renderItem(item, {response: S.responses.get(item.item_id) ?? null,
                                 onChange: (response) => answerChanged(item.item_id, response)});
  const clear = el("button", {type: "button", class: "btn-link", text: "Clear my answer",
                              onclick: () => clearAnswer(item.item_id)});
  const nav = el("div", {class: "question-nav"}, [
    el("button", {type: "button", text: "← Previous", "data-role": "prev", onclick: () => goTo(index - 1)}),
    el("button", {type: "button", class: "btn-primary", text: index === S.items.length - 1 ? "Review and submit" : "Next →",
                  "data-role": "next", onclick: () => (index === S.items.length - 1 ? openSubmit() : goTo(index + 1))}),
  ]);
  const section = sectionOf(index);
  return el("section", {class: "card question-card", "aria-labelledby": headingId, "data-index": index, id: `question-${index + 1}`}, [
    el("div", {class: "question-head"}, [
      el("h2", {id: headingId, tabindex: "-1"}, [`Question ${index + 1} of ${S.items.length}`,
        section ? el("span", {class: "muted", text: ` · ${section}`}) : null]),
      el("span", {class: "muted", text: `${item.points} point${item.points === 1 ? "" : "s"}`}),
    ]),
    body,
    el("div", {class: "answer-tools"}, [stateEl, flag, clear]),
    isOnePerPage() ? nav : null,
  ]);
}

function sectionOf(index) {
  const sections = S.session?.sections || [];
  if (sections.length < 2) return "";
  const sec = sections.find((s) => index >= s.start && index < s.start + s.count);
  return sec?.title || "";
}

const STATE_TEXT = {
  saved: "✓ Saved", pending: "Saving…", offline: "Not sent yet (offline)", editing: "Typing… (not saved yet)",
  empty: "Not answered", error: "Not saved",
};

function refreshAll() {
  S.items.forEach((item, index) => refreshItem(item.item_id, index));
  renderNavigator();
  showPosition(false);
}

function refreshItem(itemId, index = S.items.findIndex((i) => i.item_id === itemId)) {
  const card = S.rendered.get(itemId);
  if (!card) return;
  let state = S.saveState.get(itemId) || "empty";
  if (state === "pending" && !(S.connected && S.joined)) state = "offline";
  const stateEl = card.querySelector('[data-role="save-state"]');
  stateEl.dataset.state = state === "offline" ? "pending" : state;
  stateEl.textContent = state === "error" ? `Not saved: ${S.errors.get(itemId) || "refused"}` : STATE_TEXT[state];
  const flagBtn = card.querySelector('[data-role="flag"]');
  flagBtn.setAttribute("aria-pressed", String(S.flagged.has(itemId)));
  flagBtn.textContent = S.flagged.has(itemId) ? "⚑ Flagged for review" : "⚑ Flag for review";
  const prev = card.querySelector('[data-role="prev"]');
  if (prev) prev.disabled = index === 0 || isLinear();
  if (isLinear()) card.querySelector(".item").inert = index !== S.position;
}

function renderNavigator() {
  const list = $("nav-list");
  list.replaceChildren();
  let answered = 0;
  S.items.forEach((item, index) => {
    const done = isAnswered(item, S.responses.get(item.item_id));
    if (done) answered += 1;
    const flagged = S.flagged.has(item.item_id);
    const current = index === S.position;
    const state = S.saveState.get(item.item_id);
    const words = [done ? "answered" : "not answered", flagged ? "flagged" : null,
                   state === "pending" || state === "offline" ? "not saved yet" : null].filter(Boolean).join(", ");
    const btn = el("button", {type: "button", class: `nav-btn${done ? " answered" : ""}${flagged ? " flagged" : ""}${current ? " current" : ""}`,
                              "aria-label": `Question ${index + 1}: ${words}`, "aria-current": current ? "step" : null,
                              disabled: isLinear() && index < S.position, onclick: () => goTo(index, true)}, String(index + 1));
    list.append(el("li", {}, btn));
  });
  $("progress-text").textContent = `${answered} of ${S.items.length} answered · ${S.flagged.size} flagged`;
}

function showPosition(focus) {
  const onePer = isOnePerPage();
  S.items.forEach((item, index) => {
    const card = S.rendered.get(item.item_id);
    if (card) card.hidden = onePer && index !== S.position;
  });
  const card = S.rendered.get(S.items[S.position]?.item_id);
  if (focus && card) {
    if (!onePer) card.scrollIntoView({block: "start"});
    card.querySelector("h2").focus();
  }
}

// --- learner actions --------------------------------------------------------------------------------

function goTo(index, fromNavigator = false) {
  if (index < 0 || index >= S.items.length) return;
  if (isLinear() && index < S.position) return;
  if (index !== S.position) {
    flushTyping();
    S.position = index;
    if (S.status === "in_progress" || S.status === null) {
      outbox.add("navigate", {position: index});
      pump();
    }
  }
  renderNavigator();
  S.items.forEach((item, i) => refreshItem(item.item_id, i));
  showPosition(true);
  void fromNavigator;
}

function answerChanged(itemId, response) {
  S.responses.set(itemId, response);
  S.errors.delete(itemId);
  const item = S.byId.get(itemId);
  clearTimeout(S.timers.get(itemId));
  if (TYPED.has(item.type)) {
    S.saveState.set(itemId, "editing");
    S.timers.set(itemId, setTimeout(() => queueAnswer(itemId), TYPE_DELAY_MS));
    refreshItem(itemId);
    renderNavigator();
  } else {
    queueAnswer(itemId);
  }
}

function flushTyping() {
  for (const [itemId, timer] of S.timers) {
    clearTimeout(timer);
    if (S.saveState.get(itemId) === "editing") queueAnswer(itemId);
  }
  S.timers.clear();
}

function queueAnswer(itemId, force = false) {
  S.timers.delete(itemId);
  const response = S.responses.get(itemId) ?? null;
  const json = JSON.stringify(response);
  if (!force && S.lastQueued.get(itemId) === json && S.saveState.get(itemId) !== "editing") return;
  if (!force && S.lastQueued.get(itemId) === json && S.saveState.get(itemId) === "editing") {
    S.saveState.set(itemId, outbox.pendingAnswers().has(itemId) ? "pending" : (isAnswered(S.byId.get(itemId), response) ? "saved" : "empty"));
    refreshItem(itemId);
    return;
  }
  S.lastQueued.set(itemId, json);
  outbox.add("answer", {item_id: itemId, response});
  S.saveState.set(itemId, "pending");
  refreshItem(itemId);
  renderNavigator();
  updateConnection();
  pump();
}

function clearAnswer(itemId) {
  S.responses.set(itemId, null);
  const index = S.items.findIndex((i) => i.item_id === itemId);
  const item = S.byId.get(itemId);
  const card = S.rendered.get(itemId);
  const fresh = renderItem(item, {response: null, onChange: (response) => answerChanged(itemId, response)});
  card.querySelector(".item").replaceWith(fresh);
  clearTimeout(S.timers.get(itemId));
  queueAnswer(itemId);
  refreshItem(itemId, index);
}

function toggleFlag(itemId) {
  const flagged = !S.flagged.has(itemId);
  if (flagged) S.flagged.add(itemId); else S.flagged.delete(itemId);
  outbox.add("flag", {item_id: itemId, flagged});
  refreshItem(itemId);
  renderNavigator();
  pump();
}

// --- sending ----------------------------------------------------------------------------------------

function pump() {
  if (S.sending || !S.joined || !S.connected || S.status === "paused" || S.status === "superseded") { updateConnection(); return; }
  const entry = outbox.next();
  if (!entry) { updateConnection(); return; }
  S.sending = true;
  outbox.inflight.add(entry.payload.seq);
  S.socket.timeout(ACK_TIMEOUT_MS).emit(entry.event, entry.payload, (err, ack) => {
    S.sending = false;
    outbox.inflight.delete(entry.payload.seq);
    if (err) {  // no ack in time: keep it, try again shortly
      setTimeout(pump, 1500);
      return;
    }
    if (ack?.ok) {
      outbox.remove(entry.payload.seq);
      acknowledged(entry, ack);
    } else {
      const code = ack?.error?.code;
      if (RETRYABLE.has(code)) { setTimeout(pump, retryDelay(ack.error, 2000)); return; }
      // Another window took the attempt over: keep what is unsent here; it goes if the learner continues here.
      if (code === "superseded") { applyStatus("superseded"); updateConnection(); return; }
      outbox.remove(entry.payload.seq);
      refused(entry, ack?.error || {code: "unknown", message: "refused"});
    }
    pump();
  });
  updateConnection();
}

function acknowledged(entry, ack) {
  const {event, payload} = entry;
  if (event === "answer") {
    const stillPending = outbox.pendingAnswers().has(payload.item_id);
    const typing = S.saveState.get(payload.item_id) === "editing";
    if (!stillPending && !typing) {
      S.saveState.set(payload.item_id, isAnswered(S.byId.get(payload.item_id), payload.response) ? "saved" : "empty");
    }
    refreshItem(payload.item_id);
    renderNavigator();
  } else if (event === "submit") {
    applyStatus(ack.status || "submitted", "submitted");
  }
}

function refused(entry, error) {
  const {event, payload} = entry;
  if (error.code === "session_closed" || error.code === "deadline_passed") {
    requestTime();
    if (event === "submit" || error.code === "session_closed") { applyStatus("submitted", error.code === "deadline_passed" ? "time_expired" : "submitted"); }
    return;
  }
  if (event === "answer") {
    if (error.code === "session_paused") {
      S.pausedRequeue.add(payload.item_id);
      S.saveState.set(payload.item_id, "pending");
    } else {
      S.saveState.set(payload.item_id, "error");
      S.errors.set(payload.item_id, error.message);
      S.lastQueued.delete(payload.item_id);
    }
    refreshItem(payload.item_id);
    renderNavigator();
  } else if (event === "navigate" && error.code === "navigation_locked") {
    requestTime();
  } else if (event === "submit") {
    S.submitting = false;
    $("exam-error").replaceChildren(el("p", {text: `Your exam was not submitted: ${error.message}`}));
    $("exam-error").hidden = false;
  }
}

function updateConnection() {
  const live = S.connected && (S.joined || !SESSION_ID);  // (waiting for the exam to open: connected is all)
  const conn = $("conn-state");
  conn.textContent = live ? "● Connected" : (S.online ? "○ Reconnecting…" : "○ Offline");
  conn.className = `conn ${live ? "conn-online" : "conn-offline"}`;
  const unsent = outbox ? outbox.count("answer") : 0;
  const others = outbox ? outbox.count() - unsent : 0;
  const banner = $("banner-offline");
  if (!live && S.session) {
    banner.hidden = false;
    $("offline-text").replaceChildren(el("p", {},
      `${S.online ? "The connection to the exam server is lost; reconnecting." : "You are offline."} ` +
      (unsent ? `${unsent} answer${unsent === 1 ? " is" : "s are"} not sent yet and will be sent as soon as the connection is back. `
              : "All your answers so far are saved. ") +
      "Keep working: nothing you enter is lost."));
  } else {
    banner.hidden = true;
  }
  void others;
  for (const item of S.items) if (S.saveState.get(item.item_id) === "pending") refreshItem(item.item_id);
}

// --- proctoring (docs/protocol.md §7): signals through the outbox, warnings, full screen, webcam ------------

function signal(kind, detail = {}) {
  const notice = S.session?.proctoring;
  if (!notice || notice.level === "none" || !S.session || S.status !== "in_progress") return;
  outbox.add("signal", {kind, at: Date.now(), detail});
  pump();
}

function setupProctoring(notice) {
  if (S.proctoringReady || !notice || notice.level === "none") return;
  S.proctoringReady = true;
  let hiddenAt = null, blurAt = null, resizeTimer = null;
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") { hiddenAt = Date.now(); signal("tab_hidden"); }
    else { signal("tab_visible", hiddenAt ? {hidden_ms: Date.now() - hiddenAt} : {}); hiddenAt = null; }
  });
  window.addEventListener("blur", () => {
    if (document.visibilityState === "visible") { blurAt = Date.now(); signal("focus_lost"); }
  });
  window.addEventListener("focus", () => {
    if (blurAt !== null) { signal("focus_gained", {away_ms: Date.now() - blurAt}); blurAt = null; }
  });
  for (const kind of ["copy", "cut", "paste"]) {
    document.addEventListener(kind, (e) => {
      const itemId = Number(e.target?.closest?.("[data-item-id]")?.dataset.itemId) || null;
      const text = kind === "paste" ? (e.clipboardData?.getData("text") || "") : String(document.getSelection() || "");
      signal(kind, {item_id: itemId, length: text.length});  // never the text itself
    });
  }
  document.addEventListener("contextmenu", () => signal("context_menu"));
  window.addEventListener("beforeprint", () => signal("print"));
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => signal("resize", {width: window.innerWidth, height: window.innerHeight}), 1000);
  });
  document.addEventListener("fullscreenchange", () => {
    signal(document.fullscreenElement ? "fullscreen_enter" : "fullscreen_exit");
    if (notice.fullscreen_required) $("banner-fullscreen").hidden = !!document.fullscreenElement;
  });
  if (notice.fullscreen_required && !document.fullscreenElement) $("banner-fullscreen").hidden = false;
  if (notice.webcam) startWebcam(notice);
}

$("fullscreen-btn").addEventListener("click", () => {
  document.documentElement.requestFullscreen?.().catch(() => {
    $("fullscreen-text").textContent = "Your browser refused full screen. Press F11, or ask the examiner for help.";
  });
});

function showWarning(msg) {
  const box = $("banner-warning");
  box.querySelector("p").textContent = msg.text || "A proctoring rule was triggered.";
  box.hidden = false;
  box.scrollIntoView({block: "nearest"});
}

async function startWebcam(notice) {
  const consentKey = `exam-engine:consent:${SESSION_ID}`;
  if (!localStorage.getItem(consentKey)) {
    const accepted = await askConsent(notice);
    if (!accepted) return;
    try {
      await api("POST", `/api/v1/sessions/${encodeURIComponent(SESSION_ID)}/proctoring/consent`);
      localStorage.setItem(consentKey, new Date().toISOString());
    } catch (err) {
      $("camera-state").textContent = `Consent not recorded: ${err.message}`;
      return;
    }
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: {width: 320, height: 240}, audio: false});
  } catch {
    $("camera-state").textContent = "Your camera could not be started. The examiner can see that no pictures arrive.";
    $("camera-box").hidden = false;
    return;
  }
  const video = $("camera-video");
  video.srcObject = stream;
  $("camera-box").hidden = false;
  $("camera-state").textContent = `Camera on: a picture every ${notice.snapshot_interval_s} seconds.`;
  const canvas = document.createElement("canvas");
  const shoot = () => {
    if (S.status !== "in_progress" || !video.videoWidth) return;
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob(async (blob) => {
      if (!blob) return;
      try {
        await fetch(`/api/v1/sessions/${encodeURIComponent(SESSION_ID)}/proctoring/snapshots`, {
          method: "POST", body: blob, credentials: "same-origin",
          headers: {"Content-Type": "image/jpeg", "X-CSRF-Token": csrfToken()}});
      } catch { /* offline: the next picture goes when the line is back */ }
    }, "image/jpeg", 0.7);
  };
  setInterval(shoot, Math.max(10, notice.snapshot_interval_s) * 1000);
  setTimeout(shoot, 2000);
}

function askConsent(notice) {
  return new Promise((resolve) => {
    const dialog = $("consent-dialog");
    $("consent-text").textContent = notice.text;
    dialog.showModal();
    $("consent-accept").onclick = () => { dialog.close(); resolve(true); };
    $("consent-decline").onclick = () => {
      dialog.close();
      $("camera-state").textContent = "You did not allow the camera. The examiner will see that.";
      $("camera-box").hidden = false;
      resolve(false);
    };
  });
}

// --- submit -----------------------------------------------------------------------------------------

function openSubmit() {
  flushTyping();
  const unanswered = S.items.map((item, i) => ({item, i})).filter(({item}) => !isAnswered(item, S.responses.get(item.item_id)));
  const flagged = S.items.map((item, i) => ({item, i})).filter(({item}) => S.flagged.has(item.item_id));
  const dialog = $("submit-dialog");
  const jump = ({i}) => el("li", {}, el("button", {type: "button", class: "btn-link", text: `Question ${i + 1}`,
                                                   onclick: () => { dialog.close(); goTo(i); }}));
  const unsent = outbox.count("answer");
  $("submit-summary").replaceChildren(
    el("p", {text: `You answered ${S.items.length - unanswered.length} of ${S.items.length} questions. After submitting you cannot change your answers.`}),
    unanswered.length ? el("div", {}, [el("h3", {text: `Not answered (${unanswered.length})`}), el("ul", {}, unanswered.map(jump))]) : el("p", {text: "Every question has an answer."}),
    flagged.length ? el("div", {}, [el("h3", {text: `Flagged for review (${flagged.length})`}), el("ul", {}, flagged.map(jump))]) : null,
    unsent ? el("p", {class: "notice notice-warn", text: `${unsent} answer${unsent === 1 ? " is" : "s are"} not sent yet; they are sent before your submission.`}) : null,
  );
  dialog.showModal();
  $("submit-cancel").focus();
}

$("finish-btn").addEventListener("click", openSubmit);
$("submit-cancel").addEventListener("click", () => $("submit-dialog").close());
$("submit-confirm").addEventListener("click", () => {
  $("submit-dialog").close();
  if (S.submitting) return;
  S.submitting = true;
  flushTyping();
  outbox.add("submit", {});
  $("closed-text").replaceChildren(el("p", {text: S.connected ? "Submitting your exam…" : "Your submission is waiting for the connection to come back."}));
  $("banner-closed").hidden = false;
  pump();
});

start();
