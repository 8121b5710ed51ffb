"""The bank-churn table of the Keras tutorial, encoded as the tutorial encodes it."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from .bundled import read_bundled

CHURN_FILE = "Churn_Modelling.csv"
CHURN_FEATURES = ["Geography_Germany", "Geography_Spain", "CreditScore", "Gender", "Age",
                  "Tenure", "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember",
                  "EstimatedSalary"]
_CHURN_NUMERIC = ["CreditScore", "Age", "Tenure", "Balance", "NumOfProducts", "HasCrCard",
                  "IsActiveMember", "EstimatedSalary"]


def load_churn(path: str | os.PathLike | None = None
               ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read Churn_Modelling.csv (the copy shipped with chainrule unless ``path`` names
    another) and encode it as the Keras tutorial does.

    Returns X float32 (N, 11) with columns ``CHURN_FEATURES`` (Geography one-hot
    with France dropped, Gender as 1 for Male), y int64 (N,) from ``Exited``,
    and the feature names. Not standardised.
    """
    if path is None:
        source, text = f"chainrule's {CHURN_FILE}", read_bundled(CHURN_FILE).decode("utf-8")
    else:
        source = Path(path)
        if not source.is_file():
            raise FileNotFoundError(f"load_churn: no file at {source} (the bank-churn CSV, "
                                    f"{CHURN_FILE}); call load_churn() for the shipped copy.")
        text = source.read_text(encoding="utf-8")
    return _encode(list(csv.DictReader(io.StringIO(text, newline=""))), source)


def _encode(rows: list[dict], source) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if not rows:
        raise ValueError(f"load_churn: {source} has no rows.")
    needed = {"Geography", "Gender", "Exited", *_CHURN_NUMERIC}
    missing = needed - set(rows[0])
    if missing:
        raise ValueError(f"load_churn: {source} lacks the columns {sorted(missing)}.")
    unknown = {r["Geography"] for r in rows} - {"France", "Germany", "Spain"}
    if unknown:
        raise ValueError(f"load_churn: unexpected Geography values {sorted(unknown)}.")
    X = np.array([[r["Geography"] == "Germany", r["Geography"] == "Spain",
                   float(r["CreditScore"]), r["Gender"] == "Male",
                   *(float(r[c]) for c in _CHURN_NUMERIC[1:])] for r in rows],
                 dtype=np.float32)
    y = np.array([int(r["Exited"]) for r in rows], dtype=np.int64)
    return X, y, list(CHURN_FEATURES)
