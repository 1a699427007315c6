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
from .core.schema import LabelSchema, SchemaError
from .core.store import StoreError

__version__ = "0.1.0"
__all__ = ["AddResult", "LabelSchema", "Labeler", "Project", "SchemaError", "StoreError",
           "__version__"]


def __getattr__(name: str):
    # The widget pulls in anywidget and ipywidgets; scripts that only use the engine skip that.
    if name == "Labeler":
        from .labeler import Labeler

        return Labeler
    raise AttributeError(f"module 'hitl_widgets' has no attribute {name!r}")
