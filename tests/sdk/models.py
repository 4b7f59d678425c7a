"""Housing models trained in-process, packaged as SageMaker model archives, and their inputs."""

from __future__ import annotations

import tarfile
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import RandomForestRegressor

from training.housing import COLUMN_FORMATS, generate


def train_city(location: str, rows: int = 400, trees: int = 10) -> RandomForestRegressor:
    data = generate(location, rows)
    return RandomForestRegressor(n_estimators=trees, min_samples_leaf=3, random_state=0).fit(
        data[:, 1:], data[:, 0]
    )


def package(model: object, folder: Path, name: str = "model.tar.gz") -> Path:
    """`folder/name` with model.joblib at its root. Local mode extracts an archive next to
    itself and mounts that folder, so give each archive a folder of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    joblib_path = folder.parent / f".{folder.name}-model.joblib"
    joblib.dump(model, joblib_path)
    archive = folder / name
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(joblib_path, arcname="model.joblib")
    joblib_path.unlink()
    return archive


def houses_csv(rows: int, seed: int = 99) -> tuple[str, np.ndarray]:
    """Headerless CSV of `rows` houses (features only, as the notebook formats them), and the
    same numbers parsed back, for in-process predictions on exactly what was sent."""
    features = generate("Chicago_IL", rows, seed=seed)[:, 1:]
    lines = [
        ",".join(fmt.format(value) for fmt, value in zip(COLUMN_FORMATS[1:], row, strict=True))
        for row in features
    ]
    text = "".join(f"{line}\n" for line in lines)
    parsed = np.array([[float(v) for v in line.split(",")] for line in lines])
    return text, parsed
