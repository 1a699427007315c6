"""Bad input at every door gets an error that says what was wrong and what to do, and writes nothing.

Item ids mean one item wherever they are given (add_items, annotate, skip, undo, suggest, set_gold,
remove_gold, set_overlap); a string is never split into ids; repeated DataFrame columns, mappings
and image paths that are not files are refused before anything is stored.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import threading

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hitl_widgets.core.labeling import LabelingSession
from hitl_widgets.core.project import Project
from hitl_widgets.core.store import ItemError, SchemaError

LABELS = ["ham", "spam"]
HANG_GUARD_S = 10  # only a guard against a hung test run; no assertion is about time


@pytest.fixture
def project(make_project):
    """Empty, with an image root (``tmp_path / "images"``)."""
    return make_project(LABELS, 0, image_root=True)


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def n_events(project) -> int:
    return len(project.store.events())


# -- repeated columns (finding 5) ---------------------------------------------------------------
def test_repeated_text_column_is_refused_not_stored_as_the_column_name(project):
    df = pd.concat([pd.DataFrame({"text": ["a", "b", "c", "d"]}),
                    pd.DataFrame({"text": ["e", "f", "g", "h"]})], axis=1)
    with pytest.raises(ItemError, match=r"column 'text' appears 2 times.*rename"):
        project.add_items(df, text="text")
    assert len(project) == 0
    with_unused_copy = pd.concat([df.iloc[:, :1], pd.DataFrame({"x": [1] * 4, "t": ["a"] * 4}),
                                  pd.DataFrame({"x": [2] * 4})], axis=1)
    assert project.add_items(with_unused_copy, text="text").added == 4  # a copy not used is fine
    assert project.items()["text"].tolist() == ["a", "b", "c", "d"]


@pytest.mark.parametrize("kwargs", [
    dict(text="t", id="i"), dict(text="t", fields=["f"]), dict(text="t", meta=["f"]),
    dict(id="i"),  # table rows as items: every shown column counts
])
def test_a_repeated_column_used_as_id_fields_meta_or_record_is_refused(project, kwargs):
    df = pd.concat([pd.DataFrame({"t": ["a", "b"], "i": ["1", "2"], "f": [1, 2]}),
                    pd.DataFrame({"i": ["3", "4"], "f": [5, 6]})], axis=1)
    with pytest.raises(ItemError, match=r"column '[if]' appears 2 times"):
        project.add_items(df, **kwargs)
    assert len(project) == 0


def test_fields_as_a_string_or_naming_a_column_twice_is_refused(project):
    df = pd.DataFrame({"t": ["a"], "AUTHOR": ["x"]})
    with pytest.raises(ItemError, match=r"fields= takes a list of column names.*\['AUTHOR'\]"):
        project.add_items(df, text="t", fields="AUTHOR")
    with pytest.raises(ItemError, match=r"fields= names \['AUTHOR'\] more than once"):
        project.add_items(df, text="t", fields=["AUTHOR", "AUTHOR"])
    assert len(project) == 0


# -- shapes that are not a list of items ------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda p: p.add_items({"k1": "first text", "k2": "second text"}),
    lambda p: p.add_items(text={"k1": "first text"}),
    lambda p: p.add_items(["a"], id={"k1": 1}),
])
def test_a_mapping_is_refused_rather_than_storing_its_keys(project, call):
    with pytest.raises(ItemError, match=r"not a dict \(its keys would be read as the items\).*"
                                        r"id=list\(d.keys\(\)\)"):
        call(project)
    assert len(project) == 0


def test_a_dataframe_given_as_text_is_refused_rather_than_storing_its_column_names(project):
    with pytest.raises(ItemError, match=r"not a DataFrame.*add_items\(df, text='col'\)"):
        project.add_items(text=pd.DataFrame({"t": ["a", "b"]}))
    assert len(project) == 0


def test_a_list_of_ids_given_with_a_dataframe_is_refused_with_advice(project):
    with pytest.raises(ItemError, match="id= names one of its columns.*as a column first"):
        project.add_items(pd.DataFrame({"t": ["a", "b"]}), text="t", id=["x", "y"])
    assert len(project) == 0


# -- one id, one item ---------------------------------------------------------------------------------
def test_the_same_id_value_names_the_same_item_at_every_door(project):
    project.add_items(["first", "second", "third"], id=[7.0, np.int64(8), "9"])
    assert project.items()["item_id"].tolist() == ["7", "8", "9"]
    project.annotate(7.0, "spam", annotator="ana")
    project.annotate(np.int64(8), "ham", annotator="ana")
    project.skip(9.0, annotator="bob")
    assert project.undo(annotator="bob", item_id=np.float64(9))["item_id"] == "9"
    project.set_gold([7.0, np.int32(8)], ["spam", "ham"])
    project.set_gold({9.0: "ham"})
    project.suggest([7.0], ["spam"], [0.9])
    project.set_overlap(2, item_ids=[np.float32(8)])
    assert project.remove_gold([9.0]) == 1
    assert project.labels()["item_id"].tolist() == ["7", "8"]
    assert sorted(project.gold()["item_id"]) == ["7", "8"]
    assert set(project.events()["item_id"]) == {"7", "8", "9"}


@pytest.mark.parametrize("bad, error, match", [
    (7.5, ValueError, r"the float 7.5 is not a usable item id"),
    (float(2**60), ValueError, r"is not a usable item id"),
    (True, TypeError, r"not the bool True"),
    (np.True_, TypeError, r"not the bool"),
    (b"7", TypeError, r"not bytes b'7'"),
    (None, (ValueError, TypeError), r"missing|None"),
    (math.nan, ValueError, r"missing"),
    ("  ", ValueError, r"empty"),
])
def test_an_unusable_id_is_refused_the_same_way_at_every_door(project, bad, error, match):
    project.add_items(["one"], id=["1"])
    before = n_events(project)
    with pytest.raises(ItemError, match=match):
        project.add_items(["other"], id=[bad])
    doors = [
        lambda: project.annotate(bad, "spam", annotator="ana"),
        lambda: project.skip(bad, annotator="ana"),
        lambda: project.undo(annotator="ana", item_id=bad) if bad is not None else
        project.annotate(None, "spam", annotator="ana"),
        lambda: project.suggest([bad], ["spam"]),
        lambda: project.set_gold([bad], ["spam"]),
        lambda: project.remove_gold([bad]),
        lambda: project.set_overlap(2, item_ids=[bad]),
    ]
    for door in doors:
        with pytest.raises(error, match=match):
            door()
    assert len(project) == 1 and n_events(project) == before


def test_true_does_not_reach_the_item_with_id_1(project):
    # sqlite binds True as 1, which matched the item "1", then the event, stored under "True",
    # failed with a raw IntegrityError.
    project.add_items(["one"], id=[1])
    with pytest.raises(TypeError, match="not the bool True"):
        project.annotate(True, "spam", annotator="ana")
    assert project.events().empty


@pytest.mark.parametrize("call", [
    lambda p: p.set_gold("abc", ["spam", "ham", "spam"]),
    lambda p: p.remove_gold("abc"),
    lambda p: p.suggest("abc", ["spam", "ham", "spam"]),
    lambda p: p.set_overlap(2, item_ids="abc"),
])
def test_a_string_where_ids_are_expected_is_refused_not_split(project, call):
    project.add_items(["x", "y", "z", "w"], id=["a", "b", "c", "abc"])
    project.set_gold(["a"], ["spam"])
    before = n_events(project)
    with pytest.raises(TypeError, match=r"expected a list of item ids, got the string 'abc'; "
                                        r"wrap it: \['abc'\]"):
        call(project)
    assert n_events(project) == before


def test_a_single_label_string_for_many_suggestions_is_refused(project):
    project.add_items(["w", "x", "y", "z"], id=["a", "b", "c", "d"])
    with pytest.raises(TypeError, match=r"one label per item, got the string 'spam'"):
        project.suggest(["a", "b", "c", "d"], "spam")
    assert project.events().empty


# -- labels that are not label names -------------------------------------------------------------
@pytest.mark.parametrize("label, match", [
    (None, r"label must be a label name \(str\) or a list of names; got None; expected one "
           r"of \['ham', 'spam'\]"),
    (b"spam", r"got bytes b'spam'; decode it first.*expected one of \['ham', 'spam'\]"),
    (1, r"got int 1; expected one of"),
    ({"spam": 1}, r"got dict"),
    ([None], r"labels must be label names \(str\); got None in list"),
])
def test_a_label_that_is_not_a_name_gets_a_schema_error(project, label, match):
    project.add_items(["one"], id=["i"])
    with pytest.raises(SchemaError, match=match):
        project.annotate("i", label, annotator="ana")
    with pytest.raises(SchemaError, match=match):
        project.set_gold(["i"], [label])
    assert project.events().empty


# -- image paths that are not files ------------------------------------------------------------------
def run_guarded(fn, fifo=None):
    """Run fn in a thread; if it hangs (a FIFO open waiting for a writer), release it and fail."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed back to the test
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_S)
    if thread.is_alive():
        if fifo is not None:  # a writer end unblocks the reader's open
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(HANG_GUARD_S)
        pytest.fail("the call blocked on a FIFO")
    if "error" in out:
        raise out["error"]
    return out.get("value")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_paths_that_are_not_regular_files_are_refused_without_opening_them(project):
    root = project.image_root
    (root / "good.png").write_bytes(png_bytes())
    os.mkfifo(root / "pipe.png")
    (root / "folder.png").mkdir()
    batch = ["good.png", "pipe.png", "folder.png", "missing.png"]
    with pytest.raises(ItemError) as info:
        run_guarded(lambda: project.add_items(path=batch), fifo=root / "pipe.png")
    message = str(info.value)
    assert "3 of 4 items cannot be added; nothing was added" in message
    assert "row 1: image path 'pipe.png' is a FIFO (named pipe), not an image file" in message
    assert "row 2: image path 'folder.png' is a folder" in message
    assert "row 3: image path 'missing.png' does not exist" in message
    assert len(project) == 0
    assert project.add_items(path=["good.png"]).added == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_a_file_replaced_by_a_fifo_after_adding_shows_a_reason_and_does_not_block(project):
    root = project.image_root
    (root / "was_file.png").write_bytes(png_bytes())
    project.add_items(path=["was_file.png"], id=["f"])
    (root / "was_file.png").unlink()
    os.mkfifo(root / "was_file.png")
    payloads, buffers = run_guarded(lambda: LabelingSession(project, "ana").payloads(["f"]),
                                    fifo=root / "was_file.png")
    assert "is a FIFO (named pipe)" in payloads[0]["image_error"]
    assert buffers == []


# -- fuzz: add_items is all or nothing, with exactly the rows given ------------------------------------
def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def expected_id(value):
    """The id a value names, per the documented rule; None when it must be refused."""
    value = _plain(value)
    if isinstance(value, bool) or value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() \
            and abs(value) <= 2**53:
        return str(int(value))
    return None


def expected_text(value, bytes_as_text: bool):
    value = _plain(value)
    if isinstance(value, bytes):
        if not bytes_as_text:  # bytes given positionally are image bytes
            return None
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


texts = st.one_of(st.text(max_size=6), st.none(), st.just(math.nan), st.integers(-2, 2),
                  st.floats(allow_nan=True, width=32), st.binary(max_size=3), st.booleans(),
                  st.just(pd.NA), st.sampled_from(["\ud800", "text", "a", "b"]))
ids = st.one_of(st.text(max_size=2), st.integers(-3, 3), st.floats(-3, 3, width=32), st.none(),
                st.booleans(), st.just(math.nan), st.binary(max_size=2), st.sampled_from(["1", "x"]))
good_texts = st.one_of(st.text(max_size=6), st.sampled_from(["text", "a", "b"]))
good_ids = st.one_of(st.text(min_size=1, max_size=2).filter(str.strip), st.integers(-3, 3),
                     st.integers(-3, 3).map(float))
column_dtypes = st.sampled_from([None, object, "string", "category", "Int64", "float64"])


@st.composite
def add_calls(draw):
    """(args, kwargs, rows, must_fail, bytes_as_text): rows = [(text value, id value or ...)],
    ``...`` where no id is given (content ids); rows is None where the call must fail."""
    shape = draw(st.sampled_from(["list", "text=", "series", "mapping", "frame"]))
    clean = draw(st.booleans())  # half the calls hold only good values, to test acceptance
    text_values, id_values = (good_texts, good_ids) if clean else (texts, ids)
    n = draw(st.integers(0, 4))
    values = draw(st.lists(text_values, min_size=n, max_size=n))
    if shape == "mapping":
        mapping = {str(k): v for k, v in enumerate(values)}
        if draw(st.booleans()):
            return (mapping,), {}, None, True, False
        return (), {"text": mapping}, None, True, False
    if shape != "frame":
        with_ids = draw(st.booleans())
        size = max(0, n + draw(st.sampled_from([-1, 0, 0, 0, 0, 1])))
        given_ids = draw(st.lists(id_values, min_size=size, max_size=size)) if with_ids else None
        container = pd.Series(values, dtype=object) if shape == "series" else values
        args, kwargs = ((), {"text": container}) if shape == "text=" else ((container,), {})
        if given_ids is not None:
            kwargs["id"] = given_ids
        if given_ids is not None and len(given_ids) != n:
            return args, kwargs, None, True, False
        rows = [(v, given_ids[k] if given_ids is not None else ...) for k, v in enumerate(values)]
        return args, kwargs, rows, False, shape == "text="
    names = draw(st.lists(st.sampled_from(["text", "id", "extra"]), min_size=1, max_size=4))
    if clean and draw(st.booleans()):
        names = list(dict.fromkeys(["text", *names]))  # no repeats, a text column
    columns = {}
    frame_parts = []
    for name in names:
        data = values if name != "id" else draw(st.lists(id_values, min_size=n, max_size=n))
        try:
            series = pd.Series(data, dtype=draw(column_dtypes), name=name)
        except (TypeError, ValueError):
            series = pd.Series(data, dtype=object, name=name)
        frame_parts.append(series)
        columns.setdefault(name, list(series))
    df = pd.concat(frame_parts, axis=1) if frame_parts else pd.DataFrame()
    use_id = "id" in names and draw(st.booleans())
    use_fields = "extra" in names and draw(st.booleans())
    kwargs = {"text": "text", **({"id": "id"} if use_id else {}),
              **({"fields": ["extra"]} if use_fields else {})}
    used = ["text"] + (["id"] if use_id else []) + (["extra"] if use_fields else [])
    repeated = any(names.count(c) > 1 for c in used)
    must_fail = repeated or "text" not in names
    rows = None if must_fail else [
        (columns["text"][k], columns["id"][k] if use_id else ...) for k in range(len(df))]
    return (df,), kwargs, rows, must_fail, True


@pytest.mark.slow  # a fresh project file per example
@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(call=add_calls())
def test_fuzzed_add_items_is_exact_or_refused_and_writes_nothing(call):
    args, kwargs, rows, must_fail, bytes_as_text = call
    with tempfile.TemporaryDirectory() as tmp, \
            Project(os.path.join(tmp, "f.hitl"), labels=LABELS) as project:
        project.add_items(["already here"], id=["sentinel"])
        expected = None
        content_ids = rows is not None and all(i is ... for _, i in rows)
        if rows is not None:
            pairs = [(expected_text(t, bytes_as_text), None if content_ids else expected_id(i))
                     for t, i in rows]
            valid = all(t is not None and (content_ids or i is not None) for t, i in pairs)
            by_id: dict = {}
            conflict = not content_ids and any(by_id.setdefault(i, t) != t for t, i in pairs)
            if valid and not conflict:
                expected = set(pairs)
        try:
            project.add_items(*args, **kwargs)
        except (ValueError, TypeError, KeyError) as exc:
            assert str(exc)
            assert not expected, f"valid input refused: {exc}"  # expected is None or empty
            assert project.items()["item_id"].tolist() == ["sentinel"]
            return
        assert not must_fail, "a repeated column, a mapping or a wrong id count was accepted"
        assert expected is not None, f"invalid rows were accepted: {rows!r}"
        stored = project.items().iloc[1:]
        got = {(t, None if content_ids else i)
               for i, t in zip(stored["item_id"], stored["text"], strict=True)}
        assert got == expected


def test_resolve_and_record_shown_read_ids_like_every_other_door(tmp_path):
    project = Project(tmp_path / "p.hitl", labels=["a", "b"])
    project.add_items(["one", "two"], id=[7, 8])
    assert project.record_shown(7.0, annotator="ana", suggestion="a") > 0
    project.resolve(np.int64(8), "b", annotator="sam")
    assert project.resolutions()["item_id"].tolist() == ["8"]
    before = len(project.events())
    with pytest.raises(TypeError, match="bool"):
        project.resolve(True, "a", annotator="sam")
    with pytest.raises(ValueError, match="7.5"):
        project.record_shown(7.5, annotator="ana", suggestion="a")
    assert len(project.events()) == before


@pytest.mark.parametrize("bad", ["", "   ", None, 7, "<b>ana</b>", "ana<script>", "ana\n",
                                 "a\tb", "x" * 201, "ana & bob", 'say "hi"'])
def test_a_bad_annotator_name_is_refused_by_every_write_and_by_a_session(project, bad):
    """Names end up on dashboards, in cost reports and spreadsheets: no markup, no control
    characters, not empty, not endless. Nothing is written."""
    project.add_items(["some text"], id=["0"])
    seq = project.store.max_seq()
    for write in (lambda: project.annotate("0", "spam", annotator=bad),
                  lambda: project.skip("0", annotator=bad),
                  lambda: project.resolve("0", "spam", annotator=bad),
                  lambda: LabelingSession(project, bad)):
        with pytest.raises((ValueError, TypeError), match="annotator"):
            write()
    assert project.store.max_seq() == seq


def test_a_plain_annotator_name_with_unicode_and_punctuation_is_fine(project):
    project.add_items(["some text"], id=["0"])
    names = {"Zoë O'Neil", "team-7 / night shift", "李雷", "ana.b"}
    for name in names:
        project.annotate("0", "spam", annotator=name)
    assert set(project.labels()["annotator"]) == names
