"""hitl_widgets: human-in-the-loop labeling inside Jupyter notebooks.

Example
-------
>>> import hitl_widgets as hw                                  # doctest: +SKIP
>>> project = hw.Project("spam.hitl", labels=["ham", "spam"])  # doctest: +SKIP
>>> project.add_items(df, text="CONTENT", id="COMMENT_ID")     # doctest: +SKIP
>>> hw.Labeler(project, annotator="ana")                       # doctest: +SKIP
"""

from __future__ import annotations

from .core.project import AddResult, Project
from .core.store import LabelSchema, SchemaError, StoreError

__version__ = "0.1.0"
# Imported when first used: widgets pull in anywidget and ipywidgets, the engine's heavier parts
# torch, snorkel or plotly; scripts that only label or read a project skip all of that.
_LAZY = {
    "Labeler": "labeler",
    "SpanLabeler": "span_labeler",
    "ActiveLearning": "core.active",
    "live_plots": "learning_plots",
    "simulate": "simulation",
    "LFStudio": "lf_studio",
    "Dashboard": "dashboard",
    "CorrectionCost": "correction_cost",
    "StreamView": "stream_view",
}

__all__ = ["AddResult", "LabelSchema", "Project", "SchemaError", "StoreError", "__version__",
           *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'hitl_widgets' has no attribute {name!r}")
