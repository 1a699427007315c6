"""An observer of what the browser gets cannot pick gold items better than chance.

Many seeded crowds label a real project file through the overlap queue: three annotators with
overlap k = 2 take turns in a random order, skip now and then, and two more join after the
crowd has finished. The observer knows, for each annotator, the items served in order (the
head of each window the session would send), which ones came back after a skip, and the order
the items were added in (the ids here are sequential, so they tell it). Three rules it could
apply to pick gold items:

1. "out of sequence": the item was added before the item served just before it;
2. "came back after a skip";
3. "served when no regular item was left for this annotator" (every one labeled by them or
   at k -- what a late joiner meets).

For each rule, a Fisher exact test compares the share of gold among the items it picks with
the share among those it leaves; none may differ beyond chance (alpha 0.001, Bonferroni over
the rules). Before gold placement was fixed, rule 1 picked nearly every gold item and nothing
else, rule 2 picked only gold once the skipper's lease had lapsed, and rule 3 picked only gold.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import fisher_exact

import hitl_widgets as hw
from hitl_widgets.core.labeling import LabelingSession
from hitl_widgets.core.quality import OverlapQueue

LABELS = ["ham", "spam"]
N_REGULAR, N_GOLD, K, GOLD_RATE, P_SKIP = 120, 12, 2, 0.1, 0.15
CROWD, LATE = ["ana", "ben", "cy"], ["dee", "eve"]
ALPHA = 0.001 / 3  # three rules
SEEDS = 30


class Stream:
    """What the observer saw of one annotator: the items served in order, and the skips."""

    def __init__(self) -> None:
        self.served: list[tuple[str, bool, bool]] = []  # (item, came back, pool exhausted)
        self.skipped: list[str] = []


def crowd_run(path, seed: int, lease_s: float) -> tuple[dict[str, Stream], set[str]]:
    """Label one project to the end with a seeded crowd; the streams and the gold ids."""
    rng = np.random.default_rng(seed)
    n = N_REGULAR + N_GOLD
    ids = [f"i{k:03d}" for k in range(n)]  # sequential ids: they tell the observer the order
    gold = {ids[k] for k in rng.choice(n, N_GOLD, replace=False)}
    regular = [i for i in ids if i not in gold]
    project = hw.Project(path, labels=LABELS)
    project.add_items([f"message {k}" for k in range(n)], id=ids)
    project.set_overlap(K)
    project.set_gold({i: LABELS[0] for i in sorted(gold)})

    labelers: dict[str, set[str]] = {i: set() for i in regular}  # every label goes through here

    def pool_exhausted(who: str) -> bool:
        return all(who in labelers[i] or len(labelers[i]) >= K for i in regular)

    streams: dict[str, Stream] = {}

    def label(group: list[str]) -> None:
        queue = {"gold_rate": GOLD_RATE, "seed": seed, "lease_s": lease_s}
        sessions = {who: LabelingSession(project, who, prefetch=3, queue=OverlapQueue(**queue))
                    for who in group}
        idle = 0
        while idle < 3 * len(group):  # every annotator has found nothing more, a few times
            who = group[int(rng.integers(len(group)))]
            exhausted = pool_exhausted(who)
            window = sessions[who].window()
            if not window:
                idle += 1
                continue
            idle, item, stream = 0, window[0], streams.setdefault(who, Stream())
            stream.served.append((item, item in stream.skipped, exhausted))
            if rng.random() < P_SKIP and item not in stream.skipped:
                sessions[who].skip(item)
                stream.skipped.append(item)
            else:
                sessions[who].submit(item, [LABELS[int(rng.integers(2))]])
                labelers.get(item, set()).add(who)
        for session in sessions.values():
            session.close()

    label(CROWD)
    label(LATE)  # they arrive when every regular item has its k labels
    project.close()
    return streams, gold


def tallies(runs) -> dict[str, np.ndarray]:
    """Per rule, the table [[gold picked, regular picked], [gold not picked, regular not]]."""
    out = {rule: np.zeros((2, 2), int) for rule in ("out_of_sequence", "came_back", "exhausted")}

    def count(rule: str, picked: bool, item: str, gold: set[str]) -> None:
        out[rule][0 if picked else 1, 0 if item in gold else 1] += 1

    for streams, gold in runs:
        for stream in streams.values():
            first = [(item, exhausted) for item, back, exhausted in stream.served if not back]
            for (prev, _), (item, _) in zip(first, first[1:], strict=False):
                count("out_of_sequence", item < prev, item, gold)  # ids sort in the added order
            back = {item for item, came_back, _ in stream.served if came_back}
            for item in stream.skipped:
                count("came_back", item in back, item, gold)
            for item, exhausted in first:
                count("exhausted", exhausted, item, gold)
    return out


def describe(table: np.ndarray) -> str:
    (gp, rp), (gn, rn) = table
    picked = f"{gp}/{gp + rp} gold" if gp + rp else "nothing"
    return f"picked {picked}, left {gn}/{gn + rn} gold"


@pytest.mark.slow
@pytest.mark.parametrize("lease_s", [600.0, 1e-6], ids=["leases-held", "leases-lapsed"])
def test_an_observer_cannot_pick_gold_better_than_chance(tmp_path, lease_s):
    runs = [crowd_run(tmp_path / f"run{seed}.hitl", seed, lease_s) for seed in range(SEEDS)]
    tables = tallies(runs)
    gold_served, regular_served = tables["exhausted"].sum(axis=0)
    assert gold_served >= 8 * SEEDS, "too few gold items served to test anything"
    assert tables["came_back"][:, 0].sum() >= SEEDS, "too few gold items skipped to test anything"
    report = {rule: f"{describe(t)}, p = {fisher_exact(t)[1]:.2g}" for rule, t in tables.items()}
    for rule, table in tables.items():
        assert fisher_exact(table)[1] > ALPHA, (rule, report)


# -- each rule on its own, in a few seconds -----------------------------------------------------
def small_project(path, n: int, gold: list[int], k: int = 1):
    project = hw.Project(path, labels=LABELS)
    ids = [f"i{j:03d}" for j in range(n)]
    project.add_items([f"message {j}" for j in range(n)], id=ids)
    project.set_overlap(k)
    if gold:
        project.set_gold({ids[j]: LABELS[0] for j in gold})
    return project, ids


def test_regular_items_do_not_come_in_the_order_they_were_added(tmp_path):
    project, ids = small_project(tmp_path / "o.hitl", 300, gold=[], k=2)
    orders = {}
    for who in ("ana", "ben"):
        session = LabelingSession(project, who, queue=OverlapQueue(gold_rate=0), prefetch=300)
        orders[who] = [ids.index(i) for i in session.window()]
    for order in orders.values():
        assert sorted(order) == list(range(300))
        # About half the items are "out of sequence", as for any random order (mean 149.5,
        # sd 5); served in the added order, none would be.
        assert 120 <= sum(b < a for a, b in zip(order, order[1:], strict=False)) <= 180
    assert orders["ana"] != orders["ben"]  # each annotator has an order of their own
    project.close()


def test_a_late_annotator_gets_no_gold_once_the_regular_items_are_done(tmp_path):
    project, ids = small_project(tmp_path / "late.hitl", 20, gold=[3, 9, 15])
    for item in ids:
        if item not in {"i003", "i009", "i015"}:
            project.annotate(item, "ham", annotator="ana")  # every regular item is at k = 1
    dee = LabelingSession(project, "dee", queue=OverlapQueue(gold_rate=1.0), prefetch=5)
    assert dee.window() == []
    project.close()


def test_a_window_that_ends_on_gold_is_followed_by_the_regular_item_that_let_it_in(tmp_path):
    project, ids = small_project(tmp_path / "tail.hitl", 6, gold=[0, 1, 2, 3, 4])
    dee = LabelingSession(project, "dee", queue=OverlapQueue(gold_rate=1.0), prefetch=1)
    (first,) = dee.window()
    assert first != "i005"  # gold, served beside the one regular item
    bob = LabelingSession(project, "bob", queue=OverlapQueue(gold_rate=0), prefetch=5)
    assert bob.window() == []  # the regular item is kept for dee, not left to someone else
    dee.submit(first, ["ham"])
    assert dee.window() == ["i005"]
    dee.submit("i005", ["ham"])
    assert dee.window() == []  # gold is left, but no regular item: nothing more
    project.close()


@pytest.mark.parametrize("taken", [False, True], ids=["regular-one-open", "regular-one-taken"])
def test_a_skipped_gold_item_comes_back_exactly_when_the_skipped_regular_one_does(tmp_path, taken):
    project, ids = small_project(tmp_path / "skip.hitl", 2, gold=[0])
    ana = LabelingSession(project, "ana", queue=OverlapQueue(gold_rate=1.0), prefetch=2)
    assert sorted(ana.window()) == ids  # the gold item and the regular one beside it
    ana.skip("i000")
    ana.skip("i001")
    if taken:
        project.annotate("i001", "spam", annotator="bob")  # k = 1: the regular slot is gone
    assert ana.window() == ([] if taken else ["i000", "i001"])
    project.close()
