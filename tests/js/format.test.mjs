import test from "node:test";
import assert from "node:assert/strict";
import { doneText, formatEta, formatProgress, formatSuggestion, formatValue, pixelScale, suggestionOrigin } from "../../hitl_widgets/js/labeler.js";

test("formatEta rounds to minutes, then hours, then days", () => {
  assert.equal(formatEta(null), "");
  assert.equal(formatEta(undefined), "");
  assert.equal(formatEta(NaN), "");
  assert.equal(formatEta(Infinity), "");
  assert.equal(formatEta(-5), "");
  assert.equal(formatEta(0), "");
  assert.equal(formatEta(20), "<1 min left");
  assert.equal(formatEta(60), "~1 min left");
  assert.equal(formatEta(13 * 60 + 10), "~13 min left");
  assert.equal(formatEta(3600), "~1 h left");
  assert.equal(formatEta(3600 + 5 * 60), "~1 h 5 min left");
  assert.equal(formatEta(20 * 3600), "~20 h left");
  assert.equal(formatEta(5 * 86400), "~5 days left");
});

test("formatProgress shows done/total, rate, time left and unsaved", () => {
  const p = { done: 10, total: 500, per_minute: 4.25, eta_seconds: 13 * 60 };
  assert.equal(formatProgress(p), "10 / 500 done · 4.3 items/min · ~13 min left");
  assert.equal(formatProgress(p, 2, 2), "12 / 500 done · 4.3 items/min · ~13 min left · 2 unsaved");
  assert.equal(formatProgress({ ...p, per_minute: 12.6 }), "10 / 500 done · 13 items/min · ~13 min left");
});

test("formatProgress adds what the queue says of itself, before the unsaved count", () => {
  const p = { done: 4, total: 9, per_minute: null, eta_seconds: null, queue: "model m3, retraining" };
  assert.equal(formatProgress(p, 0, 1), "4 / 9 done · model m3, retraining · 1 unsaved");
  assert.equal(formatProgress({ ...p, queue: "" }), "4 / 9 done");
});

test("formatProgress leaves out what the kernel does not know yet", () => {
  assert.equal(formatProgress({ done: 0, total: 3, per_minute: null, eta_seconds: null }), "0 / 3 done");
  assert.equal(formatProgress(null), "0 / 0 done");
});

test("formatProgress clamps locally counted labels to [0, total] and hides eta when finished", () => {
  assert.equal(formatProgress({ done: 3, total: 3, eta_seconds: 60 }, 1), "3 / 3 done");
  assert.equal(formatProgress({ done: 0, total: 3 }, -1), "0 / 3 done");
});

test("formatSuggestion shows labels and a two-decimal score", () => {
  assert.equal(formatSuggestion({ labels: ["spam"], score: 0.934, source: "model" }), "suggested: spam 0.93");
  assert.equal(formatSuggestion({ labels: ["a", "b"], score: null }), "suggested: a, b");
  assert.equal(formatSuggestion({ labels: [] }), "");
  assert.equal(formatSuggestion(null), "");
});

test("suggestionOrigin names the source and, when known, the model version", () => {
  assert.equal(suggestionOrigin({ labels: ["spam"], source: "model", version: "m3" }), "from model m3");
  assert.equal(suggestionOrigin({ labels: ["spam"], source: "lf", version: null }), "from lf");
  assert.equal(suggestionOrigin({ labels: ["spam"] }), "");
  assert.equal(suggestionOrigin(null), "");
});

test("formatValue gives text for every kind of field value", () => {
  assert.equal(formatValue("<b>x</b>"), "<b>x</b>");
  assert.equal(formatValue(3.5), "3.5");
  assert.equal(formatValue(false), "false");
  assert.equal(formatValue(null), "—");
  assert.equal(formatValue(undefined), "—");
  assert.equal(formatValue({ a: [1, 2] }), '{"a":[1,2]}');
  const cyclic = {}; cyclic.self = cyclic;
  assert.equal(formatValue(cyclic), "[object Object]");
});

test("pixelScale upsizes tiny images by a whole factor and never shrinks", () => {
  assert.equal(pixelScale(8, 8), 24);
  assert.equal(pixelScale(28, 28), 6);
  assert.equal(pixelScale(8, 16), 12);
  assert.equal(pixelScale(640, 480), 1);
  assert.equal(pixelScale(0, 0), 1);
  assert.equal(pixelScale(), 1);
});

test("an empty window says whether the budget ran out or the work is done", () => {
  assert.equal(doneText({ done: 3, total: 9, budget: { reached: true } }),
               "Budget reached: no more items are handed out.");
  assert.equal(doneText({ done: 9, total: 9 }), "All items labeled. Nothing left to do.");
  assert.equal(doneText(null), "All items labeled. Nothing left to do.");
});
