// The exam page's outbox (docs/protocol.md §5): every mutating message gets the next sequence number and
// stays in localStorage until the server acknowledges it, so nothing is lost to a reload or a dropped line.

const PREFIX = "exam-engine";
const MAX_SIGNALS = 50;

export class Outbox {
  /** storage: localStorage (or a stand-in in tests); sessionId: the attempt. */
  constructor(sessionId, storage = window.localStorage) {
    this.sessionId = sessionId;
    this.storage = storage;
    this.key = `${PREFIX}:outbox:${sessionId}`;
    this.seqKey = `${PREFIX}:seq:${sessionId}`;
    this.inflight = new Set();
    this.entries = this._load();
  }

  _load() {
    try {
      const parsed = JSON.parse(this.storage.getItem(this.key) || "[]");
      return Array.isArray(parsed) ? parsed.filter((e) => e && e.event && e.payload && Number.isInteger(e.payload.seq)) : [];
    } catch {
      return [];
    }
  }

  _save() {
    try {
      this.storage.setItem(this.key, JSON.stringify(this.entries));
    } catch (err) {
      // Storage full or disabled: the outbox still works in memory for this page's life.
      console.warn("outbox not persisted", err);
    }
  }

  /** The highest seq this browser ever used for the attempt, and the server's last applied one. */
  highestSeq(lastSeq = 0) {
    const stored = parseInt(this.storage.getItem(this.seqKey) || "0", 10) || 0;
    const inBox = this.entries.reduce((m, e) => Math.max(m, e.payload.seq), 0);
    return Math.max(stored, inBox, lastSeq || 0);
  }

  /** Note the server's `last_seq` from join, so new numbers continue above it. */
  observe(lastSeq) {
    const high = this.highestSeq(lastSeq);
    this.storage.setItem(this.seqKey, String(high));
  }

  /**
   * Queue a message; returns its entry. An unsent older message that this one makes pointless
   * (an earlier answer or flag of the same item) is dropped: the newer one wins anyway. Navigations are kept:
   * under linear navigation an answer is only accepted at its position, so their order matters.
   */
  add(event, payload) {
    const seq = this.highestSeq() + 1;
    this.storage.setItem(this.seqKey, String(seq));
    const entry = {event, payload: {...payload, session_id: this.sessionId, seq}, at: Date.now()};
    this.entries = this.entries.filter((e) => this.inflight.has(e.payload.seq) || !supersedes(entry, e));
    this.entries.push(entry);
    if (event === "signal") {
      // Signals are evidence, not answers: while offline keep only the latest MAX_SIGNALS.
      const signals = this.entries.filter((e) => e.event === "signal" && !this.inflight.has(e.payload.seq));
      const extra = new Set(signals.slice(0, Math.max(0, signals.length - MAX_SIGNALS)));
      if (extra.size) this.entries = this.entries.filter((e) => !extra.has(e));
    }
    this._save();
    return entry;
  }

  remove(seq) {
    this.entries = this.entries.filter((e) => e.payload.seq !== seq);
    this.inflight.delete(seq);
    this._save();
  }

  /**
   * The next message to send (one at a time): answers, flags, navigation and the submission in their order,
   * before any proctoring signal, so a flood of signals never delays an answer.
   */
  next() {
    const ready = this.entries.filter((e) => !this.inflight.has(e.payload.seq));
    return ready.find((e) => e.event !== "signal") || ready[0] || null;
  }

  /** Unsent answers by item id (what the learner sees as "not sent yet"). */
  pendingAnswers() {
    const out = new Map();
    for (const e of this.entries) if (e.event === "answer") out.set(e.payload.item_id, e.payload.response);
    return out;
  }

  count(event) {
    return event ? this.entries.filter((e) => e.event === event).length : this.entries.length;
  }

  /** Forget everything about the attempt (after it closed). */
  clear() {
    this.entries = [];
    this.inflight.clear();
    this.storage.removeItem(this.key);
  }
}

function supersedes(newer, older) {
  if (newer.event !== older.event) return false;
  if (newer.event === "answer" || newer.event === "flag") return newer.payload.item_id === older.payload.item_id;
  return false;
}
