// Unit tests of the exam page's outbox (node --test): sequence numbers, persistence, coalescing, order.
import assert from "node:assert/strict";
import {test} from "node:test";

import {Outbox} from "../static/js/outbox.js";

class MemoryStorage {
  constructor() { this.data = new Map(); }
  getItem(k) { return this.data.has(k) ? this.data.get(k) : null; }
  setItem(k, v) { this.data.set(k, String(v)); }
  removeItem(k) { this.data.delete(k); }
}

test("numbers continue above the server's last_seq and survive a reload", () => {
  const storage = new MemoryStorage();
  const box = new Outbox("s1", storage);
  box.observe(14);
  assert.equal(box.add("answer", {item_id: 1, response: ["a"]}).payload.seq, 15);
  assert.equal(box.add("flag", {item_id: 1, flagged: true}).payload.seq, 16);
  const reloaded = new Outbox("s1", storage);
  assert.deepEqual(reloaded.entries.map((e) => e.payload.seq), [15, 16]);
  reloaded.observe(3);  // an older last_seq never lowers the numbers
  assert.equal(reloaded.add("navigate", {position: 2}).payload.seq, 17);
});

test("acknowledged messages leave; numbers are never reused", () => {
  const storage = new MemoryStorage();
  const box = new Outbox("s2", storage);
  const first = box.add("answer", {item_id: 1, response: "x"});
  box.remove(first.payload.seq);
  assert.equal(box.count(), 0);
  assert.equal(new Outbox("s2", storage).add("answer", {item_id: 1, response: "y"}).payload.seq, first.payload.seq + 1);
});

test("a newer unsent answer replaces the older one of the same item, not one in flight", () => {
  const box = new Outbox("s3", new MemoryStorage());
  const a1 = box.add("answer", {item_id: 7, response: "a"});
  box.add("answer", {item_id: 8, response: "b"});
  box.add("answer", {item_id: 7, response: "aa"});
  assert.deepEqual(box.entries.map((e) => [e.payload.item_id, e.payload.response]), [[8, "b"], [7, "aa"]]);
  box.inflight.add(box.entries[1].payload.seq);
  box.add("answer", {item_id: 7, response: "aaa"});
  assert.equal(box.entries.filter((e) => e.payload.item_id === 7).length, 2);
  assert.ok(a1.payload.seq < box.entries.at(-1).payload.seq);
  assert.deepEqual([...box.pendingAnswers()], [[8, "b"], [7, "aaa"]]);
});

test("navigations are all kept (linear exams need their order)", () => {
  const box = new Outbox("s4", new MemoryStorage());
  box.add("navigate", {position: 1});
  box.add("answer", {item_id: 2, response: "x"});
  box.add("navigate", {position: 2});
  assert.deepEqual(box.entries.map((e) => e.event), ["navigate", "answer", "navigate"]);
});

test("answers go before signals; signals are capped while offline", () => {
  const box = new Outbox("s5", new MemoryStorage());
  for (let i = 0; i < 60; i += 1) box.add("signal", {kind: "resize", detail: {}});
  assert.equal(box.count("signal"), 50);
  const answer = box.add("answer", {item_id: 1, response: ["a"]});
  assert.equal(box.next(), answer);
  box.inflight.add(answer.payload.seq);
  assert.equal(box.next().event, "signal");
});

test("every payload names the attempt; clear forgets it", () => {
  const storage = new MemoryStorage();
  const box = new Outbox("s6", storage);
  assert.equal(box.add("submit", {}).payload.session_id, "s6");
  box.clear();
  assert.equal(new Outbox("s6", storage).count(), 0);
});

test("a corrupt stored outbox is ignored, not fatal", () => {
  const storage = new MemoryStorage();
  storage.setItem("exam-engine:outbox:s7", "{not json");
  assert.equal(new Outbox("s7", storage).count(), 0);
});
