"""Live plots of an active-learning loop: learning curve, label distribution, share auto-labeled.

One plotly ``FigureWidget`` with three panels, redrawn whenever a model lands or is scored. The
loop calls its listeners on the kernel's main thread when it was built in a notebook (see
:mod:`hitl_widgets.core.active`), so the figure's comm is only ever used from that thread.

Example
-------
>>> import hitl_widgets as hw                                                  # doctest: +SKIP
>>> al = hw.ActiveLearning(project, model=LogisticRegression(), features=X)   # doctest: +SKIP
>>> from hitl_widgets.learning_plots import live_plots                         # doctest: +SKIP
>>> live_plots(al)                                                             # doctest: +SKIP
"""

from __future__ import annotations

import html
import textwrap
from typing import TYPE_CHECKING, Any

from ._json import json_safe

if TYPE_CHECKING:
    import pandas as pd

    from .core.active import ActiveLearning

TITLES = ("Held-out accuracy vs human labels", "Labels so far", "Share auto-labeled")
NOTE = "hitl-accuracy-note"  # the name of the annotation saying why accuracy points are missing


def live_plots(al: ActiveLearning) -> Any:
    """A plotly FigureWidget showing ``al``'s progress, updated as models land.

    It follows the loop until :func:`stop_live_plots` is called on it.
    """
    from plotly.graph_objects import Bar, FigureWidget, Scatter  # heavy: only when asked for
    from plotly.subplots import make_subplots

    layout = make_subplots(rows=1, cols=3, subplot_titles=TITLES)
    fig = FigureWidget(layout)
    fig.add_trace(Scatter(name="accuracy", mode="lines+markers"), row=1, col=1)
    fig.add_trace(Bar(name="human"), row=1, col=2)
    fig.add_trace(Bar(name="model"), row=1, col=2)
    fig.add_trace(Scatter(name="auto-labeled", mode="lines+markers"), row=1, col=3)
    fig.update_layout(height=320, barmode="stack", margin=dict(t=40, b=40, l=40, r=20),
                      legend=dict(orientation="h", y=-0.2))
    fig.update_yaxes(range=[0, 1], row=1, col=1)
    fig.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=3)
    fig.update_xaxes(title_text="human labels", row=1, col=1)
    fig.update_xaxes(title_text="model version", row=1, col=3)

    def redraw(kind: str = "", info: dict | None = None) -> None:
        update(fig, al)

    redraw()
    fig._hitl_stop = al.subscribe(redraw)  # plotly refuses new public attributes
    return fig


def stop_live_plots(fig: Any) -> None:
    """Stop ``fig`` (made by :func:`live_plots`) from following its loop."""
    getattr(fig, "_hitl_stop", lambda: None)()


def update(fig: Any, al: ActiveLearning) -> None:
    """Redraw ``fig`` (made by :func:`live_plots`) from the loop's current figures.

    Every value goes through :func:`~hitl_widgets._json.json_safe`: an accuracy that could not
    be measured (NaN) is sent as a gap, never as NaN, and a note in the panel says why."""
    curve = al.learning_curve()
    dist = al.label_distribution()
    note = accuracy_note(curve)
    with fig.batch_update():
        accuracy, human, model, share = fig.data
        accuracy.x = json_safe(curve["n_labels"].tolist())
        accuracy.y = json_safe(curve["accuracy"].tolist())
        accuracy.text = curve["model_version"].tolist()
        human.x = model.x = dist["label"].tolist()
        human.y, model.y = json_safe(dist["human"].tolist()), json_safe(dist["model"].tolist())
        share.x = curve["model_version"].tolist()
        share.y = json_safe(curve["share_auto_labeled"].tolist())
        kept = [a for a in fig.layout.annotations if a.name != NOTE]
        if note:
            kept.append(dict(name=NOTE, text=note, xref="x domain", yref="y domain", x=0.5,
                             y=0.5, showarrow=False, font=dict(size=11)))
        fig.layout.annotations = kept
        fig.layout.title.text = status_line(al.status())


def accuracy_note(curve: pd.DataFrame) -> str:
    """Why points of the learning curve are missing (``""`` when none is), as plot text.

    >>> import pandas as pd
    >>> accuracy_note(pd.DataFrame({"accuracy": [float("nan"), 0.9],
    ...                             "model_version": ["m1", "m2"],
    ...                             "note": ["pass test=(X_test, y_test)", None]}))
    'no accuracy for m1:<br>pass test=(X_test, y_test)'
    """
    missing = curve[curve["accuracy"].isna()]
    if missing.empty:
        return ""
    versions = missing["model_version"].tolist()
    shown = ", ".join(versions[-3:]) if len(versions) <= 3 else f"{len(versions)} models"
    reasons = [n for n in missing["note"].tolist() if isinstance(n, str) and n]
    reason = reasons[-1] if reasons else "it could not be measured"
    lines = textwrap.wrap(reason, 48)
    return html.escape(f"no accuracy for {shown}:", quote=False) + "<br>" + "<br>".join(
        html.escape(line, quote=False) for line in lines)


def status_line(status: dict) -> str:
    """The loop's state in one line: model, retraining, spot-check accuracy, the last error.

    >>> status_line({"model_version": "m3", "retraining": True, "error": None,
    ...              "spot_checks_done": 40, "auto_accept_accuracy": 0.95,
    ...              "auto_accept_interval": (0.83, 0.99)})
    'model m3 · retraining… · auto-labels 95% right on 40 spot checks (95% CI 83–99%)'
    """
    parts = [f"model {status['model_version']}" if status.get("model_version") else "no model yet"]
    if status.get("retraining"):
        parts.append("retraining…")
    if status.get("spot_checks_done"):
        low, high = status.get("auto_accept_interval") or (None, None)
        ci = f" (95% CI {low:.0%}–{high:.0%})".replace("%–", "–") if low is not None else ""
        parts.append(f"auto-labels {status['auto_accept_accuracy']:.0%} right on "
                     f"{status['spot_checks_done']} spot checks{ci}")
    if status.get("error"):
        parts.append(f"last retrain failed, serving the previous ranking: {status['error']}")
    # plotly titles are HTML-ish: escape what came from an exception message
    return html.escape(" · ".join(parts), quote=False)
