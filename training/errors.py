"""The one error type that separates the caller's mistakes from the trainer's own."""

from __future__ import annotations


class ClientError(Exception):
    """Bad hyperparameters, channels or data: something the caller can fix (exit code 1).

    The message is the first line of output/failure, which SageMaker shows as FailureReason,
    so it must say what is wrong and where, on one line, without a traceback.
    """
