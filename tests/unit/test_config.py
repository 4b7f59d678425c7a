from pathlib import Path

import pytest

from serving.config import Settings
from serving.config_values import ConfigError


def test_defaults_follow_sagemaker() -> None:
    s = Settings.from_env({})
    assert s.port == 8080
    assert s.model_dir == Path("/opt/ml/model")
    assert s.models_dir == Path("/opt/ml/models")
    assert s.code_dir == Path("/opt/ml/model/code")
    assert s.timeout == 60
    assert s.max_payload_bytes == 6 * 1024 * 1024
    assert s.default_accept == "application/json"
    assert s.program is None and s.script == "inference.py"
    assert s.workers >= 1
    assert s.multi_model is False


def test_environment_overrides() -> None:
    s = Settings.from_env(
        {
            "SAGEMAKER_BIND_TO_PORT": "9000",
            "SAGEMAKER_BASE_DIR": "/srv/ml",
            "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "120",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20",
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
            "SAGEMAKER_PROGRAM": "handler.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": "file:///srv/code",
            "SAGEMAKER_MULTI_MODEL": "true",
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "10",
        }
    )
    assert s.port == 9000
    assert s.model_dir == Path("/srv/ml/model")
    assert s.workers == 3
    assert s.timeout == 120
    assert s.max_payload_bytes == 20 * 1024 * 1024
    assert s.default_accept == "text/csv"
    assert s.program == "handler.py"
    assert s.code_dir == Path("/srv/code")
    assert s.multi_model is True
    assert s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("SAGEMAKER_BIND_TO_PORT", "http", "whole number"),
        ("SAGEMAKER_BIND_TO_PORT", "70000", "not a TCP port"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "0", "at least 1"),
        ("SAGEMAKER_MULTI_MODEL", "maybe", "true or false"),
        ("SAGEMAKER_SUBMIT_DIRECTORY", "ftp://host/code.tar.gz", "must be an s3:// URL, a file:// URL"),
        ("SAGEMAKER_BATCH_STRATEGY", "ALL", "MULTI_RECORD or SINGLE_RECORD"),
        ("SAGEMAKER_CONTAINER_LOG_LEVEL", "LOUD", "not a log level"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({name: value})
    assert name in str(err.value)
    assert words in str(err.value)


def test_the_readme_table_is_the_declarations() -> None:
    from pathlib import Path

    from serving.config import markdown_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme


def test_every_setting_is_read_from_its_variable() -> None:
    from serving.config import variables

    read = Settings.from_env({f.metadata["env"]: "" for f in variables()})
    assert read == Settings.from_env({})
    assert len({f.metadata["env"] for f in variables()}) == len(variables())
    # A setting nothing reads would be a setting users set for nothing.
    assert "SAGEMAKER_BATCH" not in {f.metadata["env"] for f in variables()}
