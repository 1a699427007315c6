import test from "node:test";
import assert from "node:assert/strict";
import { RESERVED_KEYS, actionForKey, buildKeyMap, isTypingTarget } from "../../hitl_widgets/js/labeler.js";

const schema = { labels: ["ham", "spam", "eggs"], multi_label: false, keys: { ham: "1", spam: "2", eggs: "a" } };
const km = buildKeyMap(schema);
const key = (k, extra = {}) => ({ key: k, ...extra });

test("buildKeyMap binds each label's key both ways", () => {
  assert.deepEqual([...km.byKey], [["1", "ham"], ["2", "spam"], ["a", "eggs"]]);
  assert.deepEqual([...km.keyOf], [["ham", "1"], ["spam", "2"], ["eggs", "a"]]);
  assert.deepEqual(km.conflicts, []);
});

test("buildKeyMap leaves reserved keys unbound and says why", () => {
  const m = buildKeyMap({ labels: ["x", "y", "z"], keys: { x: "s", y: "?", z: "Enter" } });
  assert.equal(m.byKey.size, 0);
  assert.equal(m.conflicts.length, 3);
  assert.match(m.conflicts[0], /'s'.*'x'.*reserved for skip/);
  assert.match(m.conflicts[2], /reserved for accept/);
});

test("buildKeyMap refuses a key two labels share, case-insensitively", () => {
  const m = buildKeyMap({ labels: ["a", "b"], keys: { a: "q", b: "Q" } });
  assert.deepEqual([...m.byKey], [["q", "a"]]);
  assert.match(m.conflicts[0], /already used by 'a'/);
});

test("buildKeyMap tolerates a missing schema, missing keys and labels without a key", () => {
  assert.equal(buildKeyMap(null).byKey.size, 0);
  assert.equal(buildKeyMap({}).byKey.size, 0);
  const m = buildKeyMap({ labels: ["a", "b"], keys: { a: "1", b: "" } });
  assert.deepEqual([...m.byKey], [["1", "a"]]);
  assert.equal(m.keyOf.has("b"), false);
});

test("label keys label, letters regardless of Shift", () => {
  assert.deepEqual(actionForKey(key("1"), km), { type: "label", label: "ham" });
  assert.deepEqual(actionForKey(key("a"), km), { type: "label", label: "eggs" });
  assert.deepEqual(actionForKey(key("A", { shiftKey: true }), km), { type: "label", label: "eggs" });
  assert.equal(actionForKey(key("9"), km), null);
  assert.equal(actionForKey(key("x"), km), null);
});

test("reserved keys map to their actions", () => {
  assert.deepEqual(actionForKey(key("Enter"), km), { type: "accept" });
  assert.deepEqual(actionForKey(key("s"), km), { type: "skip" });
  assert.deepEqual(actionForKey(key("S", { shiftKey: true }), km), { type: "skip" });
  assert.deepEqual(actionForKey(key("ArrowRight"), km), { type: "skip" });
  assert.deepEqual(actionForKey(key("Backspace"), km), { type: "undo" });
  assert.deepEqual(actionForKey(key("?", { shiftKey: true }), km), { type: "help" });
  assert.deepEqual(Object.keys(RESERVED_KEYS).sort(), ["?", "arrowright", "backspace", "enter", "escape", "s"]);
});

test("a reserved key wins over a label that asked for it", () => {
  const m = buildKeyMap({ labels: ["spam"], keys: { spam: "s" } });
  assert.deepEqual(actionForKey(key("s"), m), { type: "skip" });
});

test("Ctrl/Cmd+Z undoes; other Ctrl/Cmd chords and Ctrl+Shift+Z are left alone", () => {
  assert.deepEqual(actionForKey(key("z", { ctrlKey: true }), km), { type: "undo" });
  assert.deepEqual(actionForKey(key("Z", { metaKey: true }), km), { type: "undo" });
  assert.equal(actionForKey(key("z", { ctrlKey: true, shiftKey: true }), km), null);
  assert.equal(actionForKey(key("1", { ctrlKey: true }), km), null);
  assert.equal(actionForKey(key("c", { metaKey: true }), km), null);
  assert.equal(actionForKey(key("s", { ctrlKey: true }), km), null);
  assert.equal(actionForKey(key("Enter", { metaKey: true }), km), null);
});

test("Alt chords, key repeat and IME composition are ignored", () => {
  assert.equal(actionForKey(key("1", { altKey: true }), km), null);
  assert.equal(actionForKey(key("z", { altKey: true, ctrlKey: true }), km), null);
  assert.equal(actionForKey(key("1", { repeat: true }), km), null);
  assert.equal(actionForKey(key("Enter", { isComposing: true }), km), null);
});

test("keys typed into inputs, textareas, selects and contenteditable are ignored", () => {
  for (const tagName of ["INPUT", "TEXTAREA", "SELECT", "input"]) {
    assert.equal(actionForKey(key("1", { target: { tagName } }), km), null, tagName);
    assert.equal(isTypingTarget({ tagName }), true);
  }
  assert.equal(actionForKey(key("s", { target: { tagName: "DIV", isContentEditable: true } }), km), null);
  assert.deepEqual(actionForKey(key("1", { target: { tagName: "DIV" } }), km), { type: "label", label: "ham" });
  assert.equal(isTypingTarget(null), false);
});

test("Enter on a focused button, link or summary keeps its native meaning", () => {
  for (const tagName of ["BUTTON", "A", "SUMMARY"]) {
    assert.equal(actionForKey(key("Enter", { target: { tagName } }), km), null, tagName);
  }
  assert.deepEqual(actionForKey(key("1", { target: { tagName: "BUTTON" } }), km), { type: "label", label: "ham" });
});

test("Escape is only claimed when there is something to close or clear", () => {
  assert.equal(actionForKey(key("Escape"), km), null);
  assert.deepEqual(actionForKey(key("Escape"), km, { helpOpen: true }), { type: "escape" });
  assert.deepEqual(actionForKey(key("Escape"), km, { multiLabel: true }), { type: "escape" });
});

test("multi-label mode: label keys toggle (same action), Enter submits the selection", () => {
  const m = buildKeyMap({ labels: ["red", "green"], multi_label: true, keys: { red: "1", green: "2" } });
  assert.deepEqual(actionForKey(key("2"), m, { multiLabel: true }), { type: "label", label: "green" });
  assert.deepEqual(actionForKey(key("Enter"), m, { multiLabel: true }), { type: "accept" });
});

test("non-events yield null", () => {
  assert.equal(actionForKey(null, km), null);
  assert.equal(actionForKey({}, km), null);
});
