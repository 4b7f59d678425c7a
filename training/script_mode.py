"""Running the user's own training script, as AWS's training toolkit runs it.

A job asks for it with the `sagemaker_program` hyperparameter (the SDK's `entry_point`)
or `SAGEMAKER_PROGRAM`. The code comes from `sagemaker_submit_directory` into
`/opt/ml/code`; its `requirements.txt` is installed; the entry point runs with this
image's Python in `/opt/ml/code`: a `.py` file as `python name args`, a package with
`setup.py` as `python -m name args` after `pip install .`, anything else (a shell
script) as `./name args`. Its output goes straight to the job's log. A script that
fails leaves the toolkit's ExecuteUserScriptError in `/opt/ml/output/failure`, with the
script's last error line where AWS's leaves it empty, and `train` exits 1.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from training import outputs, script_env
from training.errors import ClientError
from training.hyperparameters import decode
from training.log import say
from training.paths import TrainingPaths
from usercode.fetch import CodeError, fetch_into

STDERR_TAIL_LINES = 40


def wanted(raw: Mapping[str, Any], env: Mapping[str, str]) -> bool:
    return "sagemaker_program" in raw or bool(env.get("SAGEMAKER_PROGRAM", "").strip())


def _program(raw: Mapping[str, Any], env: Mapping[str, str]) -> str:
    # The variable wins, as in the toolkit: an image that bakes it in overrides the SDK.
    program = env.get("SAGEMAKER_PROGRAM", "").strip()
    program = program or str(decode(raw.get("sagemaker_program", ""))).strip()
    if not program:
        raise ClientError("the training entry point is empty: set the sagemaker_program hyperparameter")
    if program.startswith("/") or ".." in Path(program).parts:
        raise ClientError(f"the entry point {program!r} must be a path inside the code directory")
    return program


def _pip(args: list[str], code_dir: Path, what: str) -> None:
    say(f"installing {what}")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-input", "--disable-pip-version-check", *args],
        cwd=code_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        pip_said = " ".join(lines[-3:])
        raise ClientError(f"InstallRequirementsError: pip install {' '.join(args)} failed: {pip_said}")


def _command(program: str, code_dir: Path, args: list[str]) -> list[str]:
    entry = code_dir / program
    if program.endswith(".sh") or not (program.endswith(".py") or (code_dir / "setup.py").is_file()):
        if not entry.is_file():
            raise ClientError(f"the entry point {program} is not in the code ({code_dir})")
        entry.chmod(0o777)
        return ["/bin/sh", "-c", shlex.join([f"./{program}", *args])]
    if (code_dir / "setup.py").is_file():
        _pip(["."], code_dir, "the code's package (setup.py)")
        return [sys.executable, "-m", program.removesuffix(".py").replace("/", "."), *args]
    if not entry.is_file():
        raise ClientError(f"the entry point {program} is not in the code ({code_dir})")
    return [sys.executable, program, *args]


def _tee(stream: IO[str], tail: deque[str]) -> None:
    for line in stream:
        sys.stderr.write(line)
        sys.stderr.flush()
        tail.append(line.rstrip("\n"))


def _error_line(tail: deque[str]) -> str:
    """The last line that names an exception, as the toolkit's captured ErrorMessage does."""
    for line in reversed(tail):
        head = line.split(":", 1)[0].strip()
        if head.endswith(("Error", "Exception")) or head == "KeyboardInterrupt":
            return line.strip()
    return tail[-1].strip() if tail else ""


def run(paths: TrainingPaths, raw: Mapping[str, Any], env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    program = _program(raw, env)
    source = str(decode(raw.get("sagemaker_submit_directory", ""))) or str(paths.code_dir)
    say(f"fetching the code from {source}")
    try:
        fetch_into(source, paths.code_dir)
    except CodeError as exc:
        raise ClientError(str(exc)) from None
    if (paths.code_dir / "requirements.txt").is_file() and not (paths.code_dir / "setup.py").is_file():
        _pip(["-r", "requirements.txt"], paths.code_dir, "requirements.txt")
    # SageMaker mounts these before a job starts; a local tree may not have them yet.
    for directory in (paths.model_dir, paths.output_data_dir):
        directory.mkdir(parents=True, exist_ok=True)
    user_args = script_env.command_args(script_env.user_hyperparameters(raw))
    command = _command(program, paths.code_dir, user_args)
    variables = script_env.environment(paths, raw, program, source, env)
    shown = shlex.join(command)
    say(f"invoking the user script: {shown}")
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    process = subprocess.Popen(
        command, cwd=paths.code_dir, env={**env, **variables}, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    assert process.stderr is not None
    reader = threading.Thread(target=_tee, args=(process.stderr, tail), daemon=True)
    reader.start()
    code = process.wait()
    reader.join()
    if code == 0:
        return 0
    reason = (
        f'ExecuteUserScriptError:\nExitCode {code}\nErrorMessage "{_error_line(tail)}"\nCommand "{shown}"'
    )
    if not paths.failure_file.exists():  # a reason the script wrote itself is kept
        paths.output_dir.mkdir(parents=True, exist_ok=True)
        paths.failure_file.write_text(reason + "\n", encoding="utf-8")
    print(f"train failed: {reason}", file=sys.stderr, flush=True)
    return 1


def main(paths: TrainingPaths, raw: Mapping[str, Any]) -> int:
    try:
        code = run(paths, raw)
    except ClientError as exc:
        outputs.report_failure(paths, str(exc))
        return 1
    if code == 0:
        outputs.write_success(paths)
        say("training complete")
    return code
