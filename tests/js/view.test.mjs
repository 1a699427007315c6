// The view against a minimal fake DOM and model: intent envelopes, drawing, cleanup.
import test from "node:test";
import assert from "node:assert/strict";
import widget from "../../hitl_widgets/js/labeler.js";

// Node 18 (Debian 12's nodejs) has no global CustomEvent; browsers and Node >= 19 do.
globalThis.CustomEvent ??= class CustomEvent extends Event {
  constructor(type, init = {}) { super(type, init); this.detail = init.detail ?? null; }
};

class FakeElement {
  constructor(doc, tag) {
    this.ownerDocument = doc;
    this.tagName = tag.toUpperCase();
    this.attrs = new Map();
    this.childNodes = [];
    this.parentNode = null;
    this.listeners = new Map();
    this.style = {};
    this.hidden = false;
    this.title = "";
    this._text = "";
  }
  setAttribute(k, v) { this.attrs.set(k, String(v)); }
  getAttribute(k) { return this.attrs.has(k) ? this.attrs.get(k) : null; }
  removeAttribute(k) { this.attrs.delete(k); }
  hasAttribute(k) { return this.attrs.has(k); }
  toggleAttribute(k, force) { if (force) this.attrs.set(k, ""); else this.attrs.delete(k); return !!force; }
  get classList() {
    const get = () => new Set((this.getAttribute("class") ?? "").split(/\s+/).filter(Boolean));
    return {
      contains: (c) => get().has(c),
      toggle: (c, force) => {
        const set = get();
        const on = force === undefined ? !set.has(c) : force;
        if (on) set.add(c); else set.delete(c);
        this.setAttribute("class", [...set].join(" "));
        return on;
      },
    };
  }
  get children() { return this.childNodes.filter((n) => n instanceof FakeElement); }
  get firstChild() { return this.childNodes[0] ?? null; }
  get textContent() { return this._text + this.childNodes.map((n) => n.textContent).join(""); }
  set textContent(v) { this.replaceChildren(); this._text = String(v); }
  set innerHTML(_) { throw new Error("innerHTML must never be used"); }
  /** An image's decode(): the test settles it with `el.decoded.resolve()` / `.reject()`. */
  decode() {
    return new Promise((resolve, reject) => { this.decoded = { resolve, reject }; });
  }

  append(...nodes) {
    for (const n of nodes) {
      const node = typeof n === "string" ? { textContent: n } : n;
      node.parentNode?.childNodes && node.remove?.();
      node.parentNode = this;
      this.childNodes.push(node);
    }
  }
  replaceChildren(...nodes) {
    for (const n of this.childNodes) n.parentNode = null;
    this.childNodes = [];
    this._text = "";
    this.append(...nodes);
  }
  remove() {
    if (!this.parentNode) return;
    this.parentNode.childNodes = this.parentNode.childNodes.filter((n) => n !== this);
    this.parentNode = null;
  }
  replaceWith(node) {
    const parent = this.parentNode;
    const i = parent.childNodes.indexOf(this);
    parent.childNodes[i] = node;
    node.parentNode = parent;
    this.parentNode = null;
  }
  get isConnected() { return this === this.ownerDocument.body || !!this.parentNode?.isConnected; }
  focus() { this.ownerDocument.activeElement = this; }
  addEventListener(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    this.ownerDocument.added += 1;
  }
  removeEventListener(type, fn) {
    if (this.listeners.get(type)?.delete(fn)) this.ownerDocument.added -= 1;
  }
  dispatchEvent(ev) {
    this.ownerDocument.events.push(ev);
    for (let node = this; node; node = ev.bubbles === false ? null : node.parentNode) {
      for (const fn of [...(node.listeners?.get(ev.type) ?? [])]) fn(ev);
      if (ev.stopped) break;
    }
    return true;
  }
  closest(selector) {
    const [, tag, attr] = /^(\w+)\[([\w-]+)\]$/.exec(selector);
    for (let n = this; n instanceof FakeElement; n = n.parentNode) {
      if (n.tagName === tag.toUpperCase() && n.hasAttribute(attr)) return n;
    }
    return null;
  }
  all(pred, out = []) {
    if (pred(this)) out.push(this);
    for (const c of this.children) c.all(pred, out);
    return out;
  }
  find(cls) { return this.all((n) => n.classList.contains(cls))[0]; }
}

/** A window or document's listeners, counted in the document's `added` like elements' ones.
 * `fire(type, ev)` calls them (a capture flag must match on removal, as in browsers). */
function listenable(obj, doc) {
  const listeners = new Map(); // "type:capture" -> Set of fn
  const key = (type, opts) => `${type}:${opts === true || !!opts?.capture}`;
  obj.addEventListener = (type, fn, opts) => {
    if (!listeners.has(key(type, opts))) listeners.set(key(type, opts), new Set());
    if (!listeners.get(key(type, opts)).has(fn)) doc.added += 1;
    listeners.get(key(type, opts)).add(fn);
  };
  obj.removeEventListener = (type, fn, opts) => { if (listeners.get(key(type, opts))?.delete(fn)) doc.added -= 1; };
  obj.fire = (type, ev = {}) => {
    for (const k of [`${type}:true`, `${type}:false`]) for (const fn of [...(listeners.get(k) ?? [])]) fn({ target: obj, ...ev });
  };
  return obj;
}

class FakeDocument {
  constructor() {
    this.added = 0; this.events = []; this.activeElement = null; this.made = []; this.body = new FakeElement(this, "body");
    this.visibilityState = "visible";
    listenable(this, this);
    // The view's clock reads the window's performance.now(): tests set `doc.defaultView.t`.
    this.defaultView = listenable({ document: this, t: 0 }, this);
    this.defaultView.performance = { now: () => this.defaultView.t };
  }
  hasFocus() { return true; }
  createElement(tag) { const el = new FakeElement(this, tag); this.made.push(el); return el; }
}

class FakeModel {
  constructor(state) { this.state = { ...state }; this.handlers = new Map(); this.sent = []; }
  get(name) { return this.state[name]; }
  set(name, value) { this.state[name] = value; this.emit(`change:${name}`); }
  on(name, fn) { if (!this.handlers.has(name)) this.handlers.set(name, new Set()); this.handlers.get(name).add(fn); }
  off(name, fn) { this.handlers.get(name)?.delete(fn); }
  emit(name, ...args) { for (const fn of [...(this.handlers.get(name) ?? [])]) fn(...args); }
  msg(msg, buffers = []) { this.emit("msg:custom", msg, buffers); }
  send(msg) { this.sent.push(structuredClone(msg)); }
  handlerCount() { return [...this.handlers.values()].reduce((n, s) => n + s.size, 0); }
  intents() { return this.sent.filter((m) => m.type !== "shown" && m.type !== "fetch"); }
}

const SCHEMA = {
  labels: ["ham", "spam"], multi_label: false, keys: { ham: "1", spam: "2" },
  guidelines: { spam: { description: "Unsolicited <b>bulk</b> mail", examples: ["WIN A PRIZE"] } },
};
const PROGRESS = { done: 0, total: 3, per_minute: null, eta_seconds: null };
const XSS = "<img src=x onerror=alert(1)>";

function setup({ schema = SCHEMA, window = ["a", "b", "c"] } = {}) {
  const doc = new FakeDocument();
  const el = doc.createElement("div");
  doc.body.append(el);
  const model = new FakeModel({ schema, window, progress: PROGRESS, error: "", annotator: "ana", idle_after_s: 30 });
  const cleanup = widget.render({ model, el });
  const root = el.children[0];
  const key = (k, extra = {}) => {
    const ev = { type: "keydown", key: k, target: root, defaultPrevented: false, stopped: false, ...extra,
      preventDefault() { ev.defaultPrevented = true; }, stopPropagation() { ev.stopped = true; } };
    root.dispatchEvent(ev);
    return ev;
  };
  const click = (target) => target.dispatchEvent({ type: "click", target, preventDefault() {}, stopPropagation() {} });
  return { doc, el, model, root, cleanup, key, click };
}
const payloads = (...items) => ({ type: "items", items });
const item = (id, extra = {}) => ({ item_id: id, kind: "text", text: `text ${id}`, ...extra });

test("first render asks for the window's payloads and shows a loading state", (t) => {
  const { model, root, cleanup } = setup();
  t.after(cleanup);
  assert.equal(root.getAttribute("class"), "hitl-labeler");
  assert.equal(root.getAttribute("tabindex"), "0");
  assert.equal(root.getAttribute("data-lm-suppress-shortcuts"), "true");
  assert.deepEqual(model.sent, [{ type: "fetch", item_ids: ["a", "b", "c"] }]);
  assert.equal(root.getAttribute("data-item-id"), "a");
  assert.match(root.find("hitl-item").textContent, /Loading/);
  assert.equal(root.ownerDocument.activeElement, root);
});

test("items draw as text, never markup; hitl:drawn fires; shown is sent for a suggestion", (t) => {
  const { doc, model, root, cleanup } = setup();
  t.after(cleanup);
  model.msg(payloads(item("a", { text: XSS, suggestion: { labels: ["spam"], score: 0.93, source: "model" } }), item("b")));
  const text = root.find("hitl-text");
  assert.equal(text.textContent, XSS);
  assert.equal(text.getAttribute("dir"), "auto");
  assert.equal(root.find("hitl-suggestion").textContent, "suggested: spam 0.93");
  const spam = root.all((n) => n.getAttribute("data-label") === "spam")[0];
  assert.ok(spam.classList.contains("is-suggested"));
  assert.deepEqual(model.sent.at(-1), { type: "shown", item_id: "a", suggestion: { labels: ["spam"], score: 0.93, source: "model" } });
  assert.deepEqual(doc.events.filter((e) => e.type === "hitl:drawn").map((e) => e.detail), [{ item_id: "a" }]);
});

test("a payload sent again for the shown item redraws it without a second shown or a timer reset", (t) => {
  const { model, root, cleanup } = setup();
  t.after(cleanup);
  const sug = { labels: ["spam"], score: 0.9, source: "m" };
  model.msg(payloads(item("a", { suggestion: sug })));
  model.msg(payloads(item("a", { text: "fresh", suggestion: sug })));
  assert.equal(root.find("hitl-text").textContent, "fresh");
  assert.equal(model.sent.filter((m) => m.type === "shown").length, 1);
  model.msg(payloads(item("a", { suggestion: { ...sug, score: 0.4 } }))); // the model retrained
  assert.deepEqual(model.sent.filter((m) => m.type === "shown").map((m) => m.suggestion.score), [0.9, 0.4]);
  assert.equal(root.find("hitl-suggestion").textContent, "suggested: spam 0.40");
});

test("a label key submits and draws the next item before the kernel answers", (t) => {
  const { model, root, key, cleanup } = setup();
  t.after(cleanup);
  model.msg(payloads(item("a"), item("b"), item("c")));
  const ev = key("1");
  assert.ok(ev.defaultPrevented && ev.stopped);
  const [submit] = model.intents();
  assert.deepEqual(Object.keys(submit), ["type", "item_id", "labels", "suggestion", "ms_on_item", "client_seq"]);
  assert.equal(submit.type, "submit");
  assert.equal(submit.item_id, "a");
  assert.deepEqual(submit.labels, ["ham"]);
  assert.equal(submit.suggestion, null);
  assert.ok(Number.isInteger(submit.ms_on_item) && submit.ms_on_item >= 0);
  assert.equal(root.getAttribute("data-item-id"), "b");
  assert.equal(root.find("hitl-text").textContent, "text b");
  assert.equal(root.getAttribute("data-unsaved"), "1");
  assert.equal(root.find("hitl-progress").textContent, "1 / 3 done · 1 unsaved");

  model.msg({ type: "ack", client_seq: submit.client_seq, item_id: "a", event_id: 1 });
  assert.equal(root.getAttribute("data-unsaved"), "0");
  assert.equal(root.find("hitl-progress").textContent, "1 / 3 done"); // acked, progress not yet updated
  const ack = root.ownerDocument.events.find((e) => e.type === "hitl:ack");
  assert.deepEqual(ack.detail, { item_id: "a", client_seq: submit.client_seq });
  model.set("progress", { ...PROGRESS, done: 1 });
  model.set("window", ["b", "c"]);
  assert.equal(root.find("hitl-progress").textContent, "1 / 3 done");
  assert.equal(root.getAttribute("data-item-id"), "b");
});

test("unused keys are not swallowed", (t) => {
  const { model, key, cleanup } = setup();
  t.after(cleanup);
  model.msg(payloads(item("a")));
  const ev = key("x");
  assert.equal(ev.defaultPrevented || ev.stopped, false);
  assert.equal(key("Escape").stopped, false);
  assert.equal(key("1", { target: { tagName: "INPUT" } }).stopped, false);
  assert.deepEqual(model.intents(), []);
});

test("Enter accepts the suggestion with its score; skip and undo send their envelopes", (t) => {
  const { model, root, key, cleanup } = setup();
  t.after(cleanup);
  model.msg(payloads(item("a", { suggestion: { labels: ["spam"], score: 0.5, source: "model", version: "m2" } }), item("b"), item("c")));
  assert.equal(root.find("hitl-suggestion").title, "from model m2");
  key("Enter");
  key("s");
  assert.equal(root.getAttribute("data-item-id"), "c");
  key("Backspace");
  assert.equal(root.getAttribute("data-item-id"), "b");
  key("z", { ctrlKey: true });
  assert.equal(root.getAttribute("data-item-id"), "a");
  key("Backspace"); // no history left
  const [accept, skip, undo1, undo2, undo3] = model.intents();
  assert.deepEqual({ ...accept, ms_on_item: 0 }, { type: "submit", item_id: "a", labels: ["spam"], suggestion: { labels: ["spam"], score: 0.5, version: "m2" }, ms_on_item: 0, client_seq: accept.client_seq });
  assert.deepEqual(Object.keys(skip), ["type", "item_id", "ms_on_item", "client_seq"]);
  assert.equal(skip.item_id, "b");
  assert.deepEqual(undo1, { type: "undo", item_id: "b", client_seq: accept.client_seq + 2 });
  assert.deepEqual(undo2, { type: "undo", item_id: "a", client_seq: accept.client_seq + 3 });
  assert.deepEqual(undo3, { type: "undo", item_id: null, client_seq: accept.client_seq + 4 });
  assert.equal(root.getAttribute("data-unsaved"), "5");
});

test("Enter with no suggestion sends nothing and says why", (t) => {
  const { model, root, key, cleanup } = setup();
  t.after(cleanup);
  model.msg(payloads(item("a")));
  key("Enter");
  assert.deepEqual(model.intents(), []);
  assert.match(root.find("hitl-hint").textContent, /No suggestion/);
});

test("reject shows the error and brings the item back", (t) => {
  const { model, root, key, cleanup } = setup();
  t.after(cleanup);
  model.msg(payloads(item("a"), item("b")));
  key("2");
  const [submit] = model.intents();
  model.msg({ type: "reject", client_seq: submit.client_seq, item_id: "a", error: "Unknown label 'spma'" });
  model.set("error", "Unknown label 'spma'"); // the kernel sets its trait too: shown once
  assert.equal(root.getAttribute("data-item-id"), "a");
  assert.equal(root.getAttribute("data-unsaved"), "0");
  const banner = root.find("hitl-error");
  assert.equal(banner.hidden, false);
  assert.equal(banner.find("hitl-error-text").textContent, "Unknown label 'spma'");
  key("1");
  const [, again] = model.intents();
  model.msg({ type: "ack", client_seq: again.client_seq, item_id: "a" });
  model.set("error", "");
  assert.equal(banner.hidden, true);
});

test("a reject of a malformed shown message does not bring back an item whose submit is pending", (t) => {
  const { model, root, key, cleanup } = setup();
  t.after(cleanup);
  model.msg(payloads(item("a", { suggestion: { labels: ["spam"], score: 0.9, source: "model" } }), item("b")));
  key("2");
  const [submit] = model.intents();
  assert.equal(root.getAttribute("data-unsaved"), "1");
  // The kernel answers the "shown" (sent before the submit) first; it carries no client_seq.
  model.msg({ type: "reject", intent: "shown", field: "suggestion.score", client_seq: null, item_id: "a",
    error: "Malformed message: 'suggestion.score' must be null or a finite number; got 'x' (str)." });
  assert.equal(root.getAttribute("data-item-id"), "b");
  assert.equal(root.getAttribute("data-unsaved"), "1");
  assert.match(root.find("hitl-error-text").textContent, /suggestion\.score/);
  model.msg({ type: "ack", client_seq: submit.client_seq, item_id: "a", event_id: 1 });
  assert.equal(root.getAttribute("data-unsaved"), "0");
  assert.equal(root.getAttribute("data-item-id"), "b");
});

test("a reject naming a malformed field of a submit clears its unsaved count", (t) => {
  const { model, root, key, cleanup } = setup();
  t.after(cleanup);
  model.msg(payloads(item("a"), item("b")));
  key("s");
  key("1");
  const [skip, submit] = model.intents();
  assert.equal(root.getAttribute("data-unsaved"), "2");
  model.msg({ type: "reject", intent: "skip", field: "ms_on_item", client_seq: skip.client_seq, item_id: "a",
    error: "Malformed message: 'ms_on_item' must be null or a number of milliseconds" });
  model.msg({ type: "reject", intent: "submit", field: "labels", client_seq: submit.client_seq, item_id: "b",
    error: "Malformed message: 'labels' must be a non-empty list of non-empty strings" });
  assert.equal(root.getAttribute("data-unsaved"), "0");
  assert.equal(root.getAttribute("data-item-id"), "a");
});

test("the error trait shows in the banner and can be dismissed", (t) => {
  const { model, root, click, cleanup } = setup();
  t.after(cleanup);
  const banner = root.find("hitl-error");
  assert.equal(banner.hidden, true);
  model.set("error", "store is locked");
  assert.equal(banner.hidden, false);
  assert.match(banner.textContent, /store is locked/);
  click(root.find("hitl-error-close"));
  assert.equal(banner.hidden, true);
  model.set("error", "disk full");
  assert.equal(banner.hidden, false);
});

test("clicking a label button submits it and focuses the root", (t) => {
  const { doc, model, root, click, cleanup } = setup();
  t.after(cleanup);
  model.msg(payloads(item("a"), item("b")));
  doc.activeElement = null;
  const ham = root.all((n) => n.getAttribute("data-label") === "ham")[0];
  click(ham.children[0]); // the label text inside the button
  assert.deepEqual(model.intents().map((m) => m.labels), [["ham"]]);
  assert.equal(doc.activeElement, root);
});

test("? toggles the key map; Escape closes it", (t) => {
  const { model, root, key, cleanup } = setup();
  t.after(cleanup);
  model.msg(payloads(item("a")));
  const help = root.find("hitl-help");
  assert.equal(help.hidden, true);
  key("?");
  assert.equal(help.hidden, false);
  assert.match(help.textContent, /label 'ham'/);
  assert.equal(key("Escape").stopped, true);
  assert.equal(help.hidden, true);
});

test("guidelines and record fields are text", (t) => {
  const { model, root, cleanup } = setup();
  t.after(cleanup);
  model.msg(payloads({ item_id: "a", kind: "record", fields: { subject: XSS, size: 3, meta: { x: 1 }, none: null } }));
  const g = root.find("hitl-guidelines");
  assert.equal(g.hidden, false);
  assert.match(g.textContent, /Unsolicited <b>bulk<\/b> mail/);
  assert.match(g.textContent, /WIN A PRIZE/);
  const cells = root.find("hitl-fields").all((n) => n.tagName === "TD").map((n) => n.textContent);
  assert.deepEqual(cells, [XSS, "3", '{"x":1}', "—"]);
  assert.equal(root.find("hitl-empty"), undefined);
});

test("empty text, truncation and the done state", (t) => {
  const { model, root, key, cleanup } = setup({ window: ["a", "b"] });
  t.after(cleanup);
  model.msg(payloads(item("a", { text: "" }), item("b", { text: "x".repeat(10), truncated: { shown: 10, total: 5000 } })));
  assert.equal(root.find("hitl-empty").textContent, "(empty text)");
  key("1");
  assert.equal(root.find("hitl-truncated").textContent, "truncated: showing 10 of 5000 characters");
  key("1");
  assert.equal(root.getAttribute("data-item-id"), "");
  assert.match(root.find("hitl-done").textContent, /Saving/);
  for (const m of model.intents()) model.msg({ type: "ack", client_seq: m.client_seq, item_id: m.item_id });
  model.set("window", []);
  assert.match(root.find("hitl-done").textContent, /All items labeled/);
});

test("multi-label: the selection starts from the suggestion, keys toggle, Enter submits", (t) => {
  const schema = { labels: ["red", "green", "blue"], multi_label: true, keys: { red: "1", green: "2", blue: "3" } };
  const { model, root, key, cleanup } = setup({ schema, window: ["a", "b"] });
  t.after(cleanup);
  model.msg(payloads(item("a", { suggestion: { labels: ["blue", "red"], score: 0.7, source: "m" } }), item("b")));
  const pressed = () => root.find("hitl-labels").children.filter((b) => b.getAttribute("aria-pressed") === "true").map((b) => b.getAttribute("data-label"));
  assert.deepEqual(pressed(), ["red", "blue"]);
  key("1");
  key("2");
  assert.deepEqual(pressed(), ["green", "blue"]);
  assert.deepEqual(model.intents(), []);
  key("Enter");
  assert.deepEqual(model.intents()[0].labels, ["green", "blue"]);
  assert.equal(root.getAttribute("data-item-id"), "b");
  assert.deepEqual(pressed(), []);
  key("3");
  key("Escape");
  assert.deepEqual(pressed(), []);
  key("Enter");
  assert.equal(model.intents().length, 1);
  assert.match(root.find("hitl-hint").textContent, /at least one/);
});

test("images become object URLs, decoded before their key, revoked on eviction and cleanup", async (t) => {
  const created = [], revoked = [];
  t.mock.method(URL, "createObjectURL", (blob) => { created.push(blob); return `blob:${created.length}`; });
  t.mock.method(URL, "revokeObjectURL", (url) => revoked.push(url));
  const { doc, model, root, key, cleanup } = setup({ window: ["a", "b", "c"] });
  const png = new DataView(new Uint8Array([137, 80, 78, 71]).buffer);
  model.msg(payloads(
    { item_id: "a", kind: "image", image_buffer: 0, mime: "image/png" },
    { item_id: "b", kind: "image", image_error: "file not found: b.png" },
    { item_id: "c", kind: "image", image_buffer: 1, mime: "image/png" },
  ), [png, png]);
  const img = root.find("hitl-img");
  assert.equal(img.src, "blob:1");
  assert.equal(created[0].type, "image/png");
  img.naturalWidth = 8; img.naturalHeight = 8;
  img.decoded.resolve();
  await Promise.resolve();
  assert.equal(img.style.width, "192px");
  assert.equal(img.classList.contains("is-smooth"), false);
  key("1");
  assert.match(root.find("hitl-image-placeholder").textContent, /file not found: b.png/);
  const img2 = doc.made.find((e) => e.getAttribute("alt") === "item c"); // decoding before its key
  img2.decoded.reject(new Error("EncodingError"));
  await Promise.resolve();
  key("1");
  assert.match(root.find("hitl-image-placeholder").textContent, /could not decode/);
  for (const m of model.intents()) model.msg({ type: "ack", client_seq: m.client_seq, item_id: m.item_id });
  model.set("window", ["d"]); // "c" left the window; "a" is still undoable, so its URL stays
  assert.deepEqual(revoked, ["blob:2"]);
  cleanup();
  assert.deepEqual(revoked.sort(), ["blob:1", "blob:2"]);
});

test("cleanup removes every listener and model handler and the root", () => {
  const { doc, el, model, key, cleanup } = setup();
  model.msg(payloads({ item_id: "a", kind: "image", image_buffer: 0, mime: "image/png" }), [new DataView(new ArrayBuffer(4))]);
  key("?");
  assert.ok(doc.added > 0);
  assert.ok(model.handlerCount() > 0);
  cleanup();
  assert.equal(doc.added, 0);
  assert.equal(model.handlerCount(), 0);
  assert.equal(el.children.length, 0);
});

test("client_seq increases by one per intent and differs between views", (t) => {
  const v1 = setup(), v2 = setup();
  t.after(() => { v1.cleanup(); v2.cleanup(); });
  for (const v of [v1, v2]) { v.model.msg(payloads(item("a"), item("b"), item("c"))); v.key("1"); v.key("s"); }
  const [a, b] = v1.model.intents();
  assert.equal(b.client_seq, a.client_seq + 1);
  assert.notEqual(v2.model.intents()[0].client_seq, a.client_seq);
});

test("an image that fails to decode while shown turns into a placeholder with the reason", async () => {
  const { model, root, cleanup } = setup({ window: ["a"] });
  model.msg(payloads({ item_id: "a", kind: "image", image_buffer: 0, mime: "image/png" }),
    [new DataView(new ArrayBuffer(4))]);
  const img = root.find("hitl-img");
  assert.ok(img, "the image is drawn while it decodes");
  img.decoded.reject(new Error("EncodingError"));
  await Promise.resolve();
  assert.equal(root.find("hitl-img"), undefined);
  assert.match(root.find("hitl-image-placeholder").textContent, /could not decode it \(image\/png\)/);
  cleanup();
});

test("ms_on_item is active time: hidden, unfocused and idle spans add nothing", (t) => {
  const { doc, model, key, cleanup } = setup();
  t.after(cleanup);
  const win = doc.defaultView;
  model.set("idle_after_s", 5);
  model.msg(payloads(item("a"), item("b"), item("c"))); // "a" drawn at t = 0
  win.t = 2000; win.fire("pointermove");
  win.t = 3000; doc.visibilityState = "hidden"; doc.fire("visibilitychange");
  win.t = 13000; doc.visibilityState = "visible"; doc.fire("visibilitychange");
  win.t = 14000; win.fire("keydown"); key("1"); // 3 s before hiding + 1 s after showing
  win.t = 24000; win.fire("keydown"); key("2"); // "b": 10 s without input, threshold 5 s
  win.t = 26000; win.fire("blur");
  win.t = 40000; win.fire("focus");
  win.t = 41000; win.fire("keydown"); key("s"); // "c": 2 s before the blur, 1 s after the focus
  assert.deepEqual(model.intents().map((m) => [m.item_id, m.ms_on_item]), [["a", 4000], ["b", 0], ["c", 3000]]);
});
