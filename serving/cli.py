"""The `serve` command SageMaker runs: `docker run IMAGE serve`."""

from __future__ import annotations

import os
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
        from serving.mms import engine

        return engine.run(settings, threads)
    from serving.web.server import run

    run(settings, threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
