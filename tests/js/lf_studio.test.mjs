import test from "node:test";
import assert from "node:assert/strict";
import {
  deltaText, formatAccuracy, formatInterval, formatPercent, formatPolarity, nextSort,
  pageRangeText, sortRows, sortValue,
} from "../../hitl_widgets/js/lf_studio.js";

/** @param {Partial<import("../../hitl_widgets/js/lf_studio.js").Row>} r */
const row = (r) => ({
  name: "lf", j: 0, polarity: [1], coverage: 0, overlaps: 0, conflicts: 0, correct: 0,
  incorrect: 0, emp_acc: 0, emp_acc_n: 0, emp_acc_low: null, emp_acc_high: null, error: null, ...r,
});

test("sortRows sorts numbers and names both ways and keeps table order on ties", () => {
  const rows = [row({ name: "b", coverage: 0.2 }), row({ name: "a", coverage: 0.5 }),
    row({ name: "c", coverage: 0.2 })];
  assert.deepEqual(sortRows(rows, { key: "coverage", descending: false }).map((r) => r.name), ["b", "c", "a"]);
  assert.deepEqual(sortRows(rows, { key: "coverage", descending: true }).map((r) => r.name), ["a", "b", "c"]);
  assert.deepEqual(sortRows(rows, { key: "name", descending: false }).map((r) => r.name), ["a", "b", "c"]);
  assert.deepEqual(sortRows(rows, null).map((r) => r.name), ["b", "a", "c"]);
  assert.notEqual(sortRows(rows, null), rows); // a copy: the trait's array is never reordered
});

test("accuracy resting on no human label sorts last in either direction", () => {
  const rows = [row({ name: "none", emp_acc: 0, emp_acc_n: 0 }), row({ name: "good", emp_acc: 0.9, emp_acc_n: 10 }),
    row({ name: "bad", emp_acc: 0.4, emp_acc_n: 5 })];
  assert.equal(sortValue(rows[0], "emp_acc"), null);
  assert.deepEqual(sortRows(rows, { key: "emp_acc", descending: false }).map((r) => r.name), ["bad", "good", "none"]);
  assert.deepEqual(sortRows(rows, { key: "emp_acc", descending: true }).map((r) => r.name), ["good", "bad", "none"]);
});

test("clicking a header cycles ascending, descending, table order", () => {
  let s = nextSort(null, "coverage");
  assert.deepEqual(s, { key: "coverage", descending: false });
  s = nextSort(s, "coverage");
  assert.deepEqual(s, { key: "coverage", descending: true });
  assert.equal(nextSort(s, "coverage"), null);
  assert.deepEqual(nextSort(s, "name"), { key: "name", descending: false });
});

test("percentages, intervals and accuracy with its evidence", () => {
  assert.equal(formatPercent(0.1234), "12.3 %");
  assert.equal(formatPercent(1), "100.0 %");
  assert.equal(formatPercent(null), "—");
  assert.equal(formatPercent(NaN), "—");
  assert.equal(formatInterval(0.49, 0.943), "49–94 %");
  assert.equal(formatInterval(null, 0.9), "");
  assert.equal(formatAccuracy(row({ emp_acc: 0.8, emp_acc_n: 10, emp_acc_low: 0.49, emp_acc_high: 0.943 })),
    "80.0 % (n 10, 49–94 %)");
  assert.equal(formatAccuracy(row({ emp_acc: 0, emp_acc_n: 0 })), "no human labels");
});

test("polarity shows label names", () => {
  assert.equal(formatPolarity([0, 1], ["ham", "spam"]), "ham, spam");
  assert.equal(formatPolarity([], ["ham", "spam"]), "—");
  assert.equal(formatPolarity([3], ["ham"]), "3");
});

test("deltaText says coverage and accuracy before and after and how votes changed", () => {
  const c = { before: { coverage: 2 / 7, accuracy: 0, n: 1 }, after: { coverage: 3 / 7, accuracy: 0.5, n: 2 },
    n_changed: 3, gained: 1, lost: 0, relabeled: 2 };
  assert.equal(deltaText("call", c),
    "call: coverage 28.6 % → 42.9 %, accuracy 0.0 % (n 1) → 50.0 % (n 2); 3 votes changed (1 newly labeled, 2 relabeled)");
  const none = { ...c, before: { coverage: 0.5, accuracy: null, n: 0 }, after: { coverage: 0.5, accuracy: null, n: 0 },
    n_changed: 0, gained: 0, relabeled: 0 };
  assert.equal(deltaText("x", none), "x: coverage 50.0 % → 50.0 %, accuracy — (n 0) → — (n 0); no vote changed");
  assert.equal(deltaText("x", { ...c, n_changed: 1, gained: 0, lost: 1, relabeled: 0 }).endsWith("1 vote changed (1 no longer labeled)"), true);
  assert.equal(deltaText("x", null), "");
});

test("pageRangeText", () => {
  assert.equal(pageRangeText({ offset: 10, total: 57, items: new Array(10) }), "11–20 of 57");
  assert.equal(pageRangeText({ offset: 50, total: 57, items: new Array(7) }), "51–57 of 57");
  assert.equal(pageRangeText({ total: 0 }), "none");
});
