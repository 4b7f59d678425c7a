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
.venv/bin/ruff format --check . >/dev/null

echo "== image"
scripts/build-image.sh sklearn-sagemaker:test

echo "== pytest"
TEST_IMAGE=sklearn-sagemaker:test TEST_IMAGE_PREBUILT=1 .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
