"""Moved to :mod:`hitl_widgets.core.labeling`; this path works, with a warning, for one release."""

from ._moved import forward

__getattr__ = forward(__name__, "hitl_widgets.core.labeling", "hitl_widgets.core.labeling._queue")
