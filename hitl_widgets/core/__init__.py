"""The engine: plain Python, numpy and SQLite. Never imports a widget library."""

from .project import AddResult, Project
from .schema import LabelSchema, SchemaError
from .session import LabelingSession, SequentialQueue
from .store import Store, StoreError

__all__ = ["AddResult", "LabelSchema", "LabelingSession", "Project", "SchemaError",
           "SequentialQueue", "Store", "StoreError"]
