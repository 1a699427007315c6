"""Old module paths keep working for one release: each warns once, naming its new home, and
every name it held is still found there (a user's notebook keeps running)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_doctests import MOVED

# (old module, a name it held, the public package it now lives in)
EXAMPLES = {
    "schema": ("LabelSchema", "store"), "items": ("build_records", "store"),
    "media": ("array_to_png", "store"), "migrations": ("migrate", "store"),
    "session": ("LabelingSession", "labeling"), "queues": ("SequentialQueue", "labeling"),
    "agreement": ("cohen_kappa", "quality"), "consensus": ("dawid_skene", "quality"),
    "quality_stats": ("dashboard_data", "quality"), "routing": ("OverlapQueue", "quality"),
    "weak_analysis": ("lf_summary", "weak"), "weak_apply": ("apply_lfs", "weak"),
    "lf_cache": ("LFCache", "weak"), "learning": ("ActiveLearning", "active"),
    "models": ("TorchClassifier", "active"), "features": ("tfidf", "active"),
    "simulate": ("run_simulation", "active"),
}


def test_every_moved_path_has_an_example():
    assert {f"hitl_widgets.core.{old}" for old in EXAMPLES} == MOVED


@pytest.mark.parametrize("old", sorted(EXAMPLES))
def test_an_old_path_works_and_warns_once_naming_the_new_one(old):
    name, new = EXAMPLES[old]
    # A fresh interpreter: the warning comes with the first import, as in a user's kernel.
    script = f"""
import json, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from hitl_widgets.core.{old} import {name} as first
    import hitl_widgets.core.{old} as again
    second = getattr(again, {name!r})
import hitl_widgets.core.{new} as new
print(json.dumps({{"messages": [str(w.message) for w in caught],
                   "categories": [w.category.__name__ for w in caught],
                   "files": [w.filename for w in caught],
                   "same": first is second is getattr(new, {name!r}, first)}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.splitlines()[-1])
    moved = [m for m in got["messages"] if "moved to" in m]
    assert moved == [f"hitl_widgets.core.{old} moved to hitl_widgets.core.{new}: import from "
                     f"hitl_widgets.core.{new} instead (the old path goes in hitl_widgets 0.3)"]
    assert "FutureWarning" in got["categories"]
    assert got["files"][got["messages"].index(moved[0])] == "<string>"  # the user's line
    assert got["same"]


def test_an_unknown_name_on_an_old_path_says_where_things_went():
    with pytest.warns(FutureWarning):
        import hitl_widgets.core.agreement as old
    with pytest.raises(AttributeError, match="moved to hitl_widgets.core.quality"):
        old.no_such_function  # noqa: B018


@pytest.mark.parametrize("package, name", [("weak", "torch_threads"), ("weak", "wilson_interval"),
                                           ("store", "QUALITY_KINDS"), ("quality", "METHODS")])
def test_a_name_the_old_module_held_is_still_found_once_warned(package, name):
    script = f"""
import json, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from hitl_widgets.core.{package} import {name}
    import hitl_widgets.core.{package} as again
    getattr(again, {name!r})
print(json.dumps([str(w.message) for w in caught if "moved" in str(w.message)]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    messages = json.loads(out.stdout.splitlines()[-1])
    assert len(messages) == 1 and f"hitl_widgets.core.{package}.{name} moved" in messages[0]
