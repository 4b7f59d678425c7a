"""Reading one environment variable's value: numbers, switches, choices, names, locations.

Each reader takes the variable's name and its raw text and returns the value or raises
ConfigError naming the variable, so a bad value stops `serve` with a message that says
which one and why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ConfigError(ValueError):
    """An environment variable has a value the server cannot use."""


Parse = Callable[[str, str], Any]  # (variable, raw value) -> value


def _at_least(convert: Callable[[str], float], noun: str) -> Callable[[float], Parse]:
    def bounded(minimum: float = 0) -> Parse:
        def parse(name: str, raw: str) -> Any:
            try:
                value = convert(raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r} is not {noun}") from None
            if value < minimum:
                raise ConfigError(f"{name}={value} must be at least {minimum}")
            return value

        return parse

    return bounded


whole = _at_least(int, "a whole number")
number = _at_least(float, "a number")


def tcp_port(name: str, raw: str) -> int:
    value = whole(1)(name, raw)
    if value > 65535:
        raise ConfigError(f"{name}={value} is not a TCP port")
    return value


def boolean(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not true or false")


def choice(*options: str, upper: bool = False) -> Parse:
    def parse(name: str, raw: str) -> str:
        value = raw.upper() if upper else raw.lower()
        if value not in options:
            listed = " or ".join(options) if len(options) == 2 else f"one of: {', '.join(options)}"
            raise ConfigError(f"{name}={value!r} must be {listed}")
        return value

    return parse


def names(_name: str, raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


# AWS's names for what an answer holds (Autopilot's containers read the same variables).
OUTPUT_KEYS = ("predicted_label", "probability", "probabilities", "labels")


def output_keys(name: str, raw: str) -> tuple[str, ...]:
    # The guides write "predicted_label, probability": spaces and case do not count.
    keys = tuple(key.strip().lower() for key in raw.split(",") if key.strip())
    unknown = [key for key in keys if key not in OUTPUT_KEYS]
    if unknown:
        raise ConfigError(f"{name} names {', '.join(unknown)}; the keys are {', '.join(OUTPUT_KEYS)}")
    return keys


def text(_name: str, raw: str) -> str:
    return raw


def code_location(name: str, raw: str) -> str:
    # The forms AWS's toolkit takes: an s3:// archive, a file:// URL or a plain path, each to
    # a directory or a .tar.gz (the SDK's local mode passes file://, SageMaker s3://).
    if "://" in raw and not raw.startswith(("s3://", "file://")):
        raise ConfigError(f"{name}={raw!r} must be an s3:// URL, a file:// URL or a path")
    return raw


LOG_LEVELS = {"10": "DEBUG", "20": "INFO", "30": "WARNING", "40": "ERROR", "50": "CRITICAL"}


def log_level(name: str, raw: str) -> str:
    # The toolkits document numeric levels (20 = INFO); accept names too.
    raw = raw.upper()
    if raw in LOG_LEVELS:
        return LOG_LEVELS[raw]
    if raw in LOG_LEVELS.values():
        return raw
    raise ConfigError(f"{name}={raw!r} is not a log level")
