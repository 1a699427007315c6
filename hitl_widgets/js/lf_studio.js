// @ts-check
/**
 * Browser half of the LFStudio widget (hitl_widgets/lf_studio.py). Traits hold the table, the
 * selected LF's page of examples, the deltas of the last edits and the label-model comparison;
 * clicks travel as intents ({type: "page" | "compare", ...}). Sorting happens here, client side.
 * anywidget loads this file from a Blob URL: no imports, no top-level DOM. Pure helpers are named
 * exports so `node --test tests/js/` can check them without a browser.
 */

/** @typedef {{count: number, error: string, rows: string[]}} LFErrorInfo */
/** @typedef {{name: string, j: number, polarity: number[], coverage: number, overlaps: number,
 *   conflicts: number, correct: number, incorrect: number, emp_acc: number, emp_acc_n: number,
 *   emp_acc_low: number | null, emp_acc_high: number | null, error: LFErrorInfo | null}} Row */
/** @typedef {{coverage: number, accuracy: number | null, n: number}} Stats */
/** @typedef {{before: Stats, after: Stats, n_changed: number, gained: number, lost: number,
 *   relabeled: number}} Change */
/** @typedef {{item_id: string, text: string, truncated: boolean, vote: string | null,
 *   changed?: boolean, before: string | null, others: Array<{lf: string, vote: string}>, human: string | null}} Example */
/** @typedef {{request_id?: number | null, lf?: string, kind?: string, offset?: number, size?: number,
 *   total?: number, counts?: Record<string, number>, items?: Example[]}} Page */
/** @typedef {{key: string, descending: boolean}} SortState */

/** Columns of the table: the row key each sorts on, and its header. */
export const COLUMNS = Object.freeze([
  { key: "name", title: "LF" },
  { key: "polarity", title: "Polarity" },
  { key: "coverage", title: "Coverage" },
  { key: "overlaps", title: "Overlaps" },
  { key: "conflicts", title: "Conflicts" },
  { key: "emp_acc", title: "Emp. Acc. (n, 95 % CI)" },
]);

/** The pages of one LF, with their tab titles. */
export const KINDS = Object.freeze([
  { kind: "labels", title: "labels" },
  { kind: "conflicts", title: "conflicts" },
  { kind: "disagrees", title: "disagrees with humans" },
  { kind: "changed", title: "changed by last edit" },
]);

/** The value a row sorts on: accuracy without evidence sorts as missing.
 * @param {Row} row @param {string} key @returns {number | string | null} */
export function sortValue(row, key) {
  if (key === "emp_acc") return row.emp_acc_n > 0 ? row.emp_acc : null;
  if (key === "polarity") return (row.polarity ?? []).join(",");
  const value = /** @type {any} */ (row)[key];
  return typeof value === "number" && !Number.isFinite(value) ? null : value ?? null;
}

/** A sorted copy of `rows`; missing values last in either direction, ties kept in table order.
 * @param {Row[]} rows @param {SortState | null} sort @returns {Row[]} */
export function sortRows(rows, sort) {
  const copy = [...(rows ?? [])];
  if (!sort) return copy;
  const sign = sort.descending ? -1 : 1;
  return copy
    .map((row, k) => ({ row, k, v: sortValue(row, sort.key) }))
    .sort((a, b) => {
      if (a.v === null || b.v === null) return a.v === b.v ? a.k - b.k : a.v === null ? 1 : -1;
      const cmp = typeof a.v === "number" && typeof b.v === "number" ? a.v - b.v
        : String(a.v).localeCompare(String(b.v));
      return cmp === 0 ? a.k - b.k : sign * cmp;
    })
    .map((x) => x.row);
}

/** The next sort after clicking header `key`: ascending, then descending, then table order.
 * @param {SortState | null} sort @param {string} key @returns {SortState | null} */
export function nextSort(sort, key) {
  if (!sort || sort.key !== key) return { key, descending: false };
  return sort.descending ? null : { key, descending: true };
}

/** "12.3 %", "—" when missing. @param {number | null | undefined} p @param {number} [digits] */
export function formatPercent(p, digits = 1) {
  if (typeof p !== "number" || !Number.isFinite(p)) return "—";
  return `${(p * 100).toFixed(digits)} %`;
}

/** "49–94 %", "" when the interval is unknown.
 * @param {number | null | undefined} low @param {number | null | undefined} high */
export function formatInterval(low, high) {
  if (typeof low !== "number" || typeof high !== "number" || !Number.isFinite(low)
    || !Number.isFinite(high)) return "";
  return `${Math.round(low * 100)}–${Math.round(high * 100)} %`;
}

/** "80.0 % (n 10, 49–94 %)"; "no human labels" when it rests on none. @param {Row} row */
export function formatAccuracy(row) {
  if (!row || !(row.emp_acc_n > 0)) return "no human labels";
  return `${formatPercent(row.emp_acc)} (n ${row.emp_acc_n}, ${formatInterval(row.emp_acc_low, row.emp_acc_high)})`;
}

/** Label names of a polarity. @param {number[]} polarity @param {string[]} labels */
export function formatPolarity(polarity, labels) {
  if (!polarity || polarity.length === 0) return "—";
  return polarity.map((k) => labels?.[k] ?? String(k)).join(", ");
}

/** "accuracy 80.0 % (n 5)" or "accuracy — (no human labels)". @param {Stats} s */
function accuracyText(s) {
  return s.n > 0 ? `${formatPercent(s.accuracy)} (n ${s.n})` : "— (n 0)";
}

/** What an edit changed, in one line.
 * @param {string} name @param {Change | null | undefined} c @returns {string} */
export function deltaText(name, c) {
  if (!c) return "";
  const head = `${name}: coverage ${formatPercent(c.before.coverage)} → ${formatPercent(c.after.coverage)}, `
    + `accuracy ${accuracyText(c.before)} → ${accuracyText(c.after)}`;
  if (c.n_changed === 0) return `${head}; no vote changed`;
  const parts = [];
  if (c.gained) parts.push(`${c.gained} newly labeled`);
  if (c.lost) parts.push(`${c.lost} no longer labeled`);
  if (c.relabeled) parts.push(`${c.relabeled} relabeled`);
  const votes = c.n_changed === 1 ? "1 vote changed" : `${c.n_changed} votes changed`;
  return `${head}; ${votes} (${parts.join(", ")})`;
}

/** "11–20 of 57", "none" when empty. @param {Page} page */
export function pageRangeText(page) {
  const total = page?.total ?? 0;
  if (!total) return "none";
  const from = (page.offset ?? 0) + 1;
  return `${from}–${Math.min(total, from - 1 + (page.items?.length ?? 0))} of ${total}`;
}

const TIMEOUT_MS = 15_000; // a page the kernel has not answered by then is reported, not awaited

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
  /** @type {Array<() => void>} */ const disposers = [];
  /** @type {(name: string, fn: (...args: any[]) => void) => void} */
  const on = (name, fn) => { model.on(name, fn); disposers.push(() => model.off(name, fn)); };
  /** @type {SortState | null} */ let sort = null;
  let requestId = Math.floor(Math.random() * 1e6) * 1e6; // this view's own request numbers
  /** @type {number | null} */ let pending = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ let timer;
  let localError = "";

  const root = h("div", { class: "hitl-lfstudio" });
  const header = h("div", { class: "hitl-lf-header" });
  const errorBox = h("div", { class: "hitl-lf-error", role: "alert" });
  const table = h("table", { class: "hitl-lf-table" });
  const changesBox = h("div", { class: "hitl-lf-changes", "aria-live": "polite" });
  const detail = h("div", { class: "hitl-lf-detail" });
  const compareBox = h("div", { class: "hitl-lf-compare" });
  root.append(header, errorBox, table, changesBox, detail, compareBox);
  el.append(root);

  /** Click, Enter or Space runs `fn` (headers and rows are focusable, for the keyboard).
   * The listeners go with the element when the table is redrawn.
   * @param {HTMLElement} node @param {() => void} fn */
  const onActivate = (node, fn) => {
    node.addEventListener("click", fn);
    node.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); fn(); }
    });
  };
  /** @param {Record<string, unknown>} msg */
  const send = (msg) => {
    try { model.send(msg); } catch (err) { localError = `Could not reach the kernel: ${err}`; drawError(); }
  };

  /** @param {string} lf @param {string} kind @param {number} offset */
  const requestPage = (lf, kind, offset) => {
    pending = ++requestId;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (pending === null) return;
      pending = null;
      localError = "The kernel did not answer in time; is it busy or stopped?";
      drawError();
      drawDetail();
    }, TIMEOUT_MS);
    send({ type: "page", lf, kind, offset, request_id: pending });
    drawDetail();
  };

  const drawHeader = () => {
    const updating = Boolean(model.get("updating"));
    // the kernel works in a worker thread: say so until the result lands
    const busy = model.get("busy") || (updating ? "Updating…" : "");
    const button = h("button", { class: "hitl-lf-compare-button", type: "button" },
      "Compare label model vs majority vote");
    if (busy) button.setAttribute("disabled", "");
    button.addEventListener("click", () => {
      root.dataset.busy = "1";
      send({ type: "compare" });
    });
    const info = h("span", { class: "hitl-lf-info" },
      `${model.get("n_items")} items · ${model.get("n_human")} with a human label`);
    header.replaceChildren(info, button, h("span", { class: "hitl-lf-busy" }, busy));
    root.dataset.busy = busy ? "1" : "0";
    root.classList.toggle("hitl-lf-updating", updating);
  };

  const drawError = () => {
    const text = model.get("error") || localError;
    errorBox.textContent = text;
    errorBox.hidden = !text;
  };

  const drawTable = () => {
    const labels = model.get("labels") ?? [];
    const changes = model.get("changes") ?? {};
    const selected = model.get("selected") ?? "";
    const head = h("tr", {}, ...COLUMNS.map((c) => {
      const mark = sort?.key === c.key ? (sort.descending ? " ▼" : " ▲") : "";
      const th = h("th", { "data-key": c.key, role: "button", tabindex: "0" }, c.title + mark);
      onActivate(th, () => { sort = nextSort(sort, c.key); drawTable(); });
      return th;
    }), h("th", {}, "Last edit"));
    const body = sortRows(model.get("rows") ?? [], sort).map((row) => {
      const name = h("td", { class: "hitl-lf-name" }, row.name);
      if (row.error) {
        name.append(h("div", { class: "hitl-lf-row-error" },
          `raised on ${row.error.count} row${row.error.count === 1 ? "" : "s"} `
          + `(${row.error.rows.join(", ")}${row.error.count > row.error.rows.length ? ", …" : ""}): `
          + row.error.error));
      }
      const change = changes[row.name];
      const tr = h("tr", { "data-lf": row.name, class: row.name === selected ? "selected" : "",
        tabindex: "0" },
        name,
        h("td", { class: "hitl-lf-polarity" }, formatPolarity(row.polarity, labels)),
        h("td", { class: "hitl-lf-coverage" }, formatPercent(row.coverage)),
        h("td", { class: "hitl-lf-overlaps" }, formatPercent(row.overlaps)),
        h("td", { class: "hitl-lf-conflicts" }, formatPercent(row.conflicts)),
        h("td", { class: "hitl-lf-accuracy" }, formatAccuracy(row)),
        h("td", { class: "hitl-lf-delta" }, change ? `${change.n_changed} changed` : ""));
      onActivate(tr, () => requestPage(row.name, "labels", 0));
      return tr;
    });
    table.replaceChildren(h("thead", {}, head), h("tbody", {}, ...body));
  };

  const drawChanges = () => {
    const changes = model.get("changes") ?? {};
    const names = (model.get("last_update") ?? []).filter((/** @type {string} */ n) => n in changes);
    changesBox.replaceChildren(...names.map((/** @type {string} */ name) => {
      const line = h("div", { class: "hitl-lf-change", "data-lf": name },
        h("span", {}, `Changed since the previous version of ${deltaText(name, changes[name])}`));
      if (changes[name].n_changed > 0) {
        const show = h("button", { type: "button" }, "show changed items");
        show.addEventListener("click", () => requestPage(name, "changed", 0));
        line.append(" ", show);
      }
      return line;
    }));
  };

  const drawDetail = () => {
    /** @type {Page} */ const page = model.get("page") ?? {};
    if (!page.lf) { detail.replaceChildren(); return; }
    const tabs = h("div", { class: "hitl-lf-tabs" }, ...KINDS.map(({ kind, title }) => {
      const count = page.counts?.[kind] ?? 0;
      const b = h("button", { type: "button", "data-kind": kind,
        class: kind === page.kind ? "active" : "" }, `${title} (${count})`);
      b.addEventListener("click", () => requestPage(/** @type {string} */ (page.lf), kind, 0));
      return b;
    }));
    const prev = h("button", { type: "button", class: "hitl-lf-prev" }, "‹ previous");
    const next = h("button", { type: "button", class: "hitl-lf-next" }, "next ›");
    const offset = page.offset ?? 0, size = page.size ?? 10, total = page.total ?? 0;
    if (offset <= 0) prev.setAttribute("disabled", "");
    if (offset + size >= total) next.setAttribute("disabled", "");
    prev.addEventListener("click", () => requestPage(/** @type {string} */ (page.lf), page.kind ?? "labels", offset - size));
    next.addEventListener("click", () => requestPage(/** @type {string} */ (page.lf), page.kind ?? "labels", offset + size));
    const pager = h("div", { class: "hitl-lf-pager" }, prev,
      h("span", { class: "hitl-lf-range" }, pendingText() || pageRangeText(page)), next);
    const items = (page.items ?? []).map((item) => {
      const votes = [`vote: ${item.vote ?? "abstain"}`];
      if (item.changed) votes.push(`before: ${item.before ?? "abstain"}`);
      votes.push(`human: ${item.human ?? "—"}`);
      const others = item.others.length ? item.others.map((o) => `${o.lf}=${o.vote}`).join(", ") : "none";
      return h("li", { class: "hitl-lf-example", "data-item-id": item.item_id },
        h("div", { class: "hitl-lf-text" }, item.text + (item.truncated ? " …" : "")),
        h("div", { class: "hitl-lf-votes" },
          `${item.item_id} · ${votes.join(" · ")} · other LFs: ${others}`));
    });
    detail.replaceChildren(h("div", { class: "hitl-lf-title" }, `${page.lf}`), tabs, pager,
      h("ol", { class: "hitl-lf-examples", start: String(offset + 1) }, ...items));
    detail.dataset.kind = page.kind ?? "";
    detail.dataset.lf = page.lf;
  };
  const pendingText = () => (pending !== null ? "loading…" : "");

  const drawComparison = () => {
    /** @type {Array<Record<string, any>>} */ const rows = model.get("comparison") ?? [];
    if (!rows.length) { compareBox.replaceChildren(); return; }
    const head = h("tr", {}, ...["model", "accuracy (n, 95 % CI)", "coverage", "accuracy where decided"]
      .map((t) => h("th", {}, t)));
    const body = rows.map((r) => h("tr", { "data-model": r.model }, h("td", {}, r.model),
      h("td", {}, `${formatPercent(r.accuracy)} (n ${r.n}, ${formatInterval(r["accuracy low"], r["accuracy high"])})`),
      h("td", {}, formatPercent(r.coverage)), h("td", {}, formatPercent(r.accuracy_covered))));
    compareBox.replaceChildren(h("div", { class: "hitl-lf-title" }, "On the human-labeled items"),
      h("table", { class: "hitl-lf-table" }, h("thead", {}, head), h("tbody", {}, ...body)));
  };

  on("change:rows", () => { drawTable(); });
  on("change:changes", () => { drawTable(); drawChanges(); });
  on("change:last_update", drawChanges);
  on("change:selected", drawTable);
  on("change:labels", drawTable);
  on("change:error", () => { localError = ""; drawError(); });
  on("change:busy", drawHeader);
  on("change:updating", drawHeader);
  on("change:n_items", drawHeader);
  on("change:n_human", drawHeader);
  on("change:comparison", drawComparison);
  on("change:page", () => {
    const page = model.get("page") ?? {};
    // Another view's request, or a refresh of ours: draw it; a stale answer to ours is dropped.
    if (pending !== null && page.request_id !== pending && page.request_id != null
      && page.request_id > pending - 1e6 && page.request_id < pending) return;
    pending = null;
    clearTimeout(timer);
    drawDetail();
  });

  drawHeader(); drawError(); drawTable(); drawChanges(); drawDetail(); drawComparison();
  return () => {
    clearTimeout(timer);
    for (const dispose of disposers) dispose();
    root.remove();
  };
}

export default { render };
