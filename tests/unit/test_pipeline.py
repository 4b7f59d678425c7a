import json
from pathlib import Path

import numpy as np
import pytest

from serving.config import Settings
from serving.errors import BadRequest, ModelLoadError, NotAcceptable, UnsupportedMediaType
from serving.inference.pipeline import ModelHandler, Request
from serving.models import lifecycle
from tests.support import features, write_classifier, write_regressor


def load(model_dir: Path) -> ModelHandler:
    return lifecycle.load("m", model_dir, Settings.from_env({}))


def test_default_pipeline_matches_in_process_predict(tmp_path: Path) -> None:
    model = write_regressor(tmp_path)
    handler = load(tmp_path)
    X = features(3, seed=5)
    body = "\n".join(",".join(map(str, row)) for row in X.tolist()).encode()
    response = handler.invoke(Request(body, "text/csv; charset=utf-8", "text/csv"))
    assert response.content_type == "text/csv"
    got = [float(v) for v in response.body.decode().split("\n")]
    assert got == model.predict(X).tolist()


def test_string_labels_stay_strings(tmp_path: Path) -> None:
    write_classifier(tmp_path, ["cat", "dog", "eel"])
    response = load(tmp_path).invoke(
        Request(json.dumps(features(2).tolist()).encode(), "application/json", None)
    )
    labels = json.loads(response.body)
    assert all(label in {"cat", "dog", "eel"} for label in labels)


def test_integer_labels_stay_integers(tmp_path: Path) -> None:
    write_classifier(tmp_path, [0, 1, 2])
    response = load(tmp_path).invoke(Request(b"0.1,0.2,0.3,0.4,0.5,0.6", "text/csv", "application/json"))
    assert isinstance(json.loads(response.body)[0], int)


def test_wrong_feature_count_names_expected(tmp_path: Path) -> None:
    write_regressor(tmp_path)
    with pytest.raises(BadRequest) as err:
        load(tmp_path).invoke(Request(b"1,2,3", "text/csv", None))
    assert "must have 6 features, got 3" in err.value.message


def test_errors_for_types(tmp_path: Path) -> None:
    write_regressor(tmp_path)
    handler = load(tmp_path)
    with pytest.raises(UnsupportedMediaType):
        handler.invoke(Request(b"x", "image/png", None))
    with pytest.raises(NotAcceptable):
        handler.invoke(Request(b"1,2,3,4,5,6", "text/csv", "image/png"))


def test_user_hooks_all_four(tmp_path: Path) -> None:
    write_regressor(tmp_path)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(
        "import joblib, os, json\n"
        "def model_fn(model_dir):\n"
        "    return {'model': joblib.load(os.path.join(model_dir, 'model.joblib'))}\n"
        "def input_fn(body, content_type):\n"
        "    assert isinstance(body, str) and content_type == 'application/json'\n"
        "    return json.loads(body)['rows']\n"
        "def predict_fn(data, model, context):\n"
        "    return {'n': len(data), 'attrs': context.custom_attributes}\n"
        "def output_fn(prediction, accept):\n"
        "    return json.dumps(prediction), 'application/vnd.custom+json'\n"
    )
    handler = load(tmp_path)
    response = handler.invoke(
        Request(
            b'{"rows": [[1], [2]]}',
            "application/json; charset=utf-8",
            "application/vnd.custom+json",
            {"X-Amzn-Sagemaker-Custom-Attributes": "trace=1"},
        )
    )
    assert response.content_type == "application/vnd.custom+json"
    assert json.loads(response.body) == {"n": 2, "attrs": "trace=1"}


def test_transform_fn(tmp_path: Path) -> None:
    write_regressor(tmp_path)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(
        "def transform_fn(model, body, content_type, accept):\n"
        "    return f'{content_type}|{accept}|{len(body)}'\n"
    )
    response = load(tmp_path).invoke(Request(b"1,2", "text/csv", None))
    assert response.body == b"text/csv|application/json|3"
    assert response.content_type == "application/json"


def test_model_fn_failure_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir(parents=True)
    (tmp_path / "code" / "inference.py").write_text(
        "def model_fn(d):\n    raise RuntimeError('disk on fire')\n"
    )
    with pytest.raises(ModelLoadError) as err:
        load(tmp_path)
    assert "disk on fire" in str(err.value)


def test_predictions_are_numpy_equal_for_npy(tmp_path: Path) -> None:
    import io

    model = write_regressor(tmp_path)
    X = features(4, seed=9)
    buf = io.BytesIO()
    np.save(buf, X)
    response = load(tmp_path).invoke(Request(buf.getvalue(), "application/x-npy", "application/x-npy"))
    np.testing.assert_array_equal(np.load(io.BytesIO(response.body)), model.predict(X))


def test_hooks_see_custom_attributes_in_any_header_spelling(tmp_path: Path) -> None:
    """multi-model-server hands header names over lower-cased, Flask in the client's case."""
    write_regressor(tmp_path)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(
        "def predict_fn(data, model, context):\n"
        "    return [context.custom_attributes, context.request_headers.get('X-Trace')]\n"
    )
    handler = load(tmp_path)
    for spelling in ("x-amzn-sagemaker-custom-attributes", "X-Amzn-SageMaker-Custom-Attributes"):
        request = Request(b"1,2,3,4,5,6", "text/csv", None, {spelling: "a=1", "x-trace": "t"})
        assert json.loads(handler.invoke(request).body) == ["a=1", "t"]


def test_hooks_are_resolved_once_at_load(tmp_path: Path) -> None:
    write_regressor(tmp_path)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("def predict_fn(data, model):\n    return ['loaded']\n")
    handler = load(tmp_path)
    assert handler.user_module is not None
    handler.user_module.predict_fn = lambda data, model: ["replaced"]
    assert json.loads(handler.invoke(Request(b"1,2,3,4,5,6", "text/csv", None)).body) == ["loaded"]


def test_a_named_program_that_is_not_there_fails_the_load(tmp_path: Path) -> None:
    write_regressor(tmp_path)
    settings = Settings.from_env({"SAGEMAKER_PROGRAM": "serve_me.py"})
    with pytest.raises(ModelLoadError, match=r"SAGEMAKER_PROGRAM=serve_me\.py: there is no serve_me\.py"):
        lifecycle.load("m", tmp_path, settings)
    # Unnamed, inference.py is optional: the default model_fn serves.
    assert lifecycle.load("m", tmp_path, Settings.from_env({})).user_module is None


def test_submit_directory_as_a_local_archive_is_unpacked_once(tmp_path: Path) -> None:
    import tarfile

    from serving.models import code

    write_regressor(tmp_path / "model")
    script = tmp_path / "inference.py"
    script.write_text("def output_fn(prediction, accept):\n    return 'from the archive'\n")
    with tarfile.open(tmp_path / "sourcedir.tar.gz", "w:gz") as tar:
        tar.add(script, arcname="inference.py")
    for form in (str(tmp_path / "sourcedir.tar.gz"), f"file://{tmp_path}/sourcedir.tar.gz"):
        settings = code.prepare(Settings.from_env({"SAGEMAKER_SUBMIT_DIRECTORY": form}), tmp_path / "code")
        assert settings.code_dir == tmp_path / "code"
        handler = lifecycle.load("m", tmp_path / "model", settings)
        assert handler.invoke(Request(b"1,2,3,4,5,6", "text/csv", None)).body == b"from the archive"


def test_code_that_cannot_be_fetched_fails_every_load_with_the_reason(tmp_path: Path) -> None:
    from serving.models import code

    write_regressor(tmp_path / "model")
    missing = Settings.from_env({"SAGEMAKER_SUBMIT_DIRECTORY": str(tmp_path / "nowhere.tar.gz")})
    settings = code.prepare(missing, tmp_path / "code")
    with pytest.raises(ModelLoadError, match=r"nowhere\.tar\.gz: no such file or directory"):
        lifecycle.load("m", tmp_path / "model", settings)
