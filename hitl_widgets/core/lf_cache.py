"""Moved to :mod:`hitl_widgets.core.weak`; this path works, with a warning, for one release."""

from ._moved import forward

__getattr__ = forward(__name__, "hitl_widgets.core.weak", "hitl_widgets.core.weak._cache")
