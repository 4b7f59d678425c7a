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

# A smoke run of the benchmark suite: it must run end to end; speed is not judged here.
if [ "$#" -eq 0 ]; then
  echo "== benchmark smoke run"
  .venv/bin/python -m benchmarks.suite --quick --image sklearn-sagemaker:test --out "$(mktemp -d)" | tail -12
fi

# pytest last, so its summary is the run's closing line; the slowest tests are listed
# just above it.
echo "== pytest"
TEST_IMAGE=sklearn-sagemaker:test TEST_IMAGE_PREBUILT=1 PATH="$here/.venv/bin:$PATH" \
  .venv/bin/python -m pytest -q -p no:cacheprovider --durations=25 "$@"

