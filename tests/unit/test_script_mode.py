"""`train` running the user's own script, with AWS's toolkit's argv, SM_* variables and failures."""

from __future__ import annotations

import json
import shutil
import sys
import tarfile
from pathlib import Path

import joblib
import pytest

from tests.unit.test_training import add_housing, failure, run_train, set_hyperparameters
from training import script_env
from training.paths import TrainingPaths

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "housing"
# The notebook job as the SDK writes it (reference: training-script-mode.md §2).
NOTEBOOK = {
    "n-estimators": "20",
    "min-samples-leaf": "3",
    "model-name": '"NewYork_NY"',
    "sagemaker_program": '"training.py"',
    "sagemaker_container_log_level": "20",
    "sagemaker_job_name": '"skl-NewYork-NY-1"',
    "sagemaker_region": '"us-west-2"',
}
REPORTER = """
import json, os, sys
out = os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "seen.json")
env = {k: v for k, v in os.environ.items() if k.startswith(("SM_", "SAGEMAKER_", "CURRENT_"))}
json.dump({"argv": sys.argv[1:], "env": env, "cwd": os.getcwd()}, open(out, "w"))
"""


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrainingPaths:
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path / "ml"))
    monkeypatch.delenv("SAGEMAKER_PROGRAM", raising=False)
    return TrainingPaths(tmp_path / "ml")


def seen(tree: TrainingPaths) -> dict[str, object]:
    return json.loads((tree.output_data_dir / "seen.json").read_text())


def test_the_notebook_script_runs_unmodified_from_a_directory(tree: TrainingPaths, capfd) -> None:
    add_housing(tree, "NewYork_NY")
    shutil.copytree(EXAMPLE, tree.code_dir)
    set_hyperparameters(tree, {**NOTEBOOK, "sagemaker_submit_directory": json.dumps(str(tree.code_dir))})
    assert run_train() == 0
    out = capfd.readouterr().out
    assert "NewYork_NY: training on" in out and "AE-at-50th-percentile: " in out
    model = joblib.load(tree.model_dir / "model.joblib")
    assert model.n_estimators == 20 and model.min_samples_leaf == 3
    assert tree.success_file.exists() and not tree.failure_file.exists()


def test_argv_and_sm_variables_are_the_toolkits(tree: TrainingPaths) -> None:
    add_housing(tree)
    tree.code_dir.mkdir(parents=True)
    (tree.code_dir / "training.py").write_text(REPORTER)
    tree.config_dir.mkdir(parents=True, exist_ok=True)
    (tree.config_dir / "resourceconfig.json").write_text(
        json.dumps(
            {"current_host": "algo-1-k3x9q", "hosts": ["algo-1-k3x9q"], "network_interface_name": "eth0"}
        )
    )
    (tree.input_data_config_file).write_text(
        json.dumps({"train": {"TrainingInputMode": "File"}, "validation": {"TrainingInputMode": "File"}})
    )
    set_hyperparameters(tree, {**NOTEBOOK, "flags": '{"a": 1, "b": "x"}', "nothing": "null", "x": "[1, 2]"})
    assert run_train() == 0
    got = seen(tree)
    assert got["argv"] == [
        "--flags", "a=1,b=x",
        "--min-samples-leaf", "3",
        "--model-name", "NewYork_NY",
        "--n-estimators", "20",
        "--nothing", "",
        "-x", "[1, 2]",
    ]  # fmt: skip
    env = got["env"]
    base = str(tree.base_dir)
    assert env["SM_CHANNELS"] == '["train","validation"]'
    assert env["SM_CHANNEL_TRAIN"] == f"{base}/input/data/train"
    assert env["SM_MODEL_DIR"] == f"{base}/model" and env["SM_OUTPUT_DATA_DIR"] == f"{base}/output/data"
    assert env["SM_HP_N-ESTIMATORS"] == "20" and env["SM_HP_MODEL-NAME"] == "NewYork_NY"
    assert env["SM_HP_FLAGS"] == '{"a":1,"b":"x"}' and env["SM_HP_NOTHING"] == ""
    assert json.loads(env["SM_HPS"]) == {"flags": {"a": 1, "b": "x"}, "min-samples-leaf": 3,
                                         "model-name": "NewYork_NY", "n-estimators": 20, "nothing": None,
                                         "x": [1, 2]}  # fmt: skip
    assert env["SM_USER_ENTRY_POINT"] == "training.py" and env["SM_MODULE_NAME"] == "training"
    assert env["SM_CURRENT_HOST"] == "algo-1-k3x9q" and env["SM_HOSTS"] == '["algo-1-k3x9q"]'
    assert env["SM_LOG_LEVEL"] == "20" and env["SM_FRAMEWORK_PARAMS"] == "{}"
    assert env["SAGEMAKER_JOB_NAME"] == "skl-NewYork-NY-1" and env["SAGEMAKER_REGION"] == "us-west-2"
    assert json.loads(env["SM_USER_ARGS"]) == got["argv"]
    assert json.loads(env["SM_TRAINING_ENV"])["channel_input_dirs"]["train"] == f"{base}/input/data/train"
    assert got["cwd"] == str(tree.code_dir)


def test_code_from_a_local_archive_and_a_file_url(tree: TrainingPaths, tmp_path: Path) -> None:
    add_housing(tree)
    archive = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(EXAMPLE / "training.py", arcname="training.py")
    set_hyperparameters(tree, {**NOTEBOOK, "sagemaker_submit_directory": json.dumps(f"file://{archive}")})
    assert run_train() == 0
    assert (tree.model_dir / "model.joblib").is_file()


def test_a_script_that_raises_fails_the_job_as_the_toolkit_reports_it(tree: TrainingPaths, capfd) -> None:
    tree.code_dir.mkdir(parents=True)
    (tree.code_dir / "training.py").write_text("raise ValueError('the train channel is empty')\n")
    set_hyperparameters(tree, NOTEBOOK)
    assert run_train() == 1
    text = failure(tree)
    assert text.startswith("ExecuteUserScriptError:\nExitCode 1\n")
    assert 'ErrorMessage "ValueError: the train channel is empty"' in text
    assert f'Command "{sys.executable} training.py --min-samples-leaf 3' in text
    assert "Traceback (most recent call last)" in capfd.readouterr().err
    assert not tree.success_file.exists()


def test_a_failure_the_script_wrote_itself_is_kept(tree: TrainingPaths) -> None:
    tree.code_dir.mkdir(parents=True)
    (tree.code_dir / "training.py").write_text(
        "import os, sys\nos.makedirs(os.environ['SM_OUTPUT_DIR'], exist_ok=True)\n"
        "open(os.path.join(os.environ['SM_OUTPUT_DIR'], 'failure'), 'w').write('not enough rows')\n"
        "sys.exit(3)\n"
    )
    set_hyperparameters(tree, NOTEBOOK)
    assert run_train() == 1
    assert failure(tree) == "not enough rows"


def test_requirements_that_cannot_install_name_pips_error(tree: TrainingPaths) -> None:
    tree.code_dir.mkdir(parents=True)
    (tree.code_dir / "training.py").write_text("print('never')\n")
    (tree.code_dir / "requirements.txt").write_text("./no-such-wheel-1.0-py3-none-any.whl\n")
    set_hyperparameters(tree, NOTEBOOK)
    assert run_train() == 1
    headline = failure(tree).splitlines()[0]
    assert headline.startswith("InstallRequirementsError: pip install -r requirements.txt failed")
    assert "no-such-wheel" in headline


def test_a_missing_entry_point_or_code_fails_with_its_name(tree: TrainingPaths, tmp_path: Path) -> None:
    set_hyperparameters(tree, {**NOTEBOOK, "sagemaker_program": '"train_me.py"'})
    assert run_train() == 1
    assert "the entry point train_me.py is not in the code" in failure(tree)
    set_hyperparameters(
        tree, {**NOTEBOOK, "sagemaker_submit_directory": json.dumps(str(tmp_path / "nowhere"))}
    )
    assert run_train() == 1
    assert f"{tmp_path / 'nowhere'}: no such file or directory" in failure(tree)


def test_a_shell_entry_point_runs_with_the_arguments(tree: TrainingPaths) -> None:
    tree.code_dir.mkdir(parents=True)
    (tree.code_dir / "train.sh").write_text(
        'mkdir -p "$SM_MODEL_DIR" && echo "$@" > "$SM_MODEL_DIR/args.txt"\n'
    )
    set_hyperparameters(tree, {**NOTEBOOK, "sagemaker_program": '"train.sh"'})
    assert run_train() == 0
    assert (tree.model_dir / "args.txt").read_text().split()[:2] == ["--min-samples-leaf", "3"]


def test_values_become_arguments_as_the_toolkit_writes_them() -> None:
    decoded = script_env.user_hyperparameters({"b": "true", "a": "0.1", "sagemaker_program": '"x.py"'})
    assert decoded == {"a": 0.1, "b": True}
    assert script_env.command_args(decoded) == ["-a", "0.1", "-b", "True"]
    assert script_env.env_value(True) == "true" and script_env.env_value([1, 2]) == "[1,2]"
