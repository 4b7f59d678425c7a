"""Errors that become HTTP responses: each knows its status and says what was wrong."""

from __future__ import annotations

from typing import ClassVar


class InferenceError(Exception):
    """Base class: a failure with an HTTP status and a message meant for the caller."""

    status: ClassVar[int] = 500
    error: ClassVar[str] = "InternalServerError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(InferenceError):
    """The request cannot be decoded, or the model refused what it holds."""

    status, error = 400, "BadRequest"


class NotFound(InferenceError):
    """No model, route or file by that name."""

    status, error = 404, "NotFound"


class NotAcceptable(InferenceError):
    """No type the caller accepts can be produced."""

    status, error = 406, "NotAcceptable"


class Conflict(InferenceError):
    """A model by that name is loaded already."""

    status, error = 409, "Conflict"


class PayloadTooLarge(InferenceError):
    """The body is over SAGEMAKER_MAX_PAYLOAD_IN_MB."""

    status, error = 413, "PayloadTooLarge"

    @classmethod
    def over(cls, limit: int) -> PayloadTooLarge:
        return cls(f"the request body is larger than {limit} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB)")


class UnsupportedMediaType(InferenceError):
    """No decoder for the Content-Type, or an unknown charset."""

    status, error = 415, "UnsupportedMediaType"


class ModelNotReady(InferenceError):
    """The model is still loading."""

    status, error = 503, "ModelNotReady"


class ModelLoadFailed(ModelNotReady):
    """Loading the model failed; /ping says why until the container is replaced."""

    status, error = 503, "ModelLoadFailed"


class ModelLoadTimeout(InferenceError):
    """A load outlived SAGEMAKER_MODEL_LOAD_TIMEOUT."""

    status, error = 500, "ModelLoadTimeout"


class InsufficientMemory(InferenceError):
    """A model would not fit in the memory budget; SageMaker unloads others on 507."""

    status, error = 507, "InsufficientMemory"


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


def describe(exc: BaseException) -> tuple[int, str, str]:
    """(status, error name, message) of any exception, the same for both engines.

    A user's exception keeps its status; it is named for the side at fault: the
    caller's request (4xx) or the model (5xx).
    """
    if isinstance(exc, InferenceError):
        return exc.status, exc.error, exc.message
    status = status_of(exc)
    return status, "BadRequest" if status < 500 else "ModelError", f"{type(exc).__name__}: {exc}"
