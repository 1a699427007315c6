import test from "node:test";
import assert from "node:assert/strict";
import {
  Draft, PrefetchQueue, assignLanes, buildKeyMap, commandForKey, legend, moveBoundary, offsetMap,
  reviewRows, segments, snapToTokens, toCodePoints, toUtf16, tokenAt, tokenRange,
} from "../../hitl_widgets/js/span_labeler.js";
import { PrefetchQueue as LabelerQueue } from "../../hitl_widgets/js/labeler.js";

// A seeded generator (mulberry32): the same 10k texts on every run.
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const PIECES = ["a", "Z", " ", "\r\n", "\n", "\t", "é", "e\u0301", "n\u0303\u0323", "ß", "مرحبا", "שלום",
  "😀", "🚒", "👨🏻‍🚒", "👩‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "\u200d", "𝔘", "中文", "<b>", "&amp;", "\ufeff"];
function randomText(rand) {
  const n = Math.floor(rand() * 16);
  let s = "";
  for (let k = 0; k < n; k++) s += PIECES[Math.floor(rand() * PIECES.length)];
  return s;
}
// The reference counts code points by the string iterator, independently of offsetMap's loop.
const refCp = (text, u) => [...text.slice(0, u)].length;
const isInsidePair = (text, u) => u > 0 && u < text.length && /[\ud800-\udbff]/.test(text[u - 1]) && /[\udc00-\udfff]/.test(text[u]);

test("10k random texts: every UTF-16 offset converts to Python's code points and back", () => {
  const rand = rng(11);
  let checked = 0, mismatches = 0, insidePairs = 0;
  for (let k = 0; k < 10_000; k++) {
    const text = randomText(rand);
    const map = offsetMap(text);
    assert.equal(map.cpLength, [...text].length);
    for (let u = 0; u <= text.length; u++) {
      checked++;
      if (isInsidePair(text, u)) {
        insidePairs++;
        assert.throws(() => map.toCp(u), RangeError);
        assert.equal(map.toCp(map.snap(u, -1)), refCp(text, u - 1));
        continue;
      }
      const cp = map.toCp(u);
      if (cp !== refCp(text, u) || map.toU16(cp) !== u) mismatches++;
    }
  }
  assert.equal(mismatches, 0);
  assert.ok(checked > 100_000 && insidePairs > 1000, `${checked} offsets, ${insidePairs} inside pairs`);
});

test("selecting 'firetrucks' after a ZWJ fireman gives code points 19-29", () => {
  const text = "👨🏻‍🚒 firemen drive firetrucks";
  const u = text.indexOf("firetrucks");
  assert.equal(u, 22);
  assert.deepEqual([toCodePoints(text, u), toCodePoints(text, u + 10)], [19, 29]);
  assert.equal(toUtf16(text, 19), 22);
  assert.throws(() => toCodePoints(text, 1), /surrogate pair/);
  assert.throws(() => toCodePoints(text, 99), /outside/);
});

test("tokens: the caret finds its token, selections snap out to whole tokens", () => {
  const tokens = [[0, 3], [4, 7], [8, 11]]; // "Ada met IBM"
  assert.equal(tokenAt(tokens, 0), 0);
  assert.equal(tokenAt(tokens, 3), 1); // the space belongs to the next token
  assert.equal(tokenAt(tokens, 11), -1);
  assert.deepEqual(snapToTokens(tokens, 1, 5), [0, 7]);
  assert.deepEqual(snapToTokens(tokens, 3, 4), [3, 4]); // whitespace only: as selected
  assert.deepEqual(tokenRange(tokens, 2, 1), [4, 11]);
});

test("boundaries move by a token, never past the other edge", () => {
  const tokens = [[0, 3], [4, 7], [8, 11]];
  assert.deepEqual(moveBoundary(tokens, { start: 4, end: 7 }, "start", -1, 11), { start: 0, end: 7 });
  assert.deepEqual(moveBoundary(tokens, { start: 4, end: 7 }, "end", 1, 11), { start: 4, end: 11 });
  assert.equal(moveBoundary(tokens, { start: 4, end: 7 }, "start", 1, 11), null);
  assert.equal(moveBoundary(tokens, { start: 4, end: 7 }, "end", -1, 11), null);
  assert.equal(moveBoundary(tokens, { start: 0, end: 3 }, "start", -1, 11), null);
  // no tokens: by one code point
  assert.deepEqual(moveBoundary([], { start: 2, end: 4 }, "end", 1, 9), { start: 2, end: 5 });
});

test("lanes: nested and crossing spans never share a lane where they overlap", () => {
  const rand = rng(5);
  for (let k = 0; k < 500; k++) {
    const ranges = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => {
      const a = Math.floor(rand() * 30); return { start: a, end: a + 1 + Math.floor(rand() * 10) };
    });
    const { lanes, count } = assignLanes(ranges);
    for (let i = 0; i < ranges.length; i++) {
      assert.ok(lanes[i] < count);
      for (let j = i + 1; j < ranges.length; j++) {
        const overlap = ranges[i].start < ranges[j].end && ranges[j].start < ranges[i].end;
        if (overlap) assert.notEqual(lanes[i], lanes[j]);
      }
    }
  }
  assert.deepEqual(assignLanes([{ start: 0, end: 10 }, { start: 2, end: 4 }, { start: 5, end: 8 }]).lanes, [0, 1, 1]);
  assert.deepEqual(segments([3, 3, 7, 0, 12], 10), [[0, 3], [3, 7], [7, 10]]);
});

test("a one-layer draft refuses an overlap and says why; an overlapping one takes it", () => {
  const one = new Draft();
  assert.equal(one.add(0, 5, "PER").id, 0);
  assert.match(one.add(3, 8, "ORG").error, /overlap the PER span; this task's spans are one layer/);
  assert.equal(one.spans.length, 1);
  assert.match(one.add(0, 5, "PER").error, /exists already/);
  const many = new Draft({ overlapping: true });
  many.add(0, 5, "PER");
  assert.equal(many.add(3, 8, "ORG").id, 1);
  assert.match(many.update(1, { start: 0, end: 5, label: "PER" }), /exists already/);
});

test("draft edits undo one by one; deleting a span deletes its relations", () => {
  const d = new Draft({ suggestions: [{ start: 9, end: 12, label: "ORG", score: 0.8, suggestion_id: "x:0" }] });
  d.add(0, 3, "PER");
  d.add(4, 7, "PER");
  assert.equal(d.relate(0, 1, "knows"), "");
  assert.match(d.relate(0, 0, "knows"), /two different spans/);
  assert.equal(d.update(1, { end: 8 }), "");
  d.add(9, 12, "ORG", "x:0");
  assert.equal(d.suggestions.length, 0);
  d.remove(0);
  assert.deepEqual(d.relations, []);
  assert.ok(d.undo()); // the deletion
  assert.equal(d.relations.length, 1);
  assert.ok(d.undo()); // the accepted suggestion goes back to being one
  assert.equal(d.suggestions.length, 1);
  d.undo(); d.undo(); d.undo(); d.undo();
  assert.deepEqual([d.spans, d.relations], [[], []]);
  assert.equal(d.undo(), false);
});

test("a submission carries code points, the covered text and the DOM's UTF-16 offsets", () => {
  const text = "👨🏻‍🚒 firemen drive firetrucks";
  const d = new Draft();
  d.add(19, 29, "VEH");
  d.add(0, 4, "PER", "s:1");
  d.relate(1, 0, "drives");
  const { spans, relations } = d.toIntent(text, offsetMap(text));
  assert.deepEqual(spans, [
    { id: 1, start: 0, end: 4, label: "PER", text: "👨🏻‍🚒", utf16: [0, 7], suggestion_id: "s:1" },
    { id: 0, start: 19, end: 29, label: "VEH", text: "firetrucks", utf16: [22, 32], suggestion_id: null },
  ]);
  assert.deepEqual(relations, [{ head: 1, child: 0, label: "drives" }]);
});

const key = (k, extra = {}) => ({ key: k, ...extra });

test("the key map: label keys, command keys, and a label whose key is a command key moves", () => {
  const km = buildKeyMap({ labels: ["PER", "ORG", "LOC"], keys: { PER: "1", ORG: "2", LOC: "a" },
    relation_labels: ["works_at", "knows"] });
  assert.equal(km.keyOf.get("LOC"), "3");
  assert.match(km.conflicts[0], /Key 'a' for 'LOC' is taken \(accept\)/);
  assert.deepEqual(commandForKey(key("2"), km), { type: "label", label: "ORG" });
  assert.deepEqual(commandForKey(key("ArrowRight"), km), { type: "move", dir: 1 });
  assert.deepEqual(commandForKey(key("ArrowLeft", { shiftKey: true }), km), { type: "extend", dir: -1 });
  assert.deepEqual(commandForKey(key("Tab", { shiftKey: true }), km), { type: "cycle", dir: -1 });
  assert.deepEqual(commandForKey(key("[", { code: "BracketLeft" }), km), { type: "boundary", edge: "start", dir: -1 });
  assert.deepEqual(commandForKey(key("{", { code: "BracketLeft", shiftKey: true }), km), { type: "boundary", edge: "start", dir: 1 });
  assert.deepEqual(commandForKey(key("]"), km), { type: "boundary", edge: "end", dir: 1 });
  assert.deepEqual(commandForKey(key("}", { shiftKey: true }), km), { type: "boundary", edge: "end", dir: -1 });
  assert.deepEqual(commandForKey(key("Delete"), km), { type: "delete" });
  assert.deepEqual(commandForKey(key("Backspace"), km), { type: "delete" });
  assert.deepEqual(commandForKey(key("Enter"), km), { type: "submit" });
  assert.deepEqual(commandForKey(key("z", { ctrlKey: true }), km), { type: "undo" });
  assert.deepEqual(commandForKey(key("u"), km), { type: "undo-item" });
  assert.deepEqual(commandForKey(key("r"), km), { type: "relation" });
  assert.deepEqual(commandForKey(key("A", { shiftKey: true }), km), { type: "accept-all" });
  assert.deepEqual(commandForKey(key("a"), km), { type: "accept" });
  // while a relation is picked, numbers name relation labels
  assert.deepEqual(commandForKey(key("2"), km, { relating: true }), { type: "relate", label: "knows" });
  assert.deepEqual(commandForKey(key("Enter"), km, { relating: true }), { type: "relate" });
  // left alone: typing, Alt chords, held label keys, Enter on a button
  assert.equal(commandForKey(key("1", { target: { tagName: "INPUT" } }), km), null);
  assert.equal(commandForKey(key("1", { altKey: true }), km), null);
  assert.equal(commandForKey(key("1", { repeat: true }), km), null);
  assert.deepEqual(commandForKey(key("ArrowRight", { repeat: true }), km), { type: "move", dir: 1 });
  assert.equal(commandForKey(key("Enter", { target: { tagName: "BUTTON" } }), km), null);
  assert.ok(legend(km).some(([k, what]) => k === "r … 1" && what.includes("works_at")));
});

test("past nine labels, letters are given out around the command keys", () => {
  const labels = Array.from({ length: 14 }, (_, k) => `L${k}`);
  const keys = Object.fromEntries(labels.map((l, k) => [l, "123456789abcde"[k]]));
  const km = buildKeyMap({ labels, keys });
  assert.equal(new Set(km.keyOf.values()).size, 14);
  for (const k of km.keyOf.values()) assert.ok(!["a", "r", "s", "u", "?"].includes(k));
});

test("the prefetch queue is the Labeler's, copied: same code once comments and spaces go", () => {
  const strip = (f) => f.toString().replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "").replace(/\s+/g, "");
  assert.equal(strip(PrefetchQueue), strip(LabelerQueue));
});

// -- adjudication --------------------------------------------------------------------------
test("reviewRows: nothing without others; the consensus is 0, annotators 1-9 in the kernel's order", () => {
  assert.deepEqual(reviewRows(undefined), []);
  assert.deepEqual(reviewRows({ item_id: "a", text: "x", suggestions: [] }), []);
  const others = Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`ann${k}`, [{ start: 0, end: 1, label: "PER" }]]));
  const rows = reviewRows({ item_id: "a", others, consensus: [{ start: 2, end: 4, label: "ORG" }, { start: 3, end: 3, label: "ORG" }] });
  assert.deepEqual(rows.map((r) => r.key), ["0", ..."123456789", ""]);
  assert.deepEqual(rows.map((r) => r.who), ["consensus", ...Object.keys(others)]);
  assert.deepEqual(rows[0].spans, [{ start: 2, end: 4, label: "ORG" }]); // an empty span is dropped
  assert.deepEqual(reviewRows({ item_id: "a", others: { bob: [] } }), [
    { key: "0", who: "consensus", spans: [] }, { key: "1", who: "bob", spans: [] }]);
});

test("Draft.replaceSpans starts over from another's spans as one undo step, or not at all", () => {
  const d = new Draft();
  d.add(0, 3, "PER");
  d.add(4, 6, "ORG");
  assert.equal(d.relate(0, 1, "knows"), "");
  assert.equal(d.replaceSpans([{ start: 7, end: 9, label: "LOC" }, { start: 0, end: 5, label: "PER" }]), "");
  assert.deepEqual(d.spans.map((s) => [s.start, s.end, s.label]), [[0, 5, "PER"], [7, 9, "LOC"]]);
  assert.deepEqual(d.relations, []);
  assert.equal(new Set(d.spans.map((s) => s.id)).size, 2);
  assert.ok(d.spans.every((s) => s.id >= 2), "new ids never reuse the old ones");
  assert.ok(d.undo());
  assert.deepEqual(d.spans.map((s) => [s.start, s.end]), [[0, 3], [4, 6]]);
  assert.equal(d.relations.length, 1);
  const before = JSON.stringify(d.spans);
  assert.match(d.replaceSpans([{ start: 0, end: 5, label: "PER" }, { start: 3, end: 8, label: "ORG" }]), /one layer/);
  assert.equal(JSON.stringify(d.spans), before);
  assert.equal(new Draft({ overlapping: true }).replaceSpans([{ start: 0, end: 5, label: "PER" }, { start: 3, end: 8, label: "ORG" }]), "");
});

test("c enters copy mode; there a digit picks the row, elsewhere it is a label key", () => {
  const keyMap = buildKeyMap({ labels: ["PER", "ORG"] });
  assert.deepEqual(commandForKey({ key: "c" }, keyMap), { type: "copy" });
  assert.deepEqual(commandForKey({ key: "2" }, keyMap, { copying: true }), { type: "copy-from", row: "2" });
  assert.deepEqual(commandForKey({ key: "0" }, keyMap, { copying: true }), { type: "copy-from", row: "0" });
  assert.deepEqual(commandForKey({ key: "2" }, keyMap), { type: "label", label: "ORG" });
  assert.deepEqual(commandForKey({ key: "Escape" }, keyMap, { copying: true }), { type: "escape" });
  const many = buildKeyMap({ labels: Array.from({ length: 12 }, (_, k) => `L${k}`), keys: { L0: "c" } });
  assert.ok(![...many.byKey.keys()].includes("c"), "no label takes the copy key");
  assert.ok(legend(keyMap).some(([k]) => k.startsWith("c")));
});
