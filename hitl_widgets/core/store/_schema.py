"""The label schema: which labels exist, how they are keyed, and what they mean.

Example
-------
>>> schema = LabelSchema.build(["ham", "spam"], guidelines={"spam": "Unsolicited ads"})
>>> schema.keys
{'ham': '1', 'spam': '2'}
>>> schema.validate("spam")
('spam',)
>>> spans = SpanSchema.build(["PER", "ORG"], relation_labels=["works_for"])
>>> spans.keys, spans.overlapping
({'PER': '1', 'ORG': '2'}, False)
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Keys the Labeler keeps for itself: skip, help. Enter, Backspace, arrows and Escape are
# never offered as label keys because they are not single printable characters.
RESERVED_KEYS = frozenset({"s", "?"})
DEFAULT_KEYS = [str(d) for d in range(1, 10)] + [
    c for c in string.ascii_lowercase if c not in RESERVED_KEYS
]


class SchemaError(ValueError):
    """A label or a schema definition that cannot be used."""


@dataclass(frozen=True)
class Guideline:
    """What a label means, with examples an annotator can compare against."""

    description: str = ""
    examples: tuple[str, ...] = ()

    @classmethod
    def coerce(cls, value: Any, label: str) -> Guideline:
        if isinstance(value, Guideline):
            return value
        if isinstance(value, str):
            return cls(description=value)
        if isinstance(value, Mapping):
            unknown = set(value) - {"description", "examples"}
            if unknown:
                raise SchemaError(
                    f"Guideline for {label!r} has unknown fields {sorted(unknown)}; "
                    "use 'description' and 'examples'"
                )
            examples = value.get("examples", ())
            if isinstance(examples, str):
                examples = (examples,)
            return cls(str(value.get("description", "")), tuple(str(e) for e in examples))
        raise SchemaError(
            f"Guideline for {label!r} must be a string or a dict with 'description' and "
            f"'examples', not {type(value).__name__}"
        )


@dataclass(frozen=True)
class LabelSchema:
    """The labels of a project. Build one with :meth:`LabelSchema.build`."""

    labels: tuple[str, ...]
    multi_label: bool = False
    keys: dict[str, str] = field(default_factory=dict)
    guidelines: dict[str, Guideline] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        labels: Iterable[str],
        *,
        multi_label: bool = False,
        keys: Mapping[str, str] | None = None,
        guidelines: Mapping[str, Any] | None = None,
    ) -> LabelSchema:
        """Check and complete a schema: default keys are 1–9, then letters (not ``s``)."""
        if isinstance(labels, str):
            raise SchemaError(f"labels must be a list of names, not the string {labels!r}")
        labels = tuple(labels)
        _check_labels(labels)
        keys = _assign_keys(labels, dict(keys or {}))
        guidelines = dict(guidelines or {})
        _reject_unknown("guidelines", guidelines, labels)
        parsed = {lab: Guideline.coerce(guidelines[lab], lab) for lab in labels if lab in guidelines}
        return cls(labels, bool(multi_label), keys, parsed)

    @classmethod
    def spans_only(cls) -> LabelSchema:
        """The label schema of a project that labels spans only: no item labels."""
        return cls(())

    def validate(self, value: str | Iterable[str]) -> tuple[str, ...]:
        """Return the labels as a sorted-by-schema tuple, or raise listing the valid ones."""
        if not self.labels:
            raise SchemaError("This project labels spans only: it has no item labels. Submit "
                              "spans with project.submit_spans(...), or create a project with "
                              "labels=[...] to label whole items")
        expected = list(self.labels)
        if isinstance(value, str):
            given = (value,)
        elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
            given = tuple(value)
        else:
            hint = "; decode it first, e.g. b.decode()" if isinstance(value, (bytes, bytearray)) \
                else ""
            raise SchemaError(f"label must be a label name (str) or a list of names; got "
                              f"{_shown(value)}{hint}; expected one of {expected}")
        for label in given:
            if not isinstance(label, str):
                raise SchemaError(f"labels must be label names (str); got {_shown(label)} in "
                                  f"{_shown(value)}; expected one of {expected}")
            if label not in self.labels:
                raise SchemaError(f"Unknown label {label!r}; expected one of {expected}")
        if not given:
            raise SchemaError(f"No label given; expected one of {list(self.labels)}")
        if len(given) > 1 and not self.multi_label:
            raise SchemaError(
                f"{len(given)} labels given for a single-label project; pick one of "
                f"{list(self.labels)} (or create the project with multi_label=True)"
            )
        return tuple(lab for lab in self.labels if lab in set(given))

    def to_json(self) -> dict:
        return {
            "labels": list(self.labels),
            "multi_label": self.multi_label,
            "keys": dict(self.keys),
            "guidelines": {
                lab: {"description": g.description, "examples": list(g.examples)}
                for lab, g in self.guidelines.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LabelSchema:
        if not data["labels"]:
            return cls.spans_only()
        return cls.build(
            data["labels"],
            multi_label=data.get("multi_label", False),
            keys=data.get("keys"),
            guidelines=data.get("guidelines"),
        )


@dataclass(frozen=True)
class SpanSchema:
    """The span task of a project: span labels (with keys), relation labels, and whether spans
    may overlap. Build one with :meth:`SpanSchema.build`.

    ``overlapping=False`` is a single layer (named entities: no two spans share a character);
    ``overlapping=True`` lets spans nest and cross, as Prodigy's ``spans.manual`` does.
    Labels, relation labels and ``overlapping`` are fixed once a project has them; keys may
    change on reopening, as label keys may.
    """

    labels: tuple[str, ...]
    relation_labels: tuple[str, ...] = ()
    overlapping: bool = False
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, labels: Iterable[str], *, relation_labels: Iterable[str] = (),
              overlapping: bool = False, keys: Mapping[str, str] | None = None) -> SpanSchema:
        """Check and complete a span schema: default keys are 1–9, then letters (not ``s``)."""
        for what, names in (("span_labels", labels), ("relation_labels", relation_labels)):
            if isinstance(names, str):
                raise SchemaError(f"{what} must be a list of names, not the string {names!r}")
        labels, relations = tuple(labels), tuple(relation_labels)
        if not labels:
            raise SchemaError("A span task needs at least one span label, e.g. "
                              "span_labels=['PER', 'ORG']")
        _check_labels(labels)
        if relations:
            _check_labels(relations)
        if not isinstance(overlapping, bool):
            raise SchemaError(f"overlapping must be True or False, not {overlapping!r}")
        return cls(labels, relations, overlapping, _assign_keys(labels, dict(keys or {})))

    def validate(self, label: Any, *, relation: bool = False) -> str:
        """The span (or relation) label, or raise listing the valid ones."""
        expected = list(self.relation_labels if relation else self.labels)
        what = "relation label" if relation else "span label"
        if not isinstance(label, str) or label not in expected:
            hint = ("; declare relation labels with relation_labels=[...] when creating the "
                    "project" if relation and not expected else "")
            raise SchemaError(f"Unknown {what} {_shown(label)}; expected one of {expected}{hint}")
        return label

    def to_json(self) -> dict:
        return {"labels": list(self.labels), "relation_labels": list(self.relation_labels),
                "overlapping": self.overlapping, "keys": dict(self.keys)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpanSchema:
        return cls.build(data["labels"], relation_labels=data.get("relation_labels", ()),
                         overlapping=data.get("overlapping", False), keys=data.get("keys"))


def _shown(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return text if value is None or isinstance(value, str) else f"{type(value).__name__} {text}"


def _check_labels(labels: tuple) -> None:
    if not labels:
        raise SchemaError("A project needs at least one label, e.g. labels=['ham', 'spam']")
    for label in labels:
        if not isinstance(label, str) or not label.strip():
            raise SchemaError(f"Labels must be non-empty strings; got {label!r}")
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        raise SchemaError(f"Labels must be unique; repeated: {dupes}")


def _reject_unknown(what: str, mapping: Mapping, labels: tuple) -> None:
    unknown = [k for k in mapping if k not in labels]
    if unknown:
        raise SchemaError(f"{what} name unknown labels {unknown}; expected some of {list(labels)}")


def _assign_keys(labels: tuple, chosen: dict[str, str]) -> dict[str, str]:
    _reject_unknown("keys", chosen, labels)
    for label, key in chosen.items():
        if not isinstance(key, str) or len(key) != 1 or not key.isprintable() or key == " ":
            raise SchemaError(f"Key for {label!r} must be one printable character, not {key!r}")
        if key.lower() in RESERVED_KEYS:
            raise SchemaError(f"Key {key!r} for {label!r} is reserved (s skips, ? shows help)")
    # The view compares keys case-insensitively (Shift must not matter), so 'a' and 'A' clash.
    taken = [k.lower() for k in chosen.values()]
    clash = sorted({k for k in taken if taken.count(k) > 1})
    if clash:
        raise SchemaError(f"Keys must be unique; {clash} used more than once in keys={chosen}")
    free = iter(k for k in DEFAULT_KEYS if k not in taken)
    keys = {}
    for label in labels:
        key = chosen.get(label) or next(free, None)
        if key is not None:  # past 34 labels, the rest are labeled by clicking
            keys[label] = key
    return keys
