"""Plotly figure builders shared by the widgets and the simulation.

Each function takes plain DataFrames and returns a ``plotly.graph_objects.Figure``; plotly is
imported inside them, so importing this module costs nothing.

Example
-------
>>> import pandas as pd
>>> summary = pd.DataFrame({"strategy": ["random", "random", "margin", "margin"],
...                         "n_labels": [10, 20, 10, 20], "mean": [0.5, 0.6, 0.5, 0.7],
...                         "ci_low": [0.4, 0.5, 0.4, 0.6], "ci_high": [0.6, 0.7, 0.6, 0.8]})
>>> fig = learning_curves(summary)
>>> [t.name for t in fig.data if t.showlegend is not False]
['random', 'margin']
"""

from __future__ import annotations

from typing import Any

# Colour-blind-safe (Okabe & Ito); random sampling, the baseline, is always grey.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
BASELINE_COLOR = "#7f7f7f"
NAMES = {"random": "random", "least_confidence": "least confidence", "margin": "margin",
         "entropy": "entropy", "diverse": "diverse batch (k-center)"}


def learning_curves(summary, *, baseline: str = "random", target: float | None = None,
                    title: str | None = None) -> Any:
    """Mean accuracy ± its confidence band per strategy against the number of labels.

    ``summary`` has columns ``strategy, n_labels, mean, ci_low, ci_high`` (as
    :func:`hitl_widgets.core.active.summarize` returns). The ``baseline`` strategy is drawn
    grey and dashed; ``target`` adds a dotted horizontal line at that accuracy.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    others = [s for s in summary["strategy"].unique() if s != baseline]
    strategies = ([baseline] if baseline in set(summary["strategy"]) else []) + others
    for k, strategy in enumerate(strategies):
        rows = summary[summary["strategy"] == strategy].sort_values("n_labels")
        is_base = strategy == baseline
        color = BASELINE_COLOR if is_base else PALETTE[(k - (baseline in strategies)) % len(PALETTE)]
        name = NAMES.get(strategy, strategy)
        _add_band(fig, rows, color, name)
        _add_mean(fig, rows, color, name, dash="dash" if is_base else None)
    if target is not None:
        fig.add_hline(y=target, line=dict(color=BASELINE_COLOR, dash="dot", width=1),
                      annotation_text=f"target {target:.3f}", annotation_position="bottom right")
    fig.update_layout(
        title=title or "Accuracy vs labels (mean ± 95 % CI over seeds)",
        xaxis_title="labels", yaxis_title="test accuracy", template="plotly_white",
        hovermode="x unified", legend=dict(orientation="h", y=-0.18), height=450,
        margin=dict(l=60, r=20, t=60, b=60))
    return fig


def _add_band(fig, rows, color: str, name: str) -> None:
    """The CI as a filled band (lower edge, then upper edge filled to it); skipped when NaN."""
    if rows["ci_low"].isna().all():
        return
    import plotly.graph_objects as go

    fill = _rgba(color, 0.18)
    common = dict(mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False,
                  legendgroup=name)
    fig.add_trace(go.Scatter(x=rows["n_labels"], y=rows["ci_low"], **common))
    fig.add_trace(go.Scatter(x=rows["n_labels"], y=rows["ci_high"], fill="tonexty",
                             fillcolor=fill, **common))


def _add_mean(fig, rows, color: str, name: str, dash: str | None) -> None:
    import plotly.graph_objects as go

    fig.add_trace(go.Scatter(
        x=rows["n_labels"], y=rows["mean"], mode="lines", name=name, legendgroup=name,
        line=dict(color=color, width=2.5, dash=dash),
        hovertemplate=f"{name}: %{{y:.3f}}<extra></extra>"))


def _rgba(hex_color: str, alpha: float) -> str:
    """'#0072B2', 0.2 -> 'rgba(0,114,178,0.2)'.

    >>> _rgba("#0072B2", 0.2)
    'rgba(0,114,178,0.2)'
    """
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def reservoir_fill(counts: dict, *, title: str | None = None) -> Any:
    """How full each stratum's reservoir is against the room it is given.

    ``counts`` is :meth:`hitl_widgets.core.stream.StratifiedReservoir.counts`: per stratum its
    events ``seen``, ``held`` and ``capacity``. Bars of what is held, a marker at each
    capacity, the seen count in the hover.

    >>> fig = reservoir_fill({"spam": {"seen": 10, "held": 2, "capacity": 2},
    ...                       "ham": {"seen": 90, "held": 2, "capacity": 2}})
    >>> [t.name for t in fig.data]
    ['held', 'capacity']
    """
    import plotly.graph_objects as go

    strata = [str(s) for s in counts]
    rows = list(counts.values())
    fig = go.Figure()
    fig.add_bar(x=strata, y=[r["held"] for r in rows], name="held", marker_color=PALETTE[0],
                customdata=[r["seen"] for r in rows],
                hovertemplate="%{x}: %{y} held of %{customdata} seen<extra></extra>")
    fig.add_scatter(x=strata, y=[r["capacity"] for r in rows], name="capacity", mode="markers",
                    marker=dict(symbol="line-ew", size=28, line=dict(width=3, color=PALETTE[1])),
                    hovertemplate="%{x}: room for %{y}<extra></extra>")
    fig.update_layout(title=title or "Reservoir fill per stratum", xaxis_title="stratum",
                      yaxis_title="events held", template="plotly_white", height=380,
                      legend=dict(orientation="h", y=-0.2), margin=dict(l=60, r=20, t=60, b=60))
    return fig


def drift_over_time(history, *, statistic: str = "p_adjusted", alpha: float | None = 0.05,
                    title: str | None = None) -> Any:
    """A drift statistic per feature over the checks of a monitor, drifted checks marked.

    ``history`` is :attr:`hitl_widgets.core.drift.DriftMonitor.history` (one row per feature
    per check). ``statistic``: ``"p_adjusted"`` (log scale, with ``alpha`` as a line),
    ``"psi"``, ``"statistic"`` or ``"wasserstein"``.

    >>> import pandas as pd
    >>> h = pd.DataFrame({"check": [1, 2], "rows_seen": [100, 200], "feature": ["x", "x"],
    ...                   "p_adjusted": [0.4, 0.001], "drifted": [False, True]})
    >>> [t.name for t in drift_over_time(h).data]
    ['x', 'drifted']
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    if len(history):
        for k, (feature, rows) in enumerate(history.groupby("feature", sort=False)):
            fig.add_scatter(x=rows["rows_seen"], y=rows[statistic], name=str(feature),
                            mode="lines+markers", line=dict(color=PALETTE[k % len(PALETTE)]))
        hit = history[history["drifted"].astype(bool)]
        fig.add_scatter(x=hit["rows_seen"], y=hit[statistic], name="drifted", mode="markers",
                        marker=dict(symbol="x", size=11, color="#d62728"),
                        text=hit["feature"].astype(str),
                        hovertemplate="%{text} drifted at row %{x}<extra></extra>")
    if statistic == "p_adjusted":
        fig.update_yaxes(type="log", title_text="corrected p-value")
        if alpha is not None:
            fig.add_hline(y=alpha, line=dict(color=BASELINE_COLOR, dash="dot", width=1),
                          annotation_text=f"alpha {alpha:g}", annotation_position="bottom right")
    else:
        fig.update_yaxes(title_text=statistic)
    fig.update_layout(title=title or "Drift over the stream", xaxis_title="rows seen",
                      template="plotly_white", height=420, legend=dict(orientation="h", y=-0.2),
                      margin=dict(l=60, r=20, t=60, b=60))
    return fig


OUTCOME_COLORS = {"accepted": "#009E73", "edited": "#E69F00", "deleted": "#D55E00",
                  "added": "#0072B2"}


def correction_cost_figure(cost, *, title: str | None = None) -> Any:
    """What correcting a model's span suggestions cost: outcome counts per model version and
    label (stacked, left) and seconds per accepted suggestion (right, one bar per model
    version).

    ``cost`` is :func:`hitl_widgets.core.spans.correction_cost`'s table (columns
    ``model_version, label``, the four outcome counts and ``seconds_per_accepted``).

    >>> import pandas as pd
    >>> cost = pd.DataFrame({"model_version": ["v1"], "label": ["PER"], "accepted": [3],
    ...     "edited": [1], "deleted": [0], "added": [1], "seconds_per_accepted": [2.5]})
    >>> [t.name for t in correction_cost_figure(cost).data]
    ['accepted', 'edited', 'deleted', 'added', 'v1']
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("what became of the suggested spans",
                                                        "seconds per accepted suggestion"))
    version = cost["model_version"].fillna("(none)").astype(str)
    where = version + " · " + cost["label"].astype(str)
    for outcome, color in OUTCOME_COLORS.items():
        fig.add_trace(go.Bar(x=where, y=cost[outcome], name=outcome, marker_color=color,
                             legendgroup="outcome"), row=1, col=1)
    for k, v in enumerate(dict.fromkeys(version)):
        rows = cost[version == v]
        fig.add_trace(go.Bar(x=rows["label"], y=rows["seconds_per_accepted"], name=v,
                             marker_color=PALETTE[k % len(PALETTE)], legendgroup="version",
                             offsetgroup=v),  # side by side, though the left stacks
                      row=1, col=2)
    fig.update_layout(barmode="stack", template="plotly_white", height=400,
                      title=title or "Correction cost per model version and label",
                      legend=dict(orientation="h", y=-0.2), margin=dict(l=60, r=20, t=70, b=60))
    fig.update_yaxes(title_text="spans", row=1, col=1)
    fig.update_yaxes(title_text="seconds", row=1, col=2)
    return fig
