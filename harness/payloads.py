"""Request bodies built from feature arrays."""

from __future__ import annotations

from collections.abc import Iterable


def csv_rows(rows: Iterable[Iterable[float]]) -> str:
    """Headerless CSV, one line per row, every value as the exact float it is (no trailing newline)."""
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows)
