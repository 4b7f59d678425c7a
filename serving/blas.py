"""How many BLAS and OpenMP threads each worker runs, so all workers fit the container's CPUs.

OpenBLAS, MKL and OpenMP (scikit-learn's compiled loops) each start one thread per
CPU they see, in every worker process. With N workers on N CPUs that is N² threads
fighting for N CPUs. Each worker gets `cpus // workers` threads (at least 1), unless
the user set the libraries' own variables, which then stand as they are.

The variables are read when a library is loaded, so `serve` puts them in the
environment before either engine imports numpy or scikit-learn; gunicorn's workers
inherit them and so do multi-model-server's, which are new processes. In our engine's
workers, the libraries already loaded are limited again by threadpoolctl. (That limit
alone would not do: OpenMP's applies to the thread that sets it, and requests are
answered on other threads, which start from the variable.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

from serving.cpus import Cpus

log = logging.getLogger(__name__)

# What OpenMP, OpenBLAS and MKL read; OpenBLAS falls back to OMP_NUM_THREADS.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class BlasThreads:
    """`threads` per worker, sized from `cpus`, or None when the user's own variables
    (`users`) decide."""

    threads: int | None
    cpus: Cpus
    users: tuple[str, ...] = ()

    def describe(self) -> str:
        """For the start-up line: "1 CPU from the cgroup quota 0.5; 1 BLAS thread per worker"."""
        if self.threads is None:
            return f"{self.cpus.describe()}; BLAS threads as {', '.join(self.users)} say"
        plural = "s" if self.threads != 1 else ""
        return f"{self.cpus.describe()}; {self.threads} BLAS thread{plural} per worker"

    def variables(self) -> dict[str, str]:
        """The environment a worker should start with; nothing when the user's stand."""
        if self.threads is None:
            return {}
        return dict.fromkeys(THREAD_VARIABLES, str(self.threads))


def per_worker(cpus: Cpus, workers: int, setting: int | None, env: Mapping[str, str]) -> BlasThreads:
    """The threads each of `workers` processes may run on the container's `cpus`.

    `setting` is SAGEMAKER_MODEL_SERVER_BLAS_THREADS (None: computed); a thread
    variable the user set in `env` takes precedence over both.
    """
    users = tuple(f"{name}={env[name]}" for name in THREAD_VARIABLES if env.get(name, "").strip())
    if users:
        return BlasThreads(None, cpus, users)
    if setting is not None:
        return BlasThreads(setting, cpus)
    return BlasThreads(max(1, cpus.count // max(workers, 1)), cpus)


def export(plan: BlasThreads, env: MutableMapping[str, str] | None = None) -> None:
    """Put the plan's variables in `env` (the process's own by default), before libraries load."""
    env = os.environ if env is None else env
    for name, value in plan.variables().items():
        env.setdefault(name, value)


def limit_loaded(plan: BlasThreads) -> None:
    """Limit the thread pools of libraries this process has already loaded (in a worker)."""
    if plan.threads is None:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a slimmer environment: the variables set before loading still hold
        log.debug("threadpoolctl is not installed; BLAS threads are left to the environment")
        return
    # Not used as a context manager: the limit holds for the rest of the worker's life.
    threadpool_limits(limits=plan.threads)
