"""CoNLL/IOB import: to_conll then from_conll gives back the same spans (emoji, ZWJ, CRLF and
double spaces included), tokens are found in the item's own text, and every token, tag or
label that cannot be placed is reported by document and item, with nothing written."""

from __future__ import annotations

import pytest

from hitl_widgets.core.project import Project
from hitl_widgets.core.spans import ConllError, from_conll, to_conll

TEXTS = {
    "ada": "Ada Lovelace  worked with Charles Babbage in London.",
    "fire": "👨🏻‍🚒 firemen drive firetrucks",
    "flag": "🇫🇷 Marie Curie, née Skłodowska, won in 1911 🎉",
    "crlf": "Paris\r\nis in France",
    "hash": "# 1 is IBM",
    "none": "nothing to see",
}
SPANS = {
    "ada": [(0, 12, "PER"), (26, 41, "PER"), (45, 51, "LOC")],
    "fire": [(0, 4, "PER"), (19, 29, "VEH")],
    "flag": [(0, 2, "LOC"), (3, 14, "PER"), (20, 30, "PER"), (39, 43, "DATE")],
    "crlf": [(0, 5, "LOC"), (13, 19, "LOC")],
    "hash": [(7, 10, "ORG")],
    "none": [],
}
KEY = ["item_id", "annotator", "start", "end", "label"]


def _project(path, fill=True):
    project = Project(path, span_labels=["PER", "LOC", "VEH", "DATE", "ORG"])
    project.add_items(list(TEXTS.values()), id=list(TEXTS))
    if fill:
        for item_id, spans in SPANS.items():
            project.submit_spans(item_id, spans, annotator="ana")
        project.submit_spans("ada", SPANS["ada"][:1], annotator="bob")
    return project


def _spans(project):
    return sorted(map(tuple, project.spans()[KEY].values.tolist()))


@pytest.mark.parametrize("tokenizer", ["words", "whitespace", "spacy"])
def test_to_conll_then_from_conll_gives_the_same_spans(tmp_path, tokenizer):
    if tokenizer == "spacy":
        pytest.importorskip("spacy")
    source = _project(tmp_path / "a.hitl")
    for item_id, text in TEXTS.items():  # the cases are what they say
        for start, end, _ in SPANS[item_id]:
            assert text[start:end].strip() == text[start:end]
    exported = to_conll(source, tmp_path / "out.conll", tokenizer=tokenizer)
    keep = {(p.item_id, p.start, p.end) for p in exported.problems}
    target = _project(tmp_path / "b.hitl", fill=False)
    result = from_conll(target, tmp_path / "out.conll", tokenizer=tokenizer)
    assert (result.submissions, result.items_added, result.problems) == (7, 0, [])
    expected = [s for s in _spans(source) if (s[0], s[2], s[3]) not in keep]
    assert _spans(target) == expected
    assert len(expected) == exported.exported
    if tokenizer == "words":  # every span is on a word edge: all of them come back
        assert not exported.problems and len(expected) == 13
    # The text itself and a list of lines read the same way.
    again = _project(tmp_path / "c.hitl", fill=False)
    from_conll(again, exported.data.splitlines())
    from_conll(again, exported.data)
    assert sorted(set(_spans(again))) == expected


def test_tokens_are_found_in_the_items_own_text(tmp_path):
    with _project(tmp_path / "a.hitl", fill=False) as project:
        lines = ["# item_id = fire", "👨🏻‍🚒\tB-PER", "firemen\tO", "drive\tO",
                 "fire\tB-VEH", "trucks\tI-VEH", "", "# item_id = crlf", "Paris\tB-LOC",
                 "is\tO", "in\tO", "France\tI-LOC"]
        result = from_conll(project, lines, annotator="cy")
        assert (result.submissions, result.spans) == (2, 4)  # I- after O opens a span
        assert sorted(project.spans()[["item_id", "start", "end", "text"]].values.tolist()) \
            == [["crlf", 0, 5, "Paris"], ["crlf", 13, 19, "France"], ["fire", 0, 4, "👨🏻‍🚒"],
                ["fire", 19, 29, "firetrucks"]]


def test_a_token_not_in_the_text_stops_the_import_and_is_named(tmp_path):
    with _project(tmp_path / "a.hitl", fill=False) as project:
        before = len(project.events())
        lines = ["# item_id = ada", "# annotator = ana", "Ada\tB-PER", "Lovelace\tI-PER",
                 "", "# item_id = crlf", "# annotator = ana", "Paris\tB-LOC", "was\tO",
                 "in\tO", "France\tB-LOC", "", "# item_id = none", "# annotator = ana",
                 "nothing\tB-THING", "to\tX", "see\tO"]
        with pytest.raises(ConllError, match=r"document 1 \(item 'crlf', line 9\): token "
                           r"'was' is not at offset 7.*'is in Franc'.*nothing was imported") as err:
            from_conll(project, lines)
        assert [(p.document, p.item_id, p.line, p.reason) for p in err.value.problems] == [
            (1, "crlf", 9, "misaligned"), (2, "none", 15, "label"), (2, "none", 16, "tag")]
        assert len(project.events()) == before
        result = from_conll(project, lines, errors="skip")
        assert (result.submissions, result.skipped) == (1, [1, 2])
        assert [p.reason for p in result.problems] == ["misaligned", "label", "tag"]
        assert project.spans()[["item_id", "text"]].values.tolist() == [["ada", "Ada Lovelace"]]


def test_a_stated_tokenizer_is_checked_token_by_token(tmp_path):
    with _project(tmp_path / "a.hitl", fill=False) as project:
        lines = ["# item_id = ada", "Ada Lovelace\tB-PER", "worked\tO"]
        assert from_conll(project, lines, annotator="ana").spans == 1
        with pytest.raises(ConllError, match="'Ada Lovelace' at 0-12 is not a token"):
            from_conll(project, lines, annotator="ana", tokenizer="words")
        with pytest.raises(ValueError, match="errors must be"):
            from_conll(project, lines, annotator="ana", errors="ignore")


def test_conll_2003_columns_new_items_and_iob1(tmp_path):
    lines = ["-DOCSTART- -X- -X- O", "", "EU NNP B-NP I-ORG", "rejects VBZ B-VP O",
             "German JJ B-NP I-MISC", "call NN I-NP O", ". . O O", "",
             "Peter NNP B-NP B-PER", "Blackburn NNP I-NP I-PER", "", "# a comment line",
             "# NN O", "cost NN O"]
    with Project(tmp_path / "a.hitl", span_labels=["ORG", "MISC", "PER"]) as project:
        result = from_conll(project, lines, annotator="ana")
        assert (result.items_added, result.submissions, result.spans) == (3, 3, 3)
        assert sorted(project.spans()[["text", "label"]].values.tolist()) == [
            ["EU", "ORG"], ["German", "MISC"], ["Peter Blackburn", "PER"]]
        assert "# cost" in set(project.items()["text"])
        with pytest.raises(ConllError, match="names no annotator"):
            from_conll(project, ["Ada\tB-PER"])
