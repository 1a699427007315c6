"""How a memory cap is shared among strata: water-filling toward scarce strata.

The rule. Stratum ``s`` has seen ``n_s`` events and has weight ``q_s`` (its quota), a
minimum ``min_s`` and a maximum ``max_s``. It could use ``D_s = min(n_s, max_s)`` places
(and, once it has discarded events, no more than it has now: ``limit_s``) and is owed
``A_s = min(min_s, D_s)``. If everything fits (``sum D_s <= cap``) each stratum holds all it
can use. Otherwise there is one level ``L`` with

    c_s = clamp(L * q_s, A_s, D_s),        sum_s c_s = cap,

and stratum ``s`` gets ``floor(c_s)`` places, plus one for the ``cap - sum floor(c_s)``
strata with the largest fractional parts (ties: the earlier stratum), so the whole cap is
used. A stratum that cannot fill its share (``n_s < L * q_s``) keeps everything it saw, and
the room it leaves goes to the others in proportion to their quotas, up to their maxima; when
every stratum has plenty, stratum ``s`` gets ``cap * q_s / sum q`` rounded as above (quotas
that sum to the cap are held exactly).

Why this rule: as the stream goes on ``n_s`` only grows, so ``L`` only falls, and a stratum
that has started discarding events only shrinks (``limit_s`` makes sure rounding never gives
one back a place). A uniform reservoir can shrink (drop a uniform random subset) and stay
uniform, but could not grow without favouring later events; so every stratum stays an exact
uniform sample of the events it received. ``L`` is computed with exact fractions.

Example
-------
>>> allocate(90, seen={"a": 1000, "b": 10, "c": 1000}, quotas={"a": 1, "b": 1, "c": 1})
{'a': 40, 'b': 10, 'c': 40}
>>> allocate(10, seen={"a": 50, "b": 50, "c": 50}, quotas={"a": 1, "b": 1, "c": 1})
{'a': 4, 'b': 3, 'c': 3}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any


def allocate(capacity: int, seen: Mapping[Any, int], quotas: Mapping[Any, int],
             min_size: Mapping[Any, int] | None = None,
             max_size: Mapping[Any, int | None] | None = None,
             limit: Mapping[Any, int] | None = None) -> dict[Any, int]:
    """Places per stratum under the cap, by the rule in the module docstring.

    ``quotas`` lists the strata (weights > 0), in their order; ``seen``, ``min_size``,
    ``max_size`` and ``limit`` (places a stratum may not exceed: its current capacity once it
    has discarded events) may leave strata out (0 seen, no minimum, no maximum, no limit).
    """
    min_size, max_size, limit = min_size or {}, max_size or {}, limit or {}
    upper = {}
    for s in quotas:
        bounds = [seen.get(s, 0), max_size.get(s), limit.get(s)]
        upper[s] = min(b for b in bounds if b is not None)
    lower = {s: min(min_size.get(s, 0), upper[s]) for s in quotas}
    if sum(upper.values()) <= capacity:
        return upper
    if sum(lower.values()) > capacity:
        raise ValueError(f"the minimum sizes ({sum(lower.values())} places) exceed the "
                         f"capacity ({capacity}); lower min_size or raise the capacity")

    def filled(level: Fraction) -> Fraction:
        return sum((min(upper[s], max(lower[s], level * q)) for s, q in quotas.items()),
                   Fraction(0))

    # F(level) is piecewise linear and non-decreasing, bending where some stratum meets its
    # lower or upper bound: find the last bend at or below the cap, then solve the segment.
    bends = sorted({Fraction(b, q) for s, q in quotas.items() for b in (lower[s], upper[s])})
    base = Fraction(0)
    for bend in bends:
        if filled(bend) > capacity:
            break
        base = bend
    free = sum((q for s, q in quotas.items() if lower[s] <= base * q < upper[s]), 0)
    level = base + (capacity - filled(base)) / free if free else base
    # An upper bound below L * q is a bend too, so F(level) == capacity exactly here.
    exact = {s: min(upper[s], max(lower[s], level * q)) for s, q in quotas.items()}
    places = {s: math.floor(c) for s, c in exact.items()}
    spare = capacity - sum(places.values())  # < number of strata; a fractional part > 0 each
    order = sorted(exact, key=lambda s: -(exact[s] - places[s]))  # stable: earlier wins ties
    for s in order[:spare]:
        places[s] += 1
    return places
