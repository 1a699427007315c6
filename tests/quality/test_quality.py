"""The quality workflow: overlap queue, gold items, spot checks, relabel alerts, adjudication."""

from __future__ import annotations

import math
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hitl_widgets as hw
import hitl_widgets.core.store._migrations as migrations
from hitl_widgets.core.labeling import LabelingSession
from hitl_widgets.core.quality import AdjudicationQueue, OverlapQueue
from hitl_widgets.core.store import SchemaError, Store

LABELS = ["ham", "spam", "eggs"]


@pytest.fixture
def project(make_project):
    return make_project(LABELS, 40, ids=[f"i{k:02d}" for k in range(40)], name="q.hitl")


def label_all(sessions: dict[str, LabelingSession], answer=lambda who, item: "ham") -> None:
    """Round-robin: each annotator labels the first item of their window until none is left."""
    busy = True
    while busy:
        busy = False
        for who, session in sessions.items():
            window = session.window()
            if window:
                session.submit(window[0], [answer(who, window[0])])
                busy = True


# -- overlap ------------------------------------------------------------------------------------
def test_each_item_gets_exactly_k_annotators(project):
    project.set_overlap(2)
    project.set_overlap(3, item_ids=["i00", "i01"])
    queue = OverlapQueue(gold_rate=0)
    sessions = {a: LabelingSession(project, a, queue=queue, prefetch=3) for a in "abcd"}
    label_all(sessions)
    cov = project.coverage().set_index("item_id")
    assert cov.loc[["i00", "i01"], "labeled"].tolist() == [3, 3]
    assert (cov.drop(["i00", "i01"])["labeled"] == 2).all()
    assert not cov["over"].any()
    labels = project.labels()
    assert not labels.duplicated(["item_id", "annotator"]).any()


def test_an_item_at_k_is_not_served_and_a_lease_holds_a_slot(project):
    project.set_overlap(1)
    queue = OverlapQueue(gold_rate=0)
    ana = LabelingSession(project, "ana", queue=queue, prefetch=4)
    bob = LabelingSession(project, "bob", queue=queue, prefetch=4)
    first = ana.window()
    assert len(first) == 4
    for item in project.items()["item_id"]:
        if item not in first:
            project.annotate(item, "ham", annotator="cy")  # every other item is at k
    assert bob.window() == []  # ana's leases hold her items
    assert ana.window() == first  # and her window is stable


def test_an_expired_lease_frees_its_slot(project):
    project.set_overlap(1)
    ana = LabelingSession(project, "ana", queue=OverlapQueue(gold_rate=0, lease_s=1e-6), prefetch=2)
    bob = LabelingSession(project, "bob", queue=OverlapQueue(gold_rate=0), prefetch=2)
    first = ana.window()
    for item in project.items()["item_id"]:
        if item not in first:
            project.annotate(item, "ham", annotator="cy")
    assert sorted(bob.window()) == sorted(first)


def test_overlap_sessions_are_blind_to_suggestions_and_others_labels(project):
    project.set_overlap(2)
    project.suggest(["i00"], ["spam"], [0.9])
    project.annotate("i00", "eggs", annotator="ana")
    bob = LabelingSession(project, "bob", queue=OverlapQueue(gold_rate=0), prefetch=40)
    payloads, _ = bob.payloads(bob.window())
    (seen,) = [p for p in payloads if p["item_id"] == "i00"]
    assert seen["suggestion"] is None and "others" not in seen
    assert "eggs" not in repr(payloads)


def test_skipped_item_comes_back_only_while_it_has_a_free_slot(project):
    project.set_overlap(1)
    project.add_items(["x"], id=["zz"])
    ana = LabelingSession(project, "ana", queue=OverlapQueue(gold_rate=0, lease_s=1e-6), prefetch=2)
    for item in [f"i{k:02d}" for k in range(40)]:
        project.annotate(item, "ham", annotator="bob")
    assert ana.window() == ["zz"]
    ana.skip("zz")
    project.annotate("zz", "ham", annotator="cy")  # the slot is taken while ana had skipped it
    assert ana.window() == []


def test_requested_item_goes_to_another_annotator(project):
    project.set_overlap(1)
    label_all({"ana": LabelingSession(project, "ana", queue=OverlapQueue(gold_rate=0))})
    project.store.append("request", "i07", extra={"reason": "spot_check", "why": "test"})
    bob = LabelingSession(project, "bob", queue=OverlapQueue(gold_rate=0), prefetch=3)
    ana = LabelingSession(project, "ana", queue=OverlapQueue(gold_rate=0), prefetch=3)
    assert bob.window() == ["i07"] and ana.window() == []


# -- gold ----------------------------------------------------------------------------------------
def test_gold_is_mixed_in_at_the_rate_at_random_positions(tmp_path):
    p = hw.Project(tmp_path / "g.hitl", labels=LABELS)
    p.add_items([f"t{k}" for k in range(1200)], id=[f"j{k:04d}" for k in range(1200)])
    gold = [f"j{k:04d}" for k in range(0, 1200, 6)]  # 200 gold items among the rest
    p.set_gold(gold, ["ham"] * len(gold))
    p.set_overlap(2)
    orders = []
    for seed in (1, 2):
        session = LabelingSession(p, f"ann{seed}", queue=OverlapQueue(gold_rate=0.1, seed=seed),
                                  prefetch=1)
        served = []
        for _ in range(600):
            (item,) = session.window()
            served.append(item)
            session.submit(item, ["ham"])
        orders.append([k for k, i in enumerate(served) if i in set(gold)])
    for positions in orders:
        assert 0.07 <= len(positions) / 600 <= 0.13
    assert orders[0] != orders[1]  # positions follow the seed, not a fixed pattern
    gaps = np.diff(orders[0])
    assert gaps.min() >= 1 and gaps.std() > 2  # irregular spacing, not every tenth item


def test_the_same_seed_serves_the_same_order(tmp_path):
    orders = []
    for name in ("one", "two"):
        p = hw.Project(tmp_path / f"{name}.hitl", labels=LABELS)
        p.add_items([f"t{k}" for k in range(200)], id=[f"j{k:03d}" for k in range(200)])
        p.set_gold({f"j{k:03d}": "ham" for k in range(0, 200, 5)})
        session = LabelingSession(p, "ana", queue=OverlapQueue(gold_rate=0.2, seed=4), prefetch=2)
        served = []
        while window := session.window():
            served.append(window[0])
            session.submit(window[0], ["ham"])
        orders.append(served)
        p.close()
    assert orders[0] == orders[1] and len(orders[0]) > 150


def test_gold_items_are_served_once_to_every_annotator_not_capped_by_k(project):
    project.set_overlap(1)
    project.set_gold(["i03", "i09"], ["spam", "ham"])
    queue = OverlapQueue(gold_rate=0.5, seed=3)
    sessions = {a: LabelingSession(project, a, queue=queue, prefetch=2) for a in ["ana", "bob"]}
    label_all(sessions)
    labels = project.labels()
    for item in ["i03", "i09"]:
        assert sorted(labels[labels["item_id"] == item]["annotator"]) == ["ana", "bob"]


def test_gold_accuracy_counts_and_flags(project):
    project.set_gold([f"i{k:02d}" for k in range(10)], ["spam"] * 10)
    for k in range(10):
        project.annotate(f"i{k:02d}", "spam", annotator="good")
        project.annotate(f"i{k:02d}", "spam" if k < 8 else "ham", annotator="poor")
    project.annotate("i00", "ham", annotator="new")
    project.annotate("i15", "ham", annotator="good")  # not gold: does not count
    acc = project.gold_accuracy().set_index("annotator")
    assert acc.loc["good", ["n", "correct"]].tolist() == [10, 10]
    assert acc.loc["poor", "accuracy"] == pytest.approx(0.8) and acc.loc["poor", "flagged"]
    assert not acc.loc["new", "flagged"]  # one item is too few to act on
    flagged = project.flagged()
    assert flagged["annotator"].tolist() == ["poor"]
    assert "8 of 10 gold items right (80%)" in flagged["reason"][0]
    assert project.flagged(threshold=0.75).empty


def test_latest_label_counts_for_gold_and_both_are_audited(project):
    project.set_gold(["i00"], ["spam"])
    project.annotate("i00", "ham", annotator="ana")
    project.annotate("i00", "spam", annotator="ana")
    acc = project.gold_accuracy(min_count=1)
    assert acc[["n", "correct"]].values.tolist() == [[1, 1]]
    assert project.events().query("kind == 'annotation'")["labels"].tolist() == [["ham"], ["spam"]]


def test_latest_gold_answer_counts_and_removal_restores_item(project):
    project.set_gold({"i00": "spam", "i01": "ham"})
    project.set_gold(["i00"], ["eggs"])
    assert dict(project.gold()[["item_id", "label"]].values) == {"i00": "eggs", "i01": "ham"}
    assert project.remove_gold(["i00"]) == 2
    assert project.gold()["item_id"].tolist() == ["i01"]
    assert project.remove_gold(["i00"]) == 0


def test_gold_labels_outside_the_schema_are_refused_and_nothing_is_written(project):
    with pytest.raises(SchemaError, match=r"item 'i01'.*Unknown label 'spma'; expected one of"):
        project.set_gold(["i00", "i01"], ["spam", "spma"])
    with pytest.raises(KeyError, match="Unknown item id"):
        project.set_gold(["i00", "nope"], ["spam", "ham"])
    with pytest.raises(ValueError, match="2 item ids and 1 labels"):
        project.set_gold(["i00", "i01"], ["spam"])
    with pytest.raises(ValueError, match="two gold answers"):
        project.set_gold(["i00", "i00"], ["spam", "ham"])
    with pytest.raises(TypeError, match="set_gold"):
        project.set_gold(["i00"])
    assert project.gold().empty and project.events().empty


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["i00", "i01", "i02", "zz", "", 3]),
                          st.one_of(st.sampled_from(LABELS), st.text(max_size=4),
                                    st.lists(st.sampled_from(LABELS), max_size=2), st.none())),
                max_size=4))
def test_fuzzed_gold_input_is_all_or_nothing(project, pairs):
    before = len(project.store.events())
    ids, labels = [i for i, _ in pairs], [lab for _, lab in pairs]
    try:
        project.set_gold(ids, labels)
    except (ValueError, KeyError, TypeError, SchemaError) as exc:
        assert str(exc)
        assert len(project.store.events()) == before
    else:
        gold = project.gold().set_index("item_id")["label"]
        for item, label in pairs:
            if not isinstance(label, str):  # one label per item in a single-label project
                label = label[0]
            assert gold[str(item)] == label


@pytest.mark.parametrize("k", [0, -1, 1.5, "2", None, True, math.nan])
def test_k_must_be_a_whole_number_of_annotators(project, k):
    with pytest.raises(ValueError, match="whole number of annotators"):
        project.set_overlap(k)
    assert project.store.overlap_default() == 1


@pytest.mark.parametrize("k", [10**30, 10_001, np.int64(2**62)])
def test_k_beyond_ten_thousand_annotators_is_refused_and_nothing_is_written(project, k):
    before = len(project.store.events())
    for item_ids in (None, ["i00"]):
        with pytest.raises(ValueError, match="more than the 10,000 supported"):
            project.set_overlap(k, item_ids=item_ids)
    assert project.store.overlap_default() == 1 and len(project.store.events()) == before
    project.set_overlap(10_000)  # the largest k is accepted, and counted without overflow
    assert (project.coverage()["needed"] == 10_000).all()


@pytest.mark.parametrize("rate", [-0.01, 1.01, math.nan, math.inf, "0.1", None, True])
def test_rates_must_be_in_zero_one(project, rate):
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        OverlapQueue(gold_rate=rate)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        project.spot_check(rate=rate)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        project.gold_accuracy(threshold=rate)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.floats(allow_nan=True), st.integers(-5, 5), st.text(max_size=3), st.none()))
def test_fuzzed_rates_are_accepted_exactly_in_zero_one(project, rate):
    ok = isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 <= rate <= 1
    try:
        queue = OverlapQueue(gold_rate=rate)
    except ValueError:
        assert not ok
    else:
        assert ok and queue.gold_rate == rate


# -- spot checks and relabel alerts -------------------------------------------------------------
def test_spot_check_is_stratified_by_label_and_goes_to_another_annotator(project):
    for k in range(40):
        project.annotate(f"i{k:02d}", "spam" if k < 20 else "ham", annotator="ana")
    chosen = project.spot_check(rate=0.1, seed=0)
    labels = project.labels().set_index("item_id")["label"]
    assert sorted(labels[chosen].value_counts().tolist()) == [2, 2]
    assert project.spot_check(rate=0.1, seed=0) == []  # the share is already checked
    bob = LabelingSession(project, "bob", queue=OverlapQueue(gold_rate=0), prefetch=10)
    assert sorted(bob.window()) == sorted(chosen)
    ana = LabelingSession(project, "ana", queue=OverlapQueue(gold_rate=0), prefetch=10)
    assert ana.window() == []


def test_agreement_drop_queues_the_label_with_a_reason(project):
    project.set_overlap(2)
    for k in range(30):
        item = f"i{k:02d}"
        project.annotate(item, "spam", annotator="ana")
        bob_says = "spam" if k < 10 or k % 3 == 0 else "eggs"  # drifts after item 10
        project.annotate(item, bob_says, annotator="bob")
    alerts = project.check_agreement(window=15, threshold=0.7, min_items=10)
    by_label = {a["label"]: a for a in alerts}
    assert set(by_label) == {"spam", "eggs"}
    spam = by_label["spam"]
    assert spam["agreement"] == pytest.approx(5 / 15) and spam["window"] == 15
    assert "agreement on 'spam' fell to 33% over the last 15 items" in spam["reason"]
    assert project.check_agreement(window=15, threshold=0.7, min_items=10) == []  # not twice
    table = project.quality_alerts()
    assert set(table["label"]) == {"spam", "eggs"} and (table["n_items"] > 0).all()
    queued = set(spam["item_ids"])
    cy = LabelingSession(project, "cy", queue=OverlapQueue(gold_rate=0), prefetch=40)
    assert queued <= set(cy.window())


def test_agreement_drop_in_a_meta_slice_queues_that_slice(tmp_path):
    import pandas as pd

    p = hw.Project(tmp_path / "s.hitl", labels=LABELS)
    df = pd.DataFrame({"text": [f"t{k}" for k in range(40)], "id": [f"s{k:02d}" for k in range(40)],
                       "source": ["web" if k % 2 else "mail" for k in range(40)]})
    p.add_items(df, text="text", id="id", meta=["source"])
    for k in range(40):
        p.annotate(f"s{k:02d}", "spam", annotator="ana")
        p.annotate(f"s{k:02d}", "ham" if k % 2 and k % 5 else "spam", annotator="bob")  # web drifts
    (alert,) = p.check_agreement(window=20, threshold=0.7, by="source")
    assert alert["label"] == "source=web" and alert["agreement"] == pytest.approx(4 / 20)
    assert "agreement on items with source=web fell to 20%" in alert["reason"]
    assert all(int(i[1:]) % 2 for i in alert["item_ids"])
    with pytest.raises(ValueError, match="by must name"):
        p.check_agreement(by="")
    p.close()


@pytest.mark.parametrize("kwargs, match", [
    ({"window": 0}, "window must be a whole number"), ({"min_items": 2.5}, "min_items"),
    ({"threshold": 2}, r"in \[0, 1\]"), ({"by": 3}, "by must name")])
def test_check_agreement_refuses_bad_settings(project, kwargs, match):
    with pytest.raises(ValueError, match=match):
        project.check_agreement(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"lease_s": 0}, "lease_s"), ({"lease_s": math.inf}, "lease_s"), ({"seed": 1.5}, "seed"),
    ({"gold_rate": 1.5}, "gold_rate")])
def test_overlap_queue_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OverlapQueue(**kwargs)


def test_adjudication_queue_refuses_bad_settings():
    with pytest.raises(ValueError, match="Unknown consensus method 'vote'"):
        AdjudicationQueue(method="vote")
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\]"):
        AdjudicationQueue(threshold=-1)


def test_steady_agreement_raises_no_alert(project):
    for k in range(30):
        for who in ("ana", "bob"):
            project.annotate(f"i{k:02d}", "spam", annotator=who)
    assert project.check_agreement(window=20, threshold=0.7) == []
    assert project.quality_alerts().empty


# -- adjudication ------------------------------------------------------------------------------
def test_adjudicator_sees_others_labels_and_resolves(project):
    pytest.importorskip("hitl_widgets.core.quality", reason="flags come from core.quality")
    project.set_overlap(3)
    votes = {"i00": ["spam", "ham", "eggs"], "i01": ["spam", "spam", "spam"],
             "i02": ["ham", "ham", "spam"]}
    for item, labels in votes.items():
        for who, label in zip(["ana", "bob", "cy"], labels, strict=True):
            project.annotate(item, label, annotator=who)
    queue = project.adjudication_queue(threshold=0.75)
    sam = LabelingSession(project, "sam", queue=queue, prefetch=4)
    assert sam.window() == ["i00", "i02"]
    payloads, _ = sam.payloads(["i00"])
    assert sorted((o["annotator"], o["labels"][0]) for o in payloads[0]["others"]) == [
        ("ana", "spam"), ("bob", "ham"), ("cy", "eggs")]
    sam.submit("i00", ["spam"])
    assert sam.window() == ["i02"]
    assert sam.progress()["done"] == 1 and sam.progress()["total"] == 2
    assert project.resolutions()[["item_id", "label", "annotator"]].values.tolist() == [
        ["i00", "spam", "sam"]]
    assert project.labels().query("annotator == 'sam'").empty  # a resolution is not a vote
    sam.undo("i00")
    assert sam.window()[0] == "i00" and project.resolutions().empty
    flags = project.flags().set_index("item_id")
    assert "below 0.75" in flags.loc["i00", "reason"]


def test_final_labels_take_the_resolution_over_the_vote(project):
    pytest.importorskip("hitl_widgets.core.quality", reason="flags come from core.quality")
    project.set_overlap(2)
    project.set_gold(["i02"], ["eggs"])
    for item, (a, b) in {"i00": ("spam", "spam"), "i01": ("spam", "ham"),
                         "i02": ("eggs", "eggs")}.items():
        project.annotate(item, a, annotator="ana")
        project.annotate(item, b, annotator="bob")
    project.resolve("i01", "ham", annotator="sam")
    final = project.final_labels().set_index("item_id")
    assert final.index.tolist() == ["i00", "i01"]  # i02 is gold; unfinished items wait
    assert final.loc["i00", ["label", "source"]].tolist() == ["spam", "majority"]
    assert final.loc["i00", "confidence"] == pytest.approx(1.0)
    assert final.loc["i01", ["label", "source"]].tolist() == ["ham", "resolution"]


def test_queue_depth_counts_what_is_left(project):
    project.set_overlap(2)
    project.set_gold(["i39"], ["ham"])
    project.annotate("i00", "ham", annotator="ana")
    project.annotate("i00", "spam", annotator="ana")  # the same annotator twice counts once
    project.annotate("i01", "ham", annotator="ana")
    project.annotate("i01", "ham", annotator="bob")
    project.store.append("request", "i01", extra={"reason": "spot_check", "why": "test"})
    assert project.queue_depth() == {"items": 39, "labels": 2 * 37 + 1 + 1, "requests": 1,
                                     "adjudication": 0}
    assert project.coverage().set_index("item_id").loc["i00", "labeled"] == 1


def test_adjudicator_labeler_sends_others_and_its_submit_resolves(project):
    pytest.importorskip("hitl_widgets.core.quality", reason="flags come from core.quality")
    project.set_overlap(2)
    project.annotate("i00", "spam", annotator="ana")
    project.annotate("i00", "ham", annotator="bob")
    sent = []
    sam = hw.Labeler(project, annotator="sam", queue=project.adjudication_queue())
    sam.send = lambda content, buffers=None: sent.append(content)
    sam._dispatch(sam, {"type": "fetch", "item_ids": ["i00"]}, [])
    (payload,) = sent[-1]["items"]
    assert sorted(o["annotator"] for o in payload["others"]) == ["ana", "bob"]
    sam._dispatch(sam, {"type": "submit", "item_id": "i00", "labels": ["ham"], "client_seq": 1}, [])
    assert [m["client_seq"] for m in sent if m["type"] == "ack"] == [1]
    assert sam.window == [] and sam.progress["done"] == 1
    assert project.resolutions()["label"].tolist() == ["ham"]
    sam.close()


def test_dawid_skene_flags_only_contested_items(project):
    pytest.importorskip("hitl_widgets.core.quality", reason="flags come from core.quality")
    project.set_overlap(3)
    rng = np.random.default_rng(0)
    contested = set()
    for k in range(40):
        item, truth = f"i{k:02d}", LABELS[k % 3]
        votes = [truth if rng.random() < 0.85 else LABELS[(k + 1) % 3] for _ in range(3)]
        if len(set(votes)) > 1:
            contested.add(item)
        for who, label in zip(["ana", "bob", "cy"], votes, strict=True):
            project.annotate(item, label, annotator=who)
    flagged = set(project.flag_disagreements(threshold=0.9, method="dawid_skene"))
    assert flagged and flagged <= contested


def test_two_adjudicators_get_different_items(project):
    pytest.importorskip("hitl_widgets.core.quality", reason="flags come from core.quality")
    project.set_overlap(2)
    for k in range(4):
        project.annotate(f"i{k:02d}", "spam", annotator="ana")
        project.annotate(f"i{k:02d}", "ham", annotator="bob")
    sam = LabelingSession(project, "sam", queue=AdjudicationQueue(), prefetch=2)
    max_ = LabelingSession(project, "max", queue=AdjudicationQueue(), prefetch=2)
    assert sam.window() == ["i00", "i01"] and max_.window() == ["i02", "i03"]


def test_labeling_sessions_never_show_others_labels(project):
    project.annotate("i00", "eggs", annotator="bob")
    ana = LabelingSession(project, "ana", prefetch=2)
    payloads, _ = ana.payloads(ana.window())
    assert all("others" not in p for p in payloads) and "eggs" not in repr(payloads)


# -- the file ------------------------------------------------------------------------------------
def test_a_version_1_file_is_migrated_with_its_log_intact(tmp_path):
    path = tmp_path / "old.hitl"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in migrations._statements(migrations._V1):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(f"PRAGMA application_id = {migrations.APPLICATION_ID}")  # as v1 stamped it
    conn.execute("INSERT INTO items(item_id, kind, text, content_hash, added_at) "
                 "VALUES ('a', 'text', 'x', 'h', 0)")
    conn.execute("INSERT INTO events(kind, item_id, annotator, labels, created_at) "
                 "VALUES ('annotation', 'a', 'ana', '[\"ham\"]', 1)")
    conn.execute("INSERT INTO events(kind, item_id, annotator, target, created_at) "
                 "VALUES ('retraction', 'a', 'ana', 1, 2)")
    conn.close()
    store = Store(path)
    assert [(e["seq"], e["kind"]) for e in store.events()] == [(1, "annotation"), (2, "retraction")]
    assert store.append("gold", "a", labels=["ham"]) == 3
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store._conn.execute("DELETE FROM events")
    with pytest.raises(sqlite3.IntegrityError, match="unknown event kind"):
        store._conn.execute("INSERT INTO events(kind, item_id, created_at) VALUES ('x', 'a', 0)")
    assert store._conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST
    store.close()


# -- real crowd data -------------------------------------------------------------------------------
SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"  # beside the checkout
SNOW2008 = Path(os.environ.get("HITL_DATASETS", SHARED))
SNOW2008 = SNOW2008 / "snow2008" / "rte.standardized.tsv"


@pytest.fixture(scope="module")
def rte(tmp_path_factory):
    """Snow et al. (2008) RTE: 800 items, 10 Mechanical Turk labels each, expert gold."""
    if not SNOW2008.exists():
        pytest.skip(f"{SNOW2008} is absent (the shared data sets are not in a fresh clone)")
    import pandas as pd

    df = pd.read_csv(SNOW2008, sep="\t", dtype=str).rename(
        columns={"!amt_worker_ids": "worker", "orig_id": "item"})
    p = hw.Project(tmp_path_factory.mktemp("rte") / "rte.hitl", labels=["0", "1"])
    items = sorted(df["item"].unique())
    p.add_items([f"RTE pair {i}" for i in items], id=items)
    p.set_overlap(10)
    p.store.append_many(dict(kind="annotation", item_id=r.item, annotator=r.worker,
                             labels=[r.response], source="human") for r in df.itertuples())
    yield p, df
    p.close()


def test_gold_accuracy_on_snow2008_rte_matches_a_direct_count(rte):
    project, df = rte
    gold = df.drop_duplicates("item").set_index("item")["gold"].iloc[::2]  # half the items
    project.set_gold(gold.index.tolist(), gold.tolist())
    try:
        on_gold = df[df["item"].isin(gold.index)]
        expected = on_gold.assign(ok=on_gold["response"] == on_gold["gold"]).groupby("worker")["ok"]
        got = project.gold_accuracy(threshold=0.85, min_count=5).set_index("annotator")
        assert sorted(got.index) == sorted(expected.groups)
        assert (got["n"] == expected.size().reindex(got.index)).all()
        assert (got["correct"] == expected.sum().reindex(got.index)).all()
        flagged = (expected.size() >= 5) & (expected.mean() < 0.85)
        assert sorted(project.flagged()["annotator"]) == sorted(flagged[flagged].index)
        assert 0 < len(project.flagged()) < len(got)
    finally:
        project.remove_gold(gold.index.tolist())


def test_majority_flags_on_snow2008_rte_match_the_vote_shares(rte):
    pytest.importorskip("hitl_widgets.core.quality", reason="flags come from core.quality")
    project, df = rte
    flagged = set(project.flag_disagreements(threshold=0.7))
    share = df.groupby("item")["response"].agg(lambda s: s.value_counts(normalize=True).iloc[0])
    assert flagged == set(share[share < 0.7].index)
    assert 50 < len(flagged) < 400


def test_an_empty_project_has_nothing_queued(tmp_path):
    empty = hw.Project(tmp_path / "empty.hitl", labels=["ham", "spam"])
    assert empty.queue_depth() == {"items": 0, "labels": 0, "requests": 0, "adjudication": 0}
    assert empty.coverage().empty
