"""Dataset versions: snapshots with how each label was decided, content hashes, diffs, the audit
of one item, and exports to Parquet and Hugging Face datasets (issue 13, items 3 and 4)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from hitl_widgets.core.project import Project
from hitl_widgets.core.quality import ExportError, VersionError, content_hash


@pytest.fixture
def routes(make_project):
    """One item decided by each route, and two not decided:

    0 human (ana), 1 model, 2 lf, 3 consensus of 3 (ana, cat: ham; bob: spam), 4 adjudicated
    (ana ham, resolved spam by sam), 5 gold (spam; ana said ham), 6 short of its overlap of 2,
    7 never labeled."""
    p = make_project()
    p.annotate("0", "ham", annotator="ana")
    p.annotate("1", "spam", annotator="clf-v1", source="model")
    p.annotate("2", "ham", annotator="lf-model", source="lf")
    p.set_overlap(3, item_ids=["3"])
    for who, lab in (("ana", "ham"), ("bob", "spam"), ("cat", "ham")):
        p.annotate("3", lab, annotator=who)
    p.annotate("4", "ham", annotator="ana")
    p.resolve("4", "spam", annotator="sam")
    p.annotate("5", "ham", annotator="ana")
    p.set_gold({"5": "spam"})
    p.set_overlap(2, item_ids=["6"])
    p.annotate("6", "spam", annotator="ana")
    return p


def test_a_snapshot_records_each_label_and_how_it_was_decided(routes):
    v = routes.snapshot("v1")
    df = routes.version("v1")
    assert v.n_items == 6 and set(df["version"]) == {v.hash}
    got = df[["item_id", "label", "decided_by", "annotators"]].values.tolist()
    assert got == [["0", "ham", "human", ("ana",)], ["1", "spam", "model", ("clf-v1",)],
                   ["2", "ham", "lf", ("lf-model",)], ["3", "ham", "consensus", ("ana", "cat")],
                   ["4", "spam", "adjudication", ("sam",)], ["5", "spam", "gold", ()]]
    conf = dict(zip(df["item_id"], df["confidence"], strict=True))
    assert conf["3"] == pytest.approx(2 / 3) and np.isnan(conf["4"]) and np.isnan(conf["5"])
    # decided_at: the resolution's time for 4, the latest label's for the consensus on 3
    events = routes.events()
    resolved_at = events[events["kind"] == "resolution"]["created_at"].iloc[0]
    assert df.set_index("item_id").loc["4", "decided_at"] == resolved_at
    last_on_3 = events[(events["item_id"] == "3") & (events["kind"] == "annotation")]["created_at"].max()
    assert df.set_index("item_id").loc["3", "decided_at"] == last_on_3


def test_a_version_keeps_the_items_source_tags(make_project):
    p = make_project(items=0)
    p.add_items(["from the web"], id=["w"], provenance={"source": "crawl", "batch": 7})
    p.add_items(["from the app"], id=["a"], provenance={"source": "app"})
    p.annotate("w", "ham", annotator="ana")
    p.annotate("a", "spam", annotator="ana")
    p.snapshot("v1")
    df = p.version("v1").set_index("item_id")
    assert json.loads(df.loc["w", "provenance"]) == {"source": "crawl", "batch": 7}
    assert json.loads(df.loc["a", "provenance"]) == {"source": "app"}
    assert df.loc["w", "text"] == "from the web" and df.loc["w", "path"] is None


def test_same_content_gives_the_same_hash(make_project):
    # One dataset built two ways: other item order, other annotators, other routes, other times.
    one = make_project(items=["x", "y", "z"], ids=["a", "b", "c"], name="one.hitl")
    two = make_project(items=["z", "x", "y"], ids=["c", "a", "b"], name="two.hitl")
    for item, lab in (("a", "ham"), ("b", "spam"), ("c", "ham")):
        one.annotate(item, lab, annotator="ana")
    two.annotate("c", "ham", annotator="bob")
    two.resolve("b", "spam", annotator="sam")
    two.set_overlap(2, item_ids=["a"])
    two.annotate("a", "ham", annotator="cat")
    two.annotate("a", "ham", annotator="dan")
    h1, h2 = one.snapshot("v").hash, two.snapshot("v").hash
    assert h1 == h2
    assert one.snapshot("again").hash == h1  # taken later, nothing changed
    one.annotate("b", "ham", annotator="ana")
    assert one.snapshot("relabeled").hash != h1
    one.annotate("b", "spam", annotator="ana")
    assert one.snapshot("back").hash == h1
    # Other content: the same label on another item text is another dataset.
    three = make_project(items=["x", "y", "zz"], ids=["a", "b", "c"], name="three.hitl")
    for item, lab in (("a", "ham"), ("b", "spam"), ("c", "ham")):
        three.annotate(item, lab, annotator="ana")
    assert three.snapshot("v").hash != h1


def test_the_hash_does_not_depend_on_row_order(routes):
    v = routes.snapshot("v1")
    df = routes.version("v1")
    rng = np.random.default_rng(0)
    for _ in range(5):
        shuffled = df.iloc[rng.permutation(len(df))]
        triples = [(i, h, [lab] if isinstance(lab, str) else lab) for i, h, lab in
                   shuffled[["item_id", "item_hash", "label"]].itertuples(index=False)]
        assert content_hash(triples) == v.hash


def test_versions_survive_reopening_and_are_found_by_hash(routes, tmp_path):
    v = routes.snapshot("v1")
    before = routes.version("v1")
    routes.close()
    again = Project(routes.path)
    try:
        listed = again.snapshots()
        assert listed[["name", "hash", "n_items"]].values.tolist() == [["v1", v.hash, 6]]
        pd.testing.assert_frame_equal(again.version("v1"), before)
        pd.testing.assert_frame_equal(again.version(v.hash), before)
        pd.testing.assert_frame_equal(again.version(v.hash[:12]), before)
    finally:
        again.close()


def test_a_reused_name_is_refused_and_writes_nothing(routes):
    routes.snapshot("v1")
    routes.annotate("7", "ham", annotator="ana")
    listed, version = routes.snapshots(), routes.version("v1")
    events = len(routes.events())
    with pytest.raises(VersionError, match="'v1' exists already"):
        routes.snapshot("v1")
    pd.testing.assert_frame_equal(routes.snapshots(), listed)
    pd.testing.assert_frame_equal(routes.version("v1"), version)
    assert len(routes.events()) == events


@pytest.mark.parametrize("name, error", [("", VersionError), ("   ", VersionError),
                                         (None, TypeError), (3, TypeError)])
def test_an_empty_or_non_string_name_is_refused(routes, name, error):
    with pytest.raises(error, match="version name"):
        routes.snapshot(name)
    assert routes.snapshots().empty


def test_unknown_versions_are_named_with_the_known_ones(routes, make_project):
    routes.snapshot("v1")
    with pytest.raises(VersionError, match=r"Unknown version 'v9'; known versions: \['v1 \("):
        routes.diff("v1", "v9")
    with pytest.raises(VersionError, match="Unknown version"):
        routes.version("nope")
    with pytest.raises(VersionError, match="none yet"):
        make_project(name="empty.hitl").version("v1")


def test_a_version_edited_in_the_file_is_refused(routes):
    routes.snapshot("v1")
    payload = routes.store.get_meta("version:v1")
    payload["rows"][0][2] = ["spam"]  # item 0 was ham
    routes.ledger.set_meta("version:v1", payload, notify=False)
    with pytest.raises(VersionError, match="no longer matches its hash"):
        routes.version("v1")


# -- diff ---------------------------------------------------------------------------------------
@pytest.fixture
def two_versions(make_project):
    p = make_project()
    p.annotate("0", "ham", annotator="ana")
    p.annotate("1", "spam", annotator="ana")
    p.annotate("2", "ham", annotator="dan")
    p.set_overlap(2, item_ids=["4"])
    p.annotate("4", "ham", annotator="ana")
    p.annotate("4", "spam", annotator="bob")
    p.snapshot("v1")
    p.annotate("0", "spam", annotator="ana")  # relabeled by ana
    p.annotate("1", "spam", annotator="ana")  # the same label again: not a change
    p.undo(annotator="dan", item_id="2")  # removed
    p.annotate("3", "ham", annotator="cat")  # added
    assert p.flag_disagreements() == ["4"]  # a tie, 0.5 below 0.75
    p.resolve("4", "spam", annotator="sam")  # relabeled by the adjudicator
    p.snapshot("v2")
    return p


def test_a_diff_lists_exactly_what_changed_with_who_when_and_why(two_versions):
    d = two_versions.diff("v1", "v2")
    assert (d.added, d.removed, d.relabeled) == (["3"], ["2"], ["0", "4"])
    items = d.items.set_index("item_id")
    assert items[["change", "label_a", "label_b", "decided_by_a", "decided_by_b"]].loc[
        ["0", "2", "3", "4"]].values.tolist() == [
        ["relabeled", "ham", "spam", "human", "human"], ["removed", "ham", None, "human", None],
        ["added", None, "ham", None, "human"], ["relabeled", "ham", "spam", "consensus", "adjudication"]]
    assert items["who"].to_dict() == {"0": ("ana",), "2": ("dan",), "3": ("cat",), "4": ("sam",)}
    assert items.loc["4", "why"] == "majority confidence 0.50 below 0.75"
    assert items.loc["2", "why"] == "annotation undone"
    ev = d.events[["item_id", "kind", "annotator", "labels", "undoes", "reason"]]
    assert ev.values.tolist() == [
        ["0", "annotation", "ana", "spam", None, None],
        ["2", "retraction", "dan", None, "annotation", "annotation undone"],
        ["3", "annotation", "cat", "ham", None, None],
        ["4", "resolution", "sam", "spam", None, "majority confidence 0.50 below 0.75"]]
    log = two_versions.events().set_index("seq")
    assert all(items.loc[i, "when"] == log.loc[s, "created_at"]
               for i, s in zip(d.events["item_id"], d.events["seq"], strict=True))


def test_a_diff_backwards_swaps_added_and_removed(two_versions):
    d = two_versions.diff("v2", "v1")
    assert (d.added, d.removed, d.relabeled) == (["2"], ["3"], ["0", "4"])
    assert two_versions.diff("v1", "v1").items.empty


def test_a_relabel_request_is_the_why_of_the_label_that_answers_it(make_project):
    p = make_project()
    p.annotate("0", "ham", annotator="ana")
    p.snapshot("v1")
    # The request check_agreement writes: one more label, with its reason.
    p.ledger.append("request", "0", notify=False, extra={
        "reason": "relabel", "why": "agreement on 'ham' fell to 40%", "n": 1})
    p.annotate("0", "spam", annotator="bob")
    p.annotate("0", "spam", annotator="cat")  # k=1 plus the request: finished, spam 2 to 1
    p.snapshot("v2")
    d = p.diff("v1", "v2")
    assert d.relabeled == ["0"]
    assert d.items.loc[0, "why"] == "agreement on 'ham' fell to 40%"
    assert d.items.loc[0, "who"] == ("bob", "cat")


# -- audit --------------------------------------------------------------------------------------
def test_the_audit_says_who_changed_what_when_and_what_the_screen_showed(make_project):
    p = make_project()
    p.record_shown("0", annotator="ana", suggestion="spam", score=0.91)
    p.annotate("0", "spam", annotator="ana", suggestion="spam", suggestion_score=0.91)
    p.annotate("0", "ham", annotator="ana")  # changed her mind, nothing shown this time
    p.undo(annotator="ana", item_id="0")
    p.annotate("0", "ham", annotator="bob", source="human")
    p.resolve("0", "spam", annotator="sam")
    p.set_gold({"0": "spam"})
    p.annotate("1", "ham", annotator="ana")  # another item: not in 0's audit
    a = p.audit("0")
    assert a[["kind", "annotator", "before", "after", "undone", "shown_suggestion",
              "undoes"]].values.tolist() == [
        ["annotation", "ana", None, "spam", False, "spam", None],
        ["annotation", "ana", "spam", "ham", True, None, None],
        ["retraction", "ana", "ham", "spam", False, None, "annotation"],
        ["annotation", "bob", None, "ham", False, None, None],
        ["resolution", "sam", None, "spam", False, None, None],
        ["gold", None, None, "spam", False, None, None]]
    assert a.loc[0, "shown_score"] == pytest.approx(0.91) and not pd.isna(a.loc[0, "shown_at"])
    assert a["at"].is_monotonic_increasing
    with pytest.raises(KeyError, match="Unknown item"):
        p.audit("nope")


# -- exports ------------------------------------------------------------------------------------
def _normalised(df: pd.DataFrame) -> list[list]:
    """Rows as plain Python values (lists for sequences, None for missing), for comparing."""
    def plain(v):
        if isinstance(v, (tuple, list, np.ndarray)):
            return [plain(x) for x in v]
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        return v
    return [[plain(v) for v in row] for row in df.astype(object).itertuples(index=False)]


def test_a_parquet_export_loads_back_to_the_same_rows_with_the_hash(routes, tmp_path):
    import pyarrow.parquet as pq

    v = routes.snapshot("v1")
    path = routes.export_parquet("v1", tmp_path / "v1.parquet")
    back = pd.read_parquet(path)
    frame = routes.version("v1")
    assert list(back.columns) == list(frame.columns)
    assert _normalised(back) == _normalised(frame)
    meta = pq.read_schema(path).metadata
    assert meta[b"hitl_widgets.version"] == v.hash.encode()
    assert meta[b"hitl_widgets.labels"] == b"ham,spam"
    assert {f.name for f in tmp_path.iterdir() if not f.name.startswith("p.hitl")} == {"v1.parquet"}


def test_a_datasets_export_has_classlabels_the_hash_and_loads_back(routes, tmp_path):
    import datasets

    v = routes.snapshot("v1")
    ds = routes.to_dataset("v1")
    assert isinstance(ds.features["label"], datasets.ClassLabel)
    assert ds.features["label"].names == ["ham", "spam"]
    assert v.hash in ds.info.description
    ds.save_to_disk(str(tmp_path / "ds"))
    back = datasets.load_from_disk(str(tmp_path / "ds"))
    assert back.features == ds.features and v.hash in back.info.description
    frame = routes.version("v1")
    out = back.to_pandas()
    out["label"] = [back.features["label"].int2str(int(k)) for k in out["label"]]
    assert _normalised(out) == _normalised(frame)


def test_a_multi_label_version_exports_sequences_of_classlabels(make_project, tmp_path):
    import datasets

    p = make_project(labels=["news", "sport", "tech"], items=3, ids=["a", "b", "c"],
                     multi_label=True)
    p.annotate("a", ["sport", "news"], annotator="ana")
    p.annotate("b", ["tech"], annotator="ana")
    p.snapshot("v1")
    frame = p.version("v1")
    assert frame["label"].tolist() == [("news", "sport"), ("tech",)]
    back = pd.read_parquet(p.export_parquet("v1", tmp_path / "m.parquet"))
    assert _normalised(back) == _normalised(frame)
    ds = p.to_dataset("v1")
    feature = ds.features["label"]
    inner = getattr(feature, "feature", None)
    assert isinstance(inner, datasets.ClassLabel) and inner.names == ["news", "sport", "tech"]
    assert [[inner.int2str(k) for k in row] for row in ds["label"]] == [["news", "sport"], ["tech"]]


def test_an_export_to_an_unwritable_place_fails_clearly_and_leaves_nothing(routes, tmp_path):
    routes.snapshot("v1")
    with pytest.raises(ExportError, match="does not exist"):
        routes.export_parquet("v1", tmp_path / "missing" / "v1.parquet")
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ExportError, match="does not exist"):
        routes.export_parquet("v1", tmp_path / "a-file" / "v1.parquet")
    with pytest.raises(ExportError, match="is a folder"):
        routes.export_parquet("v1", tmp_path)
    with pytest.raises(VersionError, match="Unknown version"):
        routes.export_parquet("v2", tmp_path / "v2.parquet")
    assert not (tmp_path / "v2.parquet").exists()


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temp(routes, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    routes.snapshot("v1")
    target = tmp_path / "out" / "v1.parquet"
    target.parent.mkdir()
    target.write_bytes(b"the previous export")
    real = pq.write_table

    def disk_full(table, where, **kwargs):  # writes part of the file, then the disk is full
        real(table.slice(0, 1), where, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", disk_full)
    with pytest.raises(ExportError, match="No space left on device"):
        routes.export_parquet("v1", target)
    assert target.read_bytes() == b"the previous export"
    assert os.listdir(target.parent) == ["v1.parquet"]


def test_image_items_are_exported_by_path_and_kind(make_project, tmp_path):
    import io

    from PIL import Image

    p = make_project(items=0, image_root=True)
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buf, format="PNG")
    (p.image_root / "cat.png").write_bytes(buf.getvalue())
    p.add_items(path=["cat.png"], id=["c"])
    p.add_items(image=[np.zeros((4, 4))], id=["d"])
    p.annotate("c", "spam", annotator="ana")
    p.annotate("d", "ham", annotator="ana")
    p.snapshot("v1")
    back = pd.read_parquet(p.export_parquet("v1", tmp_path / "img.parquet")).set_index("item_id")
    assert back.loc["c", "kind"] == "image_path" and back.loc["c", "path"].endswith("cat.png")
    assert back.loc["d", "kind"] == "image" and pd.isna(back.loc["d", "path"])  # bytes stay


def test_a_snapshot_by_dawid_skene_records_its_method(routes):
    v = routes.snapshot("ds", method="dawid_skene")
    assert v.method == "dawid_skene" and routes.snapshots()["method"].tolist() == ["dawid_skene"]
    assert routes.version("ds").set_index("item_id").loc["3", "decided_by"] == "consensus"
    with pytest.raises(ValueError, match="Unknown consensus method"):
        routes.snapshot("bad", method="vote")
    assert routes.snapshots()["name"].tolist() == ["ds"]


def test_two_kernels_cannot_both_take_one_name(routes):
    other = Project(routes.path)
    try:
        routes.snapshot("v1")
        with pytest.raises(VersionError, match="exists already"):
            other.snapshot("v1")
        assert other.snapshots()["name"].tolist() == ["v1"]
    finally:
        other.close()
