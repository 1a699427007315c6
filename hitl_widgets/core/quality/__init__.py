"""Quality control: who labels what, gold, agreement, consensus, adjudication and the numbers
the Dashboard shows.

- routing: :class:`OverlapQueue` (each item to k annotators, blind, gold mixed in, leases),
  :class:`AdjudicationQueue`, :func:`set_overlap`, :func:`coverage`, :func:`queue_depth`;
- the workflow: gold answers (:func:`set_gold`, :func:`gold_accuracy`, :func:`flagged`), flags
  and resolutions, final labels, spot checks, agreement alerts;
- agreement: :func:`cohen_kappa`, :func:`fleiss_kappa`, :func:`krippendorff_alpha`,
  :func:`per_label`, :func:`pairwise_kappa`, :func:`bootstrap_ci`;
- consensus: :func:`majority_vote`, :func:`dawid_skene`;
- workforce: :func:`skill_posteriors` (per annotator and task type, a Beta posterior of their
  accuracy from gold and leave-one-out consensus), :func:`skill_profiles` (the same for a
  project, cached until its labels change), :func:`route_scores` (the router's policy, and the
  baseline accuracy / (1 + load/100)), :class:`RouterQueue` (items by that policy, k slots,
  leases, gold, a cap and variety) and :class:`RoundRobinQueue`;
- a SIMULATED crowd (:class:`SimulatedCrowd`: known truth, skills per task type, rates and
  times, all drawn from a seed) for benchmarks, tests and the workforce notebook;
- spans: :func:`span_f1` (pairwise exact and partial F1 per label and pair, with bootstrap
  intervals), :func:`span_tags` and :func:`token_agreement` (BIO tags per token, scored by the
  agreement functions above), :func:`span_consensus` (majority spans, flagged items and what an
  adjudicator sees); span adjudication: :class:`SpanAdjudicationQueue`, :func:`span_review`,
  :func:`resolve_spans`, :func:`final_spans`, :func:`crowd_consensus`;
- the Dashboard's numbers as DataFrames: :func:`agreement_over_time`, :func:`annotator_stats`,
  :func:`pair_confusion`, :func:`disagreement_by_label`, :func:`dashboard_data`, and
  :class:`DashboardStats` (the same, kept up to date from the changed items);
- cost: :func:`cost_report` (one row per paid event, priced at the rate in force for it, and
  whether it was accepted; ``.to_csv(path)`` is the one spreadsheet), :func:`cost_summary` (per
  annotator: cost per label and per accepted label, throughput), :func:`mean_cost_per_label`,
  and from an active-learning curve :func:`fit_learning_curve`, :func:`project_cost` and
  :func:`cost_per_point` (labels and money to a target accuracy, with a bootstrap interval);
- the Dashboard's workforce figure: :func:`workforce_data` (cost over time, cost per label by
  annotator, throughput, :func:`turnaround`, budget, skills), from the functions above;
- dataset versions: :func:`snapshot` freezes the final labels under a name and a content hash
  (with how each was decided), :func:`diff` and :func:`audit` read the log between versions and
  for one item, and :func:`export_parquet` / :func:`to_dataset` export a version.

Functions that read or write a project take the :class:`~hitl_widgets.Project` (or its
:class:`~hitl_widgets.core.store.Ledger`).

Example
-------
>>> from hitl_widgets.core.quality import cohen_kappa
>>> round(cohen_kappa(["a", "a", "b", "b"], ["a", "b", "b", "b"]), 2)
0.5
"""

from .._moved import old_names
from ._adjudication import AdjudicationQueue
from ._agreement import (
    LEVELS,
    Interval,
    UndefinedAgreementWarning,
    bootstrap_ci,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_kappa,
    per_label,
)
from ._consensus import DawidSkeneResult, dawid_skene, majority_vote
from ._cost import (
    CostProjection,
    CurveFit,
    cost_per_point,
    cost_report,
    cost_summary,
    fit_learning_curve,
    mean_cost_per_label,
    project_cost,
)
from ._crowd import SimulatedCrowd
from ._exports import ExportError, export_parquet, to_dataset
from ._history import VersionDiff, audit, diff
from ._live import DashboardStats
from ._router import RoundRobinQueue, RouterQueue
from ._routing import (
    OverlapQueue,
    coverage,
    known_ids,
    needed,
    queue_depth,
    set_lease,
    set_overlap,
)
from ._scores import route_scores
from ._skills import check_task_type, skill_posteriors, skill_profiles
from ._span_adjudication import (
    SpanAdjudicationQueue,
    crowd_consensus,
    final_spans,
    resolve_spans,
    span_review,
)
from ._span_agreement import SpanAgreement, span_f1
from ._span_consensus import SpanConsensus, span_consensus
from ._span_tokens import span_tags, token_agreement
from ._stats import (
    LabelCache,
    agreement_over_time,
    annotator_stats,
    dashboard_data,
    disagreement_by_label,
    pair_confusion,
)
from ._versions import (
    Version,
    VersionError,
    content_hash,
    decided_rows,
    snapshot,
    snapshots,
    version_frame,
)
from ._workflow import (
    check_agreement,
    check_method,
    consensus_confidence,
    final_labels,
    finished_labels,
    flag_disagreements,
    flagged,
    flags,
    gold,
    gold_accuracy,
    quality_alerts,
    remove_gold,
    resolutions,
    resolve,
    set_gold,
    spot_check,
)
from ._workforce import turnaround, workforce_data

__all__ = [
    "LEVELS", "AdjudicationQueue", "DashboardStats", "DawidSkeneResult", "Interval", "LabelCache", "OverlapQueue",
    "UndefinedAgreementWarning", "agreement_over_time", "annotator_stats", "bootstrap_ci",
    "check_agreement", "check_method", "cohen_kappa", "consensus_confidence", "coverage",
    "dashboard_data", "dawid_skene", "disagreement_by_label", "final_labels", "finished_labels",
    "flag_disagreements", "flagged", "flags", "fleiss_kappa", "gold", "gold_accuracy",
    "known_ids", "krippendorff_alpha", "majority_vote", "needed", "pair_confusion",
    "pairwise_kappa", "per_label", "quality_alerts", "queue_depth", "remove_gold",
    "resolutions", "resolve", "set_gold", "set_lease", "set_overlap", "spot_check",
    "SpanAgreement", "SpanConsensus", "span_consensus", "span_f1", "span_tags", "token_agreement",
    "ExportError", "Version", "VersionDiff", "VersionError", "audit", "content_hash",
    "decided_rows", "diff", "export_parquet", "snapshot", "snapshots", "to_dataset",
    "version_frame",
    "SpanAdjudicationQueue", "crowd_consensus", "final_spans", "resolve_spans", "span_review",
    "CostProjection", "CurveFit", "cost_per_point", "cost_report", "cost_summary",
    "fit_learning_curve", "mean_cost_per_label", "project_cost",
    "RoundRobinQueue", "RouterQueue", "check_task_type", "route_scores", "skill_posteriors",
    "skill_profiles", "workforce_data", "turnaround",
    "SimulatedCrowd",
]

# Errors name their public home in tracebacks (``hitl_widgets.core.quality.X``), not the private
# module they are defined in.
for _error in (UndefinedAgreementWarning, ExportError, VersionError):
    _error.__module__ = __name__
del _error

# Names the old single-file module (core/quality.py) held that live elsewhere now: still found, with
# a warning naming their home, for one release.
__getattr__ = old_names(__name__, {
    "DEFAULT_GOLD_THRESHOLD": "hitl_widgets.core.quality._workflow",
    "METHODS": "hitl_widgets.core.quality._workflow",
    "check_count": "hitl_widgets.core._checks",
    "check_rate": "hitl_widgets.core._checks",
    "item_id_list": "hitl_widgets.core._checks",
})
