"""A stream sampled into a project: what the reservoirs hold is what annotators label.

:class:`StreamSampler` keeps a :class:`StratifiedReservoir` of item ids. Each batch of the
stream goes through it; the events that are held after the batch and were not before become
project items (with their stratum and the batch's ingestion tags), and the reservoir's state is
saved in the project file -- both in one transaction through the project's ledger, so a crash
or an interrupt leaves the file and the sampler where the last whole batch left them, and
:meth:`StreamSampler.open` resumes there in a new kernel.

An event that is later pushed out of its reservoir stays a project item (items are never
removed, and it may already carry labels), but :class:`ReservoirQueue` serves only what the
reservoirs hold now. The project gains about ``capacity * (1 + ln(n / capacity))`` items over
``n`` events, not ``n``.

Example
-------
>>> import os, tempfile, itertools
>>> from hitl_widgets.core.store import Ledger
>>> ledger = Ledger.open(os.path.join(tempfile.mkdtemp(), "s.hitl"), ["ham", "spam"])
>>> events = ({"id": f"e{i}", "text": f"message {i}", "guess": "spam" if i % 5 == 0 else "ham"}
...           for i in itertools.count())
>>> sampler = StreamSampler(ledger, "inbox", capacity=6, by="guess", id="id", text="text", seed=0)
>>> sampler.ingest(events, batch_size=100, max_events=1000)
1000
>>> sampler.counts()["spam"]["held"], len(sampler.held_ids())
(3, 6)
>>> StreamSampler.open(ledger, "inbox").held_ids() == sampler.held_ids()
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..labeling import ProjectView, Queue
from ..store import Ledger, build_records
from ._batches import Batch, batches
from ._rng import check_count
from ._stratified import StratifiedReservoir

META_PREFIX = "stream:"  # the project meta key of a sampler's saved state: stream:<name>
STRATUM = "stream_stratum"  # the item meta column that records which reservoir took it


class StreamSampler:
    """Stratified reservoirs of a stream, feeding a project's items (see the module docstring).

    Parameters
    ----------
    project : a :class:`~hitl_widgets.Project` (or its ledger).
    name : this sampler's name in the project; :meth:`open` resumes it by that name.
    capacity, by, seed, strata, quotas, min_size, max_size, algorithm, features : as for
        :class:`StratifiedReservoir` (``by``: a column, a position or a function of the row).
    id : the column (or key) holding each event's id: its item id in the project.
    text, fields, meta : as for ``project.add_items``, for the events that become items.
    """

    def __init__(self, project: Any, name: str, *, capacity: int, by: str | int | Callable,
                 id: str, seed: Any, text: str | None = None,  # noqa: A002 - as add_items
                 fields: Sequence[str] | None = None, meta: Sequence[str] | None = None,
                 strata: Sequence | None = None, quotas: Any = None, min_size: Any = 0,
                 max_size: Any = None, algorithm: str = "L",
                 features: Sequence[str] | None = None) -> None:
        self.ledger = Ledger.of(project)
        self.name = _check_name(name)
        self.by, self.id, self.features = by, id, features
        self.settings = {"id": id, "text": text, "fields": list(fields or ()),
                         "meta": list(meta or ()), "by": None if callable(by) else by,
                         "features": None if features is None else list(features)}
        # The reservoirs hold only each event's id and stratum: the rest goes to the project.
        self.reservoir = StratifiedReservoir(
            capacity, by="stratum", seed=seed, strata=strata, quotas=quotas, min_size=min_size,
            max_size=max_size, algorithm=algorithm)
        self._held: set[str] = set()
        self.batches = 0
        # Saved at once, checked and written under one lock: the name is this sampler's now,
        # and a second kernel creating the same one is refused rather than overwriting it.
        with self.ledger.transaction():
            if self.ledger.store.get_meta(self.key) is not None:
                raise ValueError(f"the project already has a stream sampler {name!r}; resume "
                                 f"it with StreamSampler.open(project, {name!r}) or choose "
                                 "another name")
            self._save(self.batches)

    @property
    def key(self) -> str:
        return META_PREFIX + self.name

    @classmethod
    def open(cls, project: Any, name: str, *, by: Callable | None = None) -> StreamSampler:
        """The sampler saved in the project as ``name``, where its last batch left it.
        ``by`` is needed again when the strata came from a function (a file cannot hold one)."""
        ledger = Ledger.of(project)
        saved = ledger.store.get_meta(META_PREFIX + _check_name(name))
        if saved is None:
            known = [k[len(META_PREFIX):] for k in ledger.store.meta_keys(META_PREFIX)]
            raise KeyError(f"no stream sampler {name!r} in this project; it has {known}")
        settings = saved["settings"]
        if settings["by"] is None and by is None:
            raise TypeError(f"sampler {name!r} took its strata from a function, which the file "
                            f"cannot hold: StreamSampler.open(project, {name!r}, by=...)")
        self = cls.__new__(cls)
        self.ledger, self.name, self.settings = ledger, name, settings
        self.by = by if by is not None else settings["by"]
        self.id, self.features = settings["id"], settings["features"]
        self.reservoir = StratifiedReservoir.from_state(_decode(saved["reservoir"]), by="stratum")
        self.batches = saved["batches"]
        self._held = set(self.held_ids())
        return self

    # -- taking in ------------------------------------------------------------------------------
    def add(self, batch: Any) -> int:
        """One batch of events: into the reservoirs, the newly held ones into the project, the
        state into the file -- all or nothing. Returns how many events it held."""
        b = batch if isinstance(batch, Batch) else Batch(batch)
        if b.n == 0:
            return 0
        ids = [str(v) for v in _plain(b.column(self.id))]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"event id {dup!r} appears twice in one batch; ids must be unique")
        b.check_finite(self.features)
        before = self.reservoir.state()
        try:
            self.reservoir.add(pd.DataFrame({"id": ids, "stratum": _plain(b.column(self.by))}))
            held = self._held_now()
            new = [i for i in held if i not in self._held]
            position = {item_id: k for k, item_id in enumerate(ids)}
            rows = pd.DataFrame(b.take(np.array([position[i] for i in new], dtype=np.int64)))
            rows[STRATUM] = [held[i] for i in new]
            self._write(rows)
        except BaseException:  # an interrupt too: the reservoirs go back to before the batch
            self.reservoir = StratifiedReservoir.from_state(before, by="stratum")
            raise
        self._held = set(held)
        self.batches += 1
        return b.n

    def ingest(self, stream: Any, *, batch_size: int = 10_000, max_events: int | None = None) -> int:
        """Take in a stream batch by batch (a generator that never ends is fine with
        ``max_events``); never more than one batch in memory. Returns the events taken in."""
        batch_size = check_count(batch_size, "batch_size")
        done = 0
        for chunk in batches(stream, batch_size=batch_size, max_events=max_events):
            done += self.add(chunk)
        return done

    def _write(self, rows: pd.DataFrame) -> None:
        s = self.settings
        tags = {"source": META_PREFIX + self.name, "batch": self.batches + 1,
                "ingested_at": time.time()}
        with self.ledger.transaction():
            if len(rows):
                records = build_records(rows, text=s["text"], id=s["id"], fields=s["fields"] or None,
                                        meta=[*s["meta"], STRATUM], provenance=tags,
                                        image_root=self.ledger.image_root)
                self.ledger.add_items(records, notify="items")
            self._save(self.batches + 1)

    def _save(self, batches: int) -> None:
        # Heard as "stream": a live view of the reservoirs redraws on it (hw.StreamView).
        self.ledger.set_meta(self.key, {"settings": self.settings, "batches": batches,
                                        "reservoir": _encode(self.reservoir.state())},
                             notify="stream")

    # -- reading ------------------------------------------------------------------------------
    def _held_now(self) -> dict[str, Any]:
        """id -> stratum of every event held, strata interleaved (see :meth:`held_ids`)."""
        per = [[(row["id"], s) for row in self.reservoir.held(s)] for s in self.reservoir.strata]
        out: dict[str, Any] = {}
        for k in range(max((len(p) for p in per), default=0)):
            for p in per:
                if k < len(p):
                    out[p[k][0]] = p[k][1]
        return out

    def held_ids(self) -> list[str]:
        """The item ids the reservoirs hold now, the strata taking turns (so the head of the list
        is balanced across strata)."""
        return list(self._held_now())

    def counts(self) -> dict:
        """Per stratum: events ``seen``, ``held`` and its ``capacity``."""
        return self.reservoir.counts()

    def queue(self) -> ReservoirQueue:
        """A queue that serves what the reservoirs hold:
        ``hw.Labeler(project, annotator="ana", queue=sampler.queue())``."""
        return ReservoirQueue(self)


class ReservoirQueue(Queue):
    """Serves the items a :class:`StreamSampler` holds now, strata taking turns; an item pushed
    out of its reservoir is not served (its labels, if any, stay)."""

    def __init__(self, sampler: StreamSampler) -> None:
        self.sampler = sampler

    def next_ids(self, project: ProjectView, annotator: str, exclude: set[str], n: int) -> list[str]:
        return [i for i in self.sampler.held_ids() if i not in exclude][:n]

    def progress_counts(self, project: ProjectView, annotator: str) -> tuple[int, int]:
        held = self.sampler.held_ids()
        done, _ = project.store.annotator_state(annotator, held)
        return len(done), len(held)

    def describe(self) -> str:
        seen = sum(c["seen"] for c in self.sampler.counts().values())
        return f"stream {self.sampler.name}: {len(self.sampler.held_ids())} held of {seen:,} seen"


# -- plain data -------------------------------------------------------------------------------------
def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a sampler's name is a non-empty str; got {name!r:.40}")
    return name


def _plain(values: Any) -> list:
    """Python values (numpy scalars become int / float / str), so the state is JSON."""
    return np.asarray(values, dtype=object).tolist() if isinstance(values, np.ndarray) else [
        v.item() if isinstance(v, np.generic) else v for v in values]


def _encode(state: Any) -> Any:
    """A reservoir state as JSON-able data: arrays with their dtype, tuples (composite strata)
    and dicts keyed by strata that are not strings kept as what they are."""
    if isinstance(state, np.ndarray):
        return {"__array__": state.tolist(), "dtype": state.dtype.str}
    if isinstance(state, dict):
        if all(isinstance(k, str) for k in state):
            return {k: _encode(v) for k, v in state.items()}
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in state.items()]}
    if isinstance(state, tuple):
        return {"__tuple__": [_encode(v) for v in state]}
    if isinstance(state, list):
        return [_encode(v) for v in state]
    return state.item() if isinstance(state, np.generic) else state


def _decode(data: Any) -> Any:
    if isinstance(data, dict):
        if "__array__" in data:
            return np.array(data["__array__"], dtype=np.dtype(data["dtype"]))
        if "__dict__" in data:
            return {_decode(k): _decode(v) for k, v in data["__dict__"]}
        if "__tuple__" in data:
            return tuple(_decode(v) for v in data["__tuple__"])
        return {k: _decode(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_decode(v) for v in data]
    return data
