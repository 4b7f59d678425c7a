"""Errors, and how any failure becomes the single line the command prints."""

from __future__ import annotations

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError


class DeployError(Exception):
    """A failure this package detected itself (bad input, a resource in a failed state)."""


# SageMaker reports a missing resource as a ValidationException whose message says
# "Could not find ..."; the other services have proper codes.
_NOT_FOUND_CODES = {"ObjectNotFoundException", "ResourceNotFound", "NoSuchKey", "NoSuchBucket", "404"}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def is_not_found(exc: ClientError) -> bool:
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    code = error_code(exc)
    return code in _NOT_FOUND_CODES or (code == "ValidationException" and "could not find" in message)


def one_line(exc: BaseException) -> str:
    """`CODE: message` on one line, for any error the commands can meet."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        text = f"{error_code(exc)}: {error.get('Message') or exc}"
    elif isinstance(exc, DeployError):
        text = str(exc)
    elif isinstance(exc, BotoCoreError | Boto3Error):
        text = f"{type(exc).__name__}: {exc}"
    elif isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        text = f"{type(exc).__name__}: {exc}"
    # AWS messages sometimes carry newlines; the user gets one line.
    return " ".join(text.split())
