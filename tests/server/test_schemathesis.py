"""Schemathesis against the real `serve` process, driven by serving/openapi.json.

One run per mode (single-model, multi-model), through the schemathesis CLI in a
subprocess with a deadline: every phase (examples, coverage, fuzzing, stateful through
the document's links), positive and negative data, bounded by --max-examples and
--max-time. The checks: no 5xx, every status code and content type is documented, and
every JSON body matches its documented schema.

Failures of known product bugs (see tests/server/test_bad_input_corpus.py, where each is
a strict xfail) are dropped by a `filter_failure` hook and listed as a warning instead,
so the runs keep looking for new problems. Remove a signature once its bug is fixed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path

import requests

from tests.server.process import serve, started_workers
from tests.support import wait_for_ping, write_regressor

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "serving" / "openapi.json"
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = 25
MAX_TIME_S = 15
# The whole run's deadline: start-up and the last phases come on top of --max-time, and take
# several times longer on a slow machine.
DEADLINE_S = 300

# The spec's examples name these; the test makes them real so the examples reach the model.
EXAMPLE_URL = "/opt/ml/models/Chicago_IL/model"
EXAMPLE_ARCHIVE = "Chicago_IL.tar.gz"
EXAMPLE_NAME = "chicago"

# Response signatures of known product bugs, (bug, status, bytes in the body): failures
# that match are listed as a warning instead of failing the run. None is open now.
KNOWN_BUGS: tuple[tuple[str, int, bytes], ...] = ()

HOOKS = """
import os
import schemathesis

# Media types schemathesis has no serializer for: JSON Lines is text, .npy is bytes.
schemathesis.serializer.alias("application/jsonlines", "text/plain")
schemathesis.serializer.alias("application/x-npy", "application/octet-stream")

KNOWN_BUGS = {known!r}
EXAMPLE_URL = {example_url!r}


@schemathesis.hook
def map_body(ctx, body):
    # The load example names a path of SageMaker's layout; point it at the real model here.
    if isinstance(body, dict) and body.get("url") == EXAMPLE_URL:
        return {{**body, "url": os.environ["ST_MODEL_URL"]}}
    return body


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    for bug, status, signature in KNOWN_BUGS:
        if response is not None and response.status_code == status and signature in response.content:
            with open(os.environ["ST_KNOWN_BUGS_LOG"], "a") as log:
                log.write(f"{{bug}}: {{case.method}} {{case.path}}\\n")
            return False
    return True
"""


def model_tree(base: Path) -> Path:
    """The single model, models/<name>/model as SageMaker unpacks them, and the example archive."""
    write_regressor(base / "model")
    write_regressor(base / "models" / "Chicago_IL" / "model")
    packed = base / "packing"
    write_regressor(packed)
    with tarfile.open(base / "models" / EXAMPLE_ARCHIVE, "w:gz") as tar:
        tar.add(packed / "model.joblib", arcname="model.joblib")
    (base / "outside").mkdir()
    (base / "models" / "escape").symlink_to(base / "outside", target_is_directory=True)
    return base


def run_schemathesis(url: str, work: Path, model_url: str) -> tuple[subprocess.CompletedProcess[str], str]:
    (work / "hooks.py").write_text(
        HOOKS.format(known=tuple((b, s, sig) for b, s, sig in KNOWN_BUGS), example_url=EXAMPLE_URL)
    )
    known_log = work / "known-bugs.log"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(work / "hooks.py"),
        "ST_MODEL_URL": model_url,
        "ST_KNOWN_BUGS_LOG": str(known_log),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    command = [
        SCHEMATHESIS,
        "run",
        str(SPEC),
        "--url",
        url,
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_TIME_S),
        # One worker: with several, hypothesis describes strategies from several threads at
        # once, and CPython 3.11.7's ast.parse fails under that ("AST constructor recursion
        # depth mismatch"), which schemathesis reports as an error of the run.
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--continue-on-failure",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-dir",
        str(work / "report"),
    ]
    # cwd: the run leaves .hypothesis/ and its reports there, not in the working tree.
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=DEADLINE_S)
    (work / "schemathesis.out").write_text(result.stdout + result.stderr)
    known = known_log.read_text() if known_log.exists() else ""
    return result, known


def check(result: subprocess.CompletedProcess[str], known: str) -> None:
    if known:
        seen = sorted(set(line.split(": ")[0] for line in known.splitlines()))
        warnings.warn(f"known product bugs hit by schemathesis: {'; '.join(seen)}", stacklevel=2)
    assert result.returncode == 0, (
        f"schemathesis exited {result.returncode}\n{result.stdout[-12000:]}\n{result.stderr[-3000:]}"
    )
    # Exit 0 is only worth something if every operation of the document was exercised.
    tested = re.search(r"Tested:\s+(\d+)", result.stdout)
    assert tested and int(tested.group(1)) == operations(), result.stdout[-3000:]


def operations() -> int:
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    paths = json.loads(SPEC.read_text())["paths"].values()
    return sum(1 for item in paths for method in item if method in methods)


def test_single_model_mode(tmp_path: Path) -> None:
    base = model_tree(tmp_path / "ml")
    with serve(base) as (url, process):
        wait_for_ping(url)
        served = requests.get(f"{url}/openapi.json", timeout=10)
        assert served.status_code == 200 and served.content == SPEC.read_bytes()
        workers = started_workers(process)
        result, known = run_schemathesis(url, tmp_path, str(base / "models" / "Chicago_IL" / "model"))
        assert started_workers(process) == workers, "a worker died during the run"
    check(result, known)


def test_multi_model_mode(tmp_path: Path) -> None:
    base = model_tree(tmp_path / "ml")
    with serve(base, SAGEMAKER_MULTI_MODEL="true") as (url, process):
        wait_for_ping(url)
        model_url = str(base / "models" / "Chicago_IL" / "model")
        loaded = requests.post(
            f"{url}/models", json={"model_name": EXAMPLE_NAME, "url": model_url}, timeout=60
        )
        assert loaded.status_code == 200, loaded.text
        workers = started_workers(process)
        result, known = run_schemathesis(url, tmp_path, model_url)
        assert started_workers(process) == workers, "a worker died during the run"
        # The server is still whole after the run: the model API answers and lists JSON.
        listed = requests.get(f"{url}/models", timeout=10)
        assert listed.status_code == 200 and isinstance(listed.json()["models"], list)
    check(result, known)
