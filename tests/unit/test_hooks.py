from pathlib import Path

import pytest

from serving.errors import ModelLoadError
from serving.inference.hooks import adapt, load_module, user_hooks


def write(code_dir: Path, text: str, name: str = "inference.py") -> Path:
    code_dir.mkdir(parents=True, exist_ok=True)
    path = code_dir / name
    path.write_text(text)
    return path


def test_no_script_means_no_hooks(tmp_path: Path) -> None:
    assert load_module(tmp_path, "inference.py") is None
    assert user_hooks(None) == {}


def test_hooks_with_and_without_context(tmp_path: Path) -> None:
    write(
        tmp_path,
        "def input_fn(body, content_type):\n    return ('in', body)\n"
        "def predict_fn(data, model, context):\n    return ('pred', context)\n",
    )
    hooks = user_hooks(load_module(tmp_path, "inference.py"))
    assert set(hooks) == {"input_fn", "predict_fn"}
    assert hooks["input_fn"](b"x", "text/csv", "CTX") == ("in", b"x")
    assert hooks["predict_fn"](1, 2, "CTX") == ("pred", "CTX")


def test_helper_modules_next_to_the_script_import(tmp_path: Path) -> None:
    write(tmp_path, "VALUE = 41\n", name="helper_mod_for_test.py")
    write(
        tmp_path, "import helper_mod_for_test\ndef model_fn(d):\n    return helper_mod_for_test.VALUE + 1\n"
    )
    hooks = user_hooks(load_module(tmp_path, "inference.py"))
    assert hooks["model_fn"]("dir", None) == 42


def test_transform_fn_with_other_hooks_is_refused(tmp_path: Path) -> None:
    write(
        tmp_path,
        "def transform_fn(model, body, ct, accept):\n    return b''\n"
        "def input_fn(body, ct):\n    return body\n",
        name="clash.py",
    )
    with pytest.raises(ModelLoadError) as err:
        user_hooks(load_module(tmp_path, "clash.py"))
    assert "transform_fn" in str(err.value) and "input_fn" in str(err.value)


def test_wrong_arity_is_refused() -> None:
    with pytest.raises(ModelLoadError) as err:
        adapt(lambda a, b, c, d: None, "predict_fn")
    assert "predict_fn takes 4 arguments" in str(err.value)


def test_import_error_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "import module_that_is_not_installed\n", name="broken.py")
    with pytest.raises(ModelLoadError) as err:
        load_module(tmp_path, "broken.py")
    assert "ModuleNotFoundError" in str(err.value)
