"""The `train` command against a SageMaker training tree under tmp_path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor

from training import cli, housing
from training.forest import fit
from training.hyperparameters import Hyperparameters, decode, parse
from training.outputs import FAILURE_REASON_CHARS, failure_text
from training.paths import TrainingPaths

FAST = {"n-estimators": "10"}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrainingPaths:
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path / "ml"))
    return TrainingPaths(tmp_path / "ml")


def set_hyperparameters(paths: TrainingPaths, values: dict[str, object]) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.hyperparameters_file.write_text(json.dumps(values))


def add_csv(paths: TrainingPaths, channel: str, text: str, name: str = "data.csv") -> Path:
    path = paths.channel_dir(channel) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def add_housing(paths: TrainingPaths, location: str = "Chicago_IL", rows: int = 300) -> dict[str, np.ndarray]:
    parts = housing.split(housing.generate(location, rows))
    for channel in ("train", "validation"):
        housing.write_csv(paths.channel_dir(channel) / f"{location}.csv", parts[channel])
    return parts


def run_train() -> int:
    # main([]), not main(): under pytest sys.argv holds pytest's own arguments.
    return cli.main([])


def failure(paths: TrainingPaths) -> str:
    return paths.failure_file.read_text()


def test_trains_saves_a_model_and_prints_metrics(tree: TrainingPaths, capsys: pytest.CaptureFixture[str]):
    set_hyperparameters(tree, FAST)
    parts = add_housing(tree)

    assert run_train() == 0

    model = joblib.load(tree.model_dir / "model.joblib")
    assert model.n_estimators == 10
    assert model.predict(parts["test"][:, 1:]).shape == (parts["test"].shape[0],)
    assert model.n_features_in_ == 6
    out = capsys.readouterr().out
    match = re.search(r"AE-at-50th-percentile: ([0-9\.]+)", out)
    assert match and float(match.group(1)) > 0
    for name in ("AE-at-10th-percentile", "AE-at-90th-percentile", "validation:mae", "validation:r2"):
        assert re.search(rf"^{name}: -?[0-9]+\.[0-9]+$", out, re.MULTILINE), name
    assert "channel train: read 180 rows" in out
    assert "10/10 trees" in out
    assert tree.success_file.read_text() == ""
    assert not tree.failure_file.exists()


def test_metrics_json_summarises_the_run(tree: TrainingPaths, capsys: pytest.CaptureFixture[str]):
    set_hyperparameters(tree, FAST)
    add_housing(tree)
    assert run_train() == 0

    summary = json.loads((tree.output_data_dir / "metrics.json").read_text())
    assert summary["rows"] == {"train": 180, "validation": 90}
    assert summary["evaluated_on"] == "validation"
    assert summary["features"] == 6
    assert summary["hyperparameters"]["n-estimators"] == 10
    printed = re.search(r"validation:mae: ([0-9\.]+)", capsys.readouterr().out)
    assert printed and summary["metrics"]["mae"] == pytest.approx(float(printed.group(1)), abs=1e-3)


def test_without_validation_the_train_channel_is_scored(
    tree: TrainingPaths, capsys: pytest.CaptureFixture[str]
):
    set_hyperparameters(tree, FAST)
    add_csv(tree, "train", "".join(f"{2 * i + 1},{i},{i % 3}\n" for i in range(40)))

    assert run_train() == 0

    out = capsys.readouterr().out
    assert re.search(r"^AE-at-50th-percentile: [0-9\.]+$", out, re.MULTILINE)
    assert re.search(r"^train:mae: [0-9\.]+$", out, re.MULTILINE)
    assert "validation:" not in out
    assert json.loads((tree.output_data_dir / "metrics.json").read_text())["evaluated_on"] == "train"


def test_json_encoded_hyperparameters_are_decoded(tree: TrainingPaths, capsys: pytest.CaptureFixture[str]):
    # What the SageMaker SDK writes for set_hyperparameters(n_estimators=7, model_name="Chicago_IL").
    set_hyperparameters(
        tree,
        {
            "n-estimators": '"7"',
            "min-samples-leaf": "2",
            "random-state": json.dumps(3),
            "model-name": json.dumps("Chicago_IL"),
        },
    )
    add_housing(tree)

    assert run_train() == 0

    model = joblib.load(tree.model_dir / "model.joblib")
    assert (model.n_estimators, model.min_samples_leaf, model.random_state) == (7, 2, 3)
    assert "Chicago_IL: fitting 7 trees" in capsys.readouterr().out


def test_defaults_apply_without_a_hyperparameters_file(tree: TrainingPaths):
    add_csv(tree, "train", "".join(f"{i},{i}\n" for i in range(20)))

    assert run_train() == 0

    model = joblib.load(tree.model_dir / "model.joblib")
    assert (model.n_estimators, model.min_samples_leaf, model.random_state) == (100, 3, 0)


def test_sagemaker_reserved_hyperparameters_are_ignored(tree: TrainingPaths):
    set_hyperparameters(
        tree,
        {**FAST, "sagemaker_region": '"us-east-1"', "_tuning_objective_metric": '"validation:mae"'},
    )
    add_housing(tree)
    assert run_train() == 0


def test_the_same_inputs_train_the_same_model(tree: TrainingPaths):
    set_hyperparameters(tree, FAST)
    parts = add_housing(tree)
    assert run_train() == 0
    first = joblib.load(tree.model_dir / "model.joblib").predict(parts["test"][:, 1:])
    assert run_train() == 0
    second = joblib.load(tree.model_dir / "model.joblib").predict(parts["test"][:, 1:])
    np.testing.assert_array_equal(first, second)


def test_fitting_in_steps_grows_the_same_forest_as_one_fit():
    rng = np.random.default_rng(0)
    X, y = rng.random((150, 6)), rng.random(150)
    stepped = fit(X, y, Hyperparameters(n_estimators=13, min_samples_leaf=3, random_state=5))
    one_shot = RandomForestRegressor(n_estimators=13, min_samples_leaf=3, random_state=5).fit(X, y)
    np.testing.assert_array_equal(stepped.predict(X), one_shot.predict(X))
    assert stepped.warm_start is False and stepped.n_jobs is None


BAD_INPUTS = {
    "unknown hyperparameter": (
        {"n-estimators": "10", "max-depth": "3"},
        {"train": "1,2\n3,4\n"},
        "unknown hyperparameter(s): max-depth",
    ),
    "snake_case name": ({"n_estimators": "10"}, {"train": "1,2\n"}, "did you mean n-estimators?"),
    "n-estimators not a number": ({"n-estimators": "abc"}, {"train": "1,2\n"}, "n-estimators='abc'"),
    "JSON-encoded bad value": ({"n-estimators": '"abc"'}, {"train": "1,2\n"}, "is not a whole number"),
    "fractional n-estimators": ({"n-estimators": "2.5"}, {"train": "1,2\n"}, "is not a whole number"),
    "zero trees": ({"n-estimators": "0"}, {"train": "1,2\n"}, "n-estimators=0 must be at least 1"),
    "user script not there": ({"sagemaker_program": '"train.py"'}, {"train": "1,2\n"}, "train.py is not in"),
    "missing train channel": (FAST, {"validation": "1,2\n"}, "missing required channel 'train'"),
    "empty train channel": (FAST, {"train/": ""}, "channel train has no *.csv files"),
    "only non-CSV files": (FAST, {"train/data.parquet": "x"}, "found: data.parquet"),
    "CSV without rows": (FAST, {"train": "\n\n"}, "channel train has no data rows"),
    "non-numeric value": (FAST, {"train": "1,2,3\n4,x,6\n"}, "data.csv:2: column 2 is 'x', not a number"),
    "empty value": (FAST, {"train": "1,2,3\n4,,6\n"}, "data.csv:2: column 2 is an empty value"),
    "header row": (FAST, {"train": "price,sqft\n1,2\n"}, "(this trainer expects no header row)"),
    "ragged rows": (FAST, {"train": "1,2,3\n4,5\n"}, "data.csv:2: 2 columns, but"),
    "label only": (FAST, {"train": "1\n2\n"}, "one column only"),
    "not finite": (FAST, {"train": "1,2\nnan,3\n"}, "values must be finite numbers"),
    "validation width differs": (
        FAST,
        {"train": "1,2,3\n", "validation": "1,2\n"},
        "2 columns, but the train channel has 3",
    ),
}


@pytest.mark.parametrize(("hps", "files", "reason"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_inputs_fail_with_a_reason(
    tree: TrainingPaths,
    capsys: pytest.CaptureFixture[str],
    hps: dict[str, str],
    files: dict[str, str],
    reason: str,
):
    set_hyperparameters(tree, hps)
    for where, text in files.items():
        if where.endswith("/"):
            tree.channel_dir(where.rstrip("/")).mkdir(parents=True)
        elif "/" in where:
            channel, name = where.split("/")
            add_csv(tree, channel, text, name)
        else:
            add_csv(tree, where, text)

    assert run_train() == 1

    text = failure(tree)
    headline = text.splitlines()[0]
    assert reason in headline
    assert "Traceback" not in text
    assert reason in capsys.readouterr().err
    assert not (tree.model_dir / "model.joblib").exists()
    assert not tree.success_file.exists()


def test_input_data_config_without_train_channel_fails(tree: TrainingPaths):
    set_hyperparameters(tree, FAST)
    add_csv(tree, "train", "1,2\n")
    tree.input_data_config_file.write_text(json.dumps({"training": {"TrainingInputMode": "File"}}))

    assert run_train() == 1
    assert failure(tree).startswith("the job has no 'train' channel (its channels: training)")


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"TrainingInputMode": "Pipe"}, "uses TrainingInputMode Pipe"),
        ({"ContentType": "application/x-parquet"}, "this trainer reads text/csv"),
    ],
)
def test_input_data_config_settings_are_checked(tree: TrainingPaths, settings: dict[str, str], reason: str):
    set_hyperparameters(tree, FAST)
    add_csv(tree, "train", "1,2\n")
    tree.input_data_config_file.write_text(json.dumps({"train": settings}))

    assert run_train() == 1
    assert reason in failure(tree).splitlines()[0]


def test_input_data_config_accepts_csv_and_file_modes(tree: TrainingPaths):
    set_hyperparameters(tree, FAST)
    add_csv(tree, "train", "1,2\n2,3\n")
    add_csv(tree, "validation", "1,2\n2,3\n")
    tree.input_data_config_file.write_text(
        json.dumps(
            {
                "train": {"ContentType": "text/csv", "TrainingInputMode": "File"},
                "validation": {"ContentType": "csv", "TrainingInputMode": "FastFile"},
            }
        )
    )
    assert run_train() == 0


def test_unexpected_errors_exit_2_with_the_reason_before_the_traceback(
    tree: TrainingPaths, monkeypatch: pytest.MonkeyPatch
):
    def broken_fit(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli, "fit", broken_fit)
    set_hyperparameters(tree, FAST)
    add_csv(tree, "train", "1,2\n")

    assert run_train() == 2

    lines = failure(tree).splitlines()
    assert lines[0] == "Unexpected error in the trainer: RuntimeError: disk on fire"
    assert lines[2].startswith("Traceback")


def test_the_failure_reason_fits_in_failure_reason_chars():
    text = failure_text("x " * 5000 + "\nsecond line", details="Traceback ...")
    headline = text.split("\n")[0]
    assert len(headline) < FAILURE_REASON_CHARS
    assert text.endswith("Traceback ...\n")


def test_a_rerun_replaces_stale_status_files(tree: TrainingPaths):
    set_hyperparameters(tree, FAST)
    add_csv(tree, "train", "1,2\n2,3\n")
    assert run_train() == 0
    set_hyperparameters(tree, {"n-estimators": "abc"})

    assert run_train() == 1
    assert not tree.success_file.exists()


def test_arguments_are_refused(tree: TrainingPaths):
    assert cli.main(["--epochs", "3"]) == 1
    assert failure(tree).startswith("train takes no arguments (got: --epochs 3)")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]):
    assert cli.main(["--help"]) == 0
    assert "n-estimators" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("raw", "value"),
    [("100", 100), ('"100"', "100"), ('"rf"', "rf"), ("rf", "rf"), ("{bad", "{bad"), (5, 5)],
)
def test_decode_undoes_the_sdk_json_encoding(raw: object, value: object):
    assert decode(raw) == value


def test_a_numeric_model_name_keeps_its_text():
    assert parse({"model-name": "007"}).model_name == "007"
