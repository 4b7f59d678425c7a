"""What a user's training script is given: its argv and the SM_* environment, as AWS's toolkit gives them.

Hyperparameters arrive as strings, JSON-encoded by the SDK; each is decoded (the raw
string kept when it is not JSON), the `sagemaker_*` keys are taken out, and the rest
become `--key value` pairs sorted by key, keys verbatim (`n-estimators` stays
`--n-estimators`). The SM_* variables name every directory of the job and repeat the
hyperparameters, each value a plain string or compact JSON.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from training.hyperparameters import decode
from training.paths import TrainingPaths

# The keys SageMaker and the SDK add, which are the toolkit's and not the script's.
TOOLKIT_KEYS = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "sagemaker_region",
    "sagemaker_s3_output",
    "_tuning_objective_metric",
    "default_user_module_name",
)


def user_hyperparameters(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: decode(value)
        for key, value in raw.items()
        if not key.startswith("sagemaker_") and key not in TOOLKIT_KEYS
    }


def framework_parameters(raw: Mapping[str, Any]) -> dict[str, Any]:
    extra = [key for key in raw if key.startswith("sagemaker_") and key not in TOOLKIT_KEYS]
    return {key: decode(raw[key]) for key in extra}


def _argument(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ",".join(f"{key}={item}" for key, item in sorted(value.items()))
    return str(value)


def command_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    args: list[str] = []
    for key in sorted(hyperparameters):
        args += [f"-{key}" if len(key) == 1 else f"--{key}", _argument(hyperparameters[key])]
    return args


def env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _config(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _gpus() -> int:
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return 0
    listed = subprocess.run(["nvidia-smi", "--list-gpus"], capture_output=True, text=True, check=False)
    return sum(line.startswith("GPU ") for line in listed.stdout.splitlines())


def environment(
    paths: TrainingPaths, raw: Mapping[str, Any], program: str, module_dir: str, env: Mapping[str, str]
) -> dict[str, str]:
    """The SM_* variables of the job, and the few others the toolkit sets."""
    resource = _config(paths.config_dir / "resourceconfig.json")
    data_config = _config(paths.input_data_config_file)
    channels = sorted(data_config) or sorted(p.name for p in paths.data_dir.glob("*") if p.is_dir())
    hosts = resource.get("hosts") or ["algo-1"]
    current = resource.get("current_host") or hosts[0]
    hps = user_hyperparameters(raw)
    args = command_args(hps)
    job_name = str(decode(raw.get("sagemaker_job_name", env.get("TRAINING_JOB_NAME", ""))))
    values: dict[str, Any] = {
        "model_dir": str(paths.model_dir),
        "input_dir": str(paths.base_dir / "input"),
        "input_config_dir": str(paths.config_dir),
        "output_dir": str(paths.output_dir),
        "output_data_dir": str(paths.output_data_dir),
        "output_intermediate_dir": str(paths.output_dir / "intermediate"),
        "channels": channels,
        "hps": hps,
        "user_args": args,
        "user_entry_point": program,
        "module_name": program.removesuffix(".py"),
        "module_dir": module_dir,
        "framework_module": env.get("SAGEMAKER_TRAINING_MODULE", ""),
        "framework_params": framework_parameters(raw),
        "log_level": decode(raw.get("sagemaker_container_log_level", 20)),
        "hosts": hosts,
        "current_host": current,
        "network_interface_name": resource.get("network_interface_name", "eth0"),
        "current_instance_type": resource.get("current_instance_type", "local"),
        "current_instance_group": resource.get("current_group_name", "homogeneousCluster"),
        "num_cpus": multiprocessing.cpu_count(),
        "num_gpus": _gpus(),
        "num_neurons": 0,
        "resource_config": resource,
        "input_data_config": data_config,
    }
    training_env = {
        **{key: value for key, value in values.items() if key not in ("hps", "channels")},
        "hyperparameters": hps,
        "channel_input_dirs": {name: str(paths.channel_dir(name)) for name in channels},
        "job_name": job_name,
        "is_master": current == sorted(hosts)[0],
        "master_hostname": sorted(hosts)[0],
        "additional_framework_parameters": values["framework_params"],
    }
    out = {f"SM_{key.upper()}": env_value(value) for key, value in values.items()}
    out |= {f"SM_CHANNEL_{name.upper()}": str(paths.channel_dir(name)) for name in channels}
    out |= {f"SM_HP_{key.upper()}": env_value(value) for key, value in hps.items()}
    out["SM_TRAINING_ENV"] = env_value(training_env)
    out["SAGEMAKER_JOB_NAME"] = job_name
    out["CURRENT_HOST"] = current
    region = decode(raw.get("sagemaker_region", env.get("AWS_REGION", "")))
    if region:
        out["SAGEMAKER_REGION"] = str(region)
    # The script imports its own helper modules first, then what `train` itself sees.
    out["PYTHONPATH"] = ":".join([str(paths.code_dir), *[p for p in sys.path if p]])
    return out
