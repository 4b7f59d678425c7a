#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh machine, then
# runs the linters and the whole test suite (unit, host server, container tests).
# usage: scripts/test.sh [pytest args...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

"$here/scripts/setup.sh"

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check . | tail -5

echo "== image"
container/build-image.sh sklearn-sagemaker:test

# A smoke run of the benchmark suite: it must run end to end; speed is not judged here. It
# runs beside pytest, which mostly waits on containers (about a third of two cores busy), and
# whose containers it cannot touch: each side finds its own by label or by id.
smoke=
if [ "$#" -eq 0 ]; then
  echo "== benchmark smoke run (beside pytest)"
  smoke_log=$(mktemp)
  .venv/bin/python -m benchmarks.suite --quick --image sklearn-sagemaker:test --out "$(mktemp -d)" \
    >"$smoke_log" 2>&1 &
  smoke=$!
fi

echo "== pytest"
pytest_log=$(mktemp)
status=0
TEST_IMAGE=sklearn-sagemaker:test TEST_IMAGE_PREBUILT=1 PATH="$here/.venv/bin:$PATH" \
  .venv/bin/python -m pytest -q -p no:cacheprovider --durations=25 "$@" | tee "$pytest_log" \
  || status=$?

if [ -n "$smoke" ]; then
  echo "== benchmark smoke run: its summary"
  if wait "$smoke"; then
    tail -12 "$smoke_log"
  else
    tail -60 "$smoke_log"
    echo "benchmark smoke run failed" >&2
    status=1
  fi
fi
# pytest's summary again, so it is the run's closing line.
tail -1 "$pytest_log"
exit "$status"

