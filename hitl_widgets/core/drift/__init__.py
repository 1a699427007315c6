"""Drift: is the data now different from the data the labels and the model came from?

:func:`compare` tests every feature of a window against a reference (Kolmogorov-Smirnov or
chi-square, with the Wasserstein distance and the PSI beside them), corrected for testing many
features at once; :class:`DriftMonitor` runs it over a stream in windows and keeps the alerts;
:func:`request_labels` sends a drifted window's items back to the annotators.
"""

from ._compare import COLUMNS, CORRECTIONS, DriftError, Reference, adjust, compare, psi
from ._monitor import DriftAlert, DriftMonitor, request_labels

__all__ = ["COLUMNS", "CORRECTIONS", "DriftAlert", "DriftError", "DriftMonitor", "Reference",
           "adjust", "compare", "psi", "request_labels"]
