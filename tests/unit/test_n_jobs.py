import logging
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from serving.config import Settings
from serving.inference import fast_paths
from serving.models import lifecycle, n_jobs
from tests.support import features

X = features(80)
y = X @ np.arange(1, X.shape[1] + 1)


def forest(jobs: int | None = -1) -> RandomForestRegressor:
    return RandomForestRegressor(n_estimators=5, n_jobs=jobs, random_state=0).fit(X, y)


def piped(jobs: int | None = -1) -> Pipeline:
    scale = ColumnTransformer([("scale", StandardScaler(), [0, 1, 2])], remainder="passthrough", n_jobs=2)
    return Pipeline([("prep", scale), ("forest", RandomForestRegressor(n_estimators=5, n_jobs=jobs))]).fit(
        X, y
    )


def load(model_dir: Path, model: object, env: dict[str, str] | None = None) -> object:
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    return lifecycle.load("m", model_dir, Settings.from_env(env or {})).model


def test_a_forest_is_served_with_one_job(caplog) -> None:
    model = forest()
    with caplog.at_level(logging.INFO, logger="serving.models.n_jobs"):
        assert n_jobs.serve_serially("m", model) == {"n_jobs": -1}
    assert model.n_jobs == 1
    assert "model m: n_jobs -1 -> 1 (RandomForestRegressor) for serving" in caplog.text
    assert "SAGEMAKER_KEEP_MODEL_N_JOBS=true" in caplog.text


def test_every_step_of_a_pipeline(caplog) -> None:
    model = piped()
    with caplog.at_level(logging.INFO, logger="serving.models.n_jobs"):
        changed = n_jobs.serve_serially("m", model)
    assert changed == {"prep__n_jobs": 2, "forest__n_jobs": -1}
    assert model.named_steps["forest"].n_jobs == 1
    assert model.named_steps["prep"].n_jobs == 1
    assert "n_jobs -1 -> 1 (forest: RandomForestRegressor)" in caplog.text
    assert "n_jobs 2 -> 1 (prep: ColumnTransformer)" in caplog.text


def test_serial_models_are_left_alone_and_not_logged(caplog) -> None:
    model = forest(None)
    with caplog.at_level(logging.INFO, logger="serving.models.n_jobs"):
        assert n_jobs.serve_serially("m", model) == {}
    assert model.n_jobs is None
    assert caplog.text == ""


def test_predictions_are_unchanged() -> None:
    model = piped()
    before = model.predict(X)
    n_jobs.serve_serially("m", model)
    # Trees in parallel add up in the order they finish: equal but for the last bits.
    np.testing.assert_allclose(model.predict(X), before, rtol=1e-12)


class NotAnEstimator:
    n_jobs = -1

    def predict(self, rows):
        return rows


@pytest.mark.parametrize("model", [NotAnEstimator(), {"model": "x", "n_jobs": -1}, [1, 2]])
def test_objects_without_get_params_are_left_alone(model) -> None:
    assert n_jobs.serve_serially("m", model) == {}
    assert getattr(model, "n_jobs", None) in (-1, None)


class Broken:
    n_jobs = -1

    def get_params(self, deep=True):
        return {"n_jobs": -1}

    def set_params(self, **params):
        raise RuntimeError("read-only")


def test_an_estimator_that_refuses_is_served_as_it_is(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="serving.models.n_jobs"):
        assert n_jobs.serve_serially("m", Broken()) == {}
    assert "n_jobs left as it is (RuntimeError: read-only)" in caplog.text


def test_loading_resets_n_jobs_and_opens_the_fast_path(tmp_path: Path) -> None:
    loaded = load(tmp_path, forest())
    assert loaded.n_jobs == 1
    assert fast_paths.predictor(loaded) != loaded.predict


def test_loading_a_pipeline_resets_its_forest(tmp_path: Path) -> None:
    loaded = load(tmp_path, piped())
    assert loaded.named_steps["forest"].n_jobs == 1
    assert loaded.named_steps["prep"].n_jobs == 1


def test_the_setting_keeps_the_models_own(tmp_path: Path) -> None:
    loaded = load(tmp_path, piped(), {"SAGEMAKER_KEEP_MODEL_N_JOBS": "true"})
    assert loaded.named_steps["forest"].n_jobs == -1
    assert loaded.named_steps["prep"].n_jobs == 2
    assert Settings.from_env({}).keep_model_n_jobs is False


def test_a_model_fn_that_returns_no_estimator_still_loads(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir(parents=True)
    (tmp_path / "code" / "inference.py").write_text(
        "class Model:\n"
        "    n_jobs = -1\n"
        "def model_fn(model_dir):\n"
        "    return Model()\n"
        "def predict_fn(data, model):\n"
        "    return [model.n_jobs]\n"
    )
    loaded = lifecycle.load("m", tmp_path, Settings.from_env({})).model
    assert loaded.n_jobs == -1


def test_a_classifier_from_model_fn_is_reset_too(tmp_path: Path) -> None:
    model = RandomForestClassifier(n_estimators=3, n_jobs=-1, random_state=0).fit(X, y > y.mean())
    (tmp_path / "code").mkdir(parents=True)
    joblib.dump(model, tmp_path / "forest.joblib")
    (tmp_path / "code" / "inference.py").write_text(
        "import joblib, os\n"
        "def model_fn(model_dir):\n"
        "    return joblib.load(os.path.join(model_dir, 'forest.joblib'))\n"
    )
    assert lifecycle.load("m", tmp_path, Settings.from_env({})).model.n_jobs == 1
