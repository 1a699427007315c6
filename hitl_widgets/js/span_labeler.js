// @ts-check
/**
 * Browser half of the SpanLabeler widget (hitl_widgets/span_labeler.py). anywidget loads this
 * file from a Blob URL: no imports, no top-level DOM. Pure helpers are named exports, tested by
 * `node --test tests/js/`. Past ~500 lines because it cannot import: the prefetch queue and the
 * active-time clock are the Labeler's, copied (tests/js/*.test.mjs check the copies are identical).
 *
 * Offsets: the DOM counts UTF-16 code units, the kernel and store code points. Everything the
 * view keeps (spans, tokens, suggestions) is in code points; `offsetMap` converts at the DOM edge.
 */

/** @typedef {string | number} ItemId */
/** @typedef {{start: number, end: number, label: string, score?: number | null, suggestion_id: string}} Suggested */
/** @typedef {{start: number, end: number, label: string, text?: string, votes?: number, consensus?: boolean}} Marked */
/** @typedef {{item_id: ItemId, kind?: string, text?: string, tokens?: number[][], suggestions?: Suggested[],
 *   truncated?: {shown: number, total: number} | null, others?: Record<string, Marked[]>, consensus?: Marked[],
 *   reason?: string | null}} Payload */
/** @typedef {{labels?: string[], relation_labels?: string[], overlapping?: boolean, keys?: Record<string, string>,
 *   snap?: boolean, tokenizer?: string}} Schema */
/** @typedef {{id: number, start: number, end: number, label: string, suggestion_id: string | null}} Span */
/** @typedef {{head: number, child: number, label: string}} Relation */
/** @typedef {{kind: "span" | "suggestion" | "relation", id: number | string}} Focus */
/** @typedef {{byKey: Map<string, string>, keyOf: Map<string, string>, relByKey: Map<string, string>,
 *   relKeyOf: Map<string, string>, conflicts: string[]}} KeyMap */
/** @typedef {{type: string, dir?: number, edge?: "start" | "end", label?: string, row?: string}} Command */
/** @typedef {{key: string, who: string, spans: Marked[]}} ReviewRow */

// ------------------------------------------------------------------------------------ offsets
/** UTF-16 ⇄ code points for one text, built once per item. A UTF-16 offset between the two
 * halves of a surrogate pair names no place in the text: `toCp` throws, `snap` moves it out.
 * @param {string} text */
export function offsetMap(text) {
  const n = text.length;
  const cpOfU16 = new Int32Array(n + 1); // -1: inside a surrogate pair
  /** @type {number[]} */ const u16OfCp = [];
  let cp = 0;
  for (let i = 0; i < n; i++) {
    cpOfU16[i] = cp;
    u16OfCp.push(i);
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { cpOfU16[i + 1] = -1; i++; }
    }
    cp++;
  }
  cpOfU16[n] = cp;
  u16OfCp.push(n);
  return {
    cpLength: cp,
    /** @param {number} u */
    toCp(u) {
      if (!Number.isInteger(u) || u < 0 || u > n) throw new RangeError(`UTF-16 offset ${u} is outside 0..${n}`);
      if (cpOfU16[u] < 0) throw new RangeError(`UTF-16 offset ${u} falls inside a surrogate pair`);
      return cpOfU16[u];
    },
    /** @param {number} c */
    toU16(c) {
      if (!Number.isInteger(c) || c < 0 || c > cp) throw new RangeError(`code-point offset ${c} is outside 0..${cp}`);
      return u16OfCp[c];
    },
    /** A UTF-16 offset moved out of a surrogate pair: back for a start (-1), on for an end (+1).
     * @param {number} u @param {number} dir */
    snap(u, dir) { return cpOfU16[u] < 0 ? u + (dir < 0 ? -1 : 1) : u; },
  };
}

/** @param {string} text @param {number} utf16Offset @returns {number} code points before it */
export const toCodePoints = (text, utf16Offset) => offsetMap(text).toCp(utf16Offset);
/** @param {string} text @param {number} cpOffset @returns {number} UTF-16 units before it */
export const toUtf16 = (text, cpOffset) => offsetMap(text).toU16(cpOffset);

// ------------------------------------------------------------------------------------ tokens
/** Index of the token holding code point `cp`, else of the first token after it (-1: none).
 * @param {number[][]} tokens @param {number} cp */
export function tokenAt(tokens, cp) {
  let lo = 0, hi = tokens.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (tokens[mid][1] <= cp) lo = mid + 1; else hi = mid; }
  return lo < tokens.length ? lo : -1;
}

/** [start, end) grown out to whole tokens (a selection that touches half a word takes it all);
 * a range over whitespace only is kept as it is. @param {number[][]} tokens @param {number} start @param {number} end */
export function snapToTokens(tokens, start, end) {
  const inside = tokens.filter((t) => t[0] < end && t[1] > start);
  if (!inside.length) return [start, end];
  return [Math.min(start, inside[0][0]), Math.max(end, inside[inside.length - 1][1])];
}

/** The code-point range of the tokens from index `a` to `b` (either order). @param {number[][]} tokens
 * @param {number} a @param {number} b */
export function tokenRange(tokens, a, b) {
  const lo = Math.min(a, b), hi = Math.max(a, b);
  return [tokens[lo][0], tokens[hi][1]];
}

/** A span's start or end moved by one token (or one code point when there are no tokens);
 * null when it cannot move (edge of the text, or the span would be empty).
 * @param {number[][]} tokens @param {{start: number, end: number}} span @param {"start" | "end"} edge
 * @param {number} dir @param {number} length the text's length in code points */
export function moveBoundary(tokens, span, edge, dir, length) {
  let { start, end } = span;
  const starts = tokens.length ? tokens.map((t) => t[0]) : Array.from({ length }, (_, k) => k);
  const ends = tokens.length ? tokens.map((t) => t[1]) : Array.from({ length }, (_, k) => k + 1);
  if (edge === "start") {
    const next = dir < 0 ? starts.filter((s) => s < start).pop() : starts.find((s) => s > start);
    if (next === undefined || next >= end) return null;
    start = next;
  } else {
    const next = dir > 0 ? ends.find((e) => e > end) : ends.filter((e) => e < end).pop();
    if (next === undefined || next <= start) return null;
    end = next;
  }
  return { start, end };
}

// ------------------------------------------------------------------------------------ layout
/** Lanes for overlapping ranges: each gets the lowest lane free over its whole length, so
 * nested and crossing spans stack instead of drawing over each other.
 * @param {Array<{start: number, end: number}>} ranges @returns {{lanes: number[], count: number}} */
export function assignLanes(ranges) {
  const order = ranges.map((_, k) => k)
    .sort((a, b) => ranges[a].start - ranges[b].start || ranges[b].end - ranges[a].end);
  /** @type {number[]} */ const laneEnds = [];
  const lanes = new Array(ranges.length).fill(0);
  for (const k of order) {
    let lane = laneEnds.findIndex((e) => e <= ranges[k].start);
    if (lane < 0) { lane = laneEnds.length; laneEnds.push(0); }
    laneEnds[lane] = ranges[k].end;
    lanes[k] = lane;
  }
  return { lanes, count: laneEnds.length };
}

/** Sorted unique cut points in 0..length, as [a, b) segments. @param {number[]} cuts @param {number} length */
export function segments(cuts, length) {
  const points = [...new Set([0, length, ...cuts.filter((c) => c > 0 && c < length)])].sort((a, b) => a - b);
  return points.slice(0, -1).map((a, k) => [a, points[k + 1]]);
}

// ------------------------------------------------------------------------------------ draft
/**
 * One item's spans and relations while the annotator edits them, with undo. Every change
 * checks the schema's layering first and says why it refused (a string), never half-applies.
 */
export class Draft {
  /** @param {{overlapping?: boolean, suggestions?: Suggested[]}} [opts] */
  constructor({ overlapping = false, suggestions = [] } = {}) {
    this.overlapping = overlapping;
    /** @type {Span[]} */ this.spans = [];
    /** @type {Relation[]} */ this.relations = [];
    /** @type {Suggested[]} */ this.suggestions = [...suggestions];
    this.nextId = 0;
    /** @type {string[]} */ this.history = [];
  }

  /** @param {{start: number, end: number, label: string}} s @param {number} [ignore] id left out */
  refusal(s, ignore = -1) {
    if (!(s.start < s.end)) return "An empty span marks nothing.";
    for (const o of this.spans) {
      if (o.id === ignore) continue;
      if (o.start === s.start && o.end === s.end && o.label === s.label) return `That ${s.label} span exists already.`;
      if (!this.overlapping && o.start < s.end && s.start < o.end) {
        return `Refused: it would overlap the ${o.label} span; this task's spans are one layer (delete or shrink that one first).`;
      }
    }
    return "";
  }

  #save() {
    this.history.push(JSON.stringify([this.spans, this.relations, this.suggestions, this.nextId]));
    if (this.history.length > 200) this.history.shift();
  }

  /** @returns {boolean} whether there was anything to undo */
  undo() {
    const last = this.history.pop();
    if (last === undefined) return false;
    [this.spans, this.relations, this.suggestions, this.nextId] = JSON.parse(last);
    return true;
  }

  /** @param {number} start @param {number} end @param {string} label @param {string | null} [suggestion_id]
   * @returns {{id?: number, error?: string}} */
  add(start, end, label, suggestion_id = null) {
    const error = this.refusal({ start, end, label });
    if (error) return { error };
    this.#save();
    const id = this.nextId++;
    this.spans.push({ id, start, end, label, suggestion_id });
    this.spans.sort((a, b) => a.start - b.start || a.end - b.end);
    if (suggestion_id != null) this.suggestions = this.suggestions.filter((s) => s.suggestion_id !== suggestion_id);
    return { id };
  }

  /** @param {number} id @param {Partial<Span>} change @returns {string} why not, or "" */
  update(id, change) {
    const span = this.spans.find((s) => s.id === id);
    if (!span) return "No such span.";
    const next = { ...span, ...change };
    const error = this.refusal(next, id);
    if (error) return error;
    this.#save();
    Object.assign(span, change);
    this.spans.sort((a, b) => a.start - b.start || a.end - b.end);
    return "";
  }

  /** Start over from someone else's spans (an adjudicator copying one annotator's, or the
   * consensus): the draft's spans and relations are replaced whole, as one undo step, or not
   * at all when the task's layering refuses one of them.
   * @param {Array<{start: number, end: number, label: string}>} spans @returns {string} why not, or "" */
  replaceSpans(spans) {
    const next = new Draft({ overlapping: this.overlapping });
    for (const s of spans) {
      const r = next.add(s.start, s.end, s.label);
      if (r.error) return r.error;
    }
    this.#save();
    this.spans = next.spans.map((s) => ({ ...s, id: this.nextId + s.id }));
    this.nextId += next.nextId;
    this.relations = [];
    return "";
  }

  /** Delete a span and the relations that name it. @param {number} id */
  remove(id) {
    if (!this.spans.some((s) => s.id === id)) return;
    this.#save();
    this.spans = this.spans.filter((s) => s.id !== id);
    this.relations = this.relations.filter((r) => r.head !== id && r.child !== id);
  }

  /** Dismiss a suggestion (it is not kept). @param {string} suggestion_id */
  dismiss(suggestion_id) {
    this.#save();
    this.suggestions = this.suggestions.filter((s) => s.suggestion_id !== suggestion_id);
  }

  /** @param {number} head @param {number} child @param {string} label @returns {string} why not, or "" */
  relate(head, child, label) {
    if (head === child) return "A relation links two different spans.";
    if (!this.spans.some((s) => s.id === head) || !this.spans.some((s) => s.id === child)) return "Both spans must exist.";
    if (this.relations.some((r) => r.head === head && r.child === child && r.label === label)) return "That relation exists already.";
    this.#save();
    this.relations.push({ head, child, label });
    return "";
  }

  /** @param {number} k */
  unrelate(k) {
    if (!this.relations[k]) return;
    this.#save();
    this.relations.splice(k, 1);
  }

  /** What a submission carries: code points, the covered text and the DOM's own UTF-16 offsets
   * (the kernel checks the two agree). @param {string} text @param {ReturnType<typeof offsetMap>} map */
  toIntent(text, map) {
    const spans = this.spans.map((s) => {
      const a = map.toU16(s.start), b = map.toU16(s.end);
      return { id: s.id, start: s.start, end: s.end, label: s.label, text: text.slice(a, b), utf16: [a, b],
        suggestion_id: s.suggestion_id };
    });
    return { spans, relations: this.relations.map((r) => ({ ...r })) };
  }
}

// ------------------------------------------------------------------------------------ keys
/** Command keys (lower-cased `KeyboardEvent.key`); a label whose key is one of these gets the next free key. */
export const COMMAND_KEYS = Object.freeze({ a: "accept", c: "copy", r: "relation", s: "skip", u: "undo-item", "?": "help" });
const FREE_KEYS = [..."123456789abcdefghijklmnopqrstuvwxyz"].filter((k) => !(k in COMMAND_KEYS));

/** Label keys from the schema (case-insensitive); relation labels take 1–9 while a relation is picked.
 * @param {Schema | null | undefined} schema @returns {KeyMap} */
export function buildKeyMap(schema) {
  const byKey = new Map(), keyOf = new Map(), relByKey = new Map(), relKeyOf = new Map();
  /** @type {string[]} */ const conflicts = [];
  const labels = schema?.labels ?? [], wanted = schema?.keys ?? {};
  const taken = new Set(labels.map((l) => String(wanted[l] ?? "").toLowerCase()).filter((k) => k && !(k in COMMAND_KEYS)));
  const free = FREE_KEYS.filter((k) => !taken.has(k));
  for (const label of labels) {
    let key = String(wanted[label] ?? "").toLowerCase();
    if (!key || key in COMMAND_KEYS || byKey.has(key)) {
      const old = key;
      key = free.shift() ?? "";
      if (old) conflicts.push(`Key '${old}' for '${label}' is taken (${COMMAND_KEYS[/** @type {"a"} */ (old)] ?? byKey.get(old)}); '${label}' uses '${key || "no key"}'.`);
    }
    if (key) { byKey.set(key, label); keyOf.set(label, key); }
  }
  (schema?.relation_labels ?? []).slice(0, 9).forEach((label, k) => {
    relByKey.set(String(k + 1), label); relKeyOf.set(label, String(k + 1));
  });
  return { byKey, keyOf, relByKey, relKeyOf, conflicts };
}

/** @param {any} target */
const isTypingTarget = (target) => {
  const tag = typeof target?.tagName === "string" ? target.tagName.toUpperCase() : "";
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target?.isContentEditable === true;
};

/** The command a keydown asks for, or null to leave the event alone.
 * @param {{key?: string, code?: string, altKey?: boolean, ctrlKey?: boolean, metaKey?: boolean, shiftKey?: boolean,
 *   repeat?: boolean, isComposing?: boolean, target?: any}} ev
 * @param {KeyMap} keyMap @param {{relating?: boolean, copying?: boolean}} [mode] @returns {Command | null} */
export function commandForKey(ev, keyMap, { relating = false, copying = false } = {}) {
  if (!ev || typeof ev.key !== "string" || ev.isComposing || ev.altKey || isTypingTarget(ev.target)) return null;
  const key = ev.key.toLowerCase(), shift = ev.shiftKey === true;
  if (ev.ctrlKey || ev.metaKey) return key === "z" && !shift ? { type: "undo" } : null;
  const tag = typeof ev.target?.tagName === "string" ? ev.target.tagName.toUpperCase() : "";
  if ((key === "enter" || key === " ") && (tag === "BUTTON" || tag === "A" || tag === "SUMMARY")) return null;
  const dir = key === "arrowleft" ? -1 : key === "arrowright" ? 1 : 0;
  if (dir) return { type: shift ? "extend" : "move", dir };
  if (key === "home" || key === "end") return { type: shift ? "extend" : "move", dir: key === "home" ? -Infinity : Infinity };
  if (key === "tab") return { type: "cycle", dir: shift ? -1 : 1 };
  if (key === "escape") return { type: "escape" };
  // Brackets by physical key, so Shift ({ }) and layouts that type them differently still work.
  const bracket = ev.code === "BracketLeft" || key === "[" || key === "{" ? "start"
    : ev.code === "BracketRight" || key === "]" || key === "}" ? "end" : null;
  if (bracket === "start") return { type: "boundary", edge: "start", dir: shift ? 1 : -1 };
  if (bracket === "end") return { type: "boundary", edge: "end", dir: shift ? -1 : 1 };
  if (ev.repeat) return null; // a held key would label or submit what nobody looked at
  if (key === "delete" || key === "backspace") return { type: "delete" };
  if (key === "enter") return { type: relating ? "relate" : "submit" };
  if (relating && keyMap.relByKey.has(key)) return { type: "relate", label: keyMap.relByKey.get(key) };
  if (copying && /^[0-9]$/.test(key)) return { type: "copy-from", row: key };
  if (key === "a") return { type: shift ? "accept-all" : "accept" };
  const command = COMMAND_KEYS[/** @type {"r"} */ (key)];
  if (command) return { type: command };
  const label = keyMap.byKey.get(key);
  return label === undefined ? null : { type: "label", label };
}

/** The key legend: [keys, what they do]. @param {KeyMap} keyMap @returns {string[][]} */
export function legend(keyMap) {
  return [
    ...[...keyMap.keyOf].map(([label, key]) => [key, `mark the selection as '${label}' (or relabel the selected span)`]),
    ["← / →", "move the token caret (as on screen, also in right-to-left text)"], ["Shift+← / →", "extend the selection by a token"],
    ["Home / End", "first / last token"], ["Tab / Shift+Tab", "select the next / previous span, suggestion or relation"],
    ["[ / Shift+[", "move the selected span's start left / right"], ["] / Shift+]", "move its end right / left"],
    ["Delete / Backspace", "delete the selected span or relation (dismiss a suggestion)"],
    ["r", "relation from the selected span: Tab to the child, then its number key"],
    ...[...keyMap.relKeyOf].map(([label, key]) => [`r … ${key}`, `relation '${label}'`]),
    ["a / Shift+A", "accept the selected (or next) suggestion / all suggestions"],
    ["c, then 0–9", "adjudicating: start from the consensus (0) or one annotator's spans (1–9)"],
    ["Enter", "submit the item"], ["Ctrl/⌘+Z", "undo the last change in this item (then the last item)"],
    ["u", "undo the last submitted item"], ["s", "skip the item"], ["Esc", "cancel, deselect"], ["?", "show or hide this help"],
  ];
}

// ------------------------------------------------------------------------------------ review
/** The rows an adjudicator reviews, keyed for copying: the consensus ("0"), then each other
 * annotator in the kernel's order ("1"–"9"; any past nine are shown without a key). Empty
 * when the payload has no `others` (every session but an adjudicator's).
 * @param {Payload | undefined} p @returns {ReviewRow[]} */
export function reviewRows(p) {
  const others = p?.others;
  if (!others || typeof others !== "object") return [];
  const list = (/** @type {any} */ v) => (Array.isArray(v) ? v.filter((s) => s && s.start < s.end) : []);
  return [{ key: "0", who: "consensus", spans: list(p?.consensus) },
    ...Object.entries(others).map(([who, spans], k) => ({ key: k < 9 ? String(k + 1) : "", who, spans: list(spans) }))];
}

// ------------------------------------------------------------------------------- active time
/**
 * The Labeler's activeClock (hitl_widgets/js/labeler.js), copied verbatim, as is trackActivity below:
 * anywidget loads each module alone (tests/js/active_clock.test.mjs checks both copies are identical).
 *
 * Active time on one item, in ms: what `ms_on_item` reports. Pure: every method takes the time
 * `t` (ms, e.g. `performance.now()`), so tests drive it without timers.
 *
 * Policy (like WakaTime's timeout): activity signals are input (keydown, pointerdown,
 * pointermove, wheel, scroll) and the item being drawn (`reset`). A gap between two signals
 * counts in full when it is at most `idleAfterMs`, and not at all when longer: the annotator
 * was away, and we cannot know when they left. The time from the last signal to `elapsed(t)`
 * follows the same rule. Nothing counts while the page is hidden (`hide`..`show`) or the window
 * unfocused (`blur`..`focus`); the time up to a `hide`/`blur` counts by the gap rule, and a
 * `show`/`focus` that ends the last of them starts a fresh gap. A `t` earlier than the latest
 * seen (or not a number) adds nothing and changes nothing.
 * @param {number} idleAfterMs  the longest gap that still counts (> 0)
 * @param {number} t  when the clock starts (the first item drawn)
 * @param {{hidden?: boolean, blurred?: boolean}} [state]  the page as it is at `t`
 */
export function activeClock(idleAfterMs, t, { hidden = false, blurred = false } = {}) {
  let idle = idleAfterMs > 0 ? idleAfterMs : 30_000; // the kernel's default
  let latest = Number.isFinite(t) ? t : 0, last = latest, total = 0;
  const away = () => hidden || blurred;
  /** The gap since the last signal, by the rule; 0 while away. @param {number} now */
  const gap = (now) => (away() || now - last > idle ? 0 : now - last);
  /** Accept `now` if the clock did not go back; then it is the latest. @param {number} now */
  const forward = (now) => {
    if (!(now >= latest) || !Number.isFinite(now)) return false;
    latest = now;
    return true;
  };
  /** @param {number} now @param {() => void} change */
  const turn = (now, change) => {
    if (!forward(now)) return;
    const wasAway = away();
    total += gap(now);
    change();
    if (wasAway || !away()) last = now;
  };
  return {
    /** An input at `now`. @param {number} now */
    signal(now) { if (forward(now)) { total += gap(now); last = now; } },
    /** @param {number} now */ hide(now) { turn(now, () => { hidden = true; }); },
    /** @param {number} now */ show(now) { turn(now, () => { hidden = false; }); },
    /** @param {number} now */ blur(now) { turn(now, () => { blurred = true; }); },
    /** @param {number} now */ focus(now) { turn(now, () => { blurred = false; }); },
    /** A new item drawn at `now`: start again from 0 (hidden and blurred stay as they are). @param {number} now */
    reset(now) { total = 0; last = forward(now) ? now : latest; },
    /** Active ms on the item up to `now` (the last gap by the rule); changes nothing. @param {number} now */
    elapsed(now) { return total + (now >= latest && Number.isFinite(now) ? gap(now) : 0); },
    /** A new threshold (ignored unless > 0). @param {number} ms */
    setIdleAfter(ms) { if (ms > 0) idle = ms; },
  };
}

/** Feed `clock` from the page: input anywhere in it (captured, so a handler that stops an event
 * cannot hide it from the clock), the page's visibility and the window's focus. Returns the
 * cleanup that removes every listener it added.
 * @param {Window} win @param {ReturnType<typeof activeClock>} clock @returns {() => void} */
export function trackActivity(win, clock) {
  const doc = win.document, now = () => win.performance.now();
  /** @type {Array<() => void>} */ const removers = [];
  /** @param {EventTarget} target @param {string} type @param {(e: Event) => void} fn @param {AddEventListenerOptions} opts */
  const add = (target, type, fn, opts) => {
    target.addEventListener(type, fn, opts);
    removers.push(() => target.removeEventListener(type, fn, opts));
  };
  const input = { capture: true, passive: true };
  // A key or a press reaches only a focused window: it also ends a blur whose focus event was lost.
  for (const type of ["keydown", "pointerdown"]) add(win, type, () => clock.focus(now()), input);
  for (const type of ["pointermove", "wheel", "scroll"]) add(win, type, () => clock.signal(now()), input);
  add(doc, "visibilitychange", () => (doc.visibilityState === "hidden" ? clock.hide(now()) : clock.show(now())), {});
  // Not captured: elements' focus and blur do not bubble, so only the window's own reach here.
  add(win, "blur", (e) => { if (e.target === win) clock.blur(now()); }, {});
  add(win, "focus", (e) => { if (e.target === win) clock.focus(now()); }, {});
  return () => { for (const remove of removers) remove(); };
}

// ------------------------------------------------------------------------------------ queue
/** How an intent changes the count of labeled items. @param {any} p */
const doneDelta = (p) => (p.type === "submit" ? 1 : p.type === "undo" && p.undoes?.action === "submit" ? -1 : 0);
/** @param {ItemId} item_id @param {number} client_seq */
const entryFor = (item_id, client_seq, acked = false) => ({ item_id, client_seq, acked, windowSinceAck: false });

/** The Labeler's local queue (docs/labeler_protocol.md, "The view's queue"), copied verbatim. */
export class PrefetchQueue {
  constructor({ historyCap = 100 } = {}) {
    this.historyCap = historyCap;
    /** @type {ItemId[]} */ this.window = [];
    /** @type {Map<ItemId, any>} */ this.done = new Map();
    /** @type {any[]} newest undo first */ this.front = [];
    /** @type {any[]} */ this.history = [];
    /** @type {Map<ItemId, any>} */ this.payloads = new Map();
    /** @type {Map<number, any>} */ this.pending = new Map();
    /** @type {Set<ItemId>} fetched, not yet arrived */ this.requested = new Set();
    this.ackedDone = 0;
  }

  /** @param {ItemId[] | null | undefined} ids */
  setWindow(ids) {
    this.window = [...new Set(Array.isArray(ids) ? ids : [])];
    for (const e of [...this.done.values(), ...this.front]) if (e.acked) e.windowSinceAck = true;
    this.#reconcile();
  }

  /** @param {any[] | null | undefined} payloads */
  addPayloads(payloads) {
    for (const p of payloads ?? []) {
      if (p == null || p.item_id == null) continue;
      this.payloads.set(p.item_id, p);
      this.requested.delete(p.item_id);
    }
  }

  /** @returns {ItemId[]} */
  visible() {
    const front = this.front.map((e) => e.item_id), inFront = new Set(front);
    return [...front, ...this.window.filter((id) => !this.done.has(id) && !inFront.has(id))];
  }

  /** @returns {ItemId | null} */
  current() { return this.visible()[0] ?? null; }

  /** @param {ItemId} item_id @param {{action?: "submit" | "skip", client_seq: number}} intent */
  markDone(item_id, { action = "submit", client_seq }) {
    this.front = this.front.filter((e) => e.item_id !== item_id);
    this.done.set(item_id, entryFor(item_id, client_seq));
    const entry = { item_id, action, client_seq };
    this.history.push(entry);
    if (this.history.length > this.historyCap) this.history.shift();
    this.pending.set(client_seq, { type: action, item_id });
    return entry;
  }

  /** @param {number} client_seq @returns {ItemId | null} */
  undo(client_seq) {
    const entry = this.history.pop();
    if (!entry) {
      this.pending.set(client_seq, { type: "undo", item_id: null, undoes: null });
      return null;
    }
    const id = entry.item_id;
    this.done.delete(id);
    this.front = [entryFor(id, client_seq), ...this.front.filter((e) => e.item_id !== id)];
    this.pending.set(client_seq, { type: "undo", item_id: id, undoes: entry });
    return id;
  }

  /** @param {number} client_seq */
  ack(client_seq) {
    const intent = this.pending.get(client_seq);
    if (!intent) return null;
    this.pending.delete(client_seq);
    this.ackedDone += doneDelta(intent);
    for (const e of [...this.done.values(), ...this.front]) {
      if (e.client_seq === client_seq) { e.acked = true; e.windowSinceAck = false; }
    }
    this.#reconcile();
    return intent;
  }

  /** @param {number | null} client_seq @param {ItemId | null} [item_id] */
  reject(client_seq, item_id = null) {
    const intent = client_seq == null ? undefined : this.pending.get(client_seq);
    if (client_seq == null || !intent) {
      const entry = item_id == null ? undefined : this.done.get(item_id);
      if (entry && !this.pending.has(entry.client_seq)) this.done.delete(entry.item_id);
      return null;
    }
    this.pending.delete(client_seq);
    if (intent.type === "undo") {
      this.front = this.front.filter((e) => e.client_seq !== client_seq);
      const undone = intent.undoes;
      if (undone) {
        this.done.set(undone.item_id, entryFor(undone.item_id, undone.client_seq, true));
        this.history.push(undone);
      }
    } else if (intent.item_id != null) {
      if (this.done.get(intent.item_id)?.client_seq === client_seq) this.done.delete(intent.item_id);
      this.history = this.history.filter((h) => h.client_seq !== client_seq);
      for (const p of this.pending.values()) if (p.undoes?.client_seq === client_seq) p.undoes = null;
    }
    this.#reconcile();
    return intent;
  }

  settle() {
    this.ackedDone = 0;
    const before = this.done.size + this.front.length;
    for (const [id, e] of this.done) if (e.acked) this.done.delete(id);
    this.front = this.front.filter((e) => !e.acked);
    return before !== this.done.size + this.front.length;
  }

  unsaved() { return this.pending.size; }

  pendingDone() {
    let n = this.ackedDone;
    for (const p of this.pending.values()) n += doneDelta(p);
    return n;
  }

  progressSeen() { this.ackedDone = 0; }

  requestMissing() {
    const ids = [...new Set([...this.front.map((e) => e.item_id), ...this.window])]
      .filter((id) => !this.payloads.has(id) && !this.requested.has(id));
    for (const id of ids) this.requested.add(id);
    return ids;
  }

  evict() {
    const keep = new Set([...this.window, ...this.front.map((e) => e.item_id), ...this.done.keys(),
      ...this.history.map((h) => h.item_id)]);
    const evicted = [...this.payloads.keys()].filter((id) => !keep.has(id));
    for (const id of evicted) this.payloads.delete(id);
    for (const id of [...this.requested]) if (!keep.has(id)) this.requested.delete(id);
    return evicted;
  }

  #reconcile() {
    const inWindow = new Set(this.window);
    for (const [id, e] of this.done) if (e.acked && (e.windowSinceAck || !inWindow.has(id))) this.done.delete(id);
    this.front = this.front.filter((e) => !(e.acked && (e.windowSinceAck || inWindow.has(e.item_id))));
  }
}

const SETTLE_MS = 1500; // after the last ack, trust the window even if it never changed
const LANE_PX = 4; // the gap between stacked underlines

/** @param {{model: any, el: HTMLElement}} ctx */
function render({ model, el }) {
  const doc = el.ownerDocument ?? document;
  /** Build an element; string children become text nodes, never markup.
   * @param {string} tag @param {Record<string, string>} [attrs] @param {...(Node | string)} kids */
  const h = (tag, attrs = {}, ...kids) => {
    const node = doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    node.append(...kids);
    return node;
  };
  const queue = new PrefetchQueue();
  const win = doc.defaultView ?? window, now = () => win.performance.now();
  const clock = activeClock(1000 * model.get("idle_after_s"), now(),
    { hidden: doc.visibilityState === "hidden", blurred: !doc.hasFocus() });
  /** @type {Map<ItemId, Draft>} one per item, kept while its payload is held, so undo brings it back */
  const drafts = new Map();
  /** @type {Array<() => void>} */ const disposers = [];
  /** @type {(t: EventTarget, type: string, fn: (e: any) => void) => void} */
  const listen = (t, type, fn) => { t.addEventListener(type, fn); disposers.push(() => t.removeEventListener(type, fn)); };
  /** @type {(name: string, fn: (...args: any[]) => void) => void} */
  const on = (name, fn) => { model.on(name, fn); disposers.push(() => model.off(name, fn)); };
  let seq = Math.floor(Math.random() * 1e6) * 1e6; // every view hears every ack: keep ours apart
  let schema = /** @type {Schema} */ ({}), keyMap = buildKeyMap(null), activeLabel = "";
  let helpOpen = false, status = "", refused = false, localError = "";
  /** @type {ReturnType<typeof setTimeout> | undefined} */ let settleTimer;
  // The drawn item's state: caret and anchor are token indices; `focus` the selected thing.
  /** @type {{id: ItemId, p: Payload, text: string, map: ReturnType<typeof offsetMap>, tokens: number[][], draft: Draft} | null} */
  let cur = null;
  let caret = 0, anchor = 0, textKey = "";
  /** @type {Focus | null} */ let focus = null;
  /** @type {{head: number, child: number | null} | null} */ let relating = null;
  let copying = false, reviewKey = ""; // after `c`: a digit picks whose spans to start from

  /** @param {string} cls @param {...(Node | string)} kids */
  const div = (cls, ...kids) => h("div", { class: cls }, ...kids);
  const root = h("div", { class: "hitl-spanlabeler", tabindex: "0", "data-lm-suppress-shortcuts": "true",
    "data-item-id": "", "data-unsaved": "0", "data-mode": "edit" });
  const progressEl = h("div", { class: "hitl-progress", "aria-live": "polite" });
  const errorEl = h("div", { class: "hitl-error", role: "alert" });
  const labelsEl = h("div", { class: "hitl-labels", role: "group", "aria-label": "Span labels" });
  const textEl = h("div", { class: "hitl-text", dir: "auto" });
  const statusEl = h("div", { class: "hitl-status", role: "status", "aria-live": "polite" });
  const relationsEl = h("ul", { class: "hitl-relations", "aria-label": "Relations" });
  const reviewEl = h("div", { class: "hitl-review", role: "group", "aria-label": "Other annotators' spans" });
  /** @param {string} action @param {string} name @param {string} key */
  const button = (action, name, key) => h("button", { type: "button", class: `hitl-action hitl-do-${action}`, "data-action": action },
    h("span", {}, name), h("kbd", {}, key));
  const actionsEl = div("hitl-actions", button("submit", "Submit", "Enter"), button("delete", "Delete", "Del"),
    button("relation", "Relation", "r"), button("accept-all", "Accept all", "Shift+A"), button("skip", "Skip", "s"),
    button("undo-item", "Undo item", "u"), button("help", "Keys", "?"));
  const legendEl = div("hitl-legend");
  const helpEl = h("div", { class: "hitl-help", role: "dialog", "aria-label": "Keyboard shortcuts" });
  root.append(progressEl, errorEl, labelsEl, textEl, statusEl, relationsEl, reviewEl, actionsEl, legendEl, helpEl);
  el.append(root);

  /** @param {Record<string, unknown>} msg */
  const send = (msg) => {
    try { model.send(msg); return true; } catch (err) {
      localError = `Could not reach the kernel: ${err instanceof Error ? err.message : String(err)}`;
      return false;
    }
  };
  /** @param {string} text @param {boolean} [isRefusal] */
  const say = (text, isRefusal = false) => { status = text; refused = isRefusal; };

  function buildControls() {
    schema = model.get("schema") ?? {};
    keyMap = buildKeyMap(schema);
    if (!schema.labels?.includes(activeLabel)) activeLabel = schema.labels?.[0] ?? "";
    const rows = legend(keyMap);
    helpEl.replaceChildren(h("strong", {}, "Keyboard shortcuts"), h("table", {}, ...rows.map(([k, what]) =>
      h("tr", {}, h("th", { scope: "row" }, h("kbd", {}, k)), h("td", {}, what)))),
      ...keyMap.conflicts.map((c) => h("p", { class: "hitl-warn" }, c)));
    legendEl.textContent = "←/→ token · Shift+←/→ extend · label key: mark · Tab: next span · [ ]: move start/end " +
      "(Shift: inward) · Del: delete · r: relation · a/A: accept · Enter: submit · Ctrl+Z: undo · u: undo item · ?: all keys";
  }

  function drawLabels() {
    const rel = relating !== null;
    const names = rel ? schema.relation_labels ?? [] : schema.labels ?? [];
    labelsEl.setAttribute("aria-label", rel ? "Relation labels" : "Span labels");
    labelsEl.replaceChildren(...names.map((label, k) => {
      const key = rel ? keyMap.relKeyOf.get(label) : keyMap.keyOf.get(label);
      const b = h("button", { type: "button", class: `hitl-label hitl-c${rel ? 0 : k % 8}`, "data-action": rel ? "relate" : "label",
        "data-label": label }, h("span", { dir: "auto" }, label), ...(key ? [h("kbd", {}, key)] : []));
      if (!rel) b.setAttribute("aria-pressed", String(label === activeLabel));
      return b;
    }));
  }

  /** @param {string} label */
  const colour = (label) => `var(--hitl-c${Math.max(0, (schema.labels ?? []).indexOf(label)) % 8})`;

  /** Whether the drawn text reads right to left (its `dir="auto"` resolved by the browser). */
  const isRtl = () => { try { return textEl.matches(":dir(rtl)"); } catch { return false; } };

  /** The caret's range in code points, or null without tokens. */
  const caretRange = () => (cur && cur.tokens.length ? tokenRange(cur.tokens, anchor, caret) : null);

  /** Draw the text as segments cut at every span, suggestion and caret edge, each a text node;
   * spans are stacked underlines (one lane each) with a label chip where they start. */
  function drawText() {
    textEl.replaceChildren();
    if (!cur) return;
    const { text, map, draft } = cur;
    /** @type {Array<{start: number, end: number, label: string, kind: "span" | "suggestion", id: number | string}>} */
    const marks = [...draft.spans.map((s) => ({ ...s, kind: /** @type {const} */ ("span"), id: s.id })),
      ...draft.suggestions.map((s) => ({ ...s, kind: /** @type {const} */ ("suggestion"), id: s.suggestion_id }))];
    const { lanes, count } = assignLanes(marks);
    const sel = focus?.kind === "span" || focus?.kind === "suggestion" ? marks.find((m) => m.kind === focus?.kind && m.id === focus?.id) : null;
    const cr = sel ? null : caretRange();
    const u = (/** @type {number} */ cp) => map.toU16(cp);
    const cuts = marks.flatMap((m) => [u(m.start), u(m.end)]);
    if (cr) cuts.push(u(cr[0]), u(cr[1]));
    textEl.style.lineHeight = `calc(1.7em + ${count * LANE_PX}px)`;
    for (const [a, b] of segments(cuts, text.length)) {
      const starting = marks.map((m, k) => [m, lanes[k]]).filter(([m]) => u(/** @type {any} */ (m).start) === a)
        .sort((x, y) => /** @type {number} */ (x[1]) - /** @type {number} */ (y[1]));
      for (const [m] of starting) {
        const mk = /** @type {typeof marks[0]} */ (m);
        const chip = h("span", { class: `hitl-chip${mk.kind === "suggestion" ? " is-suggestion" : ""}`, contenteditable: "false",
          "data-kind": mk.kind, "data-id": String(mk.id), "aria-hidden": "true" }, mk.label);
        chip.style.setProperty("--hitl-mark", colour(mk.label));
        textEl.append(chip);
      }
      const seg = h("span", { class: "hitl-seg", "data-s": String(a) }, text.slice(a, b));
      const cover = marks.map((m, k) => ({ m, lane: lanes[k] })).filter(({ m }) => u(m.start) <= a && u(m.end) >= b);
      if (cover.length) {
        seg.classList.add("has-mark");
        seg.style.paddingBottom = `${count * LANE_PX}px`;
        seg.style.background = cover.map(({ m, lane }) => {
          const c = colour(m.label), y = `calc(100% - ${lane * LANE_PX}px)`;
          return m.kind === "suggestion"
            ? `repeating-linear-gradient(90deg, ${c} 0 4px, transparent 4px 7px) 0 ${y} / 100% 2px no-repeat`
            : `linear-gradient(${c}, ${c}) 0 ${y} / 100% 3px no-repeat`;
        }).join(", ");
        seg.setAttribute("data-marks", cover.map(({ m }) => `${m.kind}:${m.id}`).join(" "));
      }
      if (sel && u(sel.start) <= a && u(sel.end) >= b) seg.classList.add("is-selected");
      if (cr && u(cr[0]) <= a && u(cr[1]) >= b) seg.classList.add("is-caret");
      if (relating) {
        for (const [id, cls] of [[relating.head, "is-head"], [relating.child, "is-child"]]) {
          const s = draft.spans.find((x) => x.id === id);
          if (s && u(s.start) <= a && u(s.end) >= b) seg.classList.add(/** @type {string} */ (cls));
        }
      }
      textEl.append(seg);
    }
  }

  /** @param {number} id */
  const spanText = (id) => {
    const s = cur?.draft.spans.find((x) => x.id === id);
    return s && cur ? `${s.label} “${cur.text.slice(cur.map.toU16(s.start), cur.map.toU16(s.end))}”` : "?";
  };

  function drawRelations() {
    const rels = cur?.draft.relations ?? [];
    relationsEl.replaceChildren(...rels.map((r, k) => {
      const li = h("li", { class: "hitl-relation", "data-index": String(k), dir: "auto" },
        h("span", { class: "hitl-rel-head" }, spanText(r.head)), h("span", { class: "hitl-rel-label" }, ` —${r.label}→ `),
        h("span", { class: "hitl-rel-child" }, spanText(r.child)),
        h("button", { type: "button", class: "hitl-rel-remove", "data-action": "unrelate", "data-index": String(k),
          "aria-label": "Delete relation" }, "×"));
      if (focus?.kind === "relation" && focus.id === k) li.classList.add("is-selected");
      return li;
    }));
    relationsEl.hidden = rels.length === 0;
  }

  /** An adjudicator's rows: the consensus and each other annotator, their spans as chips (a chip
   * the draft holds too is marked; one short of a majority is dashed). Text only, never markup. */
  function drawReview() {
    const rows = reviewRows(cur?.p);
    reviewEl.hidden = rows.length === 0;
    const d = cur?.draft;
    const key = JSON.stringify([cur?.id, d?.spans, copying]);
    if (!rows.length || !cur || !d) { if (reviewKey) reviewEl.replaceChildren(); reviewKey = ""; return; }
    if (key === reviewKey) return;
    reviewKey = key;
    const { text, map } = cur;
    const inDraft = new Set(d.spans.map((s) => `${s.start}:${s.end}:${s.label}`));
    reviewEl.classList.toggle("is-copying", copying);
    reviewEl.replaceChildren(
      ...(cur.p.reason ? [div("hitl-review-reason", String(cur.p.reason))] : []),
      ...rows.map((row) => h("div", { class: "hitl-review-row", "data-who": row.who, "data-row": row.key },
        h("button", { type: "button", class: "hitl-review-copy", "data-action": "copy-from", "data-row": row.key,
          "aria-label": `Start from ${row.who}'s spans`, ...(row.key ? {} : { disabled: "" }) },
        ...(row.key ? [h("kbd", {}, row.key)] : []), h("span", { class: "hitl-review-who", dir: "auto" }, row.who)),
        ...(row.spans.length ? row.spans.map((m) => {
          const covered = text.slice(map.toU16(Math.min(m.start, map.cpLength)), map.toU16(Math.min(m.end, map.cpLength)));
          const chip = h("span", { class: "hitl-review-chip", dir: "auto", "data-start": String(m.start), "data-end": String(m.end),
            "data-label": m.label }, h("b", {}, m.label), ` “${covered}”`);
          chip.style.setProperty("--hitl-mark", colour(m.label));
          if (inDraft.has(`${m.start}:${m.end}:${m.label}`)) chip.classList.add("is-in-draft");
          if (m.consensus === false) chip.classList.add("is-disputed");
          return chip;
        }) : [h("span", { class: "hitl-muted" }, "no spans")]))));
  }

  function describeFocus() {
    if (!cur) return "";
    if (copying) return "Start from whose spans? 0 the consensus, 1–9 an annotator (Esc cancels).";
    if (relating) {
      return relating.child == null ? `Relation from ${spanText(relating.head)}: Tab (or click) to the child span.`
        : `Relation ${spanText(relating.head)} → ${spanText(relating.child)}: press a relation key (${[...keyMap.relKeyOf].map(([l, k]) => `${k} ${l}`).join(", ")}).`;
    }
    if (focus?.kind === "span") return `Selected: ${spanText(/** @type {number} */ (focus.id))}`;
    if (focus?.kind === "suggestion") {
      const s = cur.draft.suggestions.find((x) => x.suggestion_id === focus?.id);
      return s ? `Suggested ${s.label} “${cur.text.slice(cur.map.toU16(s.start), cur.map.toU16(s.end))}”${typeof s.score === "number" ? ` (${s.score.toFixed(2)})` : ""}: a accepts, Del dismisses` : "";
    }
    if (focus?.kind === "relation") return "Relation selected: Delete removes it.";
    return "";
  }

  function draw() {
    const id = queue.current();
    const p = id == null ? undefined : queue.payloads.get(id);
    const unsaved = queue.unsaved();

    root.setAttribute("data-unsaved", String(unsaved));
    root.setAttribute("data-mode", relating ? "relation" : copying ? "copy" : "edit");
    const prog = model.get("progress") ?? {};
    const done = Math.min(Number(prog.total) || 0, (Number(prog.done) || 0) + queue.pendingDone());
    const words = typeof prog.queue === "string" && prog.queue ? ` · ${prog.queue}` : "";  // e.g. "budget reached"
    progressEl.textContent = `${done} / ${Number(prog.total) || 0} done${words}${unsaved ? ` · ${unsaved} unsaved` : ""}`;
    if (id !== cur?.id || p !== cur?.p) switchItem(id, p);
    if (!cur) {
      textKey = "";
      textEl.replaceChildren(div("hitl-muted", id == null ? (unsaved ? "Saving…" : prog.budget?.reached ? "Budget reached: no more items are handed out." : "All items done. Nothing left to do.") : "Loading item…"));
      relationsEl.hidden = true;
    } else {
      // Redraw the text only when what it shows changed: a redraw replaces its text nodes, and
      // with them any selection the annotator is making (an ack or progress update must not).
      const d = cur.draft;
      const key = JSON.stringify([cur.id, d.spans, d.suggestions, caretRange(), focus, relating, schema.labels]);
      if (key !== textKey || !textEl.querySelector(".hitl-seg")) { textKey = key; drawText(); }
      drawRelations();
    }
    drawReview();
    // The item's id once it is drawn and takes keys (not while its payload is on the way).
    root.setAttribute("data-item-id", cur ? String(cur.id) : "");
    root.setAttribute("data-spans", String(cur?.draft.spans.length ?? 0));
    drawLabels();
    const line = [status, status ? "" : describeFocus()].filter(Boolean).join(" ");
    statusEl.textContent = line;
    statusEl.classList.toggle("is-refused", refused && status !== "");
    helpEl.hidden = !helpOpen;
    const kernelError = model.get("error") || "";
    errorEl.textContent = [localError, kernelError].filter(Boolean).join("\n");
    errorEl.hidden = errorEl.textContent === "";
  }

  /** @param {ItemId | null} id @param {Payload | undefined} p */
  function switchItem(id, p) {
    const sameItem = cur?.id === id;
    if (id == null || !p || typeof p.text !== "string") { cur = null; return; }
    const text = p.text, map = offsetMap(text);
    const tokens = (p.tokens ?? []).filter((t) => Array.isArray(t) && t[0] < t[1] && t[1] <= map.cpLength);
    let draft = drafts.get(id);
    if (!draft) {
      draft = new Draft({ overlapping: schema.overlapping === true, suggestions: p.suggestions ?? [] });
      drafts.set(id, draft);
    }
    cur = { id, p, text, map, tokens, draft };
    if (!sameItem) {
      caret = anchor = 0; focus = null; relating = null; copying = false; say("");
      clock.reset(now());
      root.dispatchEvent(new CustomEvent("hitl:drawn", { bubbles: true, detail: { item_id: id } }));
    }
  }

  // -- commands --------------------------------------------------------------------------
  /** What Tab moves through: spans and suggestions by position (`s`), then relations.
   * @returns {Array<{s: number, f: Focus}>} */
  function focusables() {
    if (!cur) return [];
    const marks = [...cur.draft.spans.map((s) => ({ s: s.start, e: s.end, f: /** @type {Focus} */ ({ kind: "span", id: s.id }) })),
      ...cur.draft.suggestions.map((s) => ({ s: s.start, e: s.end, f: /** @type {Focus} */ ({ kind: "suggestion", id: s.suggestion_id }) }))]
      .sort((a, b) => a.s - b.s || a.e - b.e);
    return relating ? marks.filter((m) => m.f.kind === "span" && m.f.id !== relating?.head)
      : [...marks, ...cur.draft.relations.map((_, k) => ({ s: Infinity, f: /** @type {Focus} */ ({ kind: "relation", id: k }) }))];
  }

  /** Select a span: the caret follows it, so arrows go on from there. @param {Focus | null} f */
  function select(f) {
    focus = f;
    if (!cur || !f || f.kind === "relation") return;
    const m = f.kind === "span" ? cur.draft.spans.find((s) => s.id === f.id) : cur.draft.suggestions.find((s) => s.suggestion_id === f.id);
    if (m && cur.tokens.length) {
      anchor = Math.max(0, tokenAt(cur.tokens, m.start));
      const last = tokenAt(cur.tokens, m.end - 1);
      caret = last < 0 ? cur.tokens.length - 1 : last;
    }
  }

  /** A suggestion being edited becomes a span first (it keeps its suggestion_id). @returns {number | null} span id */
  function materialize() {
    if (!cur || focus?.kind !== "suggestion") return focus?.kind === "span" ? /** @type {number} */ (focus.id) : null;
    const s = cur.draft.suggestions.find((x) => x.suggestion_id === focus?.id);
    if (!s) return null;
    const r = cur.draft.add(s.start, s.end, s.label, s.suggestion_id);
    if (r.error) { say(r.error, true); return null; }
    focus = { kind: "span", id: /** @type {number} */ (r.id) };
    return /** @type {number} */ (r.id);
  }

  /** The DOM's selection in the text as code points, or null when there is none there. */
  function domSelection() {
    const sel = doc.getSelection?.();
    if (!cur || !sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const range = sel.getRangeAt(0);
    if (!textEl.contains(range.startContainer) || !textEl.contains(range.endContainer)) return null;
    const a = cur.map.snap(pointToU16(range.startContainer, range.startOffset), -1);
    const b = cur.map.snap(pointToU16(range.endContainer, range.endOffset), 1);
    if (!(a < b)) return null;
    let start = cur.map.toCp(a), end = cur.map.toCp(b);
    if (schema.snap !== false && cur.tokens.length) [start, end] = snapToTokens(cur.tokens, start, end);
    return { start, end };
  }

  /** A DOM point (node, offset) in the text as a UTF-16 offset into the item's text.
   * @param {Node} node @param {number} offset */
  function pointToU16(node, offset) {
    const len = cur?.text.length ?? 0;
    /** @param {Element | null} from */
    const segFrom = (from) => {
      for (let e = from; e; e = e.nextElementSibling) if (e.classList.contains("hitl-seg")) return Number(e.getAttribute("data-s"));
      return len;
    };
    if (node.nodeType === 3) {
      const parent = node.parentElement;
      if (parent?.classList.contains("hitl-seg")) return Number(parent.getAttribute("data-s")) + offset;
      return segFrom(parent); // inside a chip: where its span starts
    }
    if (node === textEl) return segFrom(/** @type {Element | null} */ (textEl.childNodes[offset] ?? null));
    const elem = /** @type {Element} */ (node);
    if (elem.classList?.contains("hitl-seg")) return Number(elem.getAttribute("data-s")) + (offset > 0 ? (elem.textContent ?? "").length : 0);
    return segFrom(elem);
  }

  /** Mark a range with a label; the new span is selected. @param {number} start @param {number} end @param {string} label */
  function mark(start, end, label) {
    if (!cur) return;
    const r = cur.draft.add(start, end, label);
    if (r.error) return say(r.error, true);
    focus = { kind: "span", id: /** @type {number} */ (r.id) };
    say("");
  }

  /** @param {Command} c */
  function perform(c) {
    if (c.type === "help") { helpOpen = !helpOpen; return draw(); }
    if (c.type === "undo-item") return undoItem();
    if (c.type === "skip") return act("skip", {});
    if (!cur) return;
    const { draft, tokens } = cur;
    say("");
    if (c.type === "move" || c.type === "extend") {
      if (!tokens.length) return draw();
      // In right-to-left text the arrows follow the screen: → goes back in reading order.
      const dir = /** @type {number} */ (c.dir) * (Number.isFinite(c.dir) && isRtl() ? -1 : 1);
      const to = dir === -Infinity ? 0 : dir === Infinity ? tokens.length - 1 : caret + dir;
      caret = Math.max(0, Math.min(tokens.length - 1, to));
      if (c.type === "move") anchor = caret;
      if (!relating) focus = null;
    } else if (c.type === "cycle") {
      const list = focusables();
      if (!list.length) say(relating ? "No other span to relate to." : "No spans yet.");
      else {
        const at = list.findIndex(({ f }) => (relating ? f.id === relating.child : f.kind === focus?.kind && f.id === focus?.id));
        const dir = c.dir ?? 1;
        // Nothing selected (just deleted, or the caret moved): go on from the caret.
        const from = tokens.length ? tokens[caret][0] : 0;
        const after = list.findIndex((m) => m.s >= from);
        const fresh = dir > 0 ? Math.max(0, after) : (after < 0 ? list.length : after) - 1;
        const next = list[at < 0 ? (fresh + list.length) % list.length : (at + dir + list.length) % list.length].f;
        if (relating) relating.child = /** @type {number} */ (next.id);
        else select(next);
      }
    } else if (c.type === "label") {
      const label = /** @type {string} */ (c.label);
      activeLabel = label;
      const picked = domSelection();
      if (picked) { mark(picked.start, picked.end, label); doc.getSelection()?.removeAllRanges(); }
      else if (focus?.kind === "span" || focus?.kind === "suggestion") {
        const id = materialize();
        if (id != null) { const e = draft.update(id, { label }); if (e) say(e, true); }
      } else if (c.dir !== 0) { // a label button with nothing selected only picks the label for the mouse
        const cr = caretRange();
        if (cr) mark(cr[0], cr[1], label);
        else say("Nothing to mark: the text has no tokens; select with the mouse.", true);
      }
    } else if (c.type === "boundary") {
      const id = materialize();
      const span = draft.spans.find((s) => s.id === id);
      if (!span) say("Select a span first (Tab), then move its start with [ or its end with ].", true);
      else {
        const moved = moveBoundary(tokens, span, /** @type {"start" | "end"} */ (c.edge), /** @type {number} */ (c.dir), cur.map.cpLength);
        if (!moved) say(`The ${c.edge} cannot move further that way.`, true);
        else { const e = draft.update(span.id, moved); if (e) say(e, true); else select(focus); }
      }
    } else if (c.type === "delete") {
      if (relating) relating = null;
      else if (focus?.kind === "span") { draft.remove(/** @type {number} */ (focus.id)); focus = null; }
      else if (focus?.kind === "suggestion") { draft.dismiss(/** @type {string} */ (focus.id)); focus = null; }
      else if (focus?.kind === "relation") { draft.unrelate(/** @type {number} */ (focus.id)); focus = null; }
      else say("Nothing selected to delete: Tab to a span first.", true);
    } else if (c.type === "relation") {
      if (!(schema.relation_labels ?? []).length) say("This task has no relation labels.", true);
      else if (focus?.kind !== "span") say("Select the head span first (Tab), then press r.", true);
      else relating = { head: /** @type {number} */ (focus.id), child: null };
    } else if (c.type === "relate") {
      const rels = schema.relation_labels ?? [];
      const label = c.label ?? (rels.length === 1 ? rels[0] : undefined);
      if (!relating || relating.child == null) say("Pick the child span first: Tab or click it.", true);
      else if (!label) say("Press the relation's number key.", true);
      else {
        const e = draft.relate(relating.head, relating.child, label);
        if (e) say(e, true);
        else { focus = { kind: "span", id: relating.head }; relating = null; }
      }
    } else if (c.type === "accept" || c.type === "accept-all") {
      const pending = draft.suggestions;
      if (!pending.length) say("No suggestions left on this item.");
      else if (c.type === "accept") {
        if (focus?.kind !== "suggestion") focus = { kind: "suggestion", id: pending[0].suggestion_id };
        materialize();
      } else {
        let refusedCount = 0;
        for (const s of [...pending]) if (draft.add(s.start, s.end, s.label, s.suggestion_id).error) refusedCount++;
        if (refusedCount) say(`${refusedCount} suggestion(s) not accepted: they overlap spans in this one-layer task.`, true);
      }
    } else if (c.type === "copy") {
      if (!reviewRows(cur.p).length) say("Nothing to copy: only an adjudication queue shows other annotators' spans.", true);
      else { copying = true; relating = null; }
    } else if (c.type === "copy-from") {
      copying = false;
      const row = reviewRows(cur.p).find((r) => r.key !== "" && r.key === c.row);
      if (!row) say(`No row ${c.row} to copy from.`, true);
      else {
        const e = draft.replaceSpans(row.spans);
        if (e) say(`Not copied: ${e}`, true);
        else { focus = null; say(`Started from ${row.who === "consensus" ? "the consensus" : `${row.who}'s spans`} (${row.spans.length}); Ctrl+Z undoes.`); }
      }
    } else if (c.type === "undo") {
      if (draft.undo()) { focus = null; relating = null; } else return undoItem();
    } else if (c.type === "escape") {
      if (copying) copying = false;
      else if (relating) relating = null; else if (focus) focus = null; else { anchor = caret; helpOpen = false; }
    } else if (c.type === "submit") {
      return act("submit", draft.toIntent(cur.text, cur.map));
    }
    draw();
  }

  /** @param {"submit" | "skip"} type @param {Record<string, unknown>} extra */
  function act(type, extra) {
    const id = queue.current();
    if (id == null || !cur || cur.id !== id) return;
    const client_seq = ++seq;
    const ms_on_item = Math.round(clock.elapsed(now())); // active time, see activeClock
    queue.markDone(id, { action: type, client_seq });
    if (!send({ type, item_id: id, ...extra, ms_on_item, client_seq })) queue.reject(client_seq, id);
    helpOpen = false;
    draw();
  }

  function undoItem() {
    const client_seq = ++seq;
    const id = queue.undo(client_seq);
    if (!send({ type: "undo", item_id: id, client_seq })) queue.reject(client_seq, null);
    draw();
  }

  // -- events ----------------------------------------------------------------------------
  /** @param {KeyboardEvent} e */
  const onKeydown = (e) => {
    const c = commandForKey(e, keyMap, { relating: relating !== null, copying });
    if (!c) return;
    e.preventDefault();
    e.stopPropagation();
    perform(c); // synchronous: the span (or the next item) is drawn before this returns
  };
  /** @param {MouseEvent} e */
  const onMouseup = (e) => {
    if (e.button !== 0 || !cur) return;
    const picked = domSelection();
    if (!picked) return;
    doc.getSelection()?.removeAllRanges();
    if (relating) return;
    // Dragging over the selected span resizes it: the mouse's way to move a boundary.
    const f = focus, d = cur.draft;
    const sel = f?.kind === "span" ? d.spans.find((s) => s.id === f.id)
      : f?.kind === "suggestion" ? d.suggestions.find((s) => s.suggestion_id === f.id) : undefined;
    const over = sel && picked.start < sel.end && sel.start < picked.end;
    const span = over ? d.spans.find((s) => s.id === materialize()) : undefined;
    if (span) {
      const error = cur.draft.update(span.id, picked);
      say(error, error !== "");
    } else if (!activeLabel) say("Choose a label first.", true);
    else mark(picked.start, picked.end, activeLabel);
    draw();
  };
  /** @param {MouseEvent} e */
  const onClick = (e) => {
    const target = /** @type {any} */ (e.target);
    const btn = target?.closest?.("button[data-action]");
    const action = btn?.getAttribute("data-action");
    if (action === "label") perform({ type: "label", label: btn.getAttribute("data-label") ?? "", dir: 0 });
    else if (action === "relate") perform({ type: "relate", label: btn.getAttribute("data-label") ?? "" });
    else if (action === "copy-from") perform({ type: "copy-from", row: btn.getAttribute("data-row") ?? "" });
    else if (action === "unrelate") { cur?.draft.unrelate(Number(btn.getAttribute("data-index"))); focus = null; draw(); }
    else if (action) perform({ type: action });
    else if (cur && textEl.contains(target) && (doc.getSelection?.()?.isCollapsed ?? true)) clickText(target);
    if (!isTypingTarget(target)) root.focus({ preventScroll: true });
  };
  /** A click in the text selects the span under it (the innermost), or puts the caret there. @param {Element} target */
  function clickText(target) {
    if (!cur) return;
    const chip = target.closest?.(".hitl-chip");
    const seg = target.closest?.(".hitl-seg");
    /** @type {Focus[]} */
    const under = chip ? [{ kind: /** @type {"span"} */ (chip.getAttribute("data-kind")), id: chipId(chip) }]
      : (seg?.getAttribute("data-marks") ?? "").split(" ").filter(Boolean).map((m) => {
        const [kind, id] = [m.slice(0, m.indexOf(":")), m.slice(m.indexOf(":") + 1)];
        return { kind: /** @type {"span"} */ (kind), id: kind === "span" ? Number(id) : id };
      });
    const size = (/** @type {Focus} */ f) => {
      const m = f.kind === "span" ? cur?.draft.spans.find((s) => s.id === f.id) : cur?.draft.suggestions.find((s) => s.suggestion_id === f.id);
      return m ? m.end - m.start : Infinity;
    };
    under.sort((a, b) => size(a) - size(b));
    if (relating) {
      const child = under.find((f) => f.kind === "span" && f.id !== relating?.head);
      if (child) relating.child = /** @type {number} */ (child.id);
    } else if (under.length) select(under[0]);
    else if (seg && cur.tokens.length) {
      focus = null;
      const cp = cur.map.toCp(cur.map.snap(Number(seg.getAttribute("data-s")), -1));
      caret = anchor = Math.max(0, tokenAt(cur.tokens, cp));
    }
    say("");
    draw();
  }
  /** @param {Element} chip */
  const chipId = (chip) => (chip.getAttribute("data-kind") === "span" ? Number(chip.getAttribute("data-id")) : chip.getAttribute("data-id") ?? "");

  const onWindow = () => {
    queue.setWindow(model.get("window"));
    const missing = queue.requestMissing();
    if (missing.length) send({ type: "fetch", item_ids: missing });
    for (const id of queue.evict()) drafts.delete(id);
    draw();
  };
  /** @param {any} msg */
  const onMessage = (msg) => {
    if (msg?.type === "items") {
      queue.addPayloads(Array.isArray(msg.items) ? msg.items : []);
      draw();
    } else if (msg?.type === "ack") {
      if (queue.ack(msg.client_seq)) localError = "";
      clearTimeout(settleTimer);
      settleTimer = setTimeout(() => { if (queue.settle()) draw(); }, SETTLE_MS);
      draw();
      root.dispatchEvent(new CustomEvent("hitl:ack", { bubbles: true, detail: { item_id: msg.item_id, client_seq: msg.client_seq } }));
    } else if (msg?.type === "reject") {
      queue.reject(msg.client_seq, msg.item_id);
      localError = msg.error || "The kernel refused that action; nothing was saved.";
      draw();
    }
  };

  listen(root, "keydown", onKeydown);
  listen(root, "click", onClick);
  listen(textEl, "mouseup", onMouseup);
  on("change:window", onWindow);
  on("change:progress", () => { queue.progressSeen(); draw(); });
  on("change:error", draw);
  on("change:idle_after_s", () => clock.setIdleAfter(1000 * model.get("idle_after_s")));
  disposers.push(trackActivity(win, clock));
  on("change:schema", () => { buildControls(); draw(); });
  on("msg:custom", onMessage);
  buildControls();
  onWindow();
  root.focus({ preventScroll: true });
  const focusTimer = setTimeout(() => { if (root.isConnected) root.focus({ preventScroll: true }); }, 0);

  return () => {
    clearTimeout(focusTimer);
    clearTimeout(settleTimer);
    for (const d of disposers) d();
    root.remove();
  };
}

export default { render };
