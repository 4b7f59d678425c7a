"""The `serve` command SageMaker runs: `docker run IMAGE serve`."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile

from serving import blas, cpus, logs
from serving.config import Settings
from serving.config_values import ConfigError


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    try:
        # Everything serve writes goes under the temp dir (or /dev/shm): a read-only root
        # filesystem is fine, as long as there is one writable place.
        tempfile.gettempdir()
    except FileNotFoundError:
        print(
            "serve: no writable temporary directory; give the container one, e.g. "
            "docker run --read-only --tmpfs /tmp (or set TMPDIR to a writable path)",
            file=sys.stderr,
        )
        return 2
    threads = blas.per_worker(cpus.usable(), settings.workers, settings.blas_threads, os.environ)
    # Here, before either engine imports numpy or scikit-learn: they read it when loaded.
    blas.export(threads)
    if settings.model_server == "mms":
        missing = mms_missing()
        if missing:
            print(
                f"serve: SAGEMAKER_MODEL_SERVER=mms needs {missing}, which this image leaves out; "
                "run the full image (the -full tag that container/build-image.sh builds, e.g. "
                "sklearn-sagemaker:latest-full), or unset SAGEMAKER_MODEL_SERVER to serve with this one",
                file=sys.stderr,
            )
            return 2
        from serving.mms import engine

        return engine.run(settings, threads)
    from serving.web.server import run

    run(settings, threads)
    return 0


def mms_missing() -> str:
    """What the multi-model-server engine needs and this install lacks ('' when nothing)."""
    missing = [name for name in ("sagemaker_inference", "mms") if importlib.util.find_spec(name) is None]
    if shutil.which("java") is None:
        missing.append("java")
    return ", ".join(missing)


if __name__ == "__main__":
    sys.exit(main())
