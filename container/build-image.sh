#!/usr/bin/env bash
# Build both images, making their base image first when the machine has none: TAG is the
# slim image (our engine), TAG-full adds multi-model-server and Java (the Dockerfile's
# VARIANT=full). They share every layer below the Java runtime.
# usage: container/build-image.sh [TAG]     (default: sklearn-sagemaker:latest)
#
# Python packages are downloaded here, on the build machine, into a wheel cache that
# outlives the checkout, and served to the build on loopback: the build needs no
# package index of its own, no layer keeps the wheels, and a rebuild downloads nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tag=${1:-${IMAGE:-sklearn-sagemaker:latest}}
[[ "${tag##*/}" == *:* ]] || tag="$tag:latest"
full_tag="$tag-full"
cache=${WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sklearn-sagemaker/wheels}
python=${PYTHON:-python3}
log=$(mktemp /tmp/build-image.XXXXXX)
server_pid=
requirements=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -f "$log" "$requirements"; }
trap cleanup EXIT

"$here/container/base-image.sh"

echo "wheels: resolving into $cache"
mkdir -p "$cache"
# The image runs Debian bookworm's CPython 3.11 on x86_64, the same as this machine's
# python3: `pip wheel` fetches wheels for it and builds the few packages published only
# as source. The list is the image's requirements from pyproject.toml (the Dockerfile
# installs the same list), plus what pip needs to build this project's own wheel inside
# the image.
requirements=$(mktemp /tmp/build-image-requirements.XXXXXX)
"$python" "$here/container/requirements.py" --build "$here/pyproject.toml" >"$requirements"
"$python" -m pip wheel -q --find-links "$cache" -w "$cache" \
  -c "$here/constraints.txt" -r "$requirements" wheel >"$log" 2>&1 || {
  tail -20 "$log" >&2; echo "wheels: pip wheel failed" >&2; exit 1; }

# The wheel server's URL is a build argument the dependency layer uses, so it is part of
# that layer's cache key: the server listens on the same port every build, and only when
# that port is taken on a free one (that build then reinstalls the dependencies).
serve_wheels() {
  "$python" -c "import socket as s; k = s.socket(); k.setsockopt(s.SOL_SOCKET, s.SO_REUSEADDR, 1)
k.bind(('127.0.0.1', $1))" 2>/dev/null || return 1
  "$python" -m http.server --bind 127.0.0.1 --directory "$cache" "$1" >/dev/null 2>&1 &
  server_pid=$!
  # Up to about half a minute, longer on a slow machine: each try starts a Python.
  for _ in $(seq 300); do
    kill -0 "$server_pid" 2>/dev/null || { server_pid=; return 1; }
    if "$python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$1/')" 2>/dev/null; then
      kill -0 "$server_pid" 2>/dev/null && return 0
    fi
    sleep 0.1
  done
  return 1
}
port=${WHEELS_PORT:-29871}
if ! serve_wheels "$port"; then
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  server_pid=
  port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  serve_wheels "$port" || { echo "wheels: the wheel server on 127.0.0.1:$port did not answer" >&2; exit 1; }
fi

# Host networking: the build reaches the wheel server on loopback, and on some
# machines the default bridge cannot reach the package archives.
build() {
  echo "image: building $1 ($2)"
  docker build --network host --build-arg "WHEELS_URL=http://127.0.0.1:$port/" --build-arg "VARIANT=$2" \
    -t "$1" "$here" >"$log" 2>&1 || { tail -30 "$log" >&2; echo "image: docker build failed ($1)" >&2; exit 1; }
  echo "image: built $1 ($(docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'))"
}
build "$full_tag" full
build "$tag" slim
