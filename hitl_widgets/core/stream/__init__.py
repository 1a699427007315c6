"""Streams: reservoirs that sample live traffic under a memory cap.

- uniform reservoirs, one interface: :class:`ReservoirR` (Vitter's Algorithm R) and
  :class:`ReservoirL` (Li's Algorithm L, geometric skips), fed in numpy batches;
- :class:`DecayedReservoir`: weighted sampling with exponential time decay (A-Res keys
  ``log w + lambda t + Gumbel``, in log space);
- :class:`StratifiedReservoir`: a uniform reservoir per stratum (label, predicted label, a
  column or a function of the row) with quotas, min/max sizes and one memory cap, shared by
  :func:`allocate`'s water-filling rule; ingests batches from iterables, DataFrame chunks or
  unbounded generators (:func:`batches`), all or nothing per batch;
- :class:`StreamSampler`: stratified reservoirs feeding a project -- what they hold becomes
  items, their state is saved in the file and resumed by name -- and :class:`ReservoirQueue`,
  which serves what they hold to annotators.

Every reservoir's ``state()`` is plain data (arrays, lists, dicts, the generator's state) and
``from_state`` continues exactly where it left off.

Example
-------
>>> import itertools
>>> events = ({"id": i, "label": "spam" if i % 7 == 0 else "ham"} for i in itertools.count())
>>> res = StratifiedReservoir(10, by="label", seed=0)
>>> res.ingest(events, batch_size=1000, max_events=5000)
5000
>>> res.size, sorted(res.strata)
(10, ['ham', 'spam'])
"""

from ._allocate import allocate
from ._batches import batches
from ._decay import LATE, DecayedReservoir
from ._sampler import ReservoirQueue, StreamSampler
from ._stratified import ALGORITHMS, StratifiedReservoir
from ._uniform import ReservoirL, ReservoirR

__all__ = ["ALGORITHMS", "LATE", "DecayedReservoir", "ReservoirL", "ReservoirQueue", "ReservoirR",
           "StratifiedReservoir", "StreamSampler", "allocate", "batches"]
