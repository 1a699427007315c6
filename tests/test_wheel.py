"""The built wheel works on its own: the JS and CSS ship inside it and the widget loads them.

Builds the wheel from this checkout, installs it into a fresh venv without torch (``--no-deps``,
then only the light libraries needed to import and construct a widget), and runs a smoke test
from a folder outside the checkout, so nothing can be picked up from the source tree.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUNTIME = ["anywidget", "ipywidgets", "numpy", "pandas", "pillow"]
SHIPPED = ["hitl_widgets/js/labeler.js", "hitl_widgets/js/labeler.css", "hitl_widgets/js/span_labeler.js",
           "hitl_widgets/js/span_labeler.css"]

SMOKE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import hitl_widgets as hw

    after_import = sorted(m for m in ("torch", "snorkel", "plotly", "anywidget") if m in sys.modules)
    project = hw.Project("smoke.hitl", labels=["ham", "spam"])
    project.add_items(["win a prize", "lunch at 1?"], id=["a", "b"])
    widget = hw.Labeler(project, annotator="ana")
    js = Path(hw.__file__).parent / "js"
    print(json.dumps({
        "file": hw.__file__,
        "after_import": after_import,
        "after_labeler": sorted(m for m in ("torch", "snorkel", "plotly") if m in sys.modules),
        "esm_is_installed_js": widget._esm == (js / "labeler.js").read_text(encoding="utf-8"),
        "css_is_installed_css": widget._css == (js / "labeler.css").read_text(encoding="utf-8"),
        "esm_head": str(widget._esm)[:80],
        "window": widget.window,
        "js_dir": str(js),
    }))
    """
)


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert out.returncode == 0, f"{args} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def _build_wheel(outdir: Path) -> Path:
    if importlib.util.find_spec("build") is not None:
        _run(
            [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(REPO)],
            timeout=600,
        )
    else:
        _run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(outdir), str(REPO)],
            timeout=600,
        )
    wheels = list(outdir.glob("hitl_widgets-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheel_ships_the_widget_assets_and_imports_light(tmp_path):
    wheel = _build_wheel(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(SHIPPED) <= names, f"the wheel lacks {sorted(set(SHIPPED) - names)}"

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=300)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "--no-deps", str(wheel)], timeout=300)
    _run([*pip, *RUNTIME], timeout=600)
    no_torch = _run([str(python), "-c", "import importlib.util as u; print(u.find_spec('torch'))"])
    assert no_torch.stdout.strip() == "None", "torch got into the smoke venv"

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    }
    env["PYTHONNOUSERSITE"] = "1"
    out = _run([str(python), "-c", SMOKE], cwd=outside, env=env, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])

    installed = Path(result["file"]).resolve()
    assert venv.resolve() in installed.parents, f"imported {installed}, not the venv's copy"
    assert REPO not in installed.parents
    assert result["after_import"] == [], f"import hitl_widgets imported {result['after_import']}"
    assert result["after_labeler"] == [], f"hw.Labeler imported {result['after_labeler']}"
    assert result["esm_is_installed_js"], f"_esm is not labeler.js: {result['esm_head']!r}"
    assert result["css_is_installed_css"], "_css is not labeler.css"
    assert result["window"] == ["a", "b"]
    for name in SHIPPED:  # and what shipped is this checkout's file, byte for byte
        shipped = Path(result["js_dir"]) / Path(name).name
        assert shipped.read_bytes() == (REPO / name).read_bytes(), f"{name} is stale in the wheel"
