"""Spans in the log: the span schema, submissions, undo per span and per item, the errors that
say what to do with nothing half-written, awkward text, and the v4 -> v5 migration."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hitl_widgets.core.store._migrations as migrations
from hitl_widgets.core.project import Project
from hitl_widgets.core.store import (
    FRAME_COLUMNS,
    LabelSchema,
    Ledger,
    SchemaError,
    SpanError,
    SpanSchema,
    Store,
)

FIRE = "👨🏻‍🚒 firemen drive firetrucks"
TEXTS = ["Ada Lovelace worked with Charles Babbage", FIRE, "no entities here"]
IDS = ["ada", "fire", "none"]


@pytest.fixture
def ner(tmp_path):
    with Project(tmp_path / "ner.hitl", span_labels=["PER", "ORG", "VEH"],
                 relation_labels=["works_with"]) as project:
        project.add_items(TEXTS, id=IDS)
        yield project


def _events(project) -> int:
    return len(project.events())


# -- the schema ---------------------------------------------------------------------------------
def test_a_span_project_needs_no_item_labels_and_reopens_with_its_span_schema(tmp_path):
    path = tmp_path / "p.hitl"
    Project(path, span_labels=["PER", "ORG"], relation_labels=["r"], overlapping=True).close()
    with Project(path) as project:
        assert project.span_schema == SpanSchema.build(["PER", "ORG"], relation_labels=["r"],
                                                       overlapping=True)
        assert project.schema.labels == ()
        project.add_items(["x"], id=["a"])
        with pytest.raises(SchemaError, match="spans only"):
            project.annotate("a", "PER", annotator="ana")


@pytest.mark.parametrize("kwargs, message", [
    ({"span_labels": ["PER"]}, "span_labels"),
    ({"relation_labels": []}, "relation_labels"),
    ({"overlapping": True}, "overlapping=False"),
])
def test_reopening_with_another_span_schema_is_refused(tmp_path, kwargs, message):
    path = tmp_path / "p.hitl"
    Project(path, span_labels=["PER", "ORG"], relation_labels=["r"]).close()
    with pytest.raises(SchemaError, match=message):
        Project(path, **kwargs)


def test_span_keys_may_change_on_reopen_and_are_kept(tmp_path):
    path = tmp_path / "p.hitl"
    Project(path, span_labels=["PER", "ORG"]).close()
    Project(path, span_keys={"ORG": "o"}).close()
    with Project(path) as project:
        assert project.span_schema.keys == {"PER": "1", "ORG": "o"}


def test_a_label_project_can_be_given_a_span_task_later(tmp_path):
    path = tmp_path / "p.hitl"
    Project(path, labels=["ham", "spam"]).close()
    with Project(path, span_labels=["PER"]) as project:
        assert project.schema.labels == ("ham", "spam")
        assert project.span_schema.labels == ("PER",)
    with Project(path) as project:
        assert project.span_schema.labels == ("PER",)


@pytest.mark.parametrize("kwargs, message", [
    ({"span_labels": []}, "at least one span label"),
    ({"span_labels": "PER"}, "list of names"),
    ({"span_labels": ["PER", "PER"]}, "unique"),
    ({"span_labels": ["PER"], "overlapping": "yes"}, "True or False"),
    ({"span_labels": ["PER"], "span_keys": {"PER": "s"}}, "reserved"),
])
def test_bad_span_schemas_are_refused_before_the_file_is_written(tmp_path, kwargs, message):
    path = tmp_path / "p.hitl"
    with pytest.raises(SchemaError, match=message):
        Project(path, **kwargs)
    assert not path.exists()


def test_span_settings_without_span_labels_are_refused(tmp_path):
    with pytest.raises(SchemaError, match="give its span_labels"):
        Project(tmp_path / "p.hitl", labels=["a"], relation_labels=["r"])
    with Project(tmp_path / "p.hitl", labels=["a"]) as project:  # nothing half-set was kept
        assert project.span_schema is None


def test_a_project_without_spans_says_how_to_get_them(project):
    with pytest.raises(SchemaError, match="span_labels="):
        project.submit_spans("0", [], annotator="ana")


# -- writing and reading ------------------------------------------------------------------------
def test_firetrucks_is_code_points_19_to_29_and_its_text_is_stored(ner):
    start = FIRE.index("firetrucks")
    done = ner.submit_spans("fire", [{"start": start, "end": start + 10, "label": "VEH",
                                      "text": "firetrucks"}], annotator="ana")
    spans = ner.spans()
    assert list(spans.columns) == FRAME_COLUMNS
    row = spans.iloc[0]
    assert (row.start, row.end, row.text, row.label) == (19, 29, "firetrucks", "VEH")
    assert row.span_id == done.span_ids[0] and row.submission == done.seq


def test_a_submission_with_no_spans_is_an_answer_that_progress_counts(ner):
    ner.submit_spans("none", [], annotator="ana")
    subs = ner.span_submissions()
    assert subs[["item_id", "n_spans"]].values.tolist() == [["none", 0]]
    assert ner.spans().empty
    done, skipped = ner.store.annotator_state("ana")
    assert done == {"none"} and skipped == {}
    assert ner.store.labelers(IDS) == {"none": {"ana"}}
    assert ner.labels().empty  # a span answer is not an item label


def test_a_new_submission_replaces_the_old_and_undo_brings_it_back(ner):
    ner.submit_spans("ada", [(0, 12, "PER")], annotator="ana")
    ner.submit_spans("ada", [(0, 3, "PER"), (25, 40, "PER")], annotator="ana")
    ner.submit_spans("ada", [(0, 12, "PER")], annotator="bob")
    assert ner.spans("ana")["text"].tolist() == ["Ada", "Charles Babbage"]
    undone = ner.undo_spans("ada", annotator="ana")
    assert undone["kind"] == "spans"
    assert ner.spans("ana")["text"].tolist() == ["Ada Lovelace"]
    assert ner.undo_spans("ada", annotator="ana") is not None
    assert ner.spans("ana").empty and ner.undo_spans("ada", annotator="ana") is None
    assert ner.spans()["annotator"].tolist() == ["bob"]  # bob's are his own


def test_the_projects_undo_takes_back_the_latest_submission_too(ner):
    ner.submit_spans("ada", [(0, 3, "PER")], annotator="ana")
    assert ner.undo(annotator="ana")["kind"] == "spans"
    assert ner.spans().empty and ner.store.annotator_state("ana")[0] == set()


def test_deleting_a_span_deletes_its_relations_in_the_same_transaction(ner):
    done = ner.submit_spans("ada", [(0, 12, "PER"), (25, 40, "PER"), (0, 3, "PER")][:2],
                            relations=[(0, 1, "works_with")], annotator="ana")
    assert ner.relations()[["head", "child"]].values.tolist() == [list(done.span_ids)]
    before = _events(ner)
    out = ner.retract_span(done.span_ids[1], annotator="ana")
    assert out["relation_ids"] == list(done.relation_ids)
    assert _events(ner) == before + 2  # the span's retraction and its relation's
    assert ner.spans()["text"].tolist() == ["Ada Lovelace"] and ner.relations().empty
    with pytest.raises(SpanError, match="deleted already"):
        ner.retract_span(done.span_ids[1], annotator="ana")


def test_relations_are_added_and_deleted_between_current_spans_only(ner):
    done = ner.submit_spans("ada", [(0, 12, "PER"), (25, 40, "PER")], annotator="ana")
    rel = ner.relate(done.span_ids[0], done.span_ids[1], "works_with", annotator="ana")
    assert ner.relations()["relation_id"].tolist() == [rel]
    ner.retract_relation(rel, annotator="ana")
    assert ner.relations().empty and len(ner.spans()) == 2
    ids = ner.spans()["span_id"]  # numpy ints, as users will pass them back
    rel = ner.relate(ids.iloc[1], ids.iloc[0], "works_with", annotator="ana")
    assert ner.relations()[["head", "child"]].values.tolist() == [list(done.span_ids[::-1])]
    ner.retract_relation(rel, annotator="ana")
    other = ner.submit_spans("fire", [(19, 29, "VEH")], annotator="ana")
    ner.retract_span(done.span_ids[1], annotator="ana")
    before = _events(ner)
    for head, child, message in [
        (done.span_ids[0], done.span_ids[1], "deleted already"),
        (done.span_ids[0], other.span_ids[0], "different items"),
        (done.span_ids[0], 10_000, "No span 10000"),
        (done.span_ids[0], done.span_ids[0], "same span"),
        (done.span_ids[0], "2", "is an int"),
    ]:
        with pytest.raises(SpanError, match=message):
            ner.relate(head, child, "works_with", annotator="ana")
    with pytest.raises(SchemaError, match="Unknown relation label"):
        ner.relate(done.span_ids[0], other.span_ids[0], "likes", annotator="ana")
    assert _events(ner) == before


def test_only_current_spans_of_their_own_annotator_can_be_deleted(ner):
    old = ner.submit_spans("ada", [(0, 3, "PER")], annotator="ana")
    with pytest.raises(SpanError, match="'ana''s, not 'bob''s"):
        ner.retract_span(old.span_ids[0], annotator="bob")
    ner.submit_spans("ada", [(0, 12, "PER")], annotator="ana")
    with pytest.raises(SpanError, match="not among 'ana''s current spans"):
        ner.retract_span(old.span_ids[0], annotator="ana")
    with pytest.raises(SpanError, match="not a span's id"):
        ner.retract_span(old.seq, annotator="ana")  # the submission, not a span


# -- bad input: a clear error, nothing written ---------------------------------------------------
BAD = [
    ([(0, 99, "PER")], {}, "offsets must lie in 0..40"),
    ([(-1, 3, "PER")], {}, "offsets must lie in 0..40"),
    ([(0.0, 3, "PER")], {}, "start must be an int"),
    ([("0", 3, "PER")], {}, "start must be an int"),
    ([(True, 3, "PER")], {}, "start must be an int"),
    ([(3, 3, "PER")], {}, "empty span"),
    ([(5, 3, "PER")], {}, "start must be before end"),
    ([{"start": 0, "end": 3, "label": "PER", "text": "Adb"}], {}, "does not match"),
    ([(0, 3, "PERSON")], {}, "Unknown span label 'PERSON'"),
    ([(0, 12, "PER"), (4, 20, "ORG")], {}, "overlap.*overlapping=True"),
    ([(0, 3, "PER"), (0, 3, "PER")], {}, "same span"),
    ([(0, 3, "PER"), (25, 40, "PER")], {"relations": [(0, 2, "works_with")]}, "names no span"),
    ([(0, 3, "PER"), (25, 40, "PER")], {"relations": [(0, 1, "likes")]}, "Unknown relation"),
    ([(0, 3, "PER"), (25, 40, "PER")], {"relations": [(0, 0, "works_with")]}, "same span"),
    ([{"start": 0, "end": 3, "label": "PER", "colour": "red"}], {}, "unknown fields"),
    ([{"start": 0, "label": "PER"}], {}, "lacks \\['end'\\]"),
    ([(0, 3)], {}, "tuple"),
    ("PER", {}, "list of spans"),
    ([{"start": 0, "end": 3, "label": "PER", "id": "a"}, (4, 12, "PER")], {}, "every span"),
    ([{"start": 0, "end": 3, "label": "PER", "extra": {"start": 1}}], {}, "extra may not"),
]


@pytest.mark.parametrize("spans, kwargs, message", BAD, ids=[m for *_, m in BAD])
def test_a_bad_submission_says_what_and_writes_nothing(ner, spans, kwargs, message):
    before = _events(ner)
    with pytest.raises(SpanError, match=message):
        ner.submit_spans("ada", spans, annotator="ana", **kwargs)
    assert _events(ner) == before


def test_an_unknown_item_or_annotator_is_refused(ner):
    with pytest.raises(KeyError, match="add it first"):
        ner.submit_spans("nope", [], annotator="ana")
    with pytest.raises(ValueError, match="annotator"):
        ner.submit_spans("ada", [], annotator="")


def test_overlapping_spans_are_kept_when_the_task_allows_them(tmp_path):
    with Project(tmp_path / "o.hitl", span_labels=["PER", "NAME"], overlapping=True) as p:
        p.add_items(["Ada Lovelace"], id=["a"])
        p.submit_spans("a", [(0, 12, "PER"), (0, 3, "NAME"), (0, 12, "NAME")], annotator="ana")
        assert sorted(p.spans()[["start", "end", "label"]].values.tolist()) == [
            [0, 3, "NAME"], [0, 12, "NAME"], [0, 12, "PER"]]


def test_a_failure_in_the_middle_of_a_submission_leaves_nothing(ner, monkeypatch):
    # The checks pass; the write of the relations fails: the spans before it go too.
    before = _events(ner)
    real = ner.ledger.append_many
    calls = []

    def failing(events, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk trouble")
        return real(events, **kw)

    monkeypatch.setattr(ner.ledger, "append_many", failing)
    with pytest.raises(RuntimeError):
        ner.submit_spans("ada", [(0, 3, "PER"), (25, 40, "PER")],
                         relations=[(0, 1, "works_with")], annotator="ana")
    assert _events(ner) == before and ner.spans().empty


# -- awkward text -------------------------------------------------------------------------------
def test_crlf_combining_marks_zwj_emoji_and_a_megabyte_of_text(tmp_path):
    crlf = "line one\r\nAda\r\n"
    combining = "cafe\u0301 Zoe\u0308"  # é and ë as base + combining mark
    zwj = "👩‍👩‍👧‍👦 family and 🏳️‍🌈 flag"
    big = ("lorem ipsum 😀 " * 80_000) + "Ada"  # ~1.2 MB as UTF-8
    with Project(tmp_path / "w.hitl", span_labels=["X"], overlapping=True) as p:
        p.add_items([crlf, combining, zwj, big], id=["crlf", "comb", "zwj", "big"])
        p.submit_spans("crlf", [(10, 13, "X"), (8, 10, "X")], annotator="ana")
        p.submit_spans("comb", [(0, 5, "X"), (6, 10, "X")], annotator="ana")
        flag = zwj.index("🏳️‍🌈")
        assert (flag, len("🏳️‍🌈")) == (19, 4)  # flag, variation selector, ZWJ, rainbow
        p.submit_spans("zwj", [(0, 7, "X"), (flag, flag + 4, "X")], annotator="ana")
        p.submit_spans("big", [(len(big) - 3, len(big), "X"), (0, len(big), "X")],
                       annotator="ana")
        got = {(r.item_id, r.start): r.text for r in p.spans().itertuples()}
    assert got[("crlf", 10)] == "Ada" and got[("crlf", 8)] == "\r\n"
    assert got[("comb", 0)] == "cafe\u0301" and got[("comb", 6)] == "Zoe\u0308"
    assert got[("zwj", 0)] == "👩‍👩‍👧‍👦" and got[("zwj", 19)] == "🏳️‍🌈"
    assert got[("big", len(big) - 3)] == "Ada" and got[("big", 0)] == big


PIECES = ["a", "Z", " ", "\r\n", "\n", "é", "e\u0301", "😀", "👨🏻‍🚒", "👩‍👩‍👧", "中", "\u200d",
          "🏳️‍🌈", "\t", "ß"]
texts = st.lists(st.sampled_from(PIECES), min_size=1, max_size=40).map("".join)


@st.composite
def text_and_spans(draw):
    text = draw(texts)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), min_size=0, max_size=8, unique=True)))
    spans = [(a, b, draw(st.sampled_from(["A", "B"])))
             for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
    return text, spans


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_and_spans())
def test_random_texts_and_spans_read_back_exactly(case):
    text, spans = case
    store = Store(":memory:")
    ledger = Ledger(store, LabelSchema.spans_only(), span_schema=SpanSchema.build(["A", "B"]))
    ledger.add_items(_records([text]), notify=False)
    ledger.submit_spans("t", spans, annotator="ana")
    from hitl_widgets.core.store import spans_frame

    got = spans_frame(store)
    assert sorted(zip(got.start, got.end, got.label, strict=True)) == sorted(spans)
    assert all(text[s:e] == t for s, e, t in zip(got.start, got.end, got.text, strict=True))
    store.close()


def _records(texts):
    from hitl_widgets.core.store import build_records

    return build_records(texts, id=["t"])


# -- the migration ------------------------------------------------------------------------------
def test_a_version_4_file_migrates_to_5_with_its_log_intact_and_takes_spans(tmp_path):
    path = tmp_path / "v4.hitl"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for step in migrations.STEPS[:4]:
        for statement in migrations._statements(step):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute(f"PRAGMA application_id = {migrations.APPLICATION_ID}")
    conn.execute("""INSERT INTO meta VALUES ('schema', '{"labels": ["ham", "spam"]}')""")
    conn.execute("INSERT INTO items(item_id, kind, text, content_hash, added_at) "
                 "VALUES ('i0', 'text', 'Ada here', 'h0', 0)")
    conn.execute("INSERT INTO events(kind, item_id, annotator, labels, created_at) "
                 "VALUES ('annotation', 'i0', 'ana', '[\"spam\"]', 1)")
    with pytest.raises(sqlite3.IntegrityError, match="unknown event kind"):
        conn.execute("INSERT INTO events(kind, item_id, created_at) VALUES ('span', 'i0', 2)")
    conn.execute("COMMIT")
    before = conn.execute("SELECT * FROM events ORDER BY seq").fetchall()
    conn.close()
    with Project(path, span_labels=["PER"]) as project:
        assert project.store.data_version() is not None
        assert migrations.missing_triggers(project.store._conn) == []
        assert project.labels()["label"].tolist() == ["spam"]
        project.submit_spans("i0", [(0, 3, "PER")], annotator="ana")
        assert project.spans()["text"].tolist() == ["Ada"]
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST == 5
    assert conn.execute("SELECT * FROM events ORDER BY seq").fetchall()[:1] == before
    assert "events_span_parts" in {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}
    with pytest.raises(sqlite3.IntegrityError, match="unknown event kind"):
        conn.execute("INSERT INTO events(kind, item_id, created_at) VALUES ('spam', 'i0', 2)")
    conn.close()


# -- one writer -----------------------------------------------------------------------------------
def test_each_span_write_notifies_once_and_a_refused_one_not_at_all(ner):
    heard = []
    ner.subscribe(lambda kind, info: heard.append(kind))
    done = ner.submit_spans("ada", [(0, 12, "PER"), (25, 40, "PER")], annotator="ana")
    rel = ner.relate(done.span_ids[0], done.span_ids[1], "works_with", annotator="ana")
    ner.retract_relation(rel, annotator="ana")
    ner.retract_span(done.span_ids[0], annotator="ana")
    ner.undo_spans("ada", annotator="ana")
    assert heard == ["spans", "spans", "retraction", "retraction", "retraction"]
    with pytest.raises(SpanError):
        ner.submit_spans("ada", [(0, 99, "PER")], annotator="ana")
    assert len(heard) == 5


def test_a_labeling_session_moves_past_an_item_whose_spans_were_submitted(ner):
    # The queue contract the SpanLabeler will use: a submission answers its item, as a label
    # does, and undoing it brings the item back; written through the project, seen by the
    # session as another writer's change would be.
    from hitl_widgets.core.labeling import LabelingSession

    session = LabelingSession(ner, "ana", prefetch=3)
    assert session.window() == IDS
    ner.submit_spans("ada", [(0, 3, "PER")], annotator="ana")
    ner.submit_spans("none", [], annotator="ana")
    assert session.window() == ["fire"]
    assert session.progress()["done"] == 2
    ner.undo_spans("none", annotator="ana")
    assert session.window() == ["fire", "none"]
    session.close()
