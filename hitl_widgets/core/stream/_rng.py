"""Seeded generators whose whole state is plain data, and the shared argument checks.

A reservoir's random state is part of what it holds: saving it and loading it back must give
the same future draws, so the generator is kept as its bit generator's ``state`` dict (plain
ints and strings) rather than pickled.

Example
-------
>>> rng = make_rng(7)
>>> again = rng_from_state(rng_state(rng))
>>> bool(rng.random() == again.random())
True
"""

from __future__ import annotations

import copy
import numbers
from typing import Any

import numpy as np


def make_rng(seed: Any) -> np.random.Generator:
    """A generator from a seed (int or sequence of ints) or a ``Generator`` passed in as is.

    ``None`` is refused: the global RNG is never used and fresh OS entropy would make a run
    impossible to repeat, so the caller says which seed it wants.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise TypeError("seed=None: pass a seed (e.g. seed=0) or a numpy Generator "
                        "(np.random.default_rng(0)) so the sample can be repeated")
    if isinstance(seed, bool) or not (isinstance(seed, numbers.Integral)
                                      or isinstance(seed, (list, tuple))):
        raise TypeError(f"seed must be an int, a list of ints or a numpy Generator, not "
                        f"{type(seed).__name__} {seed!r}")
    return np.random.default_rng(seed)


def rng_state(rng: np.random.Generator) -> dict:
    """The generator's state as a plain dict (a deep copy: later draws do not change it)."""
    return copy.deepcopy(rng.bit_generator.state)


def rng_from_state(state: dict) -> np.random.Generator:
    """A generator that continues exactly where the one :func:`rng_state` read left off."""
    name = state.get("bit_generator")
    kind = getattr(np.random, str(name), None)
    if not (isinstance(kind, type) and issubclass(kind, np.random.BitGenerator)):
        raise ValueError(f"unknown bit generator {name!r} in a saved state; expected a numpy "
                         "BitGenerator name such as 'PCG64'")
    bits = kind()
    bits.state = copy.deepcopy(state)
    return np.random.Generator(bits)


def check_count(value: Any, name: str, *, minimum: int = 1) -> int:
    """An int >= ``minimum`` (numpy ints too), else an error saying what to pass."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, not {type(value).__name__} {value!r}")
    if value < minimum:
        what = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value}")
    return int(value)
