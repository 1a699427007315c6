import test from "node:test";
import assert from "node:assert/strict";
import { activeClock, trackActivity } from "../../hitl_widgets/js/labeler.js";
import {
  activeClock as spanClock, trackActivity as spanTrack,
} from "../../hitl_widgets/js/span_labeler.js";

// Times in ms, as performance.now() gives them; the item is drawn at t = 1000.
const clock = (idle = 5000, state = {}) => activeClock(idle, 1000, state);

test("gaps under the threshold count in full, up to the submit", () => {
  const c = clock();
  for (const t of [2000, 4500, 9000]) c.signal(t);
  assert.equal(c.elapsed(9000), 8000);
  assert.equal(c.elapsed(12000), 11000); // 3 s since the last key: counts
  assert.equal(c.elapsed(12000), 11000, "elapsed changes nothing");
});

test("a gap equal to the threshold counts; one a ms longer counts 0", () => {
  const c = clock();
  c.signal(6000);
  assert.equal(c.elapsed(6000), 5000);
  c.signal(11001);
  assert.equal(c.elapsed(11001), 5000);
});

test("10 s without input, threshold 5 s: the 10 s add 0, the time around them counts", () => {
  const c = clock();
  c.signal(3000); // 2 s of reading
  c.signal(13000); // then away for 10 s, back with a key
  assert.equal(c.elapsed(13000), 2000);
  assert.equal(c.elapsed(14000), 3000);
  assert.equal(clock().elapsed(11000), 0, "10 s from the draw to the submit, no input: 0");
});

test("hidden for 10 s adds 0, even with input while hidden", () => {
  const c = clock();
  c.signal(2000);
  c.hide(3000); // 1 s since the key counts
  for (let t = 4000; t <= 13000; t += 1000) c.signal(t);
  assert.equal(c.elapsed(13000), 2000);
  c.show(13000);
  assert.equal(c.elapsed(13000), 2000);
  assert.equal(c.elapsed(15000), 4000, "after show, a fresh gap starts");
});

test("blur .. focus adds 0; a key ends a blur whose focus event was lost", () => {
  const c = clock();
  c.blur(2000);
  c.signal(5000); // a pointer moving over the unfocused window: not active
  c.focus(12000);
  c.signal(13000);
  assert.equal(c.elapsed(13000), 2000);
  const d = clock(5000, { blurred: true });
  assert.equal(d.elapsed(4000), 0, "drawn in an unfocused window: nothing counts");
  d.focus(4000); // what the view calls on a keydown
  assert.equal(d.elapsed(6000), 2000);
});

test("hidden and blurred overlap: time counts again only when both ended", () => {
  const c = clock();
  c.hide(2000);
  c.blur(2500);
  c.show(4000);
  assert.equal(c.elapsed(5000), 1000);
  c.focus(6000);
  assert.equal(c.elapsed(7000), 2000);
});

test("a hide after a long gap adds 0 for that gap (when they left is unknown)", () => {
  const c = clock();
  c.hide(9000);
  c.show(20000);
  assert.equal(c.elapsed(21000), 1000);
});

test("reset on a new item starts from 0 and keeps hidden and blurred", () => {
  const c = clock();
  c.signal(4000);
  assert.equal(c.elapsed(4000), 3000);
  c.reset(4000);
  assert.equal(c.elapsed(4000), 0);
  assert.equal(c.elapsed(6000), 2000);
  c.hide(6000);
  c.reset(7000);
  assert.equal(c.elapsed(9000), 0, "still hidden");
  c.show(9000);
  assert.equal(c.elapsed(10000), 1000);
});

test("a clock going backwards adds nothing and does not throw", () => {
  const c = clock();
  c.signal(3000);
  for (const t of [2000, -5, NaN, undefined, Infinity]) {
    assert.doesNotThrow(() => {
      c.signal(/** @type {any} */ (t)); c.hide(/** @type {any} */ (t)); c.blur(/** @type {any} */ (t));
    });
    assert.equal(c.elapsed(/** @type {any} */ (t)), 2000);
  }
  assert.equal(c.elapsed(3000), 2000, "the backwards calls changed nothing: not hidden, not blurred");
  assert.equal(c.elapsed(4000), 3000);
  c.reset(500); // a new item stamped before the latest time: starts at 0 from the latest
  assert.equal(c.elapsed(500), 0);
  assert.equal(c.elapsed(4000), 1000);
});

test("the threshold can change; a bad one is ignored", () => {
  const c = clock(5000);
  c.setIdleAfter(20000);
  assert.equal(c.elapsed(11000), 10000);
  c.setIdleAfter(0);
  c.setIdleAfter(NaN);
  assert.equal(c.elapsed(11000), 10000);
  assert.equal(activeClock(/** @type {any} */ (undefined), 0).elapsed(29000), 29000, "default 30 s");
});

// A window and document that record listeners, to check that cleanup removes every one.
function fakeWindow() {
  const listeners = new Set();
  const target = (name) => ({
    addEventListener: (type, fn, opts) => listeners.add(`${name}:${type}:${!!opts?.capture}:${fn.name}`) && (target[`${name}:${type}`] = fn),
    removeEventListener: (type, fn, opts) => listeners.delete(`${name}:${type}:${!!opts?.capture}:${fn.name}`),
  });
  const doc = { ...target("doc"), visibilityState: "visible" };
  const win = { ...target("win"), document: doc, performance: { now: () => win.t }, t: 0 };
  return { win, doc, listeners, fire: (key, event = {}) => target[key](event) };
}

test("trackActivity feeds the clock from the page and its cleanup removes every listener", () => {
  const { win, doc, listeners, fire } = fakeWindow();
  const c = activeClock(5000, 0);
  const stop = trackActivity(/** @type {any} */ (win), c);
  assert.equal(listeners.size, 8);
  win.t = 2000; fire("win:pointermove");
  win.t = 3000; doc.visibilityState = "hidden"; fire("doc:visibilitychange");
  win.t = 13000; doc.visibilityState = "visible"; fire("doc:visibilitychange");
  win.t = 14000; fire("win:blur", { target: win });
  win.t = 20000; fire("win:focus", { target: win });
  win.t = 21000; fire("win:keydown");
  assert.equal(c.elapsed(21000), 5000);
  fire("win:blur", { target: {} }); // an element's blur, not the window's
  assert.equal(c.elapsed(22000), 6000);
  stop();
  assert.equal(listeners.size, 0);
});

test("the SpanLabeler's clock is the Labeler's, copied: same code once comments and spaces go", () => {
  const strip = (f) => f.toString().replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "").replace(/\s+/g, "");
  assert.equal(strip(spanClock), strip(activeClock));
  assert.equal(strip(spanTrack), strip(trackActivity));
});
