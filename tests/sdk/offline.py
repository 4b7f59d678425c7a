"""What the SageMaker SDK v2 needs to run local mode with nothing leaving the machine.

* An SDK config file with `SageMaker.PythonSDK.Modules.TelemetryOptOut: true`, named by both
  `SAGEMAKER_ADMIN_CONFIG_OVERRIDE` and `SAGEMAKER_USER_CONFIG_OVERRIDE` (so no machine-wide or
  home config is read). Without it every decorated call (fit, deploy, transform, ...) runs STS
  `GetCallerIdentity` and an HTTPS GET to an S3-hosted telemetry URL, both with no timeout.
* A region (`AWS_DEFAULT_REGION`): `LocalSession` refuses to start without one.
* Dummy *long-lived* credentials and `AWS_EC2_METADATA_DISABLED=true`: when the session has a
  session token, local mode asks the EC2 instance metadata service (169.254.169.254) whether it
  has credentials of its own before it passes the session's to the container.
* `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE` pointed at absent files, no `AWS_PROFILE`:
  a developer's own AWS configuration (profiles, endpoints, credential processes) stays out.
* `SAGEMAKER_SUPPRESS_V2_WARNING=1`, read when `sagemaker` is imported.

`OutboundGuard` proves it: while a test runs, every connection or name lookup from this process
to anything but loopback is refused and recorded, and the test fails if there was any.
"""

from __future__ import annotations

import ipaddress
import socket
import traceback
from pathlib import Path

import pytest

from harness.moto import AWS_ENV

TELEMETRY_OPT_OUT_CONFIG = """\
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""


def write_sdk_config(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.yaml"
    path.write_text(TELEMETRY_OPT_OUT_CONFIG, encoding="utf-8")
    return path


def sdk_environment(config_file: Path, aws_dir: Path) -> dict[str, str | None]:
    """Variables to set (a value) or remove (None) for an offline local-mode session."""
    return {
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
        "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": str(config_file),
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config_file),
        "AWS_ACCESS_KEY_ID": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": AWS_ENV["AWS_DEFAULT_REGION"],
        "AWS_REGION": AWS_ENV["AWS_REGION"],
        "AWS_SESSION_TOKEN": None,
        "AWS_SECURITY_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
        "AWS_ENDPOINT_URL": None,
        "AWS_ENDPOINT_URL_S3": None,
        "USE_SHORT_LIVED_CREDENTIALS": None,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(aws_dir / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws_dir / "credentials"),
    }


def apply_environment(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str | None]) -> None:
    for name, value in variables.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def _is_local(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%", 1)[0]
    if host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _caller() -> str:
    """Where a refused call came from: the SDK, boto3 or test frames, innermost first."""
    frames = traceback.extract_stack()[:-3]
    ours = [f for f in frames if any(part in f.filename for part in ("/sagemaker/", "/boto3/", "/tests/"))]
    shown = ours[-6:] or frames[-6:]
    return " <- ".join(f"{f.filename.rsplit('site-packages/', 1)[-1]}:{f.lineno}" for f in reversed(shown))


class OutboundGuard:
    """Refuses and records connections and name lookups from this process that leave the machine."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo
        guard = self

        def check(family: int, address: object) -> None:
            if family == getattr(socket, "AF_UNIX", None):
                return
            host = address[0] if isinstance(address, tuple) else address
            if not _is_local(host):
                guard.attempts.append(f"connect {address!r} from {_caller()}")
                raise ConnectionRefusedError(f"offline test: connection to {address!r} refused")

        def connect(sock: socket.socket, address: object) -> None:
            check(sock.family, address)
            return real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: object) -> int:
            check(sock.family, address)
            return real_connect_ex(sock, address)

        def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
            if not _is_local(host):
                guard.attempts.append(f"resolve {host!r} from {_caller()}")
                raise socket.gaierror(socket.EAI_NONAME, f"offline test: lookup of {host!r} refused")
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
