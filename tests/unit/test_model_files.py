from pathlib import Path

import joblib
import pytest

from serving.errors import ModelLoadError
from serving.model_files import default_model_fn, find_model_file


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
