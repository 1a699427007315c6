"""Span agreement: pairwise F1 of annotators' spans, exact and partial, per label and pair.

Each label is its own layer: a span is compared only with the other annotator's spans of the
same label on the same item, so overlapping spans of different labels never compete (ten
annotators who all mark the same overlapping layers score exactly 1.0, the case Label Studio
#8950 gets wrong with IoU). Within a layer spans are paired one to one:

- ``match="exact"``: same offsets. A span repeated exactly by one annotator counts once.
- ``match="partial"``: the exact pairs first, then, among the spans left, as many pairs of
  overlapping spans (sharing at least one character) as possible: a maximum matching, found by
  taking spans in order of their end and pairing each with the overlapping span that ends first.
  A pair that only overlaps counts as a full match here; the ``partial`` column says how many
  there were, so a half-credit score is ``(tp - partial / 2)``-based, as nervaluate's
  ``partial`` scheme reports.

For annotators ``a < b`` (sorted names) on the items both submitted, ``tp`` is the number of
pairs, ``fn`` the spans of ``a`` left unpaired and ``fp`` those of ``b``: ``a`` plays the
reference, so precision and recall swap with the roles, and F1 = 2tp / (2tp + fp + fn) does
not depend on them. Undefined ratios (no span on either side) are NaN.

With references (non-overlapping spans): exact F1 per label and micro equals seqeval's
``strict`` IOB2 scores. nervaluate's counts, on spans where no span overlaps two of the other
side (its matching is greedy in list order elsewhere), per label: ``strict`` and ``exact``
correct = tp(exact), incorrect = partial, spurious = fp(exact) - partial, missed = fn(exact) -
partial; ``partial`` correct = tp(partial) - partial, partial = partial, spurious = fp(partial),
missed = fn(partial); ``ent_type`` correct = tp(partial), spurious = fp(partial), missed =
fn(partial). nervaluate's label-blind schemes (``exact``, ``partial``) overall are the same with
every label replaced by one; its ``strict`` and ``ent_type`` overall precision, recall and F1
equal our micro exact and micro partial ones.

Example
-------
>>> import pandas as pd
>>> spans = pd.DataFrame({"item_id": ["d1"] * 4, "annotator": ["x", "x", "y", "y"],
...                       "start": [0, 10, 0, 11], "end": [5, 15, 5, 15],
...                       "label": ["PER", "ORG", "PER", "ORG"]})
>>> result = span_f1(spans, n_boot=0)
>>> result.pairs[["label", "match", "tp", "f1"]].values.tolist()
[['ORG', 'exact', 0, 0.0], ['ORG', 'partial', 1, 1.0], ['PER', 'exact', 1, 1.0], ['PER', 'partial', 1, 1.0]]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._span_input import CodedSpans, code_spans

MATCHES = ("exact", "partial")
_BOOT_CHUNK = 1 << 22  # cells of a resamples x items weight block: bounds memory


@dataclass(frozen=True)
class SpanAgreement:
    """What :func:`span_f1` returns: three tidy tables.

    - ``pairs``: one row per annotator pair, label and match (``annotator_a``, ``annotator_b``,
      ``label``, ``match``, ``n_items``, ``tp``, ``fp``, ``fn``, ``partial``, ``precision``,
      ``recall``, ``f1``). ``.groupby(["annotator_a", "annotator_b", "match"])`` and summing
      ``tp, fp, fn`` gives each pair's F1 over labels.
    - ``labels``: per label and match, every pair pooled: ``tp``, ``fp``, ``fn``, ``f1`` and its
      bootstrap interval ``low``, ``high``.
    - ``summary``: per match, the ``micro`` F1 (all labels' counts pooled) and the ``macro`` F1
      (mean of the labels' F1, labels no one used left out), with ``low``, ``high``.
    """

    pairs: pd.DataFrame
    labels: pd.DataFrame
    summary: pd.DataFrame
    n_items: int
    n_boot: int
    confidence: float


def _within(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``i < j`` of every two rows of one group (``groups`` sorted)."""
    n = groups.size
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sizes = np.diff(np.r_[starts, n])
    later = np.repeat(starts + sizes, sizes) - np.arange(n) - 1  # rows after me in my group
    i = np.repeat(np.arange(n), later)
    return i, i + 1 + np.arange(i.size) - np.repeat(np.cumsum(later) - later, later)


def _greedy(x: np.ndarray, y: np.ndarray, end_x: np.ndarray, end_y: np.ndarray) -> int:
    """Maximum matching of one layer's overlap edges ``x[k] - y[k]`` (intervals).

    Spans are taken in order of their end; each is paired with the overlapping free span that
    ends first. For intervals this is a maximum matching: every free neighbour of the span that
    ends first contains its end, so the neighbour ending first is the one the others can spare.
    """
    ends = {("x", s): e for s, e in zip(x.tolist(), end_x.tolist(), strict=True)}
    ends.update({("y", s): e for s, e in zip(y.tolist(), end_y.tolist(), strict=True)})
    adj: dict[tuple, list] = {}
    for sx, sy in zip(x.tolist(), y.tolist(), strict=True):
        adj.setdefault(("x", sx), []).append(("y", sy))
        adj.setdefault(("y", sy), []).append(("x", sx))
    matched: set = set()
    for node in sorted(ends, key=lambda n: (ends[n], n)):
        if node in matched:
            continue
        free = [m for m in adj[node] if m not in matched]
        if free:
            matched.update((node, min(free, key=lambda m: (ends[m], m))))
    return len(matched) // 2


@dataclass(frozen=True)
class _Counts:
    """Pair counts as flat arrays. ``pair`` keys are ``a * W + b``; ``cell`` keys ``* L + label``."""

    n_items: np.ndarray  # per pair key: items both submitted
    n_a: np.ndarray  # per pair cell: spans of a (b) on the items both submitted
    n_b: np.ndarray
    exact: np.ndarray  # per pair cell: pairs with the same offsets
    partial: np.ndarray  # per pair cell: pairs that only overlap
    population: np.ndarray  # item codes with at least one pair
    item_cells: np.ndarray  # per population item x label: exact, exact + partial, n_a + n_b


def _count(c: CodedSpans) -> _Counts:
    f = c.frame
    n_i, n_w, n_l = len(c.items), max(len(c.annotators), 1), max(len(c.labels), 1)
    item, who, lab = (f[k].to_numpy().astype(np.int64) for k in ("item", "who", "lab"))
    start, end = f["start"].to_numpy(), f["end"].to_numpy()
    # Submissions, sorted by item then annotator: every two on one item are a pair (a < b).
    i, j = _within(c.sub_item)
    pair_item, pair_key = c.sub_item[i], c.sub_who[i] * n_w + c.sub_who[j]
    n_items = np.bincount(pair_key, minlength=n_w * n_w)
    population = np.unique(pair_item)
    # Spans of each annotator, once per partner who submitted the item.
    m = np.bincount(c.sub_item, minlength=n_i)
    first_sub = np.cumsum(m) - m
    reps = m[item]
    span_row = np.repeat(np.arange(item.size), reps)
    partner = c.sub_who[np.repeat(first_sub[item], reps) + np.arange(reps.sum())
                        - np.repeat(np.cumsum(reps) - reps, reps)]
    mine = who[span_row]
    keep = partner != mine
    span_row, partner, mine = span_row[keep], partner[keep], mine[keep]
    cells = n_w * n_w * n_l
    cell = (np.minimum(mine, partner) * n_w + np.maximum(mine, partner)) * n_l + lab[span_row]
    n_a = np.bincount(cell[mine < partner], minlength=cells)
    n_b = np.bincount(cell[mine > partner], minlength=cells)
    item_lab = np.bincount(item * n_l + lab, weights=np.maximum(m[item] - 1, 0),
                           minlength=n_i * n_l)
    # Overlapping spans of one layer: sorted by start, span k overlaps the later spans that
    # start before it ends, so one search finds them (no quadratic self-join).
    order = np.lexsort((who, end, start, lab, item))
    layer = item[order] * n_l + lab[order]
    width = int(end.max(initial=0)) + 1
    key = layer * width + start[order]
    stop = np.searchsorted(key, layer * width + end[order], side="left")
    later = stop - np.arange(order.size) - 1
    u = np.repeat(np.arange(order.size), later)
    v = u + 1 + np.arange(u.size) - np.repeat(np.cumsum(later) - later, later)
    u, v = order[u], order[v]
    u, v = u[who[u] != who[v]], v[who[u] != who[v]]
    x, y = np.where(who[u] < who[v], u, v), np.where(who[u] < who[v], v, u)
    same = (start[x] == start[y]) & (end[x] == end[y])
    ex, ey = x[same], y[same]
    exact_cell = (who[ex] * n_w + who[ey]) * n_l + lab[ex]
    x, y = x[~same], y[~same]
    # A span paired exactly with this partner is taken; its overlaps with that partner go.
    taken = np.concatenate([ex * n_w + who[ey], ey * n_w + who[ex]])
    kx, ky = x * n_w + who[y], y * n_w + who[x]
    free = ~(np.isin(kx, taken) | np.isin(ky, taken))
    x, y, kx, ky = x[free], y[free], kx[free], ky[free]
    # Most spans overlap one span of the partner: such edges are matches as they are.
    _, inv_x, cnt_x = np.unique(kx, return_inverse=True, return_counts=True)
    _, inv_y, cnt_y = np.unique(ky, return_inverse=True, return_counts=True)
    group = ((item[x] * n_l + lab[x]) * n_w + who[x]) * n_w + who[y]
    tangled = np.isin(group, group[(cnt_x[inv_x] > 1) | (cnt_y[inv_y] > 1)])
    x_cell = (who[x] * n_w + who[y]) * n_l + lab[x]
    hits = [x_cell[~tangled]]
    hit_item = [item[x[~tangled]] * n_l + lab[x[~tangled]]]
    if tangled.any():
        tx, ty, tg = x[tangled], y[tangled], group[tangled]
        by = np.argsort(tg, kind="stable")
        tx, ty, tg, tcell = tx[by], ty[by], tg[by], x_cell[tangled][by]
        bounds = np.flatnonzero(np.r_[True, tg[1:] != tg[:-1], True])
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            k = _greedy(tx[lo:hi], ty[lo:hi], end[tx[lo:hi]], end[ty[lo:hi]])
            hits.append(np.repeat(tcell[lo], k))
            hit_item.append(np.repeat(item[tx[lo]] * n_l + lab[tx[lo]], k))
    partial = np.bincount(np.concatenate(hits), minlength=cells)
    exact = np.bincount(exact_cell, minlength=cells)
    tp_e = np.bincount(item[ex] * n_l + lab[ex], minlength=n_i * n_l)
    tp_p = tp_e + np.bincount(np.concatenate(hit_item), minlength=n_i * n_l)
    per_item = np.stack([tp_e, tp_p, item_lab], axis=-1).reshape(n_i, n_l * 3)
    return _Counts(n_items, n_a, n_b, exact, partial, population, per_item[population])


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def _pair_table(c: CodedSpans, k: _Counts) -> pd.DataFrame:
    n_w, n_l = max(len(c.annotators), 1), len(c.labels)
    keys = np.flatnonzero(k.n_items)
    cell = (keys[:, None] * max(n_l, 1) + np.arange(n_l)).ravel()
    a, b = np.repeat(keys // n_w, n_l), np.repeat(keys % n_w, n_l)
    lab = np.tile(np.arange(n_l), keys.size)
    rows = []
    for match in MATCHES:
        tp = k.exact[cell] + (k.partial[cell] if match == "partial" else 0)
        rows.append(pd.DataFrame({
            "annotator_a": c.annotators[a], "annotator_b": c.annotators[b],
            "label": c.labels[lab], "match": match, "n_items": k.n_items[keys.repeat(n_l)],
            "tp": tp, "fp": k.n_b[cell] - tp, "fn": k.n_a[cell] - tp,
            "partial": k.partial[cell], "_order": np.arange(cell.size)}))
    out = pd.concat(rows, ignore_index=True).sort_values("_order", kind="stable")
    return _scores(out.drop(columns="_order").reset_index(drop=True).astype(
        {col: "int64" for col in ("n_items", "tp", "fp", "fn", "partial")}))


def _scores(df: pd.DataFrame) -> pd.DataFrame:
    tp, fp, fn = (df[k].to_numpy() for k in ("tp", "fp", "fn"))
    return df.assign(precision=_ratio(tp, tp + fp), recall=_ratio(tp, tp + fn),
                     f1=_ratio(2 * tp, 2 * tp + fp + fn))


def _boot(k: _Counts, n_labels: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Pooled counts of ``n_boot`` resamples of the items with a pair (with replacement).

    Returns resamples x labels x (exact pairs, all pairs, spans on both sides = 2tp + fp + fn).
    """
    n_items = k.population.size
    totals = np.empty((n_boot, k.item_cells.shape[1]))
    step = max(1, _BOOT_CHUNK // max(n_items, 1))
    for lo in range(0, n_boot, step):
        rows = min(n_boot, lo + step) - lo
        draws = rng.integers(0, n_items, size=(rows, n_items))
        draws += np.arange(rows)[:, None] * n_items  # one bincount counts every resample
        weights = np.bincount(draws.ravel(), minlength=rows * n_items).reshape(rows, n_items)
        totals[lo:lo + rows] = weights @ k.item_cells
    return totals.reshape(n_boot, -1, 3)[:, :n_labels]


def _interval(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - confidence) / 2 * 100
    if values.size == 0:  # no labels at all
        return np.zeros(values.shape[1:]), np.zeros(values.shape[1:])
    with warnings.catch_warnings():  # a label absent from every resample: NaN interval
        warnings.simplefilter("ignore", RuntimeWarning)
        bounds = np.nanpercentile(values, [tail, 100 - tail], axis=0)
    return bounds[0], bounds[1]


def span_f1(spans: pd.DataFrame, *, submitted: Any = None, labels: Sequence | None = None,
            n_boot: int = 1000, rng: np.random.Generator | int | None = None,
            confidence: float = 0.95) -> SpanAgreement:
    """Pairwise span F1, exact and partial, per label and annotator pair, with intervals.

    ``spans`` has columns ``item_id, annotator, start, end, label`` (``project.spans()``):
    character offsets in code points, end exclusive. An annotator is compared on the items they
    submitted: those where they have a span, and those listed in ``submitted``, the
    ``(item_id, annotator)`` pairs submitted (a DataFrame with those columns or a list of
    tuples). List there at least the items submitted with *no* spans: their partner's spans then
    count as missed, where without them the annotator is taken not to have seen the item.
    ``labels`` fixes the label set and order (a label outside it raises; a label no one used
    gets NaN scores). Bad rows (missing values, offsets that are not whole numbers, negative,
    or ``start >= end``) raise ``ValueError`` naming them.
    Intervals are percentile bootstraps over items (items two or more annotators submitted),
    ``n_boot`` resamples drawn from ``rng`` (a Generator or a seed; ``None`` is seed 0, so a
    repeated call gives the same interval); ``n_boot=0`` leaves them NaN.

    >>> import pandas as pd
    >>> spans = pd.DataFrame({"item_id": [1, 1, 2], "annotator": ["x", "y", "x"],
    ...                       "start": [0, 0, 3], "end": [4, 4, 7], "label": ["LOC"] * 3})
    >>> r = span_f1(spans, submitted=[(2, "y")], n_boot=200)
    >>> r.summary.query("average == 'micro'")[["match", "f1"]].round(3).values.tolist()
    [['exact', 0.667], ['partial', 0.667]]
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot must be a whole number of resamples (0 for none); got {n_boot!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, e.g. 0.95; got {confidence!r}")
    c = code_spans(spans, submitted, labels)
    k = _count(c)
    pairs = _pair_table(c, k)
    n_labels, n_l = len(c.labels), max(len(c.labels), 1)
    pooled = k.item_cells.sum(axis=0).reshape(n_l, 3)[:n_labels]
    tp_e, tp_p = pooled[:, 0], pooled[:, 1]
    n_a = k.n_a.reshape(-1, n_l).sum(axis=0)[:n_labels]
    n_b = k.n_b.reshape(-1, n_l).sum(axis=0)[:n_labels]
    point = pooled[None]  # 1 x labels x 3
    n_items = int(k.population.size)
    if n_boot and n_items:
        totals = _boot(k, n_labels, n_boot, np.random.default_rng(0 if rng is None else rng))
    else:
        totals = np.full((max(n_boot, 1), n_labels, 3), np.nan)

    def scores(t: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for k, match in enumerate(MATCHES):
            per = _ratio(2 * t[..., k], t[..., 2])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out[match] = (per, _ratio(2 * t[..., k].sum(-1), t[..., 2].sum(-1)),
                              np.nanmean(per, axis=-1))
        return out

    est, sim = scores(point), scores(totals)
    label_rows, summary_rows = [], []
    for match in MATCHES:
        tp = (tp_e if match == "exact" else tp_p).astype("int64")
        low, high = _interval(sim[match][0], confidence)
        label_rows.append(pd.DataFrame({
            "lab": np.arange(n_labels), "label": c.labels, "match": match, "tp": tp,
            "fp": (n_b - tp).astype("int64"), "fn": (n_a - tp).astype("int64"),
            "f1": est[match][0][0], "low": low, "high": high}))
        for avg, j in (("micro", 1), ("macro", 2)):
            lo, hi = _interval(sim[match][j], confidence)
            summary_rows.append({"match": match, "average": avg, "f1": float(est[match][j][0]),
                                 "low": float(lo), "high": float(hi), "n_items": n_items})
    per_label = pd.concat(label_rows, ignore_index=True).sort_values(
        ["lab", "match"], kind="stable", ignore_index=True).drop(columns="lab")
    return SpanAgreement(pairs, per_label, pd.DataFrame(summary_rows), n_items, int(n_boot),
                         float(confidence))
