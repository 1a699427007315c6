"""The router's policy: how much it prefers giving a task of each type to each annotator.

:func:`route_scores` is pure and is the one code path of every routing decision: the
:class:`~hitl_widgets.core.quality.RouterQueue` reads an annotator's row to order the task types
it serves them, and a replay or a simulation reads a task type's column to choose which
annotator answers an item next.

``policy="router"`` (the default), for annotator a and task type t:

1. **Exploration**: a's accuracy on t is drawn from their Beta posterior (Thompson sampling),
   ``theta = mean + explore * (draw - mean)``: ``explore=0`` is the posterior mean (greedy), 1
   an exact Thompson draw. An annotator with little evidence has a wide posterior, so their draws
   sometimes win and they get measured; a pair absent from the profiles has the prior.
2. **Load discount**: ``eff = theta / (1 + load / load_scale)``, as the baseline discounts.
3. **Comparative advantage**: ``score = eff[a, t] - max over the other annotators b of eff[b, t]``.
   In a column (who answers an item of type t) this orders annotators as ``eff`` does; in a row
   (which type a gets) it gives a generalist the types where nobody is much better than them,
   and leaves a specialist's type to the specialist.
4. **Floor**: once a has ``min_evidence`` answers of evidence on t and the top of their interval
   (``high``) is below the posterior means of at least ``slots`` other annotators on t, the
   score is ``-inf``: the router does not give them t while enough clearly better annotators
   are among ``annotators``. ``slots`` is how many different annotators an item needs (the
   queue passes the project's overlap k): the best annotator can give only one of an item's k
   labels, so holding everyone else off the type would leave its items short of k.

``policy="baseline"`` is the common rule ``mean / (1 + load / 100)``: no exploration, no
comparison, no floor.

Example
-------
>>> import pandas as pd
>>> profiles = pd.DataFrame({"annotator": ["ana", "ana", "bo", "bo"],
...                          "task_type": ["news", "sports", "news", "sports"],
...                          "alpha": [90.0, 60.0, 50.0, 58.0], "beta": [10.0, 40.0, 50.0, 42.0]})
>>> scores = route_scores(profiles, ["ana", "bo"], ["news", "sports"], explore=0)
>>> scores.idxmax(axis=1).to_dict()  # ana is the news specialist; bo takes sports
{'ana': 'news', 'bo': 'sports'}
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

POLICIES = ("router", "baseline")
BASELINE_LOAD_SCALE = 100.0
MIN_EVIDENCE = 10.0  # answers of evidence on a type before the floor may hold an annotator off it


def route_scores(profiles: pd.DataFrame, annotators: Sequence[str], task_types: Sequence[Hashable],
                 load: Mapping[str, float] | None = None, *, rng: Any = None, explore: float = 1.0,
                 policy: str = "router", prior: tuple[float, float] = (1.0, 1.0),
                 load_scale: float = BASELINE_LOAD_SCALE, min_evidence: float = MIN_EVIDENCE,
                 level: float = 0.95, slots: int = 1) -> pd.DataFrame:
    """The router's preference for giving a task of each type to each annotator.

    Parameters
    ----------
    profiles : skill profiles, as :func:`skill_posteriors` or :func:`skill_profiles` return
        them (columns ``annotator, task_type, alpha, beta``; ``n_gold`` and ``n_consensus``,
        the evidence the floor waits for, count 0 when absent).
    annotators : the annotators available now (the comparison and the floor are among them).
    task_types : the task types to score.
    load : annotator -> their current load (work in hand plus recent labels; 0 when absent).
    rng : a ``numpy.random.Generator``, a seed, or None (fresh entropy) for the Thompson draws.
    explore : how far the draws reach, >= 0 (0: the posterior means; 1: Thompson sampling).
    policy : ``"router"`` (see the module docstring) or ``"baseline"``:
        ``mean / (1 + load / 100)``.
    prior : (a, b) for pairs missing from ``profiles``.
    load_scale : the load at which the router halves an annotator's effective accuracy.
    min_evidence : answers of evidence before the floor applies.
    level : the floor's interval: ``high`` is the ``(1 + level) / 2`` quantile of the Beta.
    slots : how many different annotators each item needs (the overlap k): the floor holds an
        annotator off a type only while at least this many others are clearly better on it.

    Returns
    -------
    DataFrame indexed by annotator, one column per task type; higher is preferred, ``-inf`` is
    "not while someone better is available".

    >>> import pandas as pd
    >>> profiles = pd.DataFrame({"annotator": ["ana"], "task_type": ["all"], "alpha": [8.0],
    ...                          "beta": [2.0]})
    >>> route_scores(profiles, ["ana", "new"], ["all"], policy="baseline").round(2)["all"].tolist()
    [0.8, 0.5]
    """
    import pandas as pd

    if policy not in POLICIES:
        raise ValueError(f"Unknown policy {policy!r}; expected one of {list(POLICIES)}")
    annotators = _names(annotators, "annotators")
    types = list(task_types)
    if len(set(types)) != len(types):
        raise ValueError(f"task_types holds a type twice: {types!r:.80}")
    explore = _non_negative(explore, "explore")
    load_scale = _non_negative(load_scale, "load_scale")
    if load_scale == 0:
        raise ValueError("load_scale must be positive (the load at which accuracy is halved)")
    try:
        a0, b0 = (float(x) for x in prior)
    except (TypeError, ValueError):
        raise TypeError(f"prior must be two positive numbers (a, b); got {prior!r}") from None
    if not (a0 > 0 and b0 > 0 and math.isfinite(a0) and math.isfinite(b0)):
        raise ValueError(f"prior must be two positive finite numbers (a, b); got {prior!r}")
    if isinstance(slots, bool) or not isinstance(slots, (int, np.integer)) or slots < 1:
        raise ValueError(f"slots must be a whole number >= 1 (annotators per item); got {slots!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be a probability strictly between 0 and 1; got {level!r}")
    loads = np.array([_load(load, a) for a in annotators], dtype=float)
    alpha, beta, evidence = _table(profiles, annotators, types, a0, b0)
    mean = alpha / (alpha + beta)
    if policy == "baseline":
        score = mean / (1 + loads[:, None] / BASELINE_LOAD_SCALE)
        return pd.DataFrame(score, index=pd.Index(annotators, name="annotator"), columns=types)
    theta = mean
    if explore > 0 and mean.size:
        draws = np.random.default_rng(rng).beta(alpha, beta)
        theta = np.clip(mean + explore * (draws - mean), 0.0, 1.0)
    eff = theta / (1 + loads[:, None] / load_scale)
    score = eff - _best_other(eff)
    enough = evidence >= min_evidence
    high = _upper(alpha, beta, enough, level)
    # better[a, b, t]: b's mean is above the top of a's interval on t (never a itself: high >= mean)
    better = mean[None, :, :] > high[:, None, :]
    floored = enough & (better.sum(axis=1) >= slots)
    score = np.where(floored, -np.inf, score)
    return pd.DataFrame(score, index=pd.Index(annotators, name="annotator"), columns=types)


def _names(annotators: Any, name: str) -> list[str]:
    if isinstance(annotators, str):
        raise TypeError(f"{name} must be a list of annotator names, not the single str "
                        f"{annotators!r}; wrap it: [{annotators!r}]")
    out = list(annotators)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} holds a name twice: {out!r:.80}")
    return out


def _non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
            math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def _load(load: Mapping[str, float] | None, annotator: str) -> float:
    if load is None:
        return 0.0
    value = load.get(annotator, 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
            math.isfinite(value) and value >= 0):
        raise ValueError(f"load[{annotator!r}] must be a finite number >= 0; got {value!r}")
    return float(value)


def _table(profiles: Any, annotators: list[str], types: list[Hashable], a0: float,
           b0: float) -> tuple[np.ndarray, ...]:
    """alpha, beta and answers of evidence as (annotator x type) arrays; the prior (and no
    evidence) where a pair has no profile."""
    import pandas as pd

    if not isinstance(profiles, pd.DataFrame) or not {"annotator", "task_type", "alpha",
                                                      "beta"} <= set(profiles.columns):
        raise TypeError("profiles must be a DataFrame with columns annotator, task_type, alpha, "
                        "beta (what skill_posteriors or skill_profiles return)")
    shape = (len(annotators), len(types))
    alpha, beta = np.full(shape, a0), np.full(shape, b0)
    evidence = np.zeros(shape)
    row = {a: k for k, a in enumerate(annotators)}
    col = {t: k for k, t in enumerate(types)}
    n = np.zeros(len(profiles))
    for name in ("n_gold", "n_consensus"):
        if name in profiles.columns:
            n = n + profiles[name].to_numpy(float)
    for k, (a, t) in enumerate(zip(profiles["annotator"], profiles["task_type"], strict=True)):
        i, j = row.get(a), col.get(t)
        if i is None or j is None:
            continue
        alpha[i, j], beta[i, j] = profiles["alpha"].iat[k], profiles["beta"].iat[k]
        evidence[i, j] = n[k]
    return alpha, beta, evidence


def _upper(alpha: np.ndarray, beta: np.ndarray, where: np.ndarray, level: float) -> np.ndarray:
    """The top of the equal-tailed interval where asked (scipy only then), 1 elsewhere."""
    high = np.ones_like(alpha)
    if where.any():
        from scipy import stats

        high[where] = stats.beta.ppf(1 - (1 - level) / 2, alpha[where], beta[where])
    return high


def _best_other(values: np.ndarray) -> np.ndarray:
    """Per cell: the largest value in its column among the other rows (0 with no other row)."""
    if values.shape[0] < 2:
        return np.zeros_like(values)
    order = np.sort(values, axis=0)
    top, second = order[-1], order[-2]
    return np.where(values >= top, second, top)
