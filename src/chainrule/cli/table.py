"""A CSV table made into a model's inputs, with the recipe kept as JSON.

``plan_table`` decides what each column is (the target, dropped, numeric or
categorical) and learns the encoding with scikit-learn (``StandardScaler`` for
numbers, ``OneHotEncoder(handle_unknown="ignore")`` for categories) on the training
rows; the result is a plain dict (``preprocessing.json`` in the model file, never a
pickle). ``encode_table`` applies it to any frame with the expected columns: each
column in order becomes its standardised value or its one-hot block, a category not
seen in training becomes all zeros (with a warning), and bad values are errors that
name the column and the row.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.preprocessing import OneHotEncoder, StandardScaler

FORMAT, FORMAT_VERSION = "chainrule.table", 1
MAX_CATEGORIES = 50  # a text column with more distinct values is names or free text
MAX_CLASS_LEVELS = 10  # an integer target with at most this many values is a class label
NUMERIC_SHARE = 0.95  # a text column this much numeric is a numeric column with typos


class TableError(ValueError):
    """The data does not fit: a missing column, a bad value, an empty file."""


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """The CSV at ``path`` as a DataFrame; a TableError for a missing, empty or
    header-only file."""
    path = os.fspath(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise TableError(f"there is no file {path!r}.") from None
    except pd.errors.EmptyDataError:
        raise TableError(f"{path} is empty: expected a header line and rows of values.") \
            from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise TableError(f"{path} is not a readable CSV file: {err}") from None
    if frame.empty:
        raise TableError(f"{path} has a header but no rows.")
    return frame


def require_columns(frame: pd.DataFrame, names: list[str], source: str, what: str) -> None:
    """A TableError naming every column of ``names`` that ``frame`` lacks, with the
    closest names it has."""
    missing = [n for n in names if n not in frame.columns]
    if not missing:
        return
    hints = [f"{n!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(
        n, [str(c) for c in frame.columns], n=1)) else repr(n) for n in missing]
    raise TableError(f"{source} has no column {', '.join(hints)} ({what}); its columns are "
                     f"{[str(c) for c in frame.columns]}.")


# ---------------------------------------------------------------- learning the plan


def target_task(frame: pd.DataFrame, target: str, source: str, task: str = "auto") -> str:
    """"classification" or "regression" for column ``target`` (``task="auto"``: numbers
    are regressed unless they are integers with at most ``MAX_CLASS_LEVELS`` values)."""
    require_columns(frame, [target], source, "the --target")
    y = frame[target]
    _no_missing(y, target, source)
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if task == "auto":
        integral = numeric and bool(np.all(np.mod(y.to_numpy(dtype=float), 1) == 0))
        return "regression" if numeric and not (
            integral and y.nunique() <= MAX_CLASS_LEVELS) else "classification"
    if task == "regression" and not numeric:
        raise TableError(f"{source}: the target {target!r} holds non-numbers, so it cannot "
                         f"be regressed; use --task classification.")
    return task


def plan_table(frame: pd.DataFrame, target: str, source: str, drop: Sequence[str] = (),
               task: str = "auto", fit_rows=None) -> dict:
    """The preprocessing plan (JSON-able) for ``frame``: which columns are used and how
    (decided on every row), with the encodings and classes learned on ``fit_rows``
    (index labels, e.g. the training split; default all rows).

    ``{"format", "format_version", "target": {"name", "task", "classes" (classification)
    | "mean", "scale" (regression)}, "dropped": {column: reason}, "columns": [{"name",
    "kind": "numeric", "mean", "scale"} | {"name", "kind": "categorical", "categories"}],
    "features": [...]}``.
    """
    task = target_task(frame, target, source, task)
    require_columns(frame, list(drop), source, "named by --drop")
    dropped = {name: "--drop" for name in drop}
    kinds = {}
    for name in frame.columns:
        if name == target or name in dropped:
            continue
        reason = _why_drop(frame[name])
        if reason:
            dropped[name] = reason
        else:
            kinds[name] = _kind(frame[name], name, source)
    if not kinds:
        raise TableError(f"{source}: no feature columns are left once {target!r} and the "
                         f"dropped columns {sorted(dropped)} are set aside.")
    learn = frame if fit_rows is None else frame.loc[fit_rows]
    columns = [_fit_column(learn[name], name, kind, source) for name, kind in kinds.items()]
    target_plan = {"name": target, "task": task}
    if task == "classification":
        target_plan["classes"] = np.unique(learn[target].to_numpy()).tolist()
    else:  # the network learns the standardised target
        scaled = _fit_column(learn[target], target, "numeric", source)
        target_plan.update(mean=scaled["mean"], scale=scaled["scale"])
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "target": target_plan,
            "dropped": dropped, "columns": columns,
            "features": [f for c in columns for f in _feature_names(c)]}


def _why_drop(column: pd.Series) -> str | None:
    """Why a column says nothing a model can learn from, or None: every value distinct
    in an integer or text column (row numbers, ids), or text with too many values."""
    text = not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
    distinct = column.nunique(dropna=True)
    if (text or pd.api.types.is_integer_dtype(column)) and distinct == len(column) > 1:
        return "ID-like: every value is distinct"
    if text and distinct > MAX_CATEGORIES and _numeric_share(column) < NUMERIC_SHARE:
        return f"text with {distinct} distinct values, more than {MAX_CATEGORIES} categories"
    return None


def _kind(column: pd.Series, name: str, source: str) -> str:
    """"numeric" or "categorical"; a text column of numbers with a few typos is an
    error naming the first one."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return "numeric"
    if _numeric_share(column) >= NUMERIC_SHARE:
        as_numbers(column, name, source)  # raises, naming the first non-number
    return "categorical"


def _numeric_share(column: pd.Series) -> float:
    present = column.dropna()
    return float(pd.to_numeric(present, errors="coerce").notna().mean()) if len(present) else 0


def _fit_column(column: pd.Series, name: str, kind: str, source: str) -> dict:
    """The column's encoding, learned by scikit-learn."""
    _no_missing(column, name, source)
    if kind == "numeric":
        scaler = StandardScaler().fit(as_numbers(column, name, source).reshape(-1, 1))
        return {"name": name, "kind": kind, "mean": float(scaler.mean_[0]),
                "scale": float(scaler.scale_[0])}
    encoder = OneHotEncoder(handle_unknown="ignore").fit(_as_text(column).reshape(-1, 1))
    return {"name": name, "kind": kind, "categories": encoder.categories_[0].tolist()}


def _feature_names(column: dict) -> list[str]:
    if column["kind"] == "numeric":
        return [column["name"]]
    return [f"{column['name']}={c}" for c in column["categories"]]


# ---------------------------------------------------------------- applying it


def encode_table(frame: pd.DataFrame, plan: dict, source: str) -> np.ndarray:
    """The model's inputs (N, len(plan["features"])) float32 from ``frame``, which must
    have every column of the plan (others are ignored). A category not seen in
    training gives an all-zero block and a UserWarning naming it."""
    require_columns(frame, [c["name"] for c in plan["columns"]], source,
                    "the model expects it")
    blocks = []
    for column in plan["columns"]:
        name = column["name"]
        values = frame[name]
        _no_missing(values, name, source)
        if column["kind"] == "numeric":
            numbers = as_numbers(values, name, source)
            blocks.append(((numbers - column["mean"]) / column["scale"]).reshape(-1, 1))
        else:
            blocks.append(_one_hot(_as_text(values), column["categories"], name, source))
    return np.hstack(blocks).astype(np.float32)


def scale_target(y: np.ndarray, plan: dict) -> np.ndarray:
    """A regression target standardised as the plan says (what the network learns)."""
    return (np.asarray(y, dtype=np.float64) - plan["target"]["mean"]) / plan["target"]["scale"]


def unscale_target(z: np.ndarray, plan: dict) -> np.ndarray:
    """The network's regression outputs back in the target's own units."""
    return np.asarray(z, dtype=np.float64) * plan["target"]["scale"] + plan["target"]["mean"]


def _one_hot(values: np.ndarray, categories: list, name: str, source: str) -> np.ndarray:
    hot = values[:, None] == np.asarray(categories, dtype=object)[None, :]
    unseen = ~hot.any(axis=1)
    if unseen.any():
        warnings.warn(f"{source}: column {name!r} holds categories not seen in training "
                      f"({sorted(set(values[unseen]))[:5]} in {int(unseen.sum())} row(s)); "
                      f"they are encoded as all zeros (scikit-learn's "
                      f"handle_unknown='ignore').", UserWarning, stacklevel=3)
    return hot.astype(np.float64)


def as_numbers(column: pd.Series, name: str, source: str) -> np.ndarray:
    """The column as float64; a TableError naming the first value that is not a number."""
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna().to_numpy() & column.notna().to_numpy()
    if bad.any():
        row = _first_row(column, bad)
        raise TableError(f"{source}: column {name!r} must hold numbers, but row {row + 1} "
                         f"holds {column.loc[row]!r} ({int(bad.sum())} such row(s)).")
    return numbers.to_numpy(dtype=np.float64)


def _as_text(column: pd.Series) -> np.ndarray:
    """Category values as strings (what the plan's JSON holds)."""
    return column.astype(str).to_numpy(dtype=object)


def _no_missing(column: pd.Series, name: str, source: str) -> None:
    missing = column.isna().to_numpy()
    if missing.any():
        raise TableError(f"{source}: column {name!r} has no value in row "
                         f"{_first_row(column, missing) + 1} ({int(missing.sum())} such "
                         f"row(s)); fill or drop them first.")


def _first_row(column: pd.Series, mask: np.ndarray) -> int:
    """The first flagged row as the CSV counts data rows from 0 (the frame's index
    from read_csv, kept through the train/test split)."""
    return int(column.index[mask].min())
