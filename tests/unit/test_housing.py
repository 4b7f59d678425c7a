"""The synthetic per-city housing data the training examples use."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pytest

from training import cli, housing


def read(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", ndmin=2)


def test_the_same_seed_writes_identical_files(tmp_path: Path):
    first = housing.write_dataset(tmp_path / "a", housing.LOCATIONS[:2], rows=100, seed=11)
    second = housing.write_dataset(tmp_path / "b", housing.LOCATIONS[:2], rows=100, seed=11)
    other = housing.write_dataset(tmp_path / "c", housing.LOCATIONS[:2], rows=100, seed=12)

    assert len(first) == 6
    for a, b, c in zip(first, second, other, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes()
        assert a.path.read_bytes() != c.path.read_bytes()


def test_files_are_laid_out_per_location_and_split(tmp_path: Path):
    housing.write_location(tmp_path, "Houston_TX", rows=50)

    for split in ("train", "validation", "test"):
        path = tmp_path / "Houston_TX" / split / f"Houston_TX_{split}.csv"
        first_line = path.read_text().splitlines()[0]
        # No header: every cell is a number, price first and then the six features.
        assert len([float(cell) for cell in first_line.split(",")]) == 1 + len(housing.FEATURES)


@pytest.mark.parametrize(("rows", "sizes"), [(1000, (600, 300, 100)), (300, (180, 90, 30)), (10, (6, 3, 1))])
def test_splits_are_60_30_10(tmp_path: Path, rows: int, sizes: tuple[int, int, int]):
    written = housing.write_location(tmp_path, "Dallas_TX", rows=rows)

    assert [item.split for item in written] == ["train", "validation", "test"]
    assert tuple(item.rows for item in written) == sizes
    assert tuple(read(item.path).shape[0] for item in written) == sizes


def test_too_few_rows_for_three_splits_are_refused():
    with pytest.raises(ValueError, match="too few"):
        housing.split(housing.generate("Dallas_TX", 3))


def test_features_stay_in_their_ranges():
    data = housing.generate("Phoenix_AZ", 2000)
    year, sqft, bedrooms, bathrooms, acres, garage = data[:, 1:].T

    assert year.min() >= housing.MIN_YEAR and year.max() == housing.MAX_YEAR == 2019
    assert sqft.min() >= 500 and 2800 < sqft.mean() < 3200
    assert set(np.unique(bedrooms)) <= {2, 3, 4, 5, 6}
    assert set(np.unique(bathrooms)) <= {1.0, 1.5, 2.0, 2.5, 3.0}
    assert acres.min() > 0
    assert set(np.unique(garage)) <= {0, 1, 2, 3}


def test_prices_follow_the_formula_plus_noise():
    data = housing.generate("Philadelphia_PA", 2000)
    expected = housing.price(data[:, 1:], housing.BASE_PRICES["Philadelphia_PA"])
    residuals = data[:, 0] - expected

    assert abs(residuals.mean()) < 1_000
    assert 0.9 * housing.NOISE_SD < residuals.std() < 1.1 * housing.NOISE_SD


def test_the_formula_matches_the_seed_notebook():
    # 2000 sq ft, 3 bedrooms, 2 bathrooms, 1 acre, 2 garage spaces, built 2009, base 0.
    house = np.array([[2009, 2000, 3, 2, 1.0, 2]])
    assert housing.price(house)[0] == 300_000 + 30_000 + 30_000 + 15_000 + 30_000 - 50_000


def test_each_city_has_its_own_data_and_prices():
    new_york = housing.generate("NewYork_NY", 2000)
    chicago = housing.generate("Chicago_IL", 2000)

    assert not np.array_equal(new_york[:, 1:], chicago[:, 1:])
    gap = new_york[:, 0].mean() - chicago[:, 0].mean()
    expected = housing.BASE_PRICES["NewYork_NY"] - housing.BASE_PRICES["Chicago_IL"]
    assert abs(gap - expected) < 20_000


def test_unknown_location_is_refused():
    with pytest.raises(ValueError, match="unknown location 'Boston_MA'"):
        housing.generate("Boston_MA", 10)


def train_city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, location: str) -> object:
    base = tmp_path / location / "ml"
    for item in housing.write_location(tmp_path / "data", location, rows=300):
        if item.split != "test":
            channel = base / "input" / "data" / item.split
            channel.mkdir(parents=True)
            (channel / item.path.name).write_bytes(item.path.read_bytes())
    (base / "input" / "config").mkdir(parents=True)
    (base / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"n-estimators": "10", "model-name": json.dumps(location)})
    )
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(base))
    assert cli.main([]) == 0
    return joblib.load(base / "model" / "model.joblib")


def test_a_city_model_predicts_its_own_prices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    model = train_city(tmp_path, monkeypatch, "SanFrancisco_CA")
    test = read(tmp_path / "data" / "SanFrancisco_CA" / "test" / "SanFrancisco_CA_test.csv")

    predicted = model.predict(test[:, 1:])
    relative_error = np.abs(predicted - test[:, 0]) / test[:, 0]
    assert np.median(relative_error) < 0.1


def test_city_models_differ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    san_francisco = train_city(tmp_path, monkeypatch, "SanFrancisco_CA")
    san_antonio = train_city(tmp_path, monkeypatch, "SanAntonio_TX")
    houses = housing.generate("Dallas_TX", 200)[:, 1:]

    gap = san_francisco.predict(houses) - san_antonio.predict(houses)
    expected = housing.BASE_PRICES["SanFrancisco_CA"] - housing.BASE_PRICES["SanAntonio_TX"]
    assert abs(np.median(gap) - expected) < 0.25 * expected


def test_cli_writes_and_reports_each_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert housing.main(["--out", str(tmp_path), "--locations", "2", "--rows", "20", "--seed", "3"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6
    assert lines[0] == f"NewYork_NY: train: 12 rows -> {tmp_path / 'NewYork_NY/train/NewYork_NY_train.csv'}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LosAngeles_CA", "NewYork_NY"]


@pytest.mark.parametrize(
    "args", [["--locations", "11"], ["--locations", "0"], ["--rows", "5"], ["--seed", "-1"]]
)
def test_cli_refuses_bad_arguments(tmp_path: Path, args: list[str]):
    with pytest.raises(SystemExit) as exit_info:
        housing.main(["--out", str(tmp_path), *args])
    assert exit_info.value.code == 2
