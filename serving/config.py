"""Every setting the container reads, from the SageMaker environment variables, in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from serving.model_files import DEFAULT_SKOPS_TRUSTED


class ConfigError(ValueError):
    """An environment variable has a value the server cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def _optional_int(env: Mapping[str, str], name: str) -> int | None:
    return _int(env, name, 0) if env.get(name, "").strip() else None


def _names(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not true or false")


def _local_path(raw: str) -> Path:
    # The SDK's local mode passes file:// URLs; SageMaker passes plain paths.
    if raw.startswith("file://"):
        raw = raw[len("file://") :]
    if "://" in raw:
        raise ConfigError(
            f"SAGEMAKER_SUBMIT_DIRECTORY={raw!r}: only local directories are supported; "
            "package the code as code/ inside model.tar.gz instead"
        )
    return Path(raw)


@dataclass(frozen=True)
class Settings:
    base_dir: Path
    port: int
    workers: int
    threads: int
    timeout: int
    graceful_timeout: int
    keepalive: int
    max_payload_mb: int
    default_accept: str
    program: str
    submit_dir: Path | None
    multi_model: bool
    batch: bool
    batch_strategy: str
    max_concurrent_transforms: int
    log_level: str
    log_format: str
    requirements_timeout: float
    model_server: str
    memory_headroom_mb: int | None
    batching: bool
    model_load_timeout: float
    skops_trusted_types: tuple[str, ...]
    batch_max_rows: int
    batch_max_delay_ms: float
    # Set by `serve` before the workers start: where they share the loaded-model record
    # and unpacked archives.
    state_dir: Path | None = None

    @property
    def model_dir(self) -> Path:
        return self.base_dir / "model"

    @property
    def models_dir(self) -> Path:
        return self.base_dir / "models"

    @property
    def code_dir(self) -> Path:
        return self.submit_dir if self.submit_dir is not None else self.model_dir / "code"

    @property
    def max_payload_bytes(self) -> int:
        return self.max_payload_mb * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        submit = env.get("SAGEMAKER_SUBMIT_DIRECTORY", "").strip()
        strategy = env.get("SAGEMAKER_BATCH_STRATEGY", "").strip().upper() or "MULTI_RECORD"
        if strategy not in ("MULTI_RECORD", "SINGLE_RECORD"):
            raise ConfigError(f"SAGEMAKER_BATCH_STRATEGY={strategy!r} must be MULTI_RECORD or SINGLE_RECORD")
        port = _int(env, "SAGEMAKER_BIND_TO_PORT", 8080, minimum=1)
        if port > 65535:
            raise ConfigError(f"SAGEMAKER_BIND_TO_PORT={port} is not a TCP port")
        return cls(
            base_dir=Path(env.get("SAGEMAKER_BASE_DIR", "").strip() or "/opt/ml"),
            port=port,
            workers=_int(env, "SAGEMAKER_MODEL_SERVER_WORKERS", os.cpu_count() or 1, minimum=1),
            threads=_int(env, "SAGEMAKER_MODEL_SERVER_THREADS", 32, minimum=1),
            timeout=_int(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", 60, minimum=1),
            # SageMaker sends SIGKILL 30 s after SIGTERM; finish in-flight work before that.
            graceful_timeout=_int(env, "SAGEMAKER_GRACEFUL_TIMEOUT", 25, minimum=1),
            # Longer than the idle timeout of the load balancers in front of an endpoint,
            # so the server is never the side that drops a reused connection mid-request.
            keepalive=_int(env, "SAGEMAKER_KEEPALIVE_TIMEOUT", 75, minimum=0),
            max_payload_mb=_int(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", 6, minimum=1),
            default_accept=env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "").strip() or "application/json",
            program=env.get("SAGEMAKER_PROGRAM", "").strip() or "inference.py",
            submit_dir=_local_path(submit) if submit else None,
            multi_model=_bool(env, "SAGEMAKER_MULTI_MODEL", False),
            batch=_bool(env, "SAGEMAKER_BATCH", False),
            batch_strategy=strategy,
            max_concurrent_transforms=_int(env, "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", 0),
            log_level=_log_level(env.get("SAGEMAKER_CONTAINER_LOG_LEVEL", "")),
            log_format=_choice(env, "SAGEMAKER_LOG_FORMAT", ("plain", "json")),
            requirements_timeout=_float(env, "SAGEMAKER_REQUIREMENTS_TIMEOUT", 600.0, minimum=1.0),
            model_server=_choice(env, "SAGEMAKER_MODEL_SERVER", MODEL_SERVERS),
            memory_headroom_mb=_optional_int(env, "SAGEMAKER_MEMORY_HEADROOM_MB"),
            batching=_bool(env, "SAGEMAKER_BATCHING", True),
            # A model_fn that hangs must not hold /ping or the /models API forever.
            model_load_timeout=_float(env, "SAGEMAKER_MODEL_LOAD_TIMEOUT", 600.0, minimum=0.1),
            skops_trusted_types=_names(env, "SAGEMAKER_SKOPS_TRUSTED_TYPES", DEFAULT_SKOPS_TRUSTED),
            batch_max_rows=_int(env, "SAGEMAKER_BATCH_MAX_ROWS", 512, minimum=1),
            batch_max_delay_ms=_float(env, "SAGEMAKER_BATCH_MAX_DELAY_MS", 0.0),
        )


# The engines `serve` can run: ours (Flask under gunicorn) and AWS's multi-model-server
# through sagemaker-inference. The first is the default.
MODEL_SERVERS = ("flask", "mms")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return choices[0]
    if raw not in choices:
        raise ConfigError(f"{name}={raw!r} must be one of: {', '.join(choices)}")
    return raw


def _log_level(raw: str) -> str:
    # The toolkits document numeric levels (20 = INFO); accept names too.
    raw = raw.strip().upper()
    if not raw:
        return "INFO"
    names = {"10": "DEBUG", "20": "INFO", "30": "WARNING", "40": "ERROR", "50": "CRITICAL"}
    if raw in names:
        return names[raw]
    if raw in names.values():
        return raw
    raise ConfigError(f"SAGEMAKER_CONTAINER_LOG_LEVEL={raw!r} is not a log level")
