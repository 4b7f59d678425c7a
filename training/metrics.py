"""Regression metrics, and the log lines SageMaker metric_definitions regexes pick up."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import r2_score

PERCENTILES = (10, 50, 90)


def _number(value: float) -> str:
    # Fixed-point, never exponent notation: metric regexes are usually written as [0-9\.]+.
    return f"{value:.4f}"


@dataclass(frozen=True)
class Metrics:
    ae_percentiles: dict[int, float]
    mae: float
    r2: float | None  # undefined below two rows

    def as_dict(self) -> dict[str, float | None]:
        named: dict[str, float | None] = {
            f"AE-at-{q}th-percentile": value for q, value in self.ae_percentiles.items()
        }
        return {**named, "mae": self.mae, "r2": self.r2}

    def log_lines(self, channel: str) -> list[str]:
        """`AE-at-50th-percentile: 123.4` as the seed notebook prints, then `<channel>:mae: ...`."""
        lines = [f"AE-at-{q}th-percentile: {_number(value)}" for q, value in self.ae_percentiles.items()]
        lines.append(f"{channel}:mae: {_number(self.mae)}")
        if self.r2 is not None:
            lines.append(f"{channel}:r2: {_number(self.r2)}")
        return lines


def evaluate(labels: np.ndarray, predictions: np.ndarray) -> Metrics:
    errors = np.abs(predictions - labels)
    return Metrics(
        ae_percentiles={q: float(np.percentile(errors, q)) for q in PERCENTILES},
        mae=float(errors.mean()),
        # sklearn would warn and return nan for a single row.
        r2=float(r2_score(labels, predictions)) if labels.shape[0] >= 2 else None,
    )
