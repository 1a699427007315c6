"""Input normalisation shared by every door that takes item ids. Imports nothing of ours.

Also the shared checks of rates, counts and overlap k (``check_rate``, ``check_count``,
``check_k``).

One item id means one item wherever it is given: ``add_items(id=...)``, ``annotate``, ``skip``,
``undo``, ``suggest``, ``set_gold``, ``remove_gold`` and ``set_overlap`` all read it with
:func:`item_id`, so ``7``, ``np.int64(7)``, ``7.0`` and ``"7"`` name the same item ``"7"``.

- a ``str`` is the id as it is (an empty or blank one is refused);
- an int (Python or numpy; not a bool) is its decimal text;
- a float is accepted only when it is a whole number that a float holds exactly (``7.0`` ->
  ``"7"``; ids read from a CSV column with gaps arrive as floats); ``7.5``, ``inf`` and floats
  beyond 2**53 are refused, since no single id is meant;
- ``None``/``NaN``/``pd.NA`` is a missing id (ValueError); a bool, bytes, a list or any other
  object is refused (TypeError) with what to do.

Example
-------
>>> item_id(7.0), item_id("a1")
('7', 'a1')
>>> item_id_list(("a", 2), "item_ids")
['a', '2']
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

_EXACT_FLOAT = 2**53  # beyond this, a float may not be the integer the user had


def item_id(value: Any) -> str:
    """The item id ``value`` names, as stored; ValueError/TypeError saying what to pass."""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError(f"an item id is empty ({value!r}); give every item a non-blank id")
        return str(value)  # a str subclass (np.str_) becomes a plain str
    if _is_missing(value):
        raise ValueError(f"an item id is missing ({value!r}); give every item an id")
    if isinstance(value, bool) or _is_numpy_bool(value):
        raise TypeError(f"an item id must be a str or an int, not the bool {value!r}")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if not (math.isfinite(value) and value.is_integer() and abs(value) <= _EXACT_FLOAT):
            raise ValueError(f"the float {value!r} is not a usable item id: ids are str or int, "
                             "and only a whole float (7.0 -> '7') is read as one; convert the "
                             "ids with .astype(str) or .astype('int64')")
        return str(int(value))
    raise TypeError(f"an item id must be a str or an int, not {type(value).__name__} "
                    f"{_short(value)}; convert it with str(...) if that is the id")


def item_id_list(value: Any, name: str = "item_ids") -> list[str]:
    """A list of item ids (any iterable of them), each read with :func:`item_id`.

    A single string is refused rather than split into characters.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: expected a list of item ids, got the string {value!r}; "
                        f"wrap it: [{value!r}]")
    if isinstance(value, Mapping):
        raise TypeError(f"{name}: expected a list of item ids, got a {type(value).__name__}; "
                        "pass its keys or values as a list")
    try:
        values = list(value)
    except TypeError:
        raise TypeError(f"{name}: expected a list of item ids, got {type(value).__name__} "
                        f"{_short(value)}; wrap it: [{_short(value)}]") from None
    out = []
    for pos, one in enumerate(values):
        try:
            out.append(item_id(one))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}[{pos}]: {exc}") from None
    return out


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return math.isnan(value)
    # pandas' NA and NaT, without importing pandas
    return type(value).__name__ in ("NAType", "NaTType")


def _is_numpy_bool(value: Any) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ == "bool"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_rate(value, name: str) -> float:
    """A share in [0, 1], or a ValueError that says so."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], e.g. 0.05 for 5 %; got {value!r}")
    return float(value)


def check_count(value, name: str) -> int:
    """A whole number, at least 1, or a ValueError that says so."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a whole number, at least 1; got {value!r}")
    return int(value)


# Far above any crowd (overlap studies use 3-10 annotators, subjective ratings up to ~100), and
# low enough that k plus any number of requests is a small int64 wherever it is counted.
MAX_K = 10_000


def check_k(value, name: str = "k") -> int:
    """A whole number of annotators, from 1 to MAX_K (10,000)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a whole number of annotators, at least 1; got {value!r}")
    if value > MAX_K:
        raise ValueError(f"{name} = {value!r} annotators per item is more than the {MAX_K:,} "
                         "supported; nothing was written. Give the number of annotators who "
                         "should label each item, e.g. 3")
    return int(value)
