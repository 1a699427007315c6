"""Store invariants: the log only grows, undo restores the previous state, replay agrees."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hitl_widgets.core.store._migrations as migrations
from hitl_widgets.core.project import Project
from hitl_widgets.core.store import ItemRecord, Store, StoreError

LABELS = ["ham", "spam", "eggs"]
ITEMS = [f"i{k}" for k in range(6)]
ANNOTATORS = ["ana", "bob"]


def replay(events: list[dict]) -> dict[tuple[str, str], list[str]]:
    """Current labels by folding over the log in Python: the reference for the SQL query."""
    retracted = {e["target"] for e in events if e["kind"] == "retraction"}
    current: dict[tuple[str, str], list[str]] = {}
    for e in events:
        if e["kind"] == "annotation" and e["seq"] not in retracted:
            current[(e["item_id"], e["annotator"])] = e["labels"]
    return current


def current(project: Project) -> dict[tuple[str, str], list[str]]:
    return {(r["item_id"], r["annotator"]): r["labels"] for r in project.store.current_labels()}


@pytest.fixture
def project(make_project):
    return make_project(LABELS, len(ITEMS), ids=ITEMS)


actions = st.lists(
    st.one_of(
        st.tuples(st.just("annotate"), st.sampled_from(ITEMS), st.sampled_from(LABELS),
                  st.sampled_from(ANNOTATORS)),
        st.tuples(st.just("skip"), st.sampled_from(ITEMS), st.none(), st.sampled_from(ANNOTATORS)),
        st.tuples(st.just("undo"), st.none(), st.none(), st.sampled_from(ANNOTATORS)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=actions)
def test_log_is_append_only_and_replay_matches(tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("h") / "p.hitl"
    with Project(path, labels=LABELS) as p:
        p.add_items([f"text {k}" for k in range(len(ITEMS))], id=ITEMS)
        before: list[dict] = []
        for kind, item, label, who in steps:
            if kind == "annotate":
                p.annotate(item, label, annotator=who)
            elif kind == "skip":
                p.skip(item, annotator=who)
            else:
                p.undo(annotator=who)
            after = p.store.events()
            assert after[: len(before)] == before  # earlier events untouched
            assert len(after) >= len(before)
            before = after
        assert current(p) == replay(before)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=actions)
def test_undo_restores_previous_state(tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("h") / "p.hitl"
    with Project(path, labels=LABELS) as p:
        p.add_items([f"text {k}" for k in range(len(ITEMS))], id=ITEMS)
        history = {who: [] for who in ANNOTATORS}  # per annotator: states before each action
        for kind, item, label, who in steps:
            state = (current(p), p.store.annotator_state(who))
            if kind == "annotate":
                p.annotate(item, label, annotator=who)
                history[who].append(state)
            elif kind == "skip":
                p.skip(item, annotator=who)
                history[who].append(state)
            else:
                undone = p.undo(annotator=who)
                assert (undone is None) == (not history[who])
                if history[who]:
                    labels_before, who_state_before = history[who].pop()
                    assert p.store.annotator_state(who) == who_state_before
                    mine = {k: v for k, v in current(p).items() if k[1] == who}
                    assert mine == {k: v for k, v in labels_before.items() if k[1] == who}


def test_events_cannot_be_updated_or_deleted(project):
    project.annotate("i0", "spam", annotator="ana")
    conn = sqlite3.connect(project.path)
    for sql in ("UPDATE events SET labels = '[\"ham\"]'", "DELETE FROM events",
                "UPDATE items SET text = 'x'", "DELETE FROM items"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only|immutable"):
            conn.execute(sql)
    conn.close()
    assert project.labels()["label"].tolist() == ["spam"]


def test_an_event_is_retracted_at_most_once(project):
    seq = project.annotate("i0", "spam", annotator="ana")
    project.store.append("retraction", "i0", annotator="ana", target=seq)
    with pytest.raises(sqlite3.IntegrityError):
        project.store.append("retraction", "i0", annotator="ana", target=seq)


def test_relabel_then_undo_brings_back_the_first_label(project):
    project.annotate("i1", "ham", annotator="ana")
    project.annotate("i1", "spam", annotator="ana")
    assert project.labels()["label"].tolist() == ["spam"]
    project.undo(annotator="ana")
    assert project.labels()["label"].tolist() == ["ham"]


def test_undo_names_the_item_and_refuses_a_stale_one(project):
    project.annotate("i0", "ham", annotator="ana")
    project.annotate("i1", "ham", annotator="ana")
    with pytest.raises(StoreError, match="latest action is on 'i1'"):
        project.undo(annotator="ana", item_id="i0")
    assert len(project.labels()) == 2
    assert project.undo(annotator="ana", item_id="i1")["item_id"] == "i1"


def test_annotators_do_not_undo_each_other(project):
    project.annotate("i0", "ham", annotator="ana")
    project.annotate("i0", "spam", annotator="bob")
    project.undo(annotator="bob")
    labels = project.labels()
    assert labels[["item_id", "label", "annotator"]].values.tolist() == [["i0", "ham", "ana"]]


def test_undo_with_nothing_to_undo_returns_none(project):
    assert project.undo(annotator="ana") is None
    assert project.events().empty


def test_unknown_item_is_refused_and_nothing_written(project):
    with pytest.raises(KeyError, match="Unknown item id 'nope'"):
        project.annotate("nope", "ham", annotator="ana")
    assert project.events().empty


def test_fresh_process_sees_every_acknowledged_label(project):
    acked = [project.annotate(f"i{k}", LABELS[k % 3], annotator="ana") for k in range(6)]
    project.undo(annotator="ana")
    script = textwrap.dedent(f"""
        import json
        from hitl_widgets.core.project import Project
        p = Project({str(project.path)!r})
        print(json.dumps([int(s) for s in p.events()["seq"]]))
        print(json.dumps(p.labels()["item_id"].tolist()))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    seqs, labeled = (__import__("json").loads(line) for line in out.stdout.splitlines())
    assert set(acked) <= set(seqs)
    assert labeled == ["i0", "i1", "i2", "i3", "i4"]


def test_schema_version_and_wal_are_set(project):
    conn = sqlite3.connect(project.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_newer_schema_version_is_refused_with_advice(tmp_path):
    path = tmp_path / "new.hitl"
    Project(path, labels=["a"]).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="upgrade hitl_widgets"):
        Store(path)


def test_foreign_files_are_refused(tmp_path):
    text_file = tmp_path / "notes.hitl"
    text_file.write_text("not a database")
    with pytest.raises(StoreError, match="not a hitl_widgets project"):
        Project(text_file, labels=["a"])
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="other tables"):
        Project(other, labels=["a"])
    assert text_file.read_text() == "not a database"


def test_reopen_keeps_schema_and_refuses_different_labels(tmp_path):
    path = tmp_path / "p.hitl"
    Project(path, labels=["ham", "spam"], guidelines={"spam": "ads"}).close()
    with Project(path) as p:
        assert p.schema.labels == ("ham", "spam")
        assert p.schema.guidelines["spam"].description == "ads"
    with pytest.raises(ValueError, match="omit labels="):
        Project(path, labels=["spam", "ham"])


def test_new_project_needs_labels(tmp_path):
    with pytest.raises(ValueError, match="give its labels"):
        Project(tmp_path / "p.hitl")


def test_unknown_label_lists_the_valid_ones(project):
    with pytest.raises(ValueError, match=r"Unknown label 'spma'; expected one of \['ham', 'spam', 'eggs'\]"):
        project.annotate("i0", "spma", annotator="ana")
    assert project.events().empty


def test_suggestions_latest_wins(project):
    project.suggest(["i0", "i1"], ["ham", "spam"], [0.6, 0.9], version="m1")
    project.suggest(["i0"], ["spam"], [0.7], version="m2")
    got = project.store.latest_suggestions(["i0", "i1", "i2"])
    assert {k: (v["labels"], v["score"], v["extra"]) for k, v in got.items()} == {
        "i0": (["spam"], 0.7, {"version": "m2"}),
        "i1": (["spam"], 0.9, {"version": "m1"}),
    }


def test_item_count_follows_adds_from_any_connection_and_ignores_a_rolled_back_one(tmp_path):
    path = tmp_path / "count.hitl"
    store, other = Store(path), None
    try:
        assert store.item_count() == 0
        store.add_items([ItemRecord(f"a{k}", "text", text=f"a{k}", content_hash=f"a{k}")
                         for k in range(3)])
        other = Store(path)
        other.add_items([ItemRecord("b", "text", text="b", content_hash="b")])
        assert store.item_count() == other.item_count() == 4
        with pytest.raises(RuntimeError, match="changed my mind"), store.transaction():
            store.add_items([ItemRecord("c", "text", text="c", content_hash="c")])
            assert store.item_count() == 5  # counted afresh inside the block
            raise RuntimeError("changed my mind")
        assert store.item_count() == 4
        raw = sqlite3.connect(path)
        assert raw.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 4
        raw.close()
    finally:
        store.close()
        if other is not None:
            other.close()


@settings(max_examples=40, deadline=None)
@given(kinds=st.lists(st.sampled_from(["annotation", "skip", "gold", "request", "flag"]),
                      max_size=30),
       asked=st.lists(st.sampled_from(["annotation", "skip", "gold", "request", "flag",
                                       "retraction"]), max_size=4))
def test_max_seq_is_the_newest_event_of_the_kinds_asked(tmp_path_factory, kinds, asked):
    # One MAX per kind (an indexed lookup each) must equal the plain definition.
    project = Project(tmp_path_factory.mktemp("m") / "m.hitl", labels=LABELS)
    project.add_items(["a text"], id=["i0"])
    seqs = project.ledger.append_many(
        [dict(kind=k, item_id="i0", labels=["ham"] if k in ("annotation", "gold") else None,
              annotator="ana" if k in ("annotation", "skip") else None) for k in kinds],
        notify=False)
    expected = max((s for s, k in zip(seqs, kinds, strict=True) if k in asked), default=0)
    assert project.store.max_seq(asked) == expected
    assert project.store.max_seq() == max(seqs, default=0)
    project.close()


def test_item_events_reads_one_items_history_with_retractions_and_a_seq_range():
    store = Store(":memory:")
    store.add_items([ItemRecord("a", "text", text="x"), ItemRecord("b", "text", text="y")])
    s1 = store.append("annotation", "a", annotator="ana", labels=["spam"])
    store.append("annotation", "b", annotator="ana", labels=["ham"])
    store.retract_last("ana", "b")
    s4 = store.append("shown", "a", annotator="bob", suggestion=["ham"])
    s5 = store.retract_last("ana", "a") and store.max_seq()
    assert [e["seq"] for e in store.item_events(["a"])] == [s1, s4, s5]
    assert [e["kind"] for e in store.item_events(["a"], ["annotation", "retraction"])] == [
        "annotation", "retraction"]
    assert [e["seq"] for e in store.item_events(["a", "b"], after=s1, upto=s4)] == [2, 3, s4]
    assert store.item_hashes() == {r.item_id: r.content_hash for r in
                                   store.get_items(["a", "b"]).values()}
