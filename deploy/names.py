"""SageMaker resource names: checked before any call, generated when not given."""

from __future__ import annotations

import re
import time

from deploy.errors import DeployError

# Endpoint, endpoint config, model and transform job names share this rule.
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def check(name: str, what: str = "name") -> str:
    if not _NAME.match(name):
        raise DeployError(
            f"invalid {what} {name!r}: up to 63 letters, digits and hyphens, "
            "starting and ending with a letter or digit"
        )
    return name


def timestamped(base: str) -> str:
    """`base-YYYYmmdd-HHMMSS`, cut so the whole name stays within 63 characters."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return check(f"{base[: 62 - len(stamp)].rstrip('-')}-{stamp}")
