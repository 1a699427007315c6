"""The label schema: which labels exist, how they are keyed, and what they mean.

Example
-------
>>> schema = LabelSchema.build(["ham", "spam"], guidelines={"spam": "Unsolicited ads"})
>>> schema.keys
{'ham': '1', 'spam': '2'}
>>> schema.validate("spam")
('spam',)
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

    def validate(self, value: str | Iterable[str]) -> tuple[str, ...]:
        """Return the labels as a sorted-by-schema tuple, or raise listing the valid ones."""
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
        return cls.build(
            data["labels"],
            multi_label=data.get("multi_label", False),
            keys=data.get("keys"),
            guidelines=data.get("guidelines"),
        )


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
