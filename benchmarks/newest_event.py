"""How long "the newest event of these kinds" takes on a big log (Store.max_seq).

Queues and views ask it on every keypress: the session after another kernel's write (has anything
been undone?), the overlap queue (was gold set, an item reopened?), the adjudication queue (has
anyone labeled since the flags were computed?). Run ``python benchmarks/newest_event.py``
(about a minute: 1M annotations on 100k items, in a temporary folder).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time

from hitl_widgets.core.store import ItemRecord, Store


def main(n_items: int = 100_000, n_events: int = 1_000_000) -> None:
    folder = tempfile.mkdtemp()
    store = Store(os.path.join(folder, "newest.hitl"))
    store.add_items([ItemRecord(f"i{k}", "text", text=f"text {k}") for k in range(n_items)])
    rng = random.Random(0)
    for start in range(0, n_events, 100_000):
        store.append_many([dict(kind="annotation", item_id=f"i{rng.randrange(n_items)}",
                                annotator="ana", labels=["a"], source="human")
                           for _ in range(min(100_000, n_events - start))])
    print(f"{n_events:,} annotations on {n_items:,} items")
    for kinds in [("retraction",), ("annotation", "retraction", "overlap", "request"),
                  ("retraction", "overlap", "gold")]:
        times = []
        for _ in range(21):
            t = time.perf_counter()
            store.max_seq(kinds)
            times.append(time.perf_counter() - t)
        print(f"max_seq{kinds}: median {statistics.median(times) * 1000:.3f} ms")
    store.close()


if __name__ == "__main__":
    main()
