"""The label schema: defaults, overrides and the errors that say what to do."""

from __future__ import annotations

import pytest

from hitl_widgets.core.store import LabelSchema, SchemaError


def test_default_keys_are_digits_then_letters_without_s():
    schema = LabelSchema.build([f"l{k}" for k in range(12)])
    assert [schema.keys[f"l{k}"] for k in range(12)] == list("123456789abc")
    many = LabelSchema.build([f"l{k}" for k in range(40)])
    assert "s" not in many.keys.values()
    assert len(many.keys) == 34  # the rest are labeled by clicking


def test_user_keys_override_and_defaults_fill_the_rest():
    schema = LabelSchema.build(["ham", "spam", "eggs"], keys={"spam": "x", "ham": "1"})
    assert schema.keys == {"ham": "1", "spam": "x", "eggs": "2"}


@pytest.mark.parametrize("keys, message", [
    ({"ham": "s"}, "reserved"),
    ({"ham": "S"}, "reserved"),
    ({"ham": "?"}, "reserved"),
    ({"ham": "ab"}, "one printable character"),
    ({"ham": "a", "spam": "A"}, "unique"),
    ({"nope": "x"}, "unknown labels"),
])
def test_bad_keys_are_refused(keys, message):
    with pytest.raises(SchemaError, match=message):
        LabelSchema.build(["ham", "spam"], keys=keys)


@pytest.mark.parametrize("labels, message", [
    ([], "at least one label"),
    (["a", "a"], "unique"),
    (["a", ""], "non-empty"),
    (["a", 3], "non-empty strings"),
    ("ham", "list of names"),
])
def test_bad_label_sets_are_refused(labels, message):
    with pytest.raises(SchemaError, match=message):
        LabelSchema.build(labels)


def test_validate_single_and_multi():
    single = LabelSchema.build(["ham", "spam"])
    assert single.validate("spam") == ("spam",)
    with pytest.raises(SchemaError, match="single-label"):
        single.validate(["ham", "spam"])
    multi = LabelSchema.build(["r", "g", "b"], multi_label=True)
    assert multi.validate(["b", "r", "b"]) == ("r", "b")
    with pytest.raises(SchemaError, match="No label given"):
        multi.validate([])


def test_guidelines_accept_text_or_description_and_examples():
    schema = LabelSchema.build(["ham", "spam"], guidelines={
        "ham": "personal", "spam": {"description": "ads", "examples": ["WIN!"]}})
    assert schema.to_json()["guidelines"] == {
        "ham": {"description": "personal", "examples": []},
        "spam": {"description": "ads", "examples": ["WIN!"]},
    }
    assert LabelSchema.from_json(schema.to_json()) == schema
    with pytest.raises(SchemaError, match="unknown fields"):
        LabelSchema.build(["ham"], guidelines={"ham": {"desc": "x"}})
