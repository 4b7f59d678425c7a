from pathlib import Path

import joblib
import pytest

from serving.errors import ModelLoadError
from serving.models.files import default_model_fn, find_model_file


def test_prefers_model_joblib(tmp_path: Path) -> None:
    joblib.dump({"a": 1}, tmp_path / "model.joblib")
    joblib.dump({"b": 2}, tmp_path / "other.pkl")
    assert find_model_file(tmp_path).name == "model.joblib"
    assert default_model_fn(str(tmp_path)) == {"a": 1}


def test_single_pickle_is_found(tmp_path: Path) -> None:
    joblib.dump([1, 2], tmp_path / "decision-tree-model.pkl")
    assert default_model_fn(str(tmp_path)) == [1, 2]


def test_no_model_lists_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(ModelLoadError) as err:
        find_model_file(tmp_path)
    assert "readme.txt" in str(err.value) and "model.joblib" in str(err.value)


def test_two_candidates_are_named(tmp_path: Path) -> None:
    joblib.dump(1, tmp_path / "a.pkl")
    joblib.dump(2, tmp_path / "b.joblib")
    with pytest.raises(ModelLoadError) as err:
        find_model_file(tmp_path)
    assert "a.pkl" in str(err.value) and "b.joblib" in str(err.value)


def test_corrupt_file_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ModelLoadError) as err:
        default_model_fn(str(tmp_path))
    assert "cannot load" in str(err.value)


def _forest_skops(path: Path) -> object:
    import numpy as np
    import skops.io
    from sklearn.ensemble import RandomForestRegressor

    X = np.random.default_rng(0).random((60, 6))
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, X.sum(axis=1))
    skops.io.dump(model, path)
    return model


def test_skops_model_loads_without_pickle(tmp_path: Path) -> None:
    import numpy as np

    model = _forest_skops(tmp_path / "model.skops")
    loaded = default_model_fn(str(tmp_path))
    X = np.random.default_rng(1).random((4, 6))
    assert loaded.predict(X).tolist() == model.predict(X).tolist()


def test_skops_is_preferred_over_joblib(tmp_path: Path) -> None:
    _forest_skops(tmp_path / "model.skops")
    joblib.dump({"not": "this"}, tmp_path / "model.joblib")
    assert find_model_file(tmp_path).name == "model.skops"


def test_skops_refuses_types_not_on_the_trusted_list(tmp_path: Path) -> None:
    _forest_skops(tmp_path / "model.skops")
    with pytest.raises(ModelLoadError) as err:
        default_model_fn(str(tmp_path), skops_trusted=("numpy.",))
    assert "sklearn.tree._tree.Tree" in str(err.value)
    assert "SAGEMAKER_SKOPS_TRUSTED_TYPES" in str(err.value)
    # Naming the exact type trusts it.
    assert default_model_fn(str(tmp_path), skops_trusted=("numpy.", "sklearn.tree._tree.Tree")) is not None


def test_trusted_types_come_from_the_environment() -> None:
    from serving.config import Settings

    assert Settings.from_env({}).skops_trusted_types == ("sklearn.", "numpy.", "scipy.")
    custom = Settings.from_env({"SAGEMAKER_SKOPS_TRUSTED_TYPES": "numpy., sklearn.tree._tree.Tree"})
    assert custom.skops_trusted_types == ("numpy.", "sklearn.tree._tree.Tree")
