#!/usr/bin/env bash
# Everything the project needs on a fresh machine of its kind (Debian, Docker engine,
# Python 3.11): Debian packages, a virtualenv with the pinned dependencies, and the
# base image. Safe to run again: each step is skipped when already done.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

# Debian package per command: the base image builder, the load generator, the compose
# tool the SageMaker SDK's local mode drives, and a container registry for push tests.
declare -A packages=([debootstrap]=debootstrap [wrk]=wrk [docker-compose]=docker-compose
  [docker-registry]=docker-registry)
missing=()
for tool in "${!packages[@]}"; do command -v "$tool" >/dev/null 2>&1 || missing+=("${packages[$tool]}"); done
if ((${#missing[@]})); then
  echo "setup: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v docker >/dev/null 2>&1 || { echo "setup: docker is not installed" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "setup: the Docker engine is not running" >&2; exit 1; }

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -e "$stamp" ]; then
  echo "setup: installing Python packages into .venv"
  # uv installs the same pinned set as pip, bytecode included, in a third of the time (CI starts
  # from a clean clone).
  .venv/bin/pip install -q uv==0.13.9
  .venv/bin/uv pip install -q --compile-bytecode --python .venv/bin/python -c constraints.txt -e ".[test]"
  touch "$stamp"
fi

container/base-image.sh
