"""The bank-churn table of the Keras tutorial, encoded as the tutorial encodes it."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from ...io import read_regular
from .bundled import read_bundled

CHURN_FILE = "Churn_Modelling.csv"
CHURN_FEATURES = ["Geography_Germany", "Geography_Spain", "CreditScore", "Gender", "Age",
                  "Tenure", "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember",
                  "EstimatedSalary"]
MAX_CSV_BYTES = 64 << 20  # the shipped table is 0.7 MB
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
        source, data = f"chainrule's {CHURN_FILE}", read_bundled(CHURN_FILE)
    else:
        source = Path(path)
        if not source.exists():
            raise FileNotFoundError(f"load_churn: no file at {source} (the bank-churn CSV, "
                                    f"{CHURN_FILE}); call load_churn() for the shipped copy.")
        data = read_regular(source, MAX_CSV_BYTES, "CSV file", ValueError)
    try:
        return _encode(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")), source)
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"load_churn: {source} is not a readable UTF-8 CSV file: "
                         f"{err}") from None


def _encode(reader: csv.DictReader, source) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Row by row (a bad row is reported at once, nothing is kept but numbers)."""
    missing = {"Geography", "Gender", "Exited", *_CHURN_NUMERIC} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"load_churn: {source} lacks the columns {sorted(missing)}.")
    features, labels = [], []
    for i, row in enumerate(reader, start=1):
        features.append(_features(row, i, source))
        labels.append(_number(row, "Exited", i, source, int))
    if not labels:
        raise ValueError(f"load_churn: {source} has no rows.")
    return np.array(features, np.float32), np.array(labels, np.int64), list(CHURN_FEATURES)


def _features(row: dict, i: int, source) -> tuple:
    """One row's 11 features, in ``CHURN_FEATURES`` order."""
    geography = row["Geography"]
    if geography not in ("France", "Germany", "Spain"):
        raise ValueError(f"load_churn: {source}: row {i} has Geography {geography!r:.50}; "
                         f"expected France, Germany or Spain.")
    numbers = [_number(row, column, i, source, float) for column in _CHURN_NUMERIC]
    return (geography == "Germany", geography == "Spain", numbers[0],
            row["Gender"] == "Male", *numbers[1:])


def _number(row: dict, column: str, i: int, source, convert: type):
    try:
        return convert(row[column])
    except (TypeError, ValueError):  # a missing cell (None) or text where a number belongs
        raise ValueError(f"load_churn: {source}: row {i}, column {column!r} holds "
                         f"{row[column]!r:.50}, not "
                         f"{'an integer' if convert is int else 'a number'}.") from None
