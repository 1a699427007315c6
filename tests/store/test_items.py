"""Adding items: every kind of input, every bad input gets a clear error and loses nothing."""

from __future__ import annotations

import io
import math
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hitl_widgets.core.labeling import MAX_TEXT_CHARS, LabelingSession
from hitl_widgets.core.project import Project
from hitl_widgets.core.store import ItemError, MediaError, StoreError

XSS = ["<script>window.__xss = 1</script>", '<img src=x onerror="window.__xss = 1">']


@pytest.fixture
def project(make_project):
    """Empty, with an image root (``tmp_path / "images"``)."""
    return make_project(items=0, image_root=True)


def png_bytes(size=(4, 4)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def test_dataframe_with_id_and_text_columns(project):
    df = pd.DataFrame({"CONTENT": ["a", "b"], "COMMENT_ID": ["c1", "c2"], "AUTHOR": ["x", "y"]})
    assert project.add_items(df, text="CONTENT", id="COMMENT_ID", fields=["AUTHOR"]).added == 2
    items = project.items()
    assert items["item_id"].tolist() == ["c1", "c2"]
    assert items["fields"].tolist() == ['{"AUTHOR": "x"}', '{"AUTHOR": "y"}']


def test_adding_the_same_items_twice_is_a_noop(project):
    assert project.add_items(["a", "b"]).added == 2
    again = project.add_items(["b", "a"])
    assert (again.added, again.existing) == (0, 2)
    assert len(project) == 2


def test_duplicate_id_with_different_content_is_refused_and_nothing_added(project):
    project.add_items(["first"], id=["x"])
    with pytest.raises(StoreError, match="already hold different content"):
        project.add_items(["new", "changed"], id=["y", "x"])
    assert project.items()["item_id"].tolist() == ["x"]


def test_duplicate_id_within_one_batch(project):
    with pytest.raises(ItemError, match="'x' is given twice with different content"):
        project.add_items(["a", "b"], id=["x", "x"])
    assert len(project) == 0


@pytest.mark.parametrize("bad", [None, float("nan"), pd.NA])
def test_missing_text_is_refused_with_the_row(project, bad):
    with pytest.raises(ItemError, match=r"row 1: text is missing"):
        project.add_items(pd.DataFrame({"t": ["ok", bad, "ok2"]}), text="t")
    assert len(project) == 0


def test_empty_text_is_kept(project):
    assert project.add_items([""]).added == 1


def test_non_utf8_bytes_are_refused_with_advice(project):
    with pytest.raises(ItemError, match="not UTF-8.*latin-1"):
        project.add_items(pd.DataFrame({"t": [b"caf\xe9"]}), text="t")


def test_utf8_bytes_are_decoded(project):
    project.add_items(pd.DataFrame({"t": ["café".encode()]}), text="t")
    assert project.items()["text"].tolist() == ["café"]


def test_non_string_text_is_refused(project):
    with pytest.raises(ItemError, match=r"text must be str, not int.*astype\(str\)"):
        project.add_items(pd.DataFrame({"t": [1, 2]}), text="t")


def test_rtl_emoji_and_markup_text_round_trip(project):
    texts = ["مرحبا بالعالم", "emoji 🎉👩‍💻", *XSS, "zero\x00byte"]
    project.add_items(texts)
    assert project.items()["text"].tolist() == texts


def test_ten_megabyte_text_is_stored_whole_and_sent_truncated(project):
    big = "x" * (10 * 1024 * 1024)
    project.add_items([big], id=["big"])
    assert len(project.items()["text"][0]) == len(big)
    payloads, _ = LabelingSession(project, "ana").payloads(["big"])
    assert len(payloads[0]["text"]) == MAX_TEXT_CHARS
    assert payloads[0]["truncated"] == {"shown": MAX_TEXT_CHARS, "total": len(big)}


def test_image_arrays_become_png(project):
    digits = np.arange(3 * 8 * 8, dtype=float).reshape(3, 8, 8) % 17
    assert project.add_items(image=digits, value_range=(0, 16)).added == 3
    _, buffers = LabelingSession(project, "ana").payloads(project.items()["item_id"].tolist())
    img = Image.open(io.BytesIO(buffers[0]))
    assert img.size == (8, 8)


def test_image_bytes_are_sent_as_buffers_not_base64(project):
    data = png_bytes()
    project.add_items(image=[data], id=["p"])
    payloads, buffers = LabelingSession(project, "ana").payloads(["p"])
    assert payloads[0]["image_buffer"] == 0 and buffers[0] == data
    assert "image" not in payloads[0]


def test_corrupt_image_is_refused_with_the_reason(project):
    truncated = png_bytes((64, 64))[:60]
    with pytest.raises(ItemError, match="row 1: corrupt PNG"):
        project.add_items(image=[png_bytes(), truncated])
    with pytest.raises(ItemError, match="not a PNG, JPEG"):
        project.add_items(image=[b"hello"])
    assert len(project) == 0


def test_image_paths_inside_the_root(project):
    (project.image_root / "a.png").write_bytes(png_bytes())
    project.add_items(path=["a.png", project.image_root / "a.png"])
    assert project.items()["path"].tolist() == ["a.png"]  # same file, same content id
    payloads, buffers = LabelingSession(project, "ana").payloads(project.items()["item_id"].tolist())
    assert payloads[0]["mime"] == "image/png" and buffers[0] == png_bytes()


@pytest.mark.parametrize("bad", ["../secret.png", "sub/../../secret.png", "/etc/passwd"])
def test_paths_outside_the_root_or_with_dotdot_are_refused(project, bad):
    with pytest.raises(ItemError, match=r"contains '\.\.'|outside the allowed root"):
        project.add_items(path=[bad])
    assert len(project) == 0


def test_symlink_escaping_the_root_is_refused(project, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, project.image_root / "link.png")
    with pytest.raises(ItemError, match="outside the allowed root"):
        project.add_items(path=["link.png"])


def test_paths_need_an_image_root(tmp_path):
    with Project(tmp_path / "p.hitl", labels=["a"]) as p:
        with pytest.raises(ItemError, match="image_root="):
            p.add_items(path=["x.png"])


def test_missing_or_corrupt_file_renders_a_placeholder_reason(project):
    (project.image_root / "gone.png").write_bytes(png_bytes())
    (project.image_root / "junk.png").write_bytes(b"junk")
    project.add_items(path=["gone.png", "junk.png"], id=["g", "j"])
    (project.image_root / "gone.png").unlink()
    payloads, buffers = LabelingSession(project, "ana").payloads(["g", "j"])
    assert "cannot read 'gone.png'" in payloads[0]["image_error"]
    assert "not a PNG" in payloads[1]["image_error"]
    assert buffers == []


def test_table_rows_as_items(project):
    df = pd.DataFrame({"id": [1, 2], "age": [30, np.nan], "city": ["Oslo", "Lima"]})
    project.add_items(df, id="id")
    payloads, _ = LabelingSession(project, "ana").payloads(["1", "2"])
    assert payloads[1]["fields"] == {"age": None, "city": "Lima"}


def test_unknown_column_lists_the_columns(project):
    with pytest.raises(ItemError, match=r"Columns \['TEXT'\] are not in the DataFrame; it has \['t'\]"):
        project.add_items(pd.DataFrame({"t": ["a"]}), text="TEXT")


def test_a_single_string_is_refused(project):
    with pytest.raises(ItemError, match="list"):
        project.add_items("just one")


def test_ids_from_float_columns_read_as_ints(project):
    project.add_items(pd.DataFrame({"t": ["a", "b"], "i": [1.0, 2.0]}), text="t", id="i")
    assert project.items()["item_id"].tolist() == ["1", "2"]


def test_missing_id_is_refused(project):
    with pytest.raises(ItemError, match="id is missing"):
        project.add_items(pd.DataFrame({"t": ["a"], "i": [None]}), text="t", id="i")


def test_array_value_range_errors(project):
    with pytest.raises(ItemError, match="NaN"):
        project.add_items(image=[np.full((2, 2), np.nan)])
    with pytest.raises(MediaError):
        from hitl_widgets.core.store._media import array_to_png

        array_to_png(np.zeros((2, 2, 7)))


text_values = st.one_of(
    st.text(), st.none(), st.floats(), st.integers(), st.binary(max_size=20),
    st.sampled_from(XSS + ["\ud800bad surrogate", "مرحبا", "🎉" * 50]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(text_values, min_size=1, max_size=5))
def test_fuzzed_text_batches_are_all_or_nothing(project, values):
    before = len(project)
    try:
        result = project.add_items(pd.DataFrame({"t": pd.Series(values, dtype=object)}), text="t")
    except ItemError as exc:
        assert "nothing was added" in str(exc)
        assert len(project) == before
    else:
        assert len(project) == before + result.added
        stored = set(project.items()["text"])
        for v in values:
            expected = v.decode() if isinstance(v, bytes) else v
            assert expected in stored
            assert not (isinstance(v, float) and math.isnan(v))
