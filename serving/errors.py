"""Errors that become HTTP responses: each knows its status and says what was wrong."""

from __future__ import annotations


class InferenceError(Exception):
    """Base class: a failure with an HTTP status and a message meant for the caller."""

    status = 500
    error = "InternalServerError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(InferenceError):
    status = 400
    error = "BadRequest"


class NotFound(InferenceError):
    status = 404
    error = "NotFound"


class NotAcceptable(InferenceError):
    status = 406
    error = "NotAcceptable"


class Conflict(InferenceError):
    status = 409
    error = "Conflict"


class PayloadTooLarge(InferenceError):
    status = 413
    error = "PayloadTooLarge"


class UnsupportedMediaType(InferenceError):
    status = 415
    error = "UnsupportedMediaType"


class ModelNotReady(InferenceError):
    status = 503
    error = "ModelNotReady"


class ModelLoadTimeout(InferenceError):
    status = 500
    error = "ModelLoadTimeout"


class InsufficientMemory(InferenceError):
    status = 507
    error = "InsufficientMemory"


class ModelLoadError(Exception):
    """The model or the user's code could not be loaded; the message says why."""


def status_of(exc: BaseException) -> int:
    """The HTTP status for an exception raised by user code.

    Handlers written for AWS's toolkit raise errors carrying a ``status_code``;
    honour it so such code keeps its meaning here.
    """
    if isinstance(exc, InferenceError):
        return exc.status
    code = getattr(exc, "status_code", None)
    if isinstance(code, int) and 400 <= code <= 599:
        return code
    return 500
