"""Do the compiled form and scikit-learn give the same answers? Checked before it serves.

The verification rows are the model directory's own `input_example.csv`,
`input_example.json` or `input_example.jsonl` (rows as a request would send them),
else rows made from the model itself:

- every split of every tree probed on both sides: the threshold, the float32 values just
  below and above it, and the double just above it; for a pipeline, each split of a
  feature that a scaler or passthrough makes from one input column is mapped back to
  that column's value;
- every category of every encoder;
- a missing value in each numeric column, where scikit-learn accepts one.

ONNX Runtime computes tree ensembles and linear models in float32, so answers are equal
within a tolerance, not to the bit: predictions within `RTOL` of scikit-learn's (relative
to the largest on the verification set, at least 1), probabilities within `PROBA_ATOL`,
and a classifier's labels exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serving.codecs.schema import STRING, Schema
from serving.compiled.convert import final_estimator
from serving.compiled.runtime import CompiledModel

RTOL = 1e-5
PROBA_ATOL = 1e-5
EXAMPLES = {
    "input_example.csv": "text/csv",
    "input_example.json": "application/json",
    "input_example.jsonl": "application/jsonlines",
}
# Splits probed, at most: a deep forest has hundreds of thousands, and the check runs
# in the background of a serving process.
MAX_SPLITS = 40_000
BASE_ROWS = 64

Decode = Callable[[bytes, str], Any]


def example(model_dir: Path, decode: Decode) -> tuple[str, Any] | None:
    """The model directory's input example, decoded as a request would be."""
    for name, content_type in EXAMPLES.items():
        path = model_dir / name
        if path.is_file():
            return name, decode(path.read_bytes(), content_type)
    return None


# --- the splits of the trees -------------------------------------------------------------


def _tree_splits(tree: Any) -> Iterator[tuple[int, float]]:
    inner = tree.tree_.feature >= 0
    yield from zip(tree.tree_.feature[inner].tolist(), tree.tree_.threshold[inner].tolist(), strict=True)


def splits(estimator: Any) -> list[tuple[int, float]]:
    """(feature, threshold) of every split in the estimator's trees; none for other models."""
    found: set[tuple[int, float]] = set()
    if hasattr(estimator, "tree_"):
        found.update(_tree_splits(estimator))
    for tree in np.ravel(getattr(estimator, "estimators_", [])):
        if hasattr(tree, "tree_"):
            found.update(_tree_splits(tree))
    for trees in getattr(estimator, "_predictors", []):
        for predictor in trees:
            nodes = predictor.nodes
            numeric = (nodes["is_leaf"] == 0) & (nodes["is_categorical"] == 0)
            found.update(
                zip(
                    nodes["feature_idx"][numeric].tolist(),
                    nodes["num_threshold"][numeric].tolist(),
                    strict=True,
                )
            )
    chosen = sorted(found)
    if len(chosen) > MAX_SPLITS:
        picks = np.random.default_rng(0).choice(len(chosen), MAX_SPLITS, replace=False)
        chosen = [chosen[i] for i in sorted(picks)]
    return chosen


def _sides(values: np.ndarray) -> np.ndarray:
    """Each value, the float32 values just below and above it, and the double just above."""
    down = values.astype(np.float32)
    down = np.where(down.astype(np.float64) > values, np.nextafter(down, np.float32(-np.inf)), down)
    up = np.nextafter(down, np.float32(np.inf))
    return np.stack(
        [values, down.astype(np.float64), up.astype(np.float64), np.nextafter(values, np.inf)], axis=1
    ).ravel()


# --- numeric models ----------------------------------------------------------------------


def _numeric_rows(model: Any) -> np.ndarray:
    width = model.n_features_in_
    rng = np.random.default_rng(0)
    found = splits(final_estimator(model))
    base = rng.normal(size=(BASE_ROWS, width)) * 3
    for feature in range(width):
        values = [t for f, t in found if f == feature]
        if values:
            base[:, feature] = rng.choice(values, BASE_ROWS) + rng.normal(size=BASE_ROWS) * 1e-3
    if not found:
        return base
    features = np.array([f for f, _ in found])
    probes = _sides(np.array([t for _, t in found]))
    rows = base[np.arange(len(probes)) % BASE_ROWS].copy()
    rows[np.arange(len(probes)), np.repeat(features, 4)] = probes
    return np.concatenate([base, rows])


def _missing(model: Any, rows: Any, columns: list[Any]) -> Any | None:
    """Rows with one missing number each, where scikit-learn accepts them; else None."""
    if not columns:
        return None
    count = len(columns)
    missing = rows[:count].copy() if isinstance(rows, np.ndarray) else rows.iloc[:count].copy()
    for i, column in enumerate(columns):
        if isinstance(missing, np.ndarray):
            missing[i % len(missing), column] = np.nan
        else:
            missing.iloc[i % len(missing), missing.columns.get_loc(column)] = np.nan
    try:
        model.predict(missing)
    except ValueError:
        return None
    return missing


# --- DataFrame pipelines -----------------------------------------------------------------


def _frame_rows(model: Any, schema: Schema, known: dict[str, frozenset[str]]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    count = max([BASE_ROWS, *(len(v) for v in known.values())])
    columns: dict[str, np.ndarray] = {}
    for name, kind in zip(schema.names, schema.kinds, strict=True):
        if kind == STRING:
            categories = sorted(known[name]) or ["a"]
            columns[name] = np.array([categories[i % len(categories)] for i in range(count)], dtype=object)
        else:
            columns[name] = rng.normal(size=count) * 3
    base = pd.DataFrame(columns)
    if not hasattr(model, "steps") or len(model.steps) < 2:
        return base
    return pd.concat([base, _mapped_splits(model, schema, base)], ignore_index=True)


def _dense(values: Any) -> np.ndarray:
    return np.asarray(values.toarray() if hasattr(values, "toarray") else values, dtype=np.float64)


def _mapped_splits(model: Any, schema: Schema, base: pd.DataFrame) -> pd.DataFrame:
    """The final trees' splits mapped back to input columns through affine steps (scalers, passthrough)."""
    found = splits(model.steps[-1][1])
    if not found:
        return base.iloc[:0]
    front = model[:-1]
    row = base.iloc[[0, 0]].reset_index(drop=True)
    slopes: dict[int, tuple[str, float, float, float]] = {}
    for name, kind in zip(schema.names, schema.kinds, strict=True):
        if kind == STRING:
            continue
        probe = row.copy()
        start = float(probe.loc[0, name])
        probe.loc[1, name] = start + 1.0
        moved = _dense(front.transform(probe))
        for feature in np.flatnonzero(moved[1] != moved[0]):
            slopes[int(feature)] = (
                name,
                start,
                float(moved[0, feature]),
                float(moved[1, feature] - moved[0, feature]),
            )
    probes: list[pd.DataFrame] = []
    for feature, threshold in found:
        if feature not in slopes:
            continue
        name, start, at_start, slope = slopes[feature]
        values = _sides(np.array([start + (threshold - at_start) / slope]))
        rows = base.iloc[np.arange(len(probes) * 4, len(probes) * 4 + 4) % len(base)].copy()
        rows[name] = values
        probes.append(rows)
    return pd.concat(probes, ignore_index=True) if probes else base.iloc[:0]


# --- comparing ---------------------------------------------------------------------------


def disagreement(expected: np.ndarray, got: np.ndarray, labels: bool, proba: bool = False) -> str | None:
    """How `got` differs from scikit-learn's `expected`, or None when they agree."""
    expected, got = np.asarray(expected), np.asarray(got)
    if expected.shape != got.shape:
        return f"shape {got.shape} instead of {expected.shape}"
    if labels:
        wrong = np.flatnonzero(expected != got)
        if wrong.size:
            i = int(wrong[0])
            return (
                f"{wrong.size} labels differ (row {i}: {np.asarray(got[i]).tolist()!r} "
                f"instead of {np.asarray(expected[i]).tolist()!r})"
            )
        return None
    expected, got = expected.astype(np.float64), got.astype(np.float64)
    allowed = PROBA_ATOL if proba else RTOL * max(1.0, float(np.nanmax(np.abs(expected), initial=0.0)))
    gap = np.abs(expected - got)
    both_missing = np.isnan(expected) & np.isnan(got)
    gap[both_missing] = 0.0
    if np.isnan(gap).any() or gap.max(initial=0.0) > allowed:
        i = int(np.nanargmax(np.where(np.isnan(gap), np.inf, gap)))
        flat_got, flat_expected = got.reshape(len(got), -1), expected.reshape(len(expected), -1)
        return (
            f"row {i}: {flat_got[i].tolist()} instead of {flat_expected[i].tolist()} "
            f"(tolerance {allowed:.3g})"
        )
    return None


def compare(model: Any, compiled: CompiledModel, rows: Any) -> str | None:
    """None when the compiled form answers every row as scikit-learn does; else what differs."""
    got = compiled.predict(rows)
    if got is None:
        return "the compiled form declined the verification rows"
    classifier = compiled.classes is not None
    found = disagreement(model.predict(rows), got, labels=classifier)
    if found is None and classifier:
        proba = compiled.predict_proba(rows)
        assert proba is not None
        found = disagreement(model.predict_proba(rows), proba, labels=False, proba=True)
    return found


def verification_rows(
    model: Any, schema: Schema | None, compiled: CompiledModel, model_dir: Path, decode: Decode
) -> tuple[str, Any, Any | None]:
    """Where the rows come from, the rows, and rows with missing numbers (None: not tried)."""
    given = example(model_dir, decode)
    if given is not None:
        name, rows = given
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(np.asarray(rows, dtype=float))
        gaps = frame.isna().to_numpy().any(axis=1)
        if gaps.any():
            return name, rows[~gaps], rows[gaps]
        return name, rows, None
    if schema is None:
        rows = _numeric_rows(model)
        return "rows made from the model", rows, _missing(model, rows, list(range(model.n_features_in_)))
    rows = _frame_rows(model, schema, compiled.known)
    numbers = [n for n, k in zip(schema.names, schema.kinds, strict=True) if k != STRING]
    return "rows made from the model", rows, _missing(model, rows, numbers)
