"""Every setting the container reads, declared once: its variable, type, default and meaning.

Each field of `Settings` names its SageMaker environment variable, how to read it and
what it does; `from_env` reads them all and the README's table is printed from the same
declarations (`python -m serving.config`), so the three cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving import cpus
from serving.config_values import (
    Parse,
    boolean,
    choice,
    code_location,
    log_level,
    names,
    number,
    output_keys,
    tcp_port,
    text,
    whole,
)

# Types a .skops file may contain without being named one by one: the libraries the
# model is made of. A prefix ends with "."; anything else must match a type exactly.
DEFAULT_SKOPS_TRUSTED = ("sklearn.", "numpy.", "scipy.")


def setting(env: str, default: Any, parse: Parse, doc: str, shown: str | None = None) -> Any:
    """A field read from `env`; `default` may be a function of nothing, for computed ones."""
    metadata = {"env": env, "parse": parse, "doc": doc, "shown": shown or f"`{default}`"}
    if callable(default):
        return dataclasses.field(default_factory=default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# The engines `serve` can run: ours (Flask under gunicorn) and AWS's multi-model-server
# through sagemaker-inference. The first is the default.
MODEL_SERVERS = ("flask", "mms")
COMPILED_MODES = ("off", "on", "require")


def _cpus() -> int:
    # The container's share (cgroup quota, affinity), not the host's: see serving.cpus.
    return cpus.usable().count


@dataclass(frozen=True)
class Settings:
    base_dir: Path = setting(
        "SAGEMAKER_BASE_DIR",
        Path("/opt/ml"),
        lambda _n, raw: Path(raw),
        "Root of the model tree; the model is in `$SAGEMAKER_BASE_DIR/model`.",
    )
    port: int = setting("SAGEMAKER_BIND_TO_PORT", 8080, tcp_port, "Port to listen on.")
    workers: int = setting(
        "SAGEMAKER_MODEL_SERVER_WORKERS",
        _cpus,
        whole(1),
        "Worker processes (each loads the model).",
        "the container's CPUs (cgroup quota, affinity)",
    )
    threads: int = setting("SAGEMAKER_MODEL_SERVER_THREADS", 32, whole(1), "Requests in flight per worker.")
    blas_threads: int | None = setting(
        "SAGEMAKER_MODEL_SERVER_BLAS_THREADS",
        None,
        whole(1),
        "BLAS and OpenMP threads per worker; `OMP_NUM_THREADS`, `OPENBLAS_NUM_THREADS` "
        "or `MKL_NUM_THREADS`, when set, stand instead.",
        "CPUs / workers, at least 1",
    )
    timeout: int = setting(
        "SAGEMAKER_MODEL_SERVER_TIMEOUT",
        60,
        whole(1),
        "Seconds: worker timeout and the longest a request waits for the model to load.",
    )
    # SageMaker sends SIGKILL 30 s after SIGTERM; finish in-flight work before that.
    graceful_timeout: int = setting(
        "SAGEMAKER_GRACEFUL_TIMEOUT", 25, whole(1), "Seconds to finish in-flight requests after `SIGTERM`."
    )
    # Longer than the idle timeout of the load balancers in front of an endpoint, so the
    # server is never the side that drops a reused connection mid-request.
    keepalive: int = setting(
        "SAGEMAKER_KEEPALIVE_TIMEOUT", 75, whole(0), "Seconds an idle keep-alive connection stays open."
    )
    max_payload_mb: int = setting(
        "SAGEMAKER_MAX_PAYLOAD_IN_MB", 6, whole(1), "Largest request body; larger bodies get 413."
    )
    default_accept: str = setting(
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT",
        "application/json",
        text,
        "Response type when `Accept` is missing or `*/*`.",
    )
    program: str | None = setting(
        "SAGEMAKER_PROGRAM",
        None,
        text,
        "Your script, in the code directory; when set, serving fails without it.",
        "`inference.py`, if there",
    )
    submit_dir: str | None = setting(
        "SAGEMAKER_SUBMIT_DIRECTORY",
        None,
        code_location,
        "The code: a directory, or a `.tar.gz` as a path, `file://` or `s3://` URL, unpacked once.",
        "`$SAGEMAKER_BASE_DIR/model/code`",
    )
    requirements_timeout: float = setting(
        "SAGEMAKER_REQUIREMENTS_TIMEOUT",
        600.0,
        number(1.0),
        "Seconds allowed for `pip install -r code/requirements.txt`.",
        "`600`",
    )
    multi_model: bool = setting(
        "SAGEMAKER_MULTI_MODEL", False, boolean, "Multi-model mode (below).", "`false`"
    )
    model_server: str = setting(
        "SAGEMAKER_MODEL_SERVER",
        MODEL_SERVERS[0],
        choice(*MODEL_SERVERS),
        "The engine: `flask` (ours) or `mms` (AWS's multi-model-server, in the `-full` image).",
    )
    batch_strategy: str = setting(
        "SAGEMAKER_BATCH_STRATEGY",
        "MULTI_RECORD",
        choice("MULTI_RECORD", "SINGLE_RECORD", upper=True),
        "The `BatchStrategy` that `/execution-parameters` reports.",
    )
    max_concurrent_transforms: int = setting(
        "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS",
        0,
        whole(0),
        "The `MaxConcurrentTransforms` that `/execution-parameters` reports; 0 means the worker count.",
    )
    log_level: str = setting(
        "SAGEMAKER_CONTAINER_LOG_LEVEL", "INFO", log_level, "A number (10, 20, ...) or a level name.", "`20`"
    )
    log_format: str = setting(
        "SAGEMAKER_LOG_FORMAT", "plain", choice("plain", "json"), "Log lines as text or JSON."
    )
    memory_headroom_mb: int | None = setting(
        "SAGEMAKER_MEMORY_HEADROOM_MB",
        None,
        whole(0),
        "Memory kept free when loading models.",
        "a tenth of the limit, at least 128",
    )
    # A model_fn that hangs must not hold /ping or the /models API forever.
    model_load_timeout: float = setting(
        "SAGEMAKER_MODEL_LOAD_TIMEOUT", 600.0, number(0.1), "Seconds a model load may take.", "`600`"
    )
    preload_model: bool = setting(
        "SAGEMAKER_PRELOAD_MODEL",
        False,
        boolean,
        "Single-model mode, our engine: load the model once before the workers start, so they "
        "share its memory; the port opens once it has loaded.",
        "`false`",
    )
    # Workers already run in parallel: a model fitted with n_jobs=-1 would start a pool
    # over every core on each request, in every worker.
    keep_model_n_jobs: bool = setting(
        "SAGEMAKER_KEEP_MODEL_N_JOBS",
        False,
        boolean,
        "Keep the model's own `n_jobs`; otherwise every `n_jobs` in it is set to 1 when it loads.",
        "`false`",
    )
    skops_trusted_types: tuple[str, ...] = setting(
        "SAGEMAKER_SKOPS_TRUSTED_TYPES",
        DEFAULT_SKOPS_TRUSTED,
        names,
        "Types a `model.skops` file may contain (comma-separated; a prefix ends with `.`).",
        f"`{','.join(DEFAULT_SKOPS_TRUSTED)}`",
    )
    batching: bool = setting(
        "SAGEMAKER_BATCHING", True, boolean, "Adaptive batching (see Performance features).", "`true`"
    )
    batch_max_rows: int = setting("SAGEMAKER_BATCH_MAX_ROWS", 512, whole(1), "The largest batch, in rows.")
    batch_max_delay_ms: float = setting(
        "SAGEMAKER_BATCH_MAX_DELAY_MS", 0.0, number(0.0), "How long a batch waits for more requests.", "`0`"
    )
    compiled_predict: str = setting(
        "SAGEMAKER_COMPILED_PREDICT",
        "off",
        choice(*COMPILED_MODES),
        "The compiled predict path (see Performance features): `on` serves a supported model "
        "with ONNX Runtime once it has matched scikit-learn within float32's tolerance, `require` "
        "also fails the load of a model that cannot be, `off` keeps scikit-learn.",
        "`off`",
    )
    compiled_check_every: int = setting(
        "SAGEMAKER_COMPILED_CHECK_EVERY",
        100,
        whole(1),
        "One compiled answer in this many is checked again by scikit-learn, in the background.",
    )
    inference_output: tuple[str, ...] = setting(
        "SAGEMAKER_INFERENCE_OUTPUT",
        (),
        output_keys,
        "What an answer holds, for example `predicted_label,probability` (see Your model, as saved).",
        "the predictions alone",
    )
    inference_supported: tuple[str, ...] = setting(
        "SAGEMAKER_INFERENCE_SUPPORTED",
        (),
        output_keys,
        "The keys `SAGEMAKER_INFERENCE_OUTPUT` may name; checked when the model loads.",
        "any the model can give",
    )
    inference_input: tuple[str, ...] = setting(
        "SAGEMAKER_INFERENCE_INPUT",
        (),
        output_keys,
        "For a `LabelEncoder` stage: the columns of the incoming CSV, in order.",
        "one encoded label per row",
    )
    # Set by `serve` before the workers start: where they share the loaded-model record
    # (small, read often: tmpfs), where unpacked archives go (large: the temp dir, never a
    # small /dev/shm), and why the code could not be fetched, if it could not.
    state_dir: Path | None = None
    scratch_dir: Path | None = None
    code_error: str | None = None

    @property
    def model_dir(self) -> Path:
        return self.base_dir / "model"

    @property
    def models_dir(self) -> Path:
        return self.base_dir / "models"

    @property
    def code_dir(self) -> Path:
        """The code directory; an archive or s3:// location is a directory once `serve` fetched it."""
        if self.submit_dir is None or self.submit_dir.startswith("s3://"):
            return self.model_dir / "code"
        return Path(self.submit_dir.removeprefix("file://"))

    @property
    def script(self) -> str:
        name = self.program or "inference.py"
        return name if name.endswith(".py") else f"{name}.py"

    @property
    def max_payload_bytes(self) -> int:
        return self.max_payload_mb * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values = {}
        for declared in variables():
            raw = env.get(declared.metadata["env"], "").strip()
            if raw:
                values[declared.name] = declared.metadata["parse"](declared.metadata["env"], raw)
        return cls(**values)


def variables() -> list[dataclasses.Field[Any]]:
    """The fields read from the environment, in declaration order."""
    return [f for f in dataclasses.fields(Settings) if "env" in f.metadata]


def markdown_table() -> str:
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for declared in variables():
        meta = declared.metadata
        rows.append(f"| `{meta['env']}` | {meta['shown']} | {meta['doc']} |")
    return "\n".join(rows)


def shared_dir() -> str | None:
    """Where this server's processes share small files: tmpfs when it is writable.

    Heartbeats and the loaded-model record are read constantly; on a slow disk
    gunicorn would take a late heartbeat for a hung worker.
    """
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


if __name__ == "__main__":
    sys.stdout.write(markdown_table() + "\n")
