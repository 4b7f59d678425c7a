#!/usr/bin/env bash
# Build the image, making its base image first when the machine has none.
# usage: scripts/build-image.sh [TAG]     (default: sklearn-sagemaker:latest)
#
# Python packages are downloaded here, on the build machine, into a wheel cache that
# outlives the checkout, and served to the build on loopback: the build needs no
# package index of its own, no layer keeps the wheels, and a rebuild downloads nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tag=${1:-${IMAGE:-sklearn-sagemaker:latest}}
cache=${WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sklearn-sagemaker/wheels}
python=${PYTHON:-python3}
log=$(mktemp /tmp/build-image.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -f "$log"; }
trap cleanup EXIT

"$here/scripts/base-image.sh"

echo "wheels: resolving into $cache"
mkdir -p "$cache"
# The image runs Debian bookworm's CPython 3.11 on x86_64, the same as this machine's
# python3: `pip wheel` fetches wheels for it and builds the few packages published only
# as source, plus what pip needs to build this project's own wheel inside the image.
"$python" -m pip wheel -q --find-links "$cache" -w "$cache" \
  -c "$here/constraints.txt" -r "$here/container/requirements.txt" "setuptools>=64" wheel >"$log" 2>&1 || {
  tail -20 "$log" >&2; echo "wheels: pip wheel failed" >&2; exit 1; }

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$python" -m http.server --bind 127.0.0.1 --directory "$cache" "$port" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 50); do
  "$python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
  sleep 0.1
done

echo "image: building $tag"
# Host networking: the build reaches the wheel server on loopback, and on some
# machines the default bridge cannot reach the package archives.
docker build --network host --build-arg "WHEELS_URL=http://127.0.0.1:$port/" -t "$tag" "$here" >"$log" 2>&1 || {
  tail -30 "$log" >&2; echo "image: docker build failed" >&2; exit 1; }
echo "image: built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
