"""Moved to :mod:`hitl_widgets.core.store`; this path works, with a warning, for one release."""

from ._moved import forward

__getattr__ = forward(__name__, "hitl_widgets.core.store", "hitl_widgets.core.store._schema")
