"""The `serve` command SageMaker runs: `docker run IMAGE serve`."""

from __future__ import annotations

import logging
import sys

from serving.config import ConfigError, Settings


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
        stream=sys.stdout,
    )


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    if settings.model_server == "mms":
        from serving import mms_engine

        return mms_engine.run(settings)
    from serving.server import run

    run(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
