#!/usr/bin/env bash
# The main job: set up, build the image, train a demo model in it, serve it, print predictions.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
scripts/setup.sh
container/build-image.sh sklearn-sagemaker:latest
exec .venv/bin/python scripts/demo.py --image sklearn-sagemaker:latest "$@"
