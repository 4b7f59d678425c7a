"""Running AWS's multi-model-server through sagemaker-inference, and stopping all of it.

sagemaker-inference starts multi-model-server (a Java front end that starts one Python
worker per model) and waits. On SIGTERM it forwards the signal to the Java process
only, and the Python workers outlive it. So the toolkit runs in a session of its own,
and `serve` stops that whole process group: SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from serving.blas import BlasThreads
from serving.config import Settings, shared_dir
from serving.mms.handler import IN_FLIGHT_ENV, PAYLOAD_LIMIT_ENV
from serving.models import code

log = logging.getLogger(__name__)

HANDLER_SERVICE = "serving.mms.handler"

# The toolkit writes multi-model-server's configuration to /etc/sagemaker-mms.properties,
# which a read-only root filesystem refuses: it goes to this server's own directory instead.
CONFIG_ENV = "SAGEMAKER_MMS_CONFIG_FILE"
START = (
    "import os\n"
    "from sagemaker_inference import model_server\n"
    f"model_server.MMS_CONFIG_FILE = os.environ[{CONFIG_ENV!r}]\n"
    f"model_server.start_model_server(handler_service={HANDLER_SERVICE!r})\n"
)


def toolkit_environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    # The toolkit compares against the exact string "true".
    env["SAGEMAKER_MULTI_MODEL"] = "true" if settings.multi_model else "false"
    env["SAGEMAKER_BIND_TO_PORT"] = str(settings.port)
    # multi-model-server's front end answers an oversized body with an empty 413 of its
    # own; let it pass bodies up to twice our limit, so the handler refuses them with the
    # same JSON 413 as our engine (past that, the front end's answer stands).
    env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(2 * settings.max_payload_mb)
    env[PAYLOAD_LIMIT_ENV] = str(settings.max_payload_bytes)
    # SAGEMAKER_MODEL_SERVER_TIMEOUT is read as minutes by multi-model-server; the
    # seconds variant says what our engine means by it.
    env.setdefault("SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS", str(settings.timeout))
    # The toolkit's default turns the JVM's container awareness off, so under
    # `docker run --memory` the JVM would size itself from the host's RAM.
    env.setdefault("SAGEMAKER_MODEL_SERVER_VMARGS", "-XX:+UseContainerSupport -XX:MaxRAMPercentage=15.0")
    # Sized from the container's CPUs (serving.cpus), as our engine is.
    env.setdefault("SAGEMAKER_MODEL_SERVER_WORKERS", str(settings.workers))
    env.setdefault("LOG_LOCATION", "/tmp/mms-logs")
    env.setdefault("METRICS_LOCATION", "/tmp/mms-logs")
    return env


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap() -> None:
    # As PID 1 in a container, orphaned workers become our children.
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wait_for_in_flight(directory: Path, deadline: float) -> None:
    """multi-model-server drops the requests it is answering when it gets SIGTERM, so
    wait until its workers have none (each marks a request it is answering)."""
    while any(directory.iterdir()) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.05)


def stop_group(pgid: int, grace_s: float) -> None:
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.1)
    if _group_alive(pgid):
        log.warning("multi-model-server did not stop within %.0f s; killing it", grace_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    _reap()


def run(settings: Settings, threads: BlasThreads) -> int:
    """Serve until stopped; `threads` is what `serve` put in the environment (serving.blas),
    which multi-model-server's workers inherit."""
    own = Path(tempfile.mkdtemp(prefix="mms-serve-", dir=shared_dir()))
    in_flight = own / "in-flight"
    in_flight.mkdir()
    # Fetched code can be large: in the temp dir, not in a small /dev/shm.
    scratch = Path(tempfile.mkdtemp(prefix="mms-serve-files-"))
    settings = code.prepare(settings, scratch / "code")
    env = toolkit_environment(settings) | code.exported(settings)
    env |= {IN_FLIGHT_ENV: str(in_flight), CONFIG_ENV: str(own / "mms.properties")}
    log.info("starting multi-model-server on port %d (%s)", settings.port, threads.describe())
    child = subprocess.Popen([sys.executable, "-c", START], env=env, start_new_session=True)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log.info("signal %d: stopping multi-model-server and its workers", signum)
        began = time.monotonic()
        wait_for_in_flight(in_flight, began + settings.graceful_timeout - 5)
        stop_group(child.pid, max(settings.graceful_timeout - (time.monotonic() - began), 1))

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    exit_code = child.wait()
    shutil.rmtree(own, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)
    if not stopping:
        # The toolkit exited by itself: take its workers down with it.
        stop_group(child.pid, 5)
        log.error("multi-model-server exited with code %d", exit_code)
        return exit_code or 1
    return 0
