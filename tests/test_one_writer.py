"""One writer: every public write of a project reaches listeners exactly once, with its kind,
and only the Ledger appends to the store.

Before the Ledger, ``set_gold``, ``remove_gold``, ``set_overlap`` and ``spot_check`` wrote
without telling anyone, so the Dashboard showed stale gold and queue panels until the next label.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import hitl_widgets as hw
from hitl_widgets.core.store import Ledger

PACKAGE = Path(hw.__file__).parent


@pytest.fixture
def heard(project):
    got: list[tuple[str, dict]] = []
    project.subscribe(lambda kind, info: got.append((kind, info)))
    return got


def _labeled(project):
    """Two annotators disagree on items 0-3, agree on 4-7: flags, alerts and spot checks have
    something to work on."""
    for k in range(8):
        project.annotate(str(k), "ham", annotator="ana")
        project.annotate(str(k), "spam" if k < 4 else "ham", annotator="bob")


# (what the write does, the kind listeners hear); each is called on a fresh project.
WRITES = {
    "add_items": (lambda p: p.add_items(["new"], id=["n1"]), "items"),
    "annotate": (lambda p: p.annotate("0", "ham", annotator="ana"), "annotation"),
    "skip": (lambda p: p.skip("0", annotator="ana"), "skip"),
    "undo": (lambda p: (p.annotate("0", "ham", annotator="ana"), p.undo(annotator="ana")),
             "retraction"),
    "suggest": (lambda p: p.suggest(["0", "1"], ["ham", "spam"], [0.9, 0.8]), "suggestion"),
    "set_overlap": (lambda p: p.set_overlap(2), "overlap"),
    "set_overlap items": (lambda p: p.set_overlap(3, item_ids=["0", "1"]), "overlap"),
    "set_lease": (lambda p: p.set_lease(5), "lease"),
    "set_gold": (lambda p: p.set_gold(["0", "1"], ["ham", "spam"]), "gold"),
    "remove_gold": (lambda p: (p.set_gold(["0"], ["ham"]), p.remove_gold(["0"])), "gold"),
    "flag_disagreements": (lambda p: (_labeled(p), p.flag_disagreements()), "flag"),
    "resolve": (lambda p: p.resolve("0", "spam", annotator="sam"), "resolution"),
    "spot_check": (lambda p: (_labeled(p), p.spot_check(rate=0.5)), "request"),
    "check_agreement": (lambda p: (_labeled(p), p.check_agreement(window=8, min_items=4)),
                        "alert"),
    "snapshot": (lambda p: (p.annotate("0", "ham", annotator="ana"), p.snapshot("v1")),
                 "version"),
    "store_weak_labels": (lambda p: p.store_weak_labels(np.array([[0.9, 0.1], [0.2, 0.8]]),
                                                        ["0", "1"]), "suggestion"),
    "set_rate": (lambda p: p.set_rate("*", 18.0), "rate"),
    "set_rate tier": (lambda p: p.set_rate("senior", 30.0, tier=True), "rate"),
    "set_tier": (lambda p: p.set_tier("ana", "senior"), "tier"),
    "set_budget": (lambda p: p.set_budget(100.0), "budget"),
}
# Writes that are silent by design (the choice is written at their call site).
SILENT = {
    "record_shown": lambda p: p.record_shown("0", annotator="ana", suggestion="ham"),
}
SETUP_KINDS = {"flag_disagreements": "annotation", "spot_check": "annotation",
               "check_agreement": "annotation", "undo": "annotation", "remove_gold": "gold",
               "snapshot": "annotation"}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_every_public_write_notifies_once_with_its_kind(name, project, heard):
    write, kind = WRITES[name]
    write(project)
    setup = SETUP_KINDS.get(name)
    got = [k for k, _ in heard]
    # A setup step may notify too (its own labels); the write itself notifies exactly once.
    if setup == kind:  # remove_gold: the set_gold before it, then itself
        assert got == [kind, kind], got
    else:
        assert got.count(kind) == 1, got
        assert set(got) <= {kind, setup}, got


@pytest.mark.parametrize("name", sorted(SILENT))
def test_silent_writes_are_silent_and_written(name, project, heard):
    before = len(project.events())
    SILENT[name](project)
    assert heard == [] and len(project.events()) == before + 1


def test_a_write_that_changes_nothing_notifies_nobody(project, heard):
    project.add_items([f"text {k}" for k in range(8)], id=[str(k) for k in range(8)])  # re-add
    project.spot_check(rate=0.5)  # nothing finished yet
    project.check_agreement()
    assert heard == []


def test_notices_wait_for_the_transaction_and_vanish_with_its_rollback(project, heard):
    ledger = project.ledger
    with ledger.transaction():
        ledger.append("gold", "0", notify="gold", labels=["ham"])
        assert heard == []  # not committed yet: nobody hears of it
    assert [k for k, _ in heard] == ["gold"]
    with pytest.raises(RuntimeError), ledger.transaction():
        ledger.append("gold", "1", notify="gold", labels=["ham"])
        raise RuntimeError("the block fails")
    assert [k for k, _ in heard] == ["gold"]
    assert set(project.gold()["item_id"]) == {"0"}  # rolled back whole


def test_notify_must_be_a_kind_or_false(project):
    with pytest.raises(TypeError, match="notify"):
        project.ledger.append("gold", "0", notify=None, labels=["ham"])


def test_ledger_of_refuses_what_is_not_a_project():
    with pytest.raises(TypeError, match="Project"):
        Ledger.of(object())


# -- only the Ledger writes ----------------------------------------------------------------
STORE_WRITES = {"append", "append_many", "retract", "retract_last", "add_items", "set_meta"}


def _store_writes(path: Path) -> list[tuple[int, str]]:
    """Calls of a Store write method on something named ``store`` or ``<x>.store``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in STORE_WRITES):
            target = node.func.value
            name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
            if name in ("store", "_store"):
                out.append((node.lineno, f"{name}.{node.func.attr}"))
    return out


LEDGER = PACKAGE / "core" / "store" / "_ledger.py"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p != LEDGER)


def test_the_scan_finds_store_writes():
    assert _store_writes(LEDGER)  # the Ledger itself does write: the scan sees it


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_ledger_writes_to_the_store(path):
    # The store's own docstring example writes to a bare Store; code never does.
    found = [w for w in _store_writes(path) if path.name != "_store.py"]
    assert not found, f"{path.relative_to(PACKAGE)} writes to the store directly: {found}; " \
                      "go through the Ledger and say whether it notifies"
