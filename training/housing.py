"""Synthetic home-value data, one data set per city, after the AWS multi-model seed notebook.

Each row is PRICE, then the six features in FEATURES order. Price follows the notebook's formula
plus a per-city base price and noise, so every city gets a model of its own. Data are seeded
per city: the same seed writes byte-identical files.

    python -m training.housing --out data --locations 4 --rows 1000
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURES = ("YEAR_BUILT", "SQUARE_FEET", "NUM_BEDROOMS", "NUM_BATHROOMS", "LOT_ACRES", "GARAGE_SPACES")
LOCATIONS = (
    "NewYork_NY",
    "LosAngeles_CA",
    "Chicago_IL",
    "Houston_TX",
    "Dallas_TX",
    "Phoenix_AZ",
    "Philadelphia_PA",
    "SanAntonio_TX",
    "SanDiego_CA",
    "SanFrancisco_CA",
)
# What the same house costs on top of the notebook's formula in each city; far enough apart
# (tens of thousands of dollars, against noise of NOISE_SD) that the cities' models differ.
BASE_PRICES = {
    "NewYork_NY": 250_000,
    "LosAngeles_CA": 220_000,
    "Chicago_IL": 90_000,
    "Houston_TX": 40_000,
    "Dallas_TX": 55_000,
    "Phoenix_AZ": 65_000,
    "Philadelphia_PA": 75_000,
    "SanAntonio_TX": 25_000,
    "SanDiego_CA": 190_000,
    "SanFrancisco_CA": 350_000,
}
MIN_YEAR, MAX_YEAR = 1951, 2019
NOISE_SD = 10_000.0
DEFAULT_SEED = 7
SPLITS = (("train", 0.6), ("validation", 0.3), ("test", 0.1))
# Price and each feature as the notebook writes them: whole dollars, half bathrooms, 1/100 acre.
COLUMN_FORMATS = ("{:.0f}", "{:.0f}", "{:.0f}", "{:.0f}", "{:.1f}", "{:.2f}", "{:.0f}")


def price(features: np.ndarray, base_price: float = 0.0) -> np.ndarray:
    """The noise-free price of houses given as rows of FEATURES."""
    year, sqft, bedrooms, bathrooms, acres, garage = features.T
    return (
        base_price
        + 150 * sqft
        + 10_000 * bedrooms
        + 15_000 * bathrooms
        + 15_000 * acres
        + 15_000 * garage
        - 5_000 * (MAX_YEAR - year)
    )


def generate(location: str, rows: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """`rows` houses in `location`: PRICE first, then FEATURES."""
    if location not in LOCATIONS:
        raise ValueError(f"unknown location {location!r}; known: {', '.join(LOCATIONS)}")
    index = LOCATIONS.index(location)
    # Seeded with (seed, index) rather than seed + index, so seed 1's first city is not
    # seed 0's second.
    rng = np.random.default_rng((seed, index))
    features = np.column_stack(
        [
            np.clip(np.floor(rng.normal(1995, 10, rows)), MIN_YEAR, MAX_YEAR),
            np.maximum(np.floor(rng.normal(3000, 750, rows)), 500),
            rng.integers(2, 7, rows),
            rng.integers(2, 7, rows) / 2,
            np.maximum(np.round(rng.normal(1.0, 0.25, rows), 2), 0.05),
            rng.integers(0, 4, rows),
        ]
    ).astype(np.float64)
    prices = np.round(price(features, BASE_PRICES[location]) + rng.normal(0, NOISE_SD, rows))
    return np.column_stack([prices, features])


def split(data: np.ndarray) -> dict[str, np.ndarray]:
    """60/30/10 train/validation/test. Rows are drawn independently, so no shuffle is needed."""
    total = data.shape[0]
    sizes = [round(total * share) for _, share in SPLITS[:-1]]
    sizes.append(total - sum(sizes))
    if min(sizes) < 1:
        raise ValueError(f"{total} rows are too few to fill train, validation and test; 10 always do")
    bounds = np.cumsum([0, *sizes])
    return {
        name: data[start:end] for (name, _), start, end in zip(SPLITS, bounds[:-1], bounds[1:], strict=True)
    }


def write_csv(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Formatted by hand, not np.savetxt: the text is fixed per column, so files repeat byte for byte.
    lines = [
        ",".join(fmt.format(value) for fmt, value in zip(COLUMN_FORMATS, row, strict=True)) for row in rows
    ]
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


@dataclass(frozen=True)
class Written:
    location: str
    split: str
    path: Path
    rows: int


def write_location(out: Path, location: str, rows: int, seed: int = DEFAULT_SEED) -> list[Written]:
    """`<out>/<location>/{train,validation,test}/<location>_<split>.csv`, headerless, label first.

    The split directories are named after the channels `train` reads, so a location's folder can
    be uploaded as the job's input as it is.
    """
    written = []
    for name, part in split(generate(location, rows, seed)).items():
        path = out / location / name / f"{location}_{name}.csv"
        write_csv(path, part)
        written.append(Written(location, name, path, part.shape[0]))
    return written


def write_dataset(out: Path, locations: Sequence[str], rows: int, seed: int = DEFAULT_SEED) -> list[Written]:
    return [item for location in locations for item in write_location(out, location, rows, seed)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.housing",
        description="Write synthetic per-city housing CSVs (PRICE first, no header) for `train`.",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write <location>/<split>/ into")
    parser.add_argument(
        "--locations",
        type=int,
        default=len(LOCATIONS),
        help=f"how many cities, in the order {', '.join(LOCATIONS)} (default: all {len(LOCATIONS)})",
    )
    parser.add_argument("--rows", type=int, default=1000, help="houses per city (default: 1000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"base seed (default: {DEFAULT_SEED})")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.locations <= len(LOCATIONS):
        parser.error(f"--locations must be between 1 and {len(LOCATIONS)}")
    if args.rows < 10:
        parser.error("--rows must be at least 10, to fill train, validation and test")
    if args.seed < 0:
        parser.error("--seed must not be negative")
    for item in write_dataset(args.out, LOCATIONS[: args.locations], args.rows, args.seed):
        print(f"{item.location}: {item.split}: {item.rows} rows -> {item.path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
