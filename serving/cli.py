"""The `serve` command SageMaker runs: `docker run IMAGE serve`."""

from __future__ import annotations

import sys

from serving import logs
from serving.config import Settings
from serving.config_values import ConfigError


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    if settings.model_server == "mms":
        from serving.mms import engine

        return engine.run(settings)
    from serving.web.server import run

    run(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
