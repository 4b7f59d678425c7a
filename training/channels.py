"""Which input channels a job has and which files in them hold training data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.errors import ClientError
from training.log import say
from training.paths import TrainingPaths

TRAIN = "train"
VALIDATION = "validation"
USED_CHANNELS = (TRAIN, VALIDATION)
# "csv" is what the SDK examples pass as content_type; the others are its proper spellings.
CSV_CONTENT_TYPES = {"text/csv", "csv", "application/csv"}


@dataclass(frozen=True)
class Channel:
    name: str
    directory: Path
    files: tuple[Path, ...]


def read_input_data_config(paths: TrainingPaths) -> dict[str, dict[str, Any]] | None:
    """The job's channel settings, or None when the file is absent (hand-made trees)."""
    path = paths.input_data_config_file
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClientError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ClientError(f"{path} must map each channel name to an object of its settings")
    return data


def _check_settings(name: str, settings: dict[str, Any]) -> None:
    mode = settings.get("TrainingInputMode", "File")
    if mode not in ("File", "FastFile"):
        raise ClientError(
            f"channel {name} uses TrainingInputMode {mode}; this trainer reads files, use File or FastFile"
        )
    content_type = settings.get("ContentType")
    if content_type and str(content_type).split(";")[0].strip().lower() not in CSV_CONTENT_TYPES:
        raise ClientError(f"channel {name} has ContentType {content_type}; this trainer reads text/csv")


def _csv_files(name: str, directory: Path) -> tuple[Path, ...]:
    # Recursive: an S3 prefix with sub-"folders" arrives as nested directories. Hidden files
    # (editor and macOS leftovers) are not data.
    found = sorted(
        path
        for path in directory.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )
    csvs = tuple(path for path in found if path.suffix.lower() == ".csv")
    if not csvs:
        others = ", ".join(str(p.relative_to(directory)) for p in found[:5]) or "nothing"
        raise ClientError(
            f"channel {name} has no *.csv files in {directory} (found: {others}); "
            "give it CSV files with the label in the first column and no header"
        )
    if len(csvs) < len(found):
        say(f"channel {name}: ignoring {len(found) - len(csvs)} file(s) not named *.csv")
    return csvs


def find_channels(paths: TrainingPaths) -> dict[str, Channel]:
    """The train channel (required) and the validation channel (if the job has one)."""
    config = read_input_data_config(paths)
    if config is not None and TRAIN not in config:
        declared = ", ".join(sorted(config)) or "none"
        raise ClientError(
            f"the job has no '{TRAIN}' channel (its channels: {declared}); "
            f"pass the training data as channel '{TRAIN}'"
        )
    present = {p.name for p in paths.data_dir.iterdir() if p.is_dir()} if paths.data_dir.is_dir() else set()
    ignored = sorted((set(config or {}) | present) - set(USED_CHANNELS))
    if ignored:
        say(f"ignoring channel(s) this trainer does not use: {', '.join(ignored)}")

    channels: dict[str, Channel] = {}
    for name in USED_CHANNELS:
        directory = paths.channel_dir(name)
        settings = (config or {}).get(name)
        if settings is not None:
            _check_settings(name, settings)
        if not directory.is_dir():
            if name == TRAIN:
                raise ClientError(f"missing required channel '{TRAIN}': {directory} does not exist")
            if settings is not None:
                raise ClientError(f"channel {name} is declared in the job but {directory} does not exist")
            continue
        channels[name] = Channel(name, directory, _csv_files(name, directory))
    return channels
