"""Every package the tests and benchmarks import is named in pyproject.toml.

A package that only arrives because another one needs it today (psutil through an old ipykernel)
disappears when that package changes its own needs, and a fresh ``pip install -e .[test]`` then
fails at import. So whatever the tests import directly, pyproject names directly.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("tests", "benchmarks")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    """The distributions pyproject names: its dependencies and every extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        names += extra
    return {_canonical(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", r).group(1)) for r in names}


def _modules_of(dist_name: str) -> set[str]:
    """Top-level import names an installed distribution provides."""
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError:
        return set()
    top = (dist.read_text("top_level.txt") or "").split()
    for f in dist.files or []:
        head = f.parts[0]
        if len(f.parts) == 1 and head.endswith(".py"):
            top.append(head[:-3])
        elif len(f.parts) > 1 and not head.endswith((".dist-info", ".data")) and head != "..":
            top.append(head)
    return set(top)


def _imported() -> dict[str, set[str]]:
    """Top-level module -> the files importing it, for absolute imports in tests and benchmarks."""
    out: dict[str, set[str]] = {}
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    out.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return out


def _local_modules() -> set[str]:
    own = {"hitl_widgets"}
    for folder in FOLDERS:
        own |= {p.stem for p in (ROOT / folder).rglob("*.py")}
    return own


def test_every_package_the_tests_and_benchmarks_import_is_declared():
    provided = set().union(*(_modules_of(name) for name in _declared()))
    missing = []
    for module, files in sorted(_imported().items()):
        if module in sys.stdlib_module_names or module in _local_modules() or module in provided:
            continue
        dist = packages_distributions().get(module, ["not installed"])[0]  # for the message only
        missing.append(f"{module} (from {dist}; imported by {sorted(files)[0]})")
    assert not missing, ("imported by the tests or benchmarks but not named in pyproject.toml's "
                         "dependencies or extras; add them to the test extra: " + ", ".join(missing))
