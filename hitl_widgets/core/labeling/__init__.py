"""What an annotator sees next: the labeling session and the queue contract.

- :class:`LabelingSession`: one annotator's window of next items and the actions on them
  (what the Labeler widget drives; scripts and tests call it directly).
- :class:`Queue`: the contract every queue implements (sequential, weak-label, overlap,
  adjudication, active learning); :class:`SequentialQueue` is the default.

Example
-------
>>> import tempfile, os
>>> import hitl_widgets as hw
>>> project = hw.Project(os.path.join(tempfile.mkdtemp(), "s.hitl"), labels=["a", "b"])
>>> _ = project.add_items(["one", "two", "three"], id=["1", "2", "3"])
>>> LabelingSession(project, "ana", prefetch=2).window()
['1', '2']
"""

from ._queue import ExcludedIds, ProjectView, Queue, SequentialQueue
from ._session import MAX_TEXT_CHARS, LabelingSession

__all__ = ["ExcludedIds", "MAX_TEXT_CHARS", "LabelingSession", "ProjectView", "Queue", "SequentialQueue"]
