"""The one hard line of the layout: the engine never imports a widget library, and
``import hitl_widgets`` stays light (heavy and widget imports happen when first needed)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import hitl_widgets

PACKAGE = Path(hitl_widgets.__file__).parent
CORE = PACKAGE / "core"
WIDGET_LIBRARIES = {"anywidget", "ipywidgets", "traitlets", "IPython", "ipykernel", "comm"}
HEAVY = {"torch", "snorkel", "plotly"}


def _imports(path: Path, root: Path = PACKAGE.parent) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file, wherever it sits (also in
    functions and ``if TYPE_CHECKING`` blocks). Relative imports are resolved against the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root).parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            if node.module is None:  # `from . import x`: x is a module too
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def test_core_files_exist():
    # Guards the tests below against passing on an empty or moved folder.
    assert {"store/_store.py", "project.py", "labeling/_session.py"} <= {
        p.relative_to(CORE).as_posix() for p in CORE.rglob("*.py")}


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: p.name)
def test_core_module_imports_no_widget_library(path):
    bad = [
        (line, mod)
        for line, mod in _imports(path)
        if mod.split(".")[0] in WIDGET_LIBRARIES
        # the engine stands alone: reaching back up into the widget layer would pull it in
        or (mod.startswith("hitl_widgets.") and not mod.startswith("hitl_widgets.core"))
        or mod == "hitl_widgets"
    ]
    assert not bad, f"{path.relative_to(PACKAGE.parent)} imports {bad}; core/ must not"


def test_the_import_parser_sees_what_it_should(tmp_path):
    # The layering test is only as good as _imports: check it on the forms it must catch.
    fake = tmp_path / "hitl_widgets" / "core" / "probe.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        "import anywidget as aw\n"
        "from ipywidgets import widgets\n"
        "def f():\n    import traitlets.config\n"
        "from .. import labeler\n"
        "from ..core import store\n"
        "from .schema import LabelSchema\n"
    )
    found = {m for _, m in _imports(fake, root=tmp_path)}
    assert found == {
        "anywidget",
        "ipywidgets",
        "traitlets.config",
        "hitl_widgets",
        "hitl_widgets.labeler",
        "hitl_widgets.core",
        "hitl_widgets.core.schema",
    }


def _modules_after(code: str) -> set[str]:
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return {m.split(".")[0] for m in json.loads(out.stdout.splitlines()[-1])}


def test_import_hitl_widgets_pulls_in_no_heavy_or_widget_library():
    loaded = _modules_after("import hitl_widgets")
    assert not loaded & HEAVY, f"import hitl_widgets imported {sorted(loaded & HEAVY)}"
    assert not loaded & {"anywidget", "ipywidgets"}, "the widget layer was imported eagerly"


def test_engine_use_stays_free_of_widget_libraries(tmp_path):
    # Using the whole engine from a script: still no widget library, not even transitively.
    loaded = _modules_after(
        "import hitl_widgets as hw, hitl_widgets.core as core\n"
        f"p = hw.Project({str(tmp_path / 'a.hitl')!r}, labels=['a', 'b'])\n"
        "p.add_items(['x', 'y'], id=['1', '2'])\n"
        "s = core.LabelingSession(p, 'ana')\n"
        "s.submit(s.window()[0], ['a'])\n"
        "p.labels(); p.events(); s.payloads(s.window())\n"
    )
    assert not loaded & (WIDGET_LIBRARIES | HEAVY), sorted(loaded & (WIDGET_LIBRARIES | HEAVY))


def test_touching_labeler_is_what_imports_the_widget_layer():
    # The other side of the laziness: the widget library arrives with hw.Labeler, and only then.
    loaded = _modules_after("import hitl_widgets as hw\nhw.Labeler")
    assert {"anywidget", "ipywidgets", "traitlets"} <= loaded
    assert not loaded & HEAVY


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_another_modules_private_names(path):
    # Private modules are guarded by import-linter (private_modules contract); private *names*
    # (``from .routing import _known_ids``) are guarded here: a name with a leading underscore
    # belongs to its module.
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = [(node.lineno, alias.name) for node in ast.walk(tree)
           if isinstance(node, ast.ImportFrom) and node.module  # `from . import _x`: a module
           and (node.level or node.module.startswith("hitl_widgets"))
           for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not bad, f"{path.relative_to(PACKAGE)} imports private names {bad}"
