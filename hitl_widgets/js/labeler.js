// @ts-check
/**
 * Browser half of the Labeler widget. The contract with hitl_widgets/labeler.py is
 * docs/labeler_protocol.md. anywidget loads this file from a Blob URL: no imports, no top-level DOM.
 * Pure helpers are named exports so `node --test tests/js/` can check them without a browser.
 */

/** @typedef {string | number} ItemId */
/** @typedef {{labels: string[], score?: number | null, source?: string, version?: string | null}} Suggestion */
/** An item as the kernel sends it, plus `buffer`, which the view attaches from the message's buffers.
 * @typedef {{item_id: ItemId, kind?: "text" | "image" | "record", text?: string,
 *   truncated?: {shown: number, total: number} | null, image_buffer?: number, mime?: string,
 *   image_error?: string, fields?: Record<string, unknown>, suggestion?: Suggestion | null,
 *   others?: Array<{annotator: string, labels: string[]}>, buffer?: DataView | ArrayBuffer}} Payload */
/** @typedef {{labels?: string[], multi_label?: boolean, keys?: Record<string, string>,
 *   guidelines?: Record<string, {description?: string, examples?: string[]}>}} Schema */
/** `queue`: what the queue says of itself, e.g. "model m3" from active learning; `budget`: whether
 * the project's budget is reached (the kernel sends no amounts to the browser).
 * @typedef {{done?: number, total?: number, per_minute?: number | null, eta_seconds?: number | null,
 *   queue?: string, budget?: {reached?: boolean}}} Progress */
/** @typedef {{type: "label", label: string} | {type: "accept" | "skip" | "undo" | "help" | "escape"}} Action */
/** @typedef {{byKey: Map<string, string>, keyOf: Map<string, string>, conflicts: string[]}} KeyMap */
/** @typedef {{item_id: ItemId, action: "submit" | "skip", client_seq: number}} HistoryEntry */
/** @typedef {{item_id: ItemId, client_seq: number, acked: boolean, windowSinceAck: boolean}} LocalEntry */
/** @typedef {{type: "submit" | "skip" | "undo", item_id: ItemId | null, undoes?: HistoryEntry | null}} PendingIntent */

/** Keys the view keeps for itself (lower-cased `KeyboardEvent.key`); a label cannot take them. */
export const RESERVED_KEYS = Object.freeze(
  /** @type {Record<string, "accept" | "skip" | "undo" | "help" | "escape">} */ ({
    enter: "accept", s: "skip", arrowright: "skip", backspace: "undo", "?": "help", escape: "escape",
  }),
);

/** Keys to labels from `schema.keys` ({label: key}), compared case-insensitively so Shift does not
 * matter; a reserved or taken key is left unbound and reported in `conflicts`.
 * @param {Schema | null | undefined} schema @returns {KeyMap} */
export function buildKeyMap(schema) {
  const byKey = new Map(), keyOf = new Map(), conflicts = [];
  const keys = schema?.keys ?? {};
  for (const label of schema?.labels ?? []) {
    const raw = keys[label];
    if (typeof raw !== "string" || raw === "") continue;
    const key = raw.toLowerCase();
    const clash = key in RESERVED_KEYS ? `is reserved for ${RESERVED_KEYS[key]}`
      : byKey.has(key) ? `is already used by '${byKey.get(key)}'` : "";
    if (clash) conflicts.push(`Key '${raw}' for label '${label}' ${clash}; the label has no key.`);
    else { byKey.set(key, label); keyOf.set(label, raw); }
  }
  return { byKey, keyOf, conflicts };
}

/** @param {any} target */
export function isTypingTarget(target) {
  const tag = typeof target?.tagName === "string" ? target.tagName.toUpperCase() : "";
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target?.isContentEditable === true;
}

/** The action a keydown asks for, or null when the view should leave the event alone.
 * @param {{key?: string, altKey?: boolean, ctrlKey?: boolean, metaKey?: boolean, shiftKey?: boolean,
 *   repeat?: boolean, isComposing?: boolean, target?: any}} ev  a KeyboardEvent or a plain object
 * @param {KeyMap} keyMap @param {{multiLabel?: boolean, helpOpen?: boolean}} [opts] @returns {Action | null} */
export function actionForKey(ev, keyMap, { multiLabel = false, helpOpen = false } = {}) {
  if (!ev || typeof ev.key !== "string" || ev.isComposing || ev.altKey) return null;
  // A held key would label a run of items nobody looked at.
  if (ev.repeat || isTypingTarget(ev.target)) return null;
  const key = ev.key.toLowerCase();
  if (ev.ctrlKey || ev.metaKey) return key === "z" && !ev.shiftKey ? { type: "undo" } : null;
  // Enter on a focused button/link/summary keeps its native meaning (keyboard users Tab to them).
  const tag = typeof ev.target?.tagName === "string" ? ev.target.tagName.toUpperCase() : "";
  if (key === "enter" && (tag === "BUTTON" || tag === "A" || tag === "SUMMARY")) return null;
  const reserved = RESERVED_KEYS[key];
  if (reserved === "escape") return multiLabel || helpOpen ? { type: "escape" } : null;
  if (reserved) return { type: reserved };
  const label = keyMap.byKey.get(key);
  return label === undefined ? null : { type: "label", label };
}

/** "~13 min left" from the kernel's eta, "" when unknown. @param {number | null | undefined} seconds */
export function formatEta(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds <= 0) return "";
  if (seconds < 60) return "<1 min left";
  const min = Math.round(seconds / 60);
  if (min < 60) return `~${min} min left`;
  const h = Math.floor(min / 60), m = min % 60;
  if (h < 10) return m ? `~${h} h ${m} min left` : `~${h} h left`;
  if (h < 48) return `~${h} h left`;
  return `~${Math.round(h / 24)} days left`;
}

/** What an empty window says: the budget ran out, or the work is done.
 * @param {Progress | null | undefined} progress */
export function doneText(progress) {
  return progress?.budget?.reached
    ? "Budget reached: no more items are handed out."
    : "All items labeled. Nothing left to do.";
}

/** The progress line; `pendingDone` counts labels sent but not yet in `progress.done`.
 * @param {Progress | null | undefined} progress @param {number} [pendingDone] @param {number} [unsaved] */
export function formatProgress(progress, pendingDone = 0, unsaved = 0) {
  const total = Math.max(0, Number(progress?.total) || 0);
  const done = Math.min(total, Math.max(0, (Number(progress?.done) || 0) + pendingDone));
  const parts = [`${done} / ${total} done`];
  const rate = progress?.per_minute;
  if (typeof rate === "number" && Number.isFinite(rate) && rate > 0) {
    parts.push(`${rate < 10 ? rate.toFixed(1) : Math.round(rate)} items/min`);
  }
  const eta = formatEta(progress?.eta_seconds);
  if (eta && done < total) parts.push(eta);
  if (typeof progress?.queue === "string" && progress.queue) parts.push(progress.queue);
  if (unsaved > 0) parts.push(`${unsaved} unsaved`);
  return parts.join(" · ");
}

/** @param {Suggestion | null | undefined} s */
export function formatSuggestion(s) {
  if (!s || !Array.isArray(s.labels) || s.labels.length === 0) return "";
  const score = typeof s.score === "number" && Number.isFinite(s.score) ? ` ${s.score.toFixed(2)}` : "";
  return `suggested: ${s.labels.join(", ")}${score}`;
}

/** Where a suggestion came from, for its tooltip: "from model m3". @param {Suggestion | null | undefined} s */
export function suggestionOrigin(s) {
  if (!s?.source) return "";
  return s.version ? `from ${s.source} ${s.version}` : `from ${s.source}`;
}

/** A record field as display text (never markup). @param {unknown} value */
export function formatValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value;
  try { return typeof value === "object" ? JSON.stringify(value) : String(value); } catch { return String(value); }
}

/** Integer upscale so tiny images (8×8 digits) show at about `target` px. */
export function pixelScale(width = 0, height = 0, target = 192) {
  const side = Math.max(width, height);
  return side > 0 ? Math.max(1, Math.floor(target / side)) : 1;
}

// ------------------------------------------------------------------------------- active time
/**
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

/** How an intent changes the count of labeled items. @param {PendingIntent} p */
const doneDelta = (p) => (p.type === "submit" ? 1 : p.type === "undo" && p.undoes?.action === "submit" ? -1 : 0);

/** @param {ItemId} item_id @param {number} client_seq @returns {LocalEntry} */
const entryFor = (item_id, client_seq, acked = false) => ({ item_id, client_seq, acked, windowSinceAck: false });

/**
 * The view's local copy of the queue (docs/labeler_protocol.md, "The view's queue"):
 * `visible = [...front, ...window.filter(id => !done.has(id) && !front.has(id))]`.
 * A `done` or `front` entry lives until its intent is acked and the kernel's window has caught up:
 * any window that arrives after an ack reflects that intent, one that arrives before may not.
 */
export class PrefetchQueue {
  constructor({ historyCap = 100 } = {}) {
    this.historyCap = historyCap;
    /** @type {ItemId[]} */ this.window = [];
    /** @type {Map<ItemId, LocalEntry>} */ this.done = new Map();
    /** @type {LocalEntry[]} newest undo first */ this.front = [];
    /** @type {HistoryEntry[]} */ this.history = [];
    /** @type {Map<ItemId, Payload>} */ this.payloads = new Map();
    /** @type {Map<number, PendingIntent>} */ this.pending = new Map();
    /** @type {Set<ItemId>} fetched, not yet arrived */ this.requested = new Set();
    /** Net labels acked since the last `progress` update (the kernel acks, then sets progress). */
    this.ackedDone = 0;
  }

  /** @param {ItemId[] | null | undefined} ids */
  setWindow(ids) {
    this.window = [...new Set(Array.isArray(ids) ? ids : [])];
    for (const e of [...this.done.values(), ...this.front]) if (e.acked) e.windowSinceAck = true;
    this.#reconcile();
  }

  /** @param {Payload[] | null | undefined} payloads */
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

  /** @returns {ItemId | null} the item to show */
  current() { return this.visible()[0] ?? null; }

  /** The annotator acted on `item_id`: hide it and remember it for undo.
   * @param {ItemId} item_id @param {{action?: "submit" | "skip", client_seq: number}} intent */
  markDone(item_id, { action = "submit", client_seq }) {
    this.front = this.front.filter((e) => e.item_id !== item_id);
    this.done.set(item_id, entryFor(item_id, client_seq));
    const entry = { item_id, action, client_seq };
    this.history.push(entry);
    if (this.history.length > this.historyCap) this.history.shift();
    this.pending.set(client_seq, { type: action, item_id });
    return entry;
  }

  /** Undo the latest local action: its item comes back in front at once.
   * @param {number} client_seq  the undo intent's own number
   * @returns {ItemId | null} the item expected back (null: no local history, the kernel decides) */
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

  /** @param {number} client_seq @returns {PendingIntent | null} */
  ack(client_seq) {
    const intent = this.pending.get(client_seq);
    if (!intent) return null; // another view of the same model sent it
    this.pending.delete(client_seq);
    this.ackedDone += doneDelta(intent);
    for (const e of [...this.done.values(), ...this.front]) {
      if (e.client_seq === client_seq) { e.acked = true; e.windowSinceAck = false; }
    }
    this.#reconcile();
    return intent;
  }

  /** The kernel refused an intent and wrote nothing: roll its local effect back.
   * @param {number | null} client_seq  null when the kernel could not tell what the message was
   * @param {ItemId | null} [item_id]  used when the number is not ours
   * @returns {PendingIntent | null} */
  reject(client_seq, item_id = null) {
    const intent = client_seq == null ? undefined : this.pending.get(client_seq);
    if (client_seq == null || !intent) {
      // Not ours (another view's, or a message no view sent, e.g. a malformed "shown"): an item
      // whose own intent is still pending keeps waiting for that intent's reply.
      const entry = item_id == null ? undefined : this.done.get(item_id);
      if (entry && !this.pending.has(entry.client_seq)) this.done.delete(entry.item_id);
      return null;
    }
    this.pending.delete(client_seq);
    if (intent.type === "undo") {
      this.front = this.front.filter((e) => e.client_seq !== client_seq);
      const undone = intent.undoes;
      if (undone) {
        // The action stands: hide its item again and make it undoable again.
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

  /** Trust the current window for every acked entry, for when no window change follows an ack (skipping
   * the only item leaves the window as it was); the view calls it after a quiet spell. @returns {boolean} changed */
  settle() {
    this.ackedDone = 0;
    const before = this.done.size + this.front.length;
    for (const [id, e] of this.done) if (e.acked) this.done.delete(id);
    this.front = this.front.filter((e) => !e.acked);
    return before !== this.done.size + this.front.length;
  }

  /** Intents sent and not yet acked or rejected. */
  unsaved() { return this.pending.size; }

  /** Net labels sent that the kernel's `progress.done` may not count yet. */
  pendingDone() {
    let n = this.ackedDone;
    for (const p of this.pending.values()) n += doneDelta(p);
    return n;
  }

  /** A new `progress` arrived: it counts everything acked so far. */
  progressSeen() { this.ackedDone = 0; }

  /** Ids to show soon that have no payload and were not asked for yet; marks them asked for. */
  requestMissing() {
    const ids = [...new Set([...this.front.map((e) => e.item_id), ...this.window])]
      .filter((id) => !this.payloads.has(id) && !this.requested.has(id));
    for (const id of ids) this.requested.add(id);
    return ids;
  }

  /** Drop payloads no longer in window, front, done or history. @returns {ItemId[]} evicted ids */
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
  /** @type {Map<ItemId, string>} */ const urls = new Map();
  /** @type {Map<ItemId, {img: HTMLImageElement, failed: string}>} decoded off the key path */
  const images = new Map();
  /** @type {Array<() => void>} */ const disposers = [];
  /** @type {Array<() => void>} listeners on the drawn item's elements */ let itemDisposers = [];
  /** @type {(t: EventTarget, type: string, fn: (e: any) => void, list?: Array<() => void>) => void} */
  const listen = (t, type, fn, list = disposers) => {
    t.addEventListener(type, fn);
    list.push(() => t.removeEventListener(type, fn));
  };
  /** @type {(name: string, fn: (...args: any[]) => void) => void} */
  const on = (name, fn) => { model.on(name, fn); disposers.push(() => model.off(name, fn)); };
  // Every view of a model hears every ack; a random base keeps this view's numbers its own.
  let seq = Math.floor(Math.random() * 1e6) * 1e6;
  let schema = /** @type {Schema} */ ({}), keyMap = buildKeyMap(null), multiLabel = false;
  let helpOpen = false, hint = "", localError = "", hiddenKernelError = "";
  /** @type {unknown} */ let drawnKey;
  /** @type {Payload | undefined} */ let drawnPayload;
  /** @type {Set<string>} */ let selection = new Set();
  /** @type {ReturnType<typeof setTimeout> | undefined} */ let settleTimer;

  /** @param {string} cls @param {...(Node | string)} kids */
  const div = (cls, ...kids) => h("div", { class: cls }, ...kids);
  const root = h("div", {
    class: "hitl-labeler", tabindex: "0", "data-lm-suppress-shortcuts": "true", "data-item-id": "", "data-unsaved": "0",
  });
  const progressEl = h("div", { class: "hitl-progress", "aria-live": "polite" });
  const errorText = h("span", { class: "hitl-error-text" });
  const errorEl = h("div", { class: "hitl-error", role: "alert" }, errorText, h("button",
    { type: "button", class: "hitl-error-close", "data-action": "close-error", "aria-label": "Dismiss error" }, "×"));
  const itemEl = div("hitl-item");
  const suggestionEl = div("hitl-suggestion");
  const labelsEl = h("div", { class: "hitl-labels", role: "group", "aria-label": "Labels" });
  const hintEl = div("hitl-hint");
  const guidelinesEl = h("details", { class: "hitl-guidelines" });
  const helpEl = h("div", { class: "hitl-help", role: "dialog", "aria-label": "Keyboard shortcuts" });
  /** @param {string} action @param {string} text @param {string} key */
  const button = (action, text, key) => h("button",
    { type: "button", class: `hitl-action hitl-do-${action}`, "data-action": action },
    h("span", { class: "hitl-action-name" }, text), h("kbd", {}, key));
  const acceptBtn = button("accept", "Accept suggestion", "Enter");
  const actionsEl = div("hitl-actions", acceptBtn, button("skip", "Skip", "S / →"), button("undo", "Undo", "⌫"),
    button("help", "Help", "?"));
  root.append(progressEl, errorEl, itemEl, suggestionEl, labelsEl, actionsEl, hintEl, guidelinesEl, helpEl);
  el.append(root);

  /** @param {Record<string, unknown>} msg */
  const send = (msg) => {
    try { model.send(msg); return true; } catch (err) {
      localError = `Could not reach the kernel: ${err instanceof Error ? err.message : String(err)}`;
      return false;
    }
  };

  function buildControls() {
    schema = model.get("schema") ?? {};
    multiLabel = schema.multi_label === true;
    keyMap = buildKeyMap(schema);
    for (const c of keyMap.conflicts) console.warn(`hitl_widgets Labeler: ${c}`);
    labelsEl.replaceChildren(...(schema.labels ?? []).map((label) => {
      const key = keyMap.keyOf.get(label);
      return h("button", { type: "button", class: "hitl-label", "data-action": "label", "data-label": label },
        h("span", { class: "hitl-label-name", dir: "auto" }, label), ...(key ? [h("kbd", {}, key)] : []));
    }));
    const acceptName = /** @type {HTMLElement} */ (acceptBtn.firstChild);
    acceptName.textContent = multiLabel ? "Submit selection" : "Accept suggestion";
    const guides = Object.entries(schema.guidelines ?? {});
    guidelinesEl.replaceChildren(h("summary", {}, "Guidelines"), h("dl", {}, ...guides.flatMap(([label, g]) => [
      h("dt", { dir: "auto" }, label),
      ...(g?.description ? [h("dd", { dir: "auto" }, g.description)] : []),
      ...(g?.examples?.length ? [h("dd", {}, h("ul", { class: "hitl-examples" },
        ...g.examples.map((x) => h("li", { dir: "auto" }, String(x)))))] : []),
    ])));
    guidelinesEl.hidden = guides.length === 0;
    const rows = [...keyMap.keyOf].map(([label, key]) => [key, `${multiLabel ? "toggle" : "label"} '${label}'`]);
    rows.push(["Enter", multiLabel ? "submit the selection" : "accept the suggestion"], ["S or →", "skip"],
      ["Backspace or Ctrl/⌘+Z", "undo"], ["?", "show or hide this help"],
      ["Esc", multiLabel ? "close help, clear selection" : "close help"]);
    helpEl.replaceChildren(h("strong", {}, "Keyboard shortcuts"),
      h("table", {}, ...rows.map(([key, what]) =>
        h("tr", {}, h("th", { scope: "row" }, h("kbd", {}, key)), h("td", {}, what)))),
      ...keyMap.conflicts.map((c) => h("p", { class: "hitl-warn" }, c)),
      h("button", { type: "button", class: "hitl-help-close", "data-action": "help" }, "Close"));
    drawnKey = undefined; // redraw, so the new schema's selection and highlight apply
  }

  /** @param {string} reason */
  const placeholder = (reason) =>
    h("div", { class: "hitl-image-placeholder", role: "img" }, `Image not shown: ${reason}`);

  /**
   * Make an image's element when its payload arrives and decode it there, so that drawing it on
   * a keypress only attaches a ready element: decoding on the key path cost a frame on digits.
   * @param {Payload} p
   */
  function prepareImage(p) {
    if (p.kind !== "image" || p.image_error || !p.buffer) return;
    const blob = new Blob([/** @type {BlobPart} */ (p.buffer)], { type: p.mime || "application/octet-stream" });
    const url = URL.createObjectURL(blob);
    urls.set(p.item_id, url);
    const img = /** @type {HTMLImageElement} */ (h("img", { class: "hitl-img", alt: `item ${p.item_id}` }));
    const entry = { img, failed: "" };
    images.set(p.item_id, entry);
    img.src = url;
    img.decode().then(() => {
      const scale = pixelScale(img.naturalWidth, img.naturalHeight);
      img.style.width = `${img.naturalWidth * scale}px`;
      img.classList.toggle("is-smooth", scale === 1); // only upscaled images keep hard pixel edges
    }, () => {
      entry.failed = `the browser could not decode it (${p.mime || "unknown type"})`;
      if (img.isConnected) img.replaceWith(placeholder(entry.failed)); // it was drawn already
    });
  }

  /** @param {Payload} p */
  function imageOf(p) {
    if (p.image_error) return placeholder(p.image_error);
    const entry = images.get(p.item_id);
    if (!p.buffer || !entry) return placeholder("no image data arrived");
    return entry.failed ? placeholder(entry.failed) : entry.img;
  }

  /** @param {ItemId | null} id @param {Payload | undefined} p @param {number} unsaved */
  function drawItem(id, p, unsaved) {
    for (const d of itemDisposers) d();
    itemDisposers = [];
    itemEl.replaceChildren();
    if (id == null) return itemEl.append(div("hitl-done",
      unsaved ? "Saving…" : doneText(model.get("progress"))));
    if (!p) return itemEl.append(div("hitl-muted", "Loading item…"));
    if (p.kind === "image") itemEl.append(div("hitl-image", imageOf(p)));
    if (typeof p.text === "string" && p.text !== "") {
      itemEl.append(h("div", { class: "hitl-text", dir: "auto" }, p.text));
    } else if (p.kind === "text" || (!p.kind && !p.fields)) {
      itemEl.append(div("hitl-muted hitl-empty", "(empty text)"));
    }
    if (p.truncated) {
      const { shown, total } = p.truncated;
      itemEl.append(div("hitl-muted hitl-truncated", `truncated: showing ${shown} of ${total} characters`));
    }
    if (p.fields && typeof p.fields === "object") {
      itemEl.append(h("table", { class: "hitl-fields" }, ...Object.entries(p.fields).map(([name, value]) =>
        h("tr", {}, h("th", { scope: "row", dir: "auto" }, name), h("td", { dir: "auto" }, formatValue(value))))));
    }
    // Only an adjudication session's payloads carry the other annotators' labels.
    if (Array.isArray(p.others)) {
      itemEl.append(h("table", { class: "hitl-fields hitl-others" },
        h("caption", {}, p.others.length ? "Labels from the other annotators" : "No other labels"),
        ...p.others.map((o) => h("tr", {}, h("th", { scope: "row", dir: "auto" }, String(o?.annotator ?? "")),
          h("td", { dir: "auto" }, (Array.isArray(o?.labels) ? o.labels : []).join(", "))))));
    }
  }

  function drawError() {
    const kernelError = model.get("error") || "";
    if (kernelError !== hiddenKernelError) hiddenKernelError = "";
    const shownKernelError = kernelError === hiddenKernelError || kernelError === localError ? "" : kernelError;
    const text = [localError, shownKernelError].filter(Boolean).join("\n");
    errorText.textContent = text;
    errorEl.hidden = text === "";
  }

  function draw() {
    const id = queue.current();
    const p = id == null ? undefined : queue.payloads.get(id);
    const unsaved = queue.unsaved();
    root.setAttribute("data-item-id", id == null ? "" : String(id));
    root.setAttribute("data-unsaved", String(unsaved));
    progressEl.textContent = formatProgress(model.get("progress"), queue.pendingDone(), unsaved);
    const key = id == null ? (unsaved ? "saving" : "done") : p ?? `loading:${id}`;
    const isNew = key !== drawnKey;
    if (isNew) {
      // The same item again (its payload re-sent, or a new schema) keeps its timer and selection.
      const sameItem = p !== undefined && drawnPayload?.item_id === id;
      const newSuggestion = JSON.stringify(p?.suggestion ?? null) !== JSON.stringify(drawnPayload?.suggestion ?? null);
      drawnKey = key;
      drawnPayload = p;
      drawItem(id, p, unsaved);
      if (p && !sameItem) {
        hint = "";
        clock.reset(now());
        selection = new Set((p.suggestion?.labels ?? []).filter((l) => schema.labels?.includes(l)));
      }
      if (p?.suggestion && (!sameItem || newSuggestion)) send({ type: "shown", item_id: id, suggestion: p.suggestion });
    }
    const suggested = new Set(p?.suggestion?.labels ?? []);
    for (const b of Array.from(labelsEl.children)) {
      const label = b.getAttribute("data-label") ?? "";
      b.classList.toggle("is-suggested", suggested.has(label));
      if (multiLabel) b.setAttribute("aria-pressed", String(selection.has(label)));
      else b.removeAttribute("aria-pressed");
    }
    suggestionEl.textContent = p ? formatSuggestion(p.suggestion) : "";
    suggestionEl.title = suggestionOrigin(p?.suggestion);
    acceptBtn.toggleAttribute("disabled", !p || (!multiLabel && !p.suggestion?.labels?.length));
    hintEl.textContent = hint;
    helpEl.hidden = !helpOpen;
    drawError();
    if (isNew && (p || id == null)) {
      root.dispatchEvent(new CustomEvent("hitl:drawn", { bubbles: true, detail: { item_id: id } }));
    }
  }

  /** @param {"submit" | "skip"} type @param {Record<string, unknown>} [extra] */
  function act(type, extra = {}) {
    const id = queue.current();
    if (id == null || drawnPayload?.item_id !== id) return; // nothing shown yet: nothing to judge
    const client_seq = ++seq;
    const ms_on_item = Math.round(clock.elapsed(now())); // active time, see activeClock
    queue.markDone(id, { action: type, client_seq });
    if (!send({ type, item_id: id, ...extra, ms_on_item, client_seq })) queue.reject(client_seq, id);
    helpOpen = false;
    draw();
  }

  /** @param {string[]} labels */
  function submit(labels) {
    const s = drawnPayload?.suggestion;
    act("submit", {
      labels, suggestion: s ? { labels: s.labels, score: s.score ?? null, version: s.version ?? null } : null,
    });
  }

  /** @param {Action} a */
  function perform(a) {
    if (a.type === "label" && !multiLabel) return submit([a.label]);
    if (a.type === "label" && !selection.delete(a.label)) selection.add(a.label);
    if (a.type === "accept") {
      const suggested = drawnPayload?.suggestion?.labels ?? [];
      if (multiLabel && selection.size) return submit((schema.labels ?? []).filter((l) => selection.has(l)));
      if (!multiLabel && suggested.length) return submit([suggested[0]]);
      hint = multiLabel ? "Select at least one label (or skip)." : "No suggestion to accept: press a label key.";
    }
    if (a.type === "skip") return act("skip");
    if (a.type === "undo") {
      const client_seq = ++seq;
      const id = queue.undo(client_seq);
      if (!send({ type: "undo", item_id: id, client_seq })) queue.reject(client_seq, null);
    }
    if (a.type === "help") helpOpen = !helpOpen;
    if (a.type === "escape") { helpOpen = false; selection.clear(); }
    if (a.type !== "accept") hint = "";
    draw();
  }

  /** @param {KeyboardEvent} e */
  const onKeydown = (e) => {
    const a = actionForKey(e, keyMap, { multiLabel, helpOpen });
    if (!a) return;
    e.preventDefault();
    e.stopPropagation();
    perform(a); // synchronous: the next item is on screen before this handler returns
  };
  /** @param {MouseEvent} e */
  const onClick = (e) => {
    const target = /** @type {any} */ (e.target);
    const btn = target?.closest?.("button[data-action]");
    const action = btn?.getAttribute("data-action");
    if (action === "label") perform({ type: "label", label: btn.getAttribute("data-label") ?? "" });
    else if (["accept", "skip", "undo", "help"].includes(action)) perform({ type: action });
    else if (action === "close-error") { localError = ""; hiddenKernelError = model.get("error") || ""; drawError(); }
    if (!isTypingTarget(target)) root.focus({ preventScroll: true });
  };
  const onWindow = () => {
    queue.setWindow(model.get("window"));
    const missing = queue.requestMissing();
    if (missing.length) send({ type: "fetch", item_ids: missing });
    for (const id of queue.evict()) revoke(id);
    draw();
  };
  /** @param {any} msg @param {Array<DataView | ArrayBuffer>} [buffers] */
  const onMessage = (msg, buffers = []) => {
    if (msg?.type === "items") {
      queue.addPayloads((Array.isArray(msg.items) ? msg.items : []).map((/** @type {Payload} */ p) => {
        if (p?.item_id != null) revoke(p.item_id); // a payload sent again gets a fresh URL
        const payload = typeof p?.image_buffer === "number" ? { ...p, buffer: buffers[p.image_buffer] } : p;
        if (payload?.item_id != null) prepareImage(payload);
        return payload;
      }));
      draw();
    } else if (msg?.type === "ack") {
      if (queue.ack(msg.client_seq)) localError = ""; // a later action of ours went through
      clearTimeout(settleTimer);
      settleTimer = setTimeout(() => { if (queue.settle()) draw(); }, SETTLE_MS);
      draw();
      root.dispatchEvent(new CustomEvent("hitl:ack", {
        bubbles: true, detail: { item_id: msg.item_id, client_seq: msg.client_seq },
      }));
    } else if (msg?.type === "reject") {
      queue.reject(msg.client_seq, msg.item_id);
      localError = msg.error || "The kernel refused that action; nothing was saved.";
      draw();
    }
  };
  /** @param {ItemId} id */
  function revoke(id) {
    const url = urls.get(id);
    if (url) { URL.revokeObjectURL(url); urls.delete(id); }
    images.delete(id);
  }

  listen(root, "keydown", onKeydown);
  listen(root, "click", onClick);
  on("change:window", onWindow);
  on("change:progress", () => { queue.progressSeen(); draw(); });
  on("change:error", drawError);
  on("change:idle_after_s", () => clock.setIdleAfter(1000 * model.get("idle_after_s")));
  disposers.push(trackActivity(win, clock));
  on("change:schema", () => { buildControls(); draw(); });
  on("msg:custom", onMessage);
  buildControls();
  onWindow();
  root.focus({ preventScroll: true });
  // The root is usually attached to the page only after render returns.
  const focusTimer = setTimeout(() => { if (root.isConnected) root.focus({ preventScroll: true }); }, 0);

  return () => {
    clearTimeout(focusTimer);
    clearTimeout(settleTimer);
    for (const d of [...itemDisposers, ...disposers]) d();
    itemDisposers = [];
    for (const id of [...urls.keys()]) revoke(id);
    root.remove();
  };
}

export default { render };
