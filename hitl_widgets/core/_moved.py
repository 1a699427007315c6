"""Old module paths that moved into subpackages keep working for one release, with a warning.

Each old path (e.g. ``hitl_widgets/core/agreement.py``) is a three-line module that calls
:func:`forward`: importing it warns once (a ``FutureWarning`` naming the new path) and every
name it used to hold is looked up where it lives now. Imports nothing of ours.

Example
-------
>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     get = forward("old.place", "hitl_widgets.core.store", "hitl_widgets.core.store._schema")
>>> "hitl_widgets.core.store" in str(caught[0].message)
True
>>> get("LabelSchema").__name__
'LabelSchema'
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from typing import Any

REMOVED_IN = "0.3"


def forward(old: str, new: str, implementation: str) -> Callable[[str], Any]:
    """Warn that ``old`` moved to ``new``; return a module ``__getattr__`` that finds each old
    name in ``new`` (its public surface) or, for names that were never public, in
    ``implementation``."""
    warnings.warn(f"{old} moved to {new}: import from {new} instead (the old path goes in "
                  f"hitl_widgets {REMOVED_IN})", FutureWarning, stacklevel=_caller_level())

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        for module in (new, implementation):
            found = getattr(importlib.import_module(module), name, _MISSING)
            if found is not _MISSING:
                return found
        raise AttributeError(f"module {old!r} has no attribute {name!r} (it moved to {new})")

    return __getattr__


_MISSING = object()


def _caller_level() -> int:
    """The stack level of the code that imported the old path: past this module and the old
    module, so the warning names the user's line. (``warnings`` itself does not count the
    import machinery's frames.)"""
    level, frame = 1, sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith("<frozen"):
            ours = name == __file__ or (frame.f_code.co_name == "<module>" and
                                        frame.f_globals.get("__name__", "").startswith(
                                            "hitl_widgets.core."))
            if not ours:
                return level
            level += 1
        frame = frame.f_back
    return level


def old_names(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A package ``__getattr__`` for names its old single-file module held that now live
    elsewhere (``homes``: name -> module): found there, with one warning naming the new home."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        home = homes[name]
        if any(part.startswith("_") for part in home.split(".")):
            advice = f"it is internal now ({home}) and not part of any public surface"
        else:
            advice = f"import it from {home}"
        warnings.warn(f"{package}.{name} moved: {advice} (the old name goes in hitl_widgets "
                      f"{REMOVED_IN})", FutureWarning, stacklevel=2)
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[package], name, value)  # found directly from now on: one warning
        return value

    return __getattr__
