"""Faults under load, in docker: a worker killed, the container stopped mid-request.

Every load here is bounded: a fixed number of requests from a small thread pool, to the
container's port on loopback.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.container.conftest import Container, run_container
from tests.support import docker, wait_for_ping, wait_until, write_regressor

pytestmark = pytest.mark.docker

MODEL = "/opt/ml/model"

# Lists serve's worker processes from inside the container: children of PID 1 that run serve.
WORKERS = (
    "import os\n"
    "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
    "    stat = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()\n"
    "    argv = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')\n"
    "    if stat[1] == '1' and argv[1:2] == [b'/opt/venv/bin/serve']:\n"
    "        print(pid)\n"
)

SLOW = """
import os, time, joblib

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))

def predict_fn(data, model):
    marks = os.environ.get("MARK_DIR")
    if marks:  # tells the test this request is inside predict_fn
        open(os.path.join(marks, f"{os.getpid()}-{time.monotonic_ns()}"), "w").close()
    time.sleep(float(os.environ.get("PREDICT_SECONDS", "0")))
    return model.predict(data)
"""


def workers(container: Container) -> set[str]:
    return set(docker("exec", container.id, "python", "-c", WORKERS).stdout.split())


def post(url: str) -> int:
    try:
        return requests.post(
            f"{url}/invocations", data="1,2,3,4,5,6", headers={"Content-Type": "text/csv"}, timeout=120
        ).status_code
    except requests.RequestException:
        return -1


def marked_pids(marks: Path) -> list[str]:
    """The worker of each request that has reached predict_fn, in no order (see SLOW)."""
    return [mark.name.split("-")[0] for mark in marks.iterdir()]


@pytest.fixture
def slow_model(tmp_path: Path) -> Path:
    model_dir = tmp_path / "model"
    write_regressor(model_dir)
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(SLOW)
    return model_dir


def test_kill_9_of_a_worker_under_load(image: str, slow_model: Path, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {"PREDICT_SECONDS": "0.05", "MARK_DIR": "/marks"}
    volumes = {slow_model: f"{MODEL}:ro", marks: "/marks"}
    with run_container(image, "serve", volumes=volumes, env=env) as container:
        wait_for_ping(container.url)
        before = wait_until(
            lambda: workers(container), 120, "serve's two workers to start", ready=lambda w: len(w) == 2
        )
        concurrency = 8
        with ThreadPoolExecutor(concurrency) as pool:
            first = [pool.submit(post, container.url) for _ in range(200)]
            # Kill only once the load has reached both workers.
            wait_until(
                lambda: set(marked_pids(marks)),
                120,
                "requests to reach predict_fn in both workers",
                ready=lambda seen: before <= seen,
                interval_s=0.02,
            )
            victim = sorted(before)[0]
            docker(
                "exec", container.id, "python", "-c", f"import os, signal; os.kill({victim}, signal.SIGKILL)"
            )
            # The other worker keeps answering while the arbiter replaces the killed one.
            wait_for_ping(container.url)
            later = [pool.submit(post, container.url) for _ in range(200)]
            statuses = [f.result() for f in first + later]
        failed = [s for s in statuses if s != 200]
        # Only requests in flight on the killed worker may fail: at most one per connection.
        assert len(failed) <= concurrency, failed
        # The arbiter replaced the worker; the replacement loaded the model and serves.
        wait_until(
            lambda: workers(container),
            120,
            f"a replacement for worker {victim}",
            ready=lambda now: len(now) == 2 and victim not in now,
        )
        assert all(post(container.url) == 200 for _ in range(20))
        inspected = json.loads(docker("inspect", container.id).stdout)[0]
        assert inspected["State"]["Running"] and inspected["RestartCount"] == 0


@pytest.mark.parametrize("engine", ["flask", "mms"])
def test_docker_stop_under_load_finishes_in_flight_requests(
    images: dict[str, str], slow_model: Path, engine: str, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {"PREDICT_SECONDS": "1", "SAGEMAKER_MODEL_SERVER": engine, "MARK_DIR": "/marks"}
    volumes = {slow_model: f"{MODEL}:ro", marks: "/marks"}
    with run_container(images[engine], "serve", volumes=volumes, env=env) as container:
        wait_for_ping(container.url, deadline_s=240)
        assert post(container.url) == 200  # warm: the model is loaded in a worker
        warm = len(marked_pids(marks))
        with ThreadPoolExecutor(2) as pool:
            in_flight = [pool.submit(post, container.url) for _ in range(2)]
            # Stop only once both requests are inside predict_fn (1 s each).
            wait_until(
                lambda: len(marked_pids(marks)),
                120,
                "both requests to reach predict_fn",
                ready=lambda seen: seen >= warm + 2,
                interval_s=0.02,
            )
            began = time.monotonic()
            docker("stop", "-t", "30", container.id, timeout=60)
            stopped_in = time.monotonic() - began
            statuses = [f.result() for f in in_flight]
        state = json.loads(docker("inspect", container.id).stdout)[0]["State"]
        assert statuses == [200, 200], (statuses, container.logs()[-4000:])
        assert state["ExitCode"] == 0, container.logs()[-3000:]
        assert stopped_in < 30


GREEDY = """
import os, joblib

def model_fn(model_dir):
    if os.path.exists(os.path.join(model_dir, "greedy")):
        hoard = []
        while True:  # a model that never stops growing
            hoard.append(bytearray(2 * 1024 * 1024))
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""


def greedy_tree(root: Path) -> Path:
    for name, greedy in (("fine", False), ("greedy", True)):
        model_dir = root / name / "model"
        write_regressor(model_dir)
        (model_dir / "code").mkdir()
        (model_dir / "code" / "inference.py").write_text(GREEDY)
        if greedy:
            (model_dir / "greedy").touch()
    return root


def test_a_model_that_eats_memory_makes_ping_say_so(image: str, tmp_path: Path) -> None:
    model_dir = greedy_tree(tmp_path) / "greedy" / "model"
    extra = ("--memory=700m", "--memory-swap=700m")
    with run_container(image, "serve", volumes={model_dir: f"{MODEL}:ro"}, extra=extra) as container:
        failed = wait_for_ping(container.url, expect=503, error="ModelLoadFailed")
        assert "memory budget" in failed.json()["message"]
        state = json.loads(docker("inspect", container.id).stdout)[0]["State"]
        assert state["Running"] and not state["OOMKilled"]


def test_a_multi_model_load_that_eats_memory_is_a_507_and_others_keep_serving(
    image: str, tmp_path: Path
) -> None:
    root = greedy_tree(tmp_path / "models")
    # The headroom is what the guard has to react in: it must cover what a model can
    # allocate between two of its readings, on a loaded machine too.
    env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MEMORY_HEADROOM_MB": "250"}
    extra = ("--memory=800m", "--memory-swap=800m")
    with run_container(
        image, "serve", volumes={root: "/opt/ml/models:ro"}, env=env, extra=extra
    ) as container:
        wait_for_ping(container.url)
        load = lambda name: requests.post(  # noqa: E731
            f"{container.url}/models",
            json={"model_name": name, "url": f"/opt/ml/models/{name}/model"},
            timeout=240,
        )
        assert load("fine").status_code == 200
        greedy = load("greedy")
        assert greedy.status_code == 507, greedy.text
        assert "memory budget" in greedy.json()["message"]
        for _ in range(4):
            answer = requests.post(
                f"{container.url}/models/fine/invoke",
                data="1,2,3,4,5,6",
                headers={"Content-Type": "text/csv"},
            )
            assert answer.status_code == 200
        # The memory went back: another load fits again.
        assert load("greedy").status_code == 507
        state = json.loads(docker("inspect", container.id).stdout)[0]["State"]
        assert state["Running"] and not state["OOMKilled"]


HANGS = "import time\n\ndef model_fn(model_dir):\n    time.sleep(3600)\n"


def test_a_hanging_model_fn_is_cut_by_the_load_timeout(image: str, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    write_regressor(model_dir)
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(HANGS)
    # Long enough that /ping is seen saying "loading" first, even when the container is slow
    # to answer its first request.
    env = {"SAGEMAKER_MODEL_LOAD_TIMEOUT": "10"}
    with run_container(image, "serve", volumes={model_dir: f"{MODEL}:ro"}, env=env) as container:
        loading = wait_for_ping(container.url, expect=503)
        assert loading.json()["error"] == "ModelNotReady", loading.text
        assert "loading" in loading.json()["message"]
        failed = wait_for_ping(container.url, expect=503, error="ModelLoadFailed")
        assert "did not load within 10 s" in failed.json()["message"]
        invoke = requests.post(
            f"{container.url}/invocations", data="1,2,3,4,5,6", headers={"Content-Type": "text/csv"}
        )
        assert invoke.status_code == 503 and "did not load" in invoke.json()["message"]
