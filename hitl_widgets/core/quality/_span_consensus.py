"""Span consensus: the spans a majority marked, and the items an adjudicator must see.

A span's votes are the annotators who marked it on its item with **the same label and the same
offsets**; spans that differ in a boundary do not merge or pool their votes (a boundary
disagreement is what adjudication is for). A span is a consensus span when its votes are more
than ``share`` of the annotators who submitted the item (``share=0.5``: a strict majority, so
2 of 3, 3 of 4, 2 of 2). Annotators who submitted the item with no spans count in that total
(pass them in ``submitted``; see the rules of the spans frame in ``span_f1``). An item with any
span short of the majority is flagged, with a reason naming those spans.

Example
-------
>>> import pandas as pd
>>> spans = pd.DataFrame({"item_id": ["d"] * 5, "annotator": ["x", "y", "z", "x", "y"],
...                       "start": [0, 0, 0, 8, 9], "end": [5, 5, 5, 12, 12],
...                       "label": ["PER"] * 3 + ["LOC"] * 2})
>>> result = span_consensus(spans)
>>> result.spans[["start", "end", "label", "votes"]].values.tolist()
[[0, 5, 'PER', 3]]
>>> print(result.items.loc["d", "reason"])
2 spans short of a majority (2 of 3 annotators): LOC [8, 12) 1 vote; LOC [9, 12) 1 vote
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._span_input import CodedSpans, code_spans

_REASON_SPANS = 5  # spans named in a reason; the rest are counted


@dataclass(frozen=True)
class SpanConsensus:
    """What :func:`span_consensus` returns.

    - ``spans``: the consensus spans (``item_id, start, end, label, votes, n_annotators``, and
      ``text`` when the input had it).
    - ``items``: per item submitted, indexed by ``item_id``: ``n_annotators``,
      ``n_consensus``, ``n_disputed`` (spans short of the majority), ``flagged``, ``reason``.
    - ``votes``: every distinct span (``item_id, start, end, label``) with its ``votes``,
      ``n_annotators`` and ``consensus`` (bool).
    """

    spans: pd.DataFrame
    items: pd.DataFrame
    votes: pd.DataFrame
    share: float
    _coded: CodedSpans = field(repr=False)
    _codes: pd.DataFrame = field(repr=False)  # votes by item/label code

    @property
    def flagged(self) -> list:
        """Ids of the flagged items, in item order: the adjudication queue's items."""
        return self.items.index[self.items["flagged"].to_numpy()].tolist()

    def adjudication(self, item_ids: Sequence | None = None) -> list[dict[str, Any]]:
        """Per flagged item (or the given ``item_ids``), every annotator's spans, for review.

        Each entry is ``{"item_id", "reason", "consensus": [span, ...], "annotators": {name:
        [span, ...]}}`` where a span is ``{"start", "end", "label", "votes", "consensus"}``
        (plus ``"text"`` when known). An annotator who submitted the item with no spans is
        listed with an empty list, so the reviewer sees the abstention.
        """
        c = self._coded
        ids = self.flagged if item_ids is None else list(item_ids)
        unknown = [i for i in ids if i not in self.items.index]
        if unknown:
            raise ValueError(f"No submissions for items {unknown[:5]}; expected ids from "
                             ".items (e.g. .flagged)")
        codes = c.items.get_indexer(ids)
        marks = self._codes.merge(
            c.frame[["item", "who", "lab", "start", "end"]], on=["item", "lab", "start", "end"])
        marks = marks[marks["item"].isin(codes)].sort_values(["item", "start", "end", "lab"])
        subs = pd.DataFrame({"item": c.sub_item, "who": c.sub_who})
        subs = subs[subs["item"].isin(codes)]
        keys = ["start", "end", "label", "votes", "consensus"] + (
            ["text"] if "text" in marks.columns else [])
        out = {code: {"item_id": c.items[code], "reason": self.items["reason"].iloc[code],
                      "consensus": [], "annotators": {}} for code in codes}
        for code, who in zip(subs["item"], subs["who"], strict=True):
            out[code]["annotators"][c.annotators[who]] = []
        for row in marks.assign(label=c.labels[marks["lab"].to_numpy()]).itertuples():
            span = {k: _plain(getattr(row, k)) for k in keys}
            out[row.item]["annotators"][c.annotators[row.who]].append(span)
        votes = self._codes
        for row in votes[votes["consensus"] & votes["item"].isin(codes)].sort_values(["item", "start", "end", "lab"]).itertuples():
            out[row.item]["consensus"].append({k: _plain(c.labels[row.lab] if k == "label"
                                                         else getattr(row, k)) for k in keys})
        return [out[code] for code in codes]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _reasons(disputed: pd.DataFrame, c: CodedSpans, n_ann: np.ndarray,
             share: float) -> np.ndarray:
    """Per item, why it is flagged (None where it is not): the spans short of the majority."""
    reasons = np.full(len(c.items), None, dtype=object)
    if disputed.empty:
        return reasons
    votes = disputed["votes"].astype(str)
    desc = (pd.Series(np.asarray(c.labels[disputed["lab"].to_numpy()], dtype=str),
                      index=disputed.index) + " [" + disputed["start"].astype(str) + ", "
            + disputed["end"].astype(str) + ") " + votes
            + np.where(disputed["votes"] == 1, " vote", " votes"))
    shown = disputed.groupby("item").cumcount() < _REASON_SPANS
    named = desc[shown].groupby(disputed["item"][shown]).agg("; ".join)
    n_disp = disputed.groupby("item").size()
    code = n_disp.index.to_numpy()
    n = n_ann[code]
    need = np.floor(share * n).astype(np.int64) + 1
    more = np.where(n_disp.to_numpy() > _REASON_SPANS,
                    "; and " + (n_disp - _REASON_SPANS).astype(str) + " more", "")
    head = (n_disp.astype(str) + np.where(n_disp.to_numpy() == 1, " span", " spans")
            + " short of a majority (" + pd.Series(need, index=n_disp.index).astype(str)
            + " of " + pd.Series(n, index=n_disp.index).astype(str) + " annotators): ")
    reasons[code] = (head + named.reindex(n_disp.index) + more).to_numpy()
    return reasons


def span_consensus(spans: pd.DataFrame, *, submitted: Any = None,
                   labels: Sequence | None = None, share: float = 0.5) -> SpanConsensus:
    """Consensus spans (same label and offsets, votes above ``share`` of the item's annotators).

    ``spans`` and ``submitted`` as for :func:`span_f1`. Items flagged (any span short of the
    majority) are the adjudication queue's: ``.adjudication()`` gives each one's spans per
    annotator.

    >>> import pandas as pd
    >>> spans = pd.DataFrame({"item_id": ["a", "a"], "annotator": ["x", "y"],
    ...                       "start": [0, 0], "end": [3, 3], "label": ["ORG", "ORG"]})
    >>> r = span_consensus(spans, submitted=[("a", "z")])
    >>> r.spans["votes"].tolist(), r.flagged
    ([2], [])
    """
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share < 1:
        raise ValueError(f"share must be a number in [0, 1), e.g. 0.5 for a strict majority; "
                         f"got {share!r}")
    c = code_spans(spans, submitted, labels)
    n_ann = np.bincount(c.sub_item, minlength=len(c.items))
    agg = {"votes": ("who", "size")}
    if "text" in c.frame.columns:
        agg["text"] = ("text", "first")
    votes = c.frame.groupby(["item", "start", "end", "lab"], sort=True).agg(**agg).reset_index()
    votes["n_annotators"] = n_ann[votes["item"].to_numpy()]
    votes["consensus"] = votes["votes"] > share * votes["n_annotators"]
    item_ids = c.items[votes["item"].to_numpy()]
    labels_of = c.labels[votes["lab"].to_numpy()]
    n_cons = np.bincount(votes["item"], votes["consensus"], len(c.items)).astype("int64")
    n_disp = np.bincount(votes["item"], ~votes["consensus"], len(c.items)).astype("int64")
    reasons = _reasons(votes[~votes["consensus"]], c, n_ann, share)
    items = pd.DataFrame({"n_annotators": n_ann, "n_consensus": n_cons,
                          "n_disputed": n_disp, "flagged": n_disp > 0, "reason": reasons},
                         index=c.items)
    cols = ["item_id", "start", "end", "label", "votes", "n_annotators"] + (
        ["text"] if "text" in votes.columns else [])
    public = votes.assign(item_id=item_ids, label=labels_of)[[*cols, "consensus"]]
    cons = public[public["consensus"]].drop(columns="consensus").reset_index(drop=True)
    return SpanConsensus(cons, items, public, float(share), c, votes)
