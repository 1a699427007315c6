import test from "node:test";
import assert from "node:assert/strict";
import { PrefetchQueue } from "../../hitl_widgets/js/labeler.js";

const text = (id) => ({ item_id: id, kind: "text", text: `text of ${id}` });
function queueWith(ids, payloadIds = ids) {
  const q = new PrefetchQueue();
  q.addPayloads(payloadIds.map(text));
  q.setWindow(ids);
  return q;
}

test("the shown item is the first of the window", () => {
  const q = queueWith(["a", "b", "c"]);
  assert.equal(q.current(), "a");
  assert.deepEqual(q.visible(), ["a", "b", "c"]);
  assert.equal(new PrefetchQueue().current(), null);
});

test("markDone draws the next item at once, before the kernel answers", () => {
  const q = queueWith(["a", "b", "c"]);
  q.markDone("a", { action: "submit", client_seq: 1 });
  assert.equal(q.current(), "b");
  assert.equal(q.unsaved(), 1);
  assert.equal(q.pendingDone(), 1);
});

test("ack then the kernel's window: the item stays gone, nothing unsaved", () => {
  const q = queueWith(["a", "b", "c"]);
  q.markDone("a", { client_seq: 1 });
  assert.equal(q.ack(1).item_id, "a");
  assert.equal(q.unsaved(), 0);
  assert.equal(q.current(), "b"); // window not updated yet: "a" still hidden
  q.setWindow(["b", "c", "d"]);
  assert.deepEqual(q.visible(), ["b", "c", "d"]);
  assert.equal(q.done.size, 0);
});

test("window before ack: the item stays hidden until the ack", () => {
  const q = queueWith(["a", "b", "c"]);
  q.markDone("a", { client_seq: 1 });
  q.setWindow(["b", "c", "d"]);
  assert.deepEqual(q.visible(), ["b", "c", "d"]);
  q.ack(1);
  assert.equal(q.done.size, 0);
});

test("a stale window that still lists the item does not bring it back", () => {
  const q = queueWith(["a", "b", "c"]);
  q.markDone("a", { client_seq: 1 });
  q.setWindow(["a", "c", "b"]); // e.g. a re-rank that the kernel sent before reading our submit
  assert.deepEqual(q.visible(), ["c", "b"]);
  q.ack(1); // ack before the post-submit window: still hidden
  assert.deepEqual(q.visible(), ["c", "b"]);
  q.setWindow(["c", "b", "d"]);
  assert.deepEqual(q.visible(), ["c", "b", "d"]);
});

test("a skipped item the kernel keeps at the end shows again once the window follows the ack", () => {
  const q = queueWith(["a", "b"]);
  q.markDone("a", { action: "skip", client_seq: 1 });
  assert.equal(q.pendingDone(), 0); // skips are not labels
  q.ack(1);
  assert.deepEqual(q.visible(), ["b"]);
  q.setWindow(["b", "a"]);
  assert.deepEqual(q.visible(), ["b", "a"]);
});

test("settle trusts the window when no window change follows an ack", () => {
  const q = queueWith(["a"]);
  q.markDone("a", { action: "skip", client_seq: 1 }); // skipping the only item leaves the window as it was
  q.ack(1);
  assert.equal(q.current(), null);
  assert.equal(q.settle(), true);
  assert.equal(q.current(), "a");
  assert.equal(q.settle(), false);
});

test("settle keeps entries whose intent is still pending", () => {
  const q = queueWith(["a", "b"]);
  q.markDone("a", { client_seq: 1 });
  assert.equal(q.settle(), false);
  assert.equal(q.current(), "b");
});

test("undo brings the last item back in front and names it", () => {
  const q = queueWith(["a", "b", "c"]);
  q.markDone("a", { client_seq: 1 });
  q.ack(1);
  q.setWindow(["b", "c", "d"]);
  q.progressSeen();
  assert.equal(q.undo(2), "a");
  assert.deepEqual(q.visible(), ["a", "b", "c", "d"]);
  assert.equal(q.unsaved(), 1);
  assert.equal(q.pendingDone(), -1); // progress.done still counts "a" until the undo lands
  q.ack(2);
  assert.deepEqual(q.visible(), ["a", "b", "c", "d"]); // kept in front until the window serves it
  q.setWindow(["a", "b", "c", "d"]);
  assert.deepEqual(q.front, []);
  assert.deepEqual(q.visible(), ["a", "b", "c", "d"]);
});

test("submit then undo before the ack: no flicker whatever order the answers come in", () => {
  const orders = [
    ["win1", "ack1", "win2", "ack2"], // kernel sets traits, then acks
    ["ack1", "win1", "ack2", "win2"], // kernel acks, then sets traits
    ["ack1", "win1", "win2", "ack2"],
    ["win1", "ack1", "ack2", "win2"],
  ];
  for (const order of orders) {
    const q = queueWith(["a", "b", "c"]);
    q.markDone("a", { client_seq: 1 });
    assert.equal(q.current(), "b");
    assert.equal(q.undo(2), "a");
    assert.deepEqual(q.visible(), ["a", "b", "c"]);
    assert.equal(q.pendingDone(), 0);
    const steps = {
      win1: () => q.setWindow(["b", "c", "d"]), // the kernel wrote the submit
      ack1: () => q.ack(1),
      win2: () => q.setWindow(["a", "b", "c", "d"]), // the kernel wrote the retraction
      ack2: () => q.ack(2),
    };
    for (const step of order) {
      steps[step]();
      assert.equal(q.current(), "a", `${order.join(",")} after ${step}`);
    }
    assert.deepEqual(q.visible(), ["a", "b", "c", "d"], order.join(","));
    assert.equal(q.unsaved(), 0);
    assert.equal(q.done.size + q.front.length, 0, order.join(","));
  }
});

test("label, undo, label again before any answer: the second label holds", () => {
  const q = queueWith(["a", "b"]);
  q.markDone("a", { client_seq: 1 });
  q.undo(2);
  q.markDone("a", { client_seq: 3 });
  assert.equal(q.current(), "b");
  q.ack(1); q.setWindow(["b", "c"]);
  q.ack(2); q.setWindow(["a", "b", "c"]);
  assert.equal(q.current(), "b"); // "a" is back in the kernel's window but our third intent is pending
  q.ack(3); q.setWindow(["b", "c"]);
  assert.deepEqual(q.visible(), ["b", "c"]);
  assert.equal(q.unsaved(), 0);
});

test("several undos come back newest first", () => {
  const q = queueWith(["a", "b", "c"]);
  q.markDone("a", { client_seq: 1 });
  q.markDone("b", { client_seq: 2 });
  assert.equal(q.undo(3), "b");
  assert.equal(q.undo(4), "a");
  assert.deepEqual(q.visible(), ["a", "b", "c"]);
  assert.equal(q.undo(5), null); // history is empty: the kernel decides
  assert.deepEqual(q.pending.get(5), { type: "undo", item_id: null, undoes: null });
});

test("undo with no history names no item and changes nothing locally", () => {
  const q = queueWith(["a", "b"]);
  assert.equal(q.undo(1), null);
  assert.deepEqual(q.visible(), ["a", "b"]);
  assert.equal(q.unsaved(), 1);
  assert.equal(q.pendingDone(), 0);
  q.ack(1);
  q.setWindow(["z", "a", "b"]); // the kernel restored its latest action
  assert.equal(q.current(), "z");
});

test("history is capped, oldest dropped", () => {
  const q = new PrefetchQueue({ historyCap: 3 });
  q.setWindow(["a", "b", "c", "d"]);
  ["a", "b", "c", "d"].forEach((id, i) => q.markDone(id, { client_seq: i + 1 }));
  assert.deepEqual(q.history.map((h) => h.item_id), ["b", "c", "d"]);
});

test("reject of a submit returns the item to view and drops it from history", () => {
  const q = queueWith(["a", "b"]);
  q.markDone("a", { client_seq: 1 });
  assert.equal(q.current(), "b");
  assert.equal(q.reject(1, "a").type, "submit");
  assert.equal(q.current(), "a");
  assert.equal(q.unsaved(), 0);
  assert.deepEqual(q.history, []);
});

test("reject of an older intent for an item acted on again keeps the newer one", () => {
  const q = queueWith(["a", "b"]);
  q.markDone("a", { client_seq: 1 });
  q.undo(2);
  q.markDone("a", { client_seq: 3 });
  q.reject(1, "a");
  assert.equal(q.current(), "b");
  assert.deepEqual(q.history.map((h) => h.client_seq), [3]);
});

test("reject of an undo hides the item again and makes it undoable again", () => {
  const q = queueWith(["a", "b"]);
  q.markDone("a", { client_seq: 1 });
  q.ack(1);
  q.setWindow(["b", "c"]);
  q.undo(2);
  assert.equal(q.current(), "a");
  q.reject(2, "a");
  assert.deepEqual(q.visible(), ["b", "c"]);
  assert.deepEqual(q.history.map((h) => h.item_id), ["a"]);
});

test("an undo whose submit was rejected does not restore that submit", () => {
  const q = queueWith(["a", "b"]);
  q.markDone("a", { client_seq: 1 });
  q.undo(2);
  q.reject(1, "a");
  q.reject(2, "a"); // nothing to undo any more
  assert.deepEqual(q.history, []);
  assert.equal(q.current(), "a");
});

test("a reject with a sequence number from another view still returns its item", () => {
  const q = queueWith(["a", "b"]);
  q.done.set("a", { item_id: "a", client_seq: 99, acked: false, windowSinceAck: false });
  assert.equal(q.reject(12345, "a"), null);
  assert.equal(q.current(), "a");
});

test("a reject that is not ours leaves an item whose own intent is pending hidden and unsaved", () => {
  const q = queueWith(["a", "b"]);
  q.markDone("a", { client_seq: 1 });
  assert.equal(q.reject(null, "a"), null); // e.g. the kernel refused a malformed "shown" for "a"
  assert.equal(q.reject(12345, "a"), null); // or another view's intent on "a"
  assert.equal(q.current(), "b");
  assert.equal(q.unsaved(), 1);
  q.ack(1); // the submit's own reply settles it
  assert.equal(q.unsaved(), 0);
  assert.equal(q.current(), "b");
});

test("every intent's own reject brings the unsaved count to zero", () => {
  const q = queueWith(["a", "b", "c"]);
  q.markDone("a", { action: "submit", client_seq: 1 });
  q.markDone("b", { action: "skip", client_seq: 2 });
  q.undo(3);
  q.undo(4);
  q.undo(5); // no local history left: the kernel decides
  assert.equal(q.unsaved(), 5);
  for (const seq of [5, 4, 3, 2, 1]) q.reject(seq, null);
  assert.equal(q.unsaved(), 0);
  assert.equal(q.pendingDone(), 0);
  assert.deepEqual(q.visible(), ["a", "b", "c"]);
});

test("acks and rejects for unknown sequence numbers are harmless", () => {
  const q = queueWith(["a"]);
  assert.equal(q.ack(7), null);
  assert.equal(q.reject(7), null);
  assert.equal(q.current(), "a");
});

test("window updates dedupe ids and accept nonsense as empty", () => {
  const q = queueWith(["a", "a", "b"]);
  assert.deepEqual(q.visible(), ["a", "b"]);
  q.setWindow(null);
  assert.deepEqual(q.visible(), []);
  assert.equal(q.current(), null);
});

test("requestMissing asks once for window and front ids lacking a payload", () => {
  const q = queueWith(["a", "b", "c"], ["a"]);
  assert.deepEqual(q.requestMissing(), ["b", "c"]);
  assert.deepEqual(q.requestMissing(), []); // already asked
  q.addPayloads([text("b")]);
  q.setWindow(["b", "c", "d"]);
  assert.deepEqual(q.requestMissing(), ["d"]);
});

test("requestMissing includes an undone item whose payload is gone", () => {
  const q = queueWith(["a", "b"]);
  q.markDone("a", { client_seq: 1 });
  q.payloads.delete("a");
  q.undo(2);
  assert.deepEqual(q.requestMissing(), ["a"]);
});

test("payloads arriving before the window that names them are kept", () => {
  const q = queueWith(["a", "b"]);
  q.addPayloads([text("c")]);
  q.markDone("a", { client_seq: 1 });
  q.ack(1);
  q.setWindow(["b", "c"]);
  assert.deepEqual(q.requestMissing(), []);
  assert.deepEqual(q.evict(), []); // "a" stays too: it is in the undo history
  assert.ok(q.payloads.has("c"));
});

test("evict drops payloads outside window, front, done and history", () => {
  const q = new PrefetchQueue({ historyCap: 1 });
  q.addPayloads(["a", "b", "c", "d"].map(text));
  q.setWindow(["a", "b", "c"]);
  q.markDone("a", { client_seq: 1 });
  q.markDone("b", { client_seq: 2 }); // history cap 1: only "b" stays undoable
  q.ack(1); q.ack(2);
  q.setWindow(["c"]);
  assert.deepEqual(q.evict().sort(), ["a", "d"]);
  assert.deepEqual([...q.payloads.keys()].sort(), ["b", "c"]);
  assert.deepEqual(q.evict(), []);
});

test("evict forgets requests for ids that left, so they are asked for again if they return", () => {
  const q = queueWith(["a", "b"], ["a"]);
  assert.deepEqual(q.requestMissing(), ["b"]);
  q.setWindow(["a"]);
  q.evict();
  q.setWindow(["a", "b"]);
  assert.deepEqual(q.requestMissing(), ["b"]);
});

test("addPayloads ignores junk and replaces a payload sent again", () => {
  const q = new PrefetchQueue();
  q.addPayloads([null, {}, text("a")]);
  assert.deepEqual([...q.payloads.keys()], ["a"]);
  q.addPayloads([{ item_id: "a", kind: "text", text: "new" }]);
  assert.equal(q.payloads.get("a").text, "new");
  q.addPayloads(undefined);
});

test("numeric ids work as well as strings", () => {
  const q = queueWith([3, 1, 2]);
  q.markDone(3, { client_seq: 1 });
  assert.equal(q.current(), 1);
  assert.equal(q.undo(2), 3);
  assert.equal(q.current(), 3);
});

test("pendingDone keeps acked labels until the kernel's next progress, so the count never dips", () => {
  const q = queueWith(["a", "b", "c"]);
  q.markDone("a", { client_seq: 1 });
  q.markDone("b", { action: "skip", client_seq: 2 });
  assert.equal(q.pendingDone(), 1);
  q.ack(1); // the kernel acks, then sets window, then progress
  q.setWindow(["b", "c"]);
  assert.equal(q.pendingDone(), 1);
  q.progressSeen();
  assert.equal(q.pendingDone(), 0);
  q.undo(3); // undoes the skip of "b": no change to the count
  assert.equal(q.pendingDone(), 0);
  q.undo(4); // undoes the label of "a"
  assert.equal(q.pendingDone(), -1);
  q.ack(4);
  assert.equal(q.pendingDone(), -1);
  q.settle(); // no progress came after a quiet spell: trust the last one
  assert.equal(q.pendingDone(), 0);
});

test("a rejected label stops counting, and so does an undo of it", () => {
  const q = queueWith(["a", "b"]);
  q.markDone("a", { client_seq: 1 });
  q.undo(2);
  q.reject(1, "a");
  assert.equal(q.pendingDone(), 0);
  q.reject(2, "a");
  assert.equal(q.pendingDone(), 0);
});
