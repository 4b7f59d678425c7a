"""The container-wide code (SAGEMAKER_SUBMIT_DIRECTORY), fetched once before the workers start.

A directory is used where it is; an archive, local or on S3, is unpacked once into the
server's own directory, and every worker (of either engine) imports from there. When
the code cannot be fetched, `serve` still starts: every load that needs the code fails
with the reason, so /ping (or the /models API) says what went wrong.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from serving.config import Settings
from usercode.fetch import CodeError, code_dir

log = logging.getLogger(__name__)

# How `serve` hands the outcome to processes that read their settings afresh (the MMS engine's).
ERROR_ENV = "SAGEMAKER_SUBMIT_DIRECTORY_ERROR"


def prepare(settings: Settings, scratch: Path) -> Settings:
    if settings.submit_dir is None:
        return settings
    try:
        local = code_dir(settings.submit_dir, scratch)
    except CodeError as exc:
        log.error("cannot use SAGEMAKER_SUBMIT_DIRECTORY: %s", exc)
        return dataclasses.replace(settings, code_error=f"SAGEMAKER_SUBMIT_DIRECTORY: {exc}")
    if str(local) != settings.submit_dir:
        log.info("code from %s unpacked into %s", settings.submit_dir, local)
    return dataclasses.replace(settings, submit_dir=str(local))


def exported(settings: Settings) -> dict[str, str]:
    """The prepared code as environment variables, for processes that read Settings.from_env."""
    if settings.code_error is not None:
        return {ERROR_ENV: settings.code_error}
    return {"SAGEMAKER_SUBMIT_DIRECTORY": settings.submit_dir} if settings.submit_dir else {}


def from_env(settings: Settings) -> Settings:
    error = os.environ.get(ERROR_ENV)
    return dataclasses.replace(settings, code_error=error) if error else settings
