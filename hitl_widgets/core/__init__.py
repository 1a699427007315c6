"""The engine: plain Python, numpy and SQLite. Never imports a widget library.

Its subpackages, each with its public surface in its ``__init__``:

- :mod:`~hitl_widgets.core.store`: the durable log and its one writer (``Ledger``);
- :mod:`~hitl_widgets.core.labeling`: the labeling session and the queue contract;
- :mod:`~hitl_widgets.core.quality`: overlap, gold, agreement, consensus, adjudication;
- :mod:`~hitl_widgets.core.weak`: labeling functions and label models;
- :mod:`~hitl_widgets.core.active`: scores, the ranking policy and the active-learning loop;

and :mod:`~hitl_widgets.core.project`, the facade users hold, the only module that knows them all.
"""

from .labeling import LabelingSession, SequentialQueue
from .project import AddResult, Project
from .store import LabelSchema, SchemaError, Store, StoreError

__all__ = ["AddResult", "LabelSchema", "LabelingSession", "Project", "SchemaError",
           "SequentialQueue", "Store", "StoreError"]
