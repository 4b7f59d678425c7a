"""Where the SageMaker training contract puts inputs and expects outputs.

Every environment variable the trainer reads is read here, so tests (and local runs) can move the
whole tree with one variable: SAGEMAKER_BASE_DIR, as sagemaker-training-toolkit does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_DIR = "/opt/ml"


@dataclass(frozen=True)
class TrainingPaths:
    base_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TrainingPaths:
        env = os.environ if env is None else env
        # An empty value counts as unset: `-e SAGEMAKER_BASE_DIR=` should not mean the cwd.
        return cls(Path(env.get("SAGEMAKER_BASE_DIR") or DEFAULT_BASE_DIR))

    @property
    def config_dir(self) -> Path:
        return self.base_dir / "input" / "config"

    @property
    def hyperparameters_file(self) -> Path:
        return self.config_dir / "hyperparameters.json"

    @property
    def input_data_config_file(self) -> Path:
        # Optional: local runs and hand-made trees often have only the data directories.
        return self.config_dir / "inputdataconfig.json"

    @property
    def code_dir(self) -> Path:
        # Where the user's script is put and run; the image leaves it empty.
        return self.base_dir / "code"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "input" / "data"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    @property
    def model_dir(self) -> Path:
        return self.base_dir / "model"

    @property
    def output_dir(self) -> Path:
        return self.base_dir / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def success_file(self) -> Path:
        return self.output_dir / "success"
