"""Every example in the package's docstrings runs and prints what it says.

The examples are the docs a user reads first (``help(hw.Project)``), so they are tests: each
module of ``hitl_widgets`` is imported and its doctests run, as ``python -m doctest`` would.
Examples that need a display or a running kernel carry ``# doctest: +SKIP``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import hitl_widgets

MOVED = {"hitl_widgets.core." + old for old in (
    "schema", "items", "media", "migrations", "session", "queues", "agreement", "consensus",
    "quality_stats", "routing", "weak_analysis", "weak_apply", "lf_cache", "learning", "models",
    "features", "simulate")}  # old paths: they only forward (tests/test_moved_paths.py)
MODULES = sorted(m.name for m in pkgutil.walk_packages(hitl_widgets.__path__, "hitl_widgets.")
                 if m.name not in MOVED)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that create project files leave them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
