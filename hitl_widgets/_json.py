"""Payloads for the browser: JSON the kernel can send, with no NaN or infinity in it.

Jupyter serializes every widget message with ``json.dumps(..., allow_nan=False)``; a NaN makes
it print "Message serialization failed … Out of range float values are not JSON compliant" and
send the number as the string ``"nan"``, which a plot cannot draw. :func:`json_safe` turns
every non-finite float into None (JSON ``null``: a gap in a plotly trace) and numpy numbers
and arrays into plain Python, so whatever goes into a synced trait or a message is valid JSON.
A leaf module: it imports nothing of ours.

Example
-------
>>> import numpy as np
>>> json_safe({"y": [0.5, float("nan")], "n": np.int64(3), "top": np.array([1.0, np.inf])})
{'y': [0.5, None], 'n': 3, 'top': [1.0, None]}
"""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None.

    Walks dicts, lists and tuples (tuples become lists, as JSON has no tuple); numpy scalars
    become Python numbers and numpy arrays lists. Strings, ints, bools, None and anything else
    are returned as they are.

    >>> json_safe([1, 2.5, float("-inf"), ("a", float("nan"))])
    [1, 2.5, None, ['a', None]]
    """
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if type(value).__module__ == "numpy":  # numpy scalars and arrays, without importing numpy
        if hasattr(value, "tolist"):
            return json_safe(value.tolist())
    return value
