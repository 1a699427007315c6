"""One conformance suite that every queue passes, like scikit-learn's ``check_estimator``.

Each case builds a real project file and a queue on it: the sequential queue, the weak-label
queue, the overlap queue (with gold), the router queue (two task types, gold, variety), the
round-robin queue, the adjudication queue, the span adjudication queue (its
answers are spans), active learning, a stream's reservoirs, and a user's own object with nothing but ``next_ids``. The suite then checks the queue contract directly
(``next_ids``) and through a :class:`LabelingSession`, including a second ``Project`` on the same
file -- another kernel -- undoing a label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from hitl_widgets.core.active import ActiveLearning
from hitl_widgets.core.labeling import LabelingSession, Queue, SequentialQueue
from hitl_widgets.core.project import Project
from hitl_widgets.core.quality import (
    AdjudicationQueue,
    OverlapQueue,
    RoundRobinQueue,
    RouterQueue,
    SpanAdjudicationQueue,
)
from hitl_widgets.core.stream import StreamSampler
from hitl_widgets.core.weak import WeakLabelQueue

IDS = [f"i{k:02d}" for k in range(12)]
GOLD = ["i10", "i11"]
DISPUTED = IDS[:6]  # the adjudication case: two annotators disagree on these


class OwnQueue:
    """A user's queue, duck-typed: just ``next_ids``, newest items first."""

    def next_ids(self, project, annotator, exclude, n):
        return [i for i in reversed(project.items()["item_id"].tolist()) if i not in exclude][:n]


@dataclass
class Case:
    project: Project
    queue: object
    annotator: str
    must_serve: list[str]  # what a session on this queue serves before it runs dry
    may_serve: list[str] | None = None  # and what else it may serve (default: nothing else)
    label: Callable[[str], str] = lambda item_id: "ham"
    closers: list = field(default_factory=list)
    spans: bool = False  # answers are spans (a span queue), not labels

    def answer(self, session: LabelingSession, item_id: str) -> int:
        """Answer the item as this queue's annotator does: a label, or spans."""
        if self.spans:
            return session.submit_spans(item_id, [(0, 4, "PER")])
        return session.submit(item_id, [self.label(item_id)])


def _project(make_project, name: str = "q.hitl", **kwargs) -> Project:
    return make_project(items=[f"text {i}" for i in IDS], ids=IDS, name=name, **kwargs)


@pytest.fixture
def project(make_project):
    """``ham``/``spam``, the items IDS, nothing labeled."""
    return _project(make_project)


# Each builder gets ``new_project()``: a fresh project of IDS on its own file.
def _sequential(new_project, seed):
    return Case(new_project(), SequentialQueue(), "ana", IDS)


def _weak(new_project, seed):
    # The label model is unsure of these three: they come first, the rest in the order added.
    return Case(new_project(), WeakLabelQueue(["i07", "i03", "i10"]), "ana", IDS)


def _overlap(new_project, seed):
    project = new_project()
    project.set_overlap(1)
    project.set_gold(GOLD, ["ham", "spam"])
    regular = [i for i in IDS if i not in GOLD]  # gold is served only beside regular work
    return Case(project, OverlapQueue(gold_rate=0.3, seed=seed), "ana", regular, IDS)


def _router(new_project, seed):
    # Two task types by the id's last digit; another annotator's labels give the router skills.
    project = new_project()
    project.set_overlap(2)
    project.set_gold(GOLD, ["ham", "spam"])
    for item_id in ["i00", "i01", "i10"]:
        project.annotate(item_id, "ham", annotator="bob")
    regular = [i for i in IDS if i not in GOLD]
    queue = RouterQueue(lambda r: int(r["item_id"][-1]) % 2, gold_rate=0.3, seed=seed, variety=2)
    return Case(project, queue, "ana", regular, IDS)


def _round_robin(new_project, seed):
    project = new_project()
    project.set_overlap(1)
    return Case(project, RoundRobinQueue(seed=seed), "ana", IDS)


def _adjudication(new_project, seed):
    project = new_project()
    project.set_overlap(2)
    for item_id in IDS:
        project.annotate(item_id, "ham", annotator="bob")
        project.annotate(item_id, "spam" if item_id in DISPUTED else "ham", annotator="cy")
    return Case(project, AdjudicationQueue(), "sam", DISPUTED)


def _span_adjudication(new_project, seed):
    # Two annotators mark the same word; they give it different labels on DISPUTED.
    project = new_project(span_labels=["PER", "ORG"])
    for item_id in IDS:
        project.submit_spans(item_id, [(0, 4, "PER")], annotator="bob")
        project.submit_spans(item_id, [(0, 4, "ORG" if item_id in DISPUTED else "PER")],
                             annotator="cy")
    return Case(project, SpanAdjudicationQueue(), "sam", DISPUTED, spans=True)


def _active(new_project, seed):
    project = new_project()
    X = np.random.default_rng(seed).normal(size=(len(IDS), 2))
    al = ActiveLearning(project, features=X, retrain_every=1000, seed=seed)
    return Case(project, al, "ana", IDS, closers=[al.close])


def _stream(new_project, seed):
    # The project's items arrive as a stream; a reservoir with room for all of them holds all.
    project = new_project()
    sampler = StreamSampler(project, "s", capacity=len(IDS), by=lambda row: row["id"][-1] < "5",
                            id="id", text="text", seed=seed)
    sampler.ingest([{"id": i, "text": f"text {i}"} for i in IDS], batch_size=5)
    return Case(project, sampler.queue(), "ana", IDS)


def _own(new_project, seed):
    return Case(new_project(), OwnQueue(), "ana", IDS)


BUILDERS = {"sequential": _sequential, "weak_label": _weak, "overlap": _overlap,
            "router": _router, "round_robin": _round_robin, "adjudication": _adjudication, "span_adjudication": _span_adjudication,
            "active_learning": _active, "stream": _stream,
            "own_duck_typed": _own}


@pytest.fixture(params=list(BUILDERS))
def build(request, make_project):
    """``build(name="q", seed=0)``: a fresh case on its own file, closed after the test (its
    queue here, its project by ``make_project``, which tears down after this fixture)."""
    cases = []

    def make(name: str = "q", seed: int = 0) -> Case:
        def new_project(**kwargs) -> Project:
            return _project(make_project, f"{name}.hitl", **kwargs)

        case = BUILDERS[request.param](new_project, seed)
        cases.append(case)
        return case

    make.kind = request.param
    yield make
    for case in cases:
        for close in case.closers:
            close()


def _served_as_promised(labeled: list[str], case: Case) -> None:
    assert len(set(labeled)) == len(labeled), f"{labeled} holds an item twice"
    missing = set(case.must_serve) - set(labeled)
    assert not missing, f"the session ran dry without serving {sorted(missing)}"
    extra = set(labeled) - set(case.may_serve or case.must_serve)
    assert not extra, f"the session served {sorted(extra)}, which this queue should not"


def _drain(session: LabelingSession, case: Case, limit: int = 100) -> list[str]:
    """Label whatever the session shows first until it shows nothing; the items labeled."""
    labeled: list[str] = []
    for _ in range(limit):
        window = session.window()
        assert not set(window) & set(labeled), f"{window} repeats an item already labeled"
        if not window:
            return labeled
        case.answer(session, window[0])
        labeled.append(window[0])
    raise AssertionError(f"the session never ran dry after {limit} labels: {labeled}")


# -- the contract of next_ids ----------------------------------------------------------------
def test_every_builtin_queue_implements_the_contract(build):
    case = build()
    if build.kind == "own_duck_typed":
        pytest.skip("a user's duck-typed queue is adapted by the session, not a subclass")
    assert isinstance(case.queue, Queue)
    assert isinstance(case.queue.describe(), str)
    for flag in ("blind", "reveals_labels", "resolves"):
        assert isinstance(getattr(case.queue, flag), bool)


def test_next_ids_never_returns_excluded_unknown_repeated_or_too_many_ids(build):
    case = build()
    queue = case.queue
    rng = np.random.default_rng(7)
    for _ in range(40):
        exclude = {i for i in IDS if rng.random() < 0.4} | {"not-an-item"}
        n = int(rng.integers(0, 8))
        out = queue.next_ids(case.project, case.annotator, set(exclude), n)
        assert len(out) <= n
        assert len(set(out)) == len(out), f"{out} repeats an id"
        assert not set(out) & exclude, f"{out} holds excluded ids {set(out) & exclude}"
        assert set(out) <= set(IDS), f"{out} holds ids that are not items"


def test_an_id_no_longer_excluded_comes_back_after_reset(build):
    case = build()
    queue = Queue.adapt(case.queue)
    first = queue.next_ids(case.project, case.annotator, set(), 1)
    assert first, "the queue serves nothing on a fresh project"
    everything = len(IDS)
    # Exclude it, as a session does while the item is labeled, and let the queue move past it.
    served = queue.next_ids(case.project, case.annotator, set(first), everything)
    assert first[0] not in served
    queue.reset(case.annotator)  # what a session calls after an undo anywhere
    assert first[0] in queue.next_ids(case.project, case.annotator, set(), everything)


# -- reproducible for a seed -----------------------------------------------------------------
def _script(case: Case) -> list[list[str]]:
    """A fixed sequence of actions; the windows the session showed along the way."""
    session = LabelingSession(case.project, case.annotator, prefetch=3, queue=case.queue)
    windows = [session.window()]
    for step in range(6):
        window = windows[-1]
        if not window:
            break
        if step == 2:
            session.skip(window[0])
        elif step == 4:
            session.undo()
        else:
            case.answer(session, window[0])
        windows.append(session.window())
    session.close()
    return windows


def test_same_seed_and_same_calls_give_the_same_ids(build):
    first = _script(build("one", seed=3))
    second = _script(build("two", seed=3))
    assert first == second
    assert any(first), "the script saw no items at all"


# -- through a session: nothing is lost -------------------------------------------------------
def test_a_session_serves_every_item_once_then_runs_dry(build):
    case = build()
    session = LabelingSession(case.project, case.annotator, prefetch=3, queue=case.queue)
    _served_as_promised(_drain(session, case), case)
    session.close()


def test_an_item_undone_in_another_connection_comes_back(build):
    case = build()
    session = LabelingSession(case.project, case.annotator, prefetch=3, queue=case.queue)
    labeled: list[str] = []
    # Five labels at least, the last one on an item the queue must serve (not a gold draw).
    while len(labeled) < 5 or labeled[-1] not in case.must_serve:
        item_id = session.window()[0]
        case.answer(session, item_id)
        labeled.append(item_id)
    session.window()  # the queue has moved past what was labeled

    other = Project(case.project.path)  # another kernel on the same file
    undone = other.undo(annotator=case.annotator)
    other.close()
    assert undone["item_id"] == labeled[-1]

    rest = _drain(session, case)
    assert labeled[-1] in rest, f"{labeled[-1]!r} was undone elsewhere and never served again"
    _served_as_promised(labeled[:-1] + rest, case)
    progress = session.progress()
    assert progress["done"] == progress["total"] or build.kind in ("overlap", "router")  # gold left
    session.close()


def test_an_item_undone_in_this_session_comes_back_first(build):
    case = build()
    session = LabelingSession(case.project, case.annotator, prefetch=3, queue=case.queue)
    for _ in range(3):
        item_id = session.window()[0]
        case.answer(session, item_id)
    session.window()
    undone = session.undo()
    assert session.window()[0] == undone["item_id"]
    session.close()


def test_a_skipped_item_is_not_lost(build):
    case = build()
    session = LabelingSession(case.project, case.annotator, prefetch=3, queue=case.queue)
    skipped = session.window()[0]
    session.skip(skipped)
    assert skipped not in session.window()[:1]  # it waits behind the rest
    labeled = _drain(session, case)
    assert skipped in labeled or skipped not in case.must_serve
    _served_as_promised(labeled, case)
    session.close()


def test_a_skip_undone_in_another_connection_puts_the_item_back_in_line(build):
    case = build()
    session = LabelingSession(case.project, case.annotator, prefetch=3, queue=case.queue)
    first = session.window()[0]
    case.answer(session, first)
    skipped = session.window()[0]
    session.skip(skipped)
    session.window()
    other = Project(case.project.path)
    assert other.undo(annotator=case.annotator)["item_id"] == skipped
    other.close()
    _served_as_promised([first, *_drain(session, case)], case)
    session.close()


# -- the session's side of the contract --------------------------------------------------------
def test_a_duck_typed_queue_is_adapted_once_and_keeps_its_own_flags(project):
    project.suggest(["i11"], ["spam"], [0.9])

    class Blind(OwnQueue):
        blind = True

    seen = LabelingSession(project, "ana", queue=OwnQueue(), prefetch=1)
    blind = LabelingSession(project, "ana", queue=Blind(), prefetch=1)
    assert isinstance(blind.queue, Queue)
    assert seen.window() == blind.window() == ["i11"]
    assert seen.payloads(["i11"])[0][0]["suggestion"]["labels"] == ["spam"]
    assert blind.payloads(["i11"])[0][0]["suggestion"] is None
    assert "queue" not in blind.progress()  # nothing to describe
    seen.close()
    blind.close()


class CountingQueue(SequentialQueue):
    """The default queue, counting the resets the session asks for."""

    def __init__(self):
        super().__init__()
        self.resets = 0

    def reset(self, annotator):
        self.resets += 1
        super().reset(annotator)


def test_the_queue_is_reset_after_an_undo_elsewhere_and_not_after_other_writes(project):
    queue = CountingQueue()
    session = LabelingSession(project, "ana", queue=queue, prefetch=len(IDS))
    session.submit(session.window()[0], ["ham"])
    session.window()
    before = queue.resets
    other = Project(project.path)
    other.annotate("i05", "spam", annotator="bob")  # a write that reopens nothing
    other.annotate("i06", "spam", annotator="ana")
    assert "i06" not in session.window()
    assert queue.resets == before
    other.undo(annotator="ana")
    assert "i06" in session.window()
    assert queue.resets == before + 1
    other.close()
    session.close()


@pytest.mark.parametrize("queue", [42, "sequential", object()])
def test_something_that_is_not_a_queue_is_refused_when_the_session_starts(project, queue):
    with pytest.raises(TypeError, match="next_ids"):
        LabelingSession(project, "ana", queue=queue)
    assert project.events().empty


def test_a_weak_label_queue_refuses_ids_that_are_not_items(project):
    with pytest.raises(KeyError, match=r"\['nope'\].*project.items\(\)"):
        LabelingSession(project, "ana", queue=WeakLabelQueue(["i03", "nope"])).window()
    assert project.events().empty


def test_a_queue_subclass_without_next_ids_cannot_be_made():
    class Half(Queue):
        pass

    with pytest.raises(TypeError, match="next_ids"):
        Half()
