#!/usr/bin/env bash
# Make sure the image the Dockerfile starts FROM exists locally.
#
# Where a registry is reachable `docker pull` would do; on machines that reach only
# Debian's package archive we build the same distribution with debootstrap and
# `docker import` it under the tag the Dockerfile names, so the Dockerfile itself
# stays unchanged.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
tag=${BASE_IMAGE:-$(awk 'toupper($1)=="FROM" {print $2; exit}' "$here/Dockerfile")}
suite=${BASE_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag: present"
  exit 0
fi

if timeout 60 docker pull "$tag" >/dev/null 2>&1; then
  echo "base image $tag: pulled"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "base image $tag: installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

root=$(mktemp -d /tmp/base-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base image $tag: debootstrap $suite from $mirror (about a minute)"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -20 "$root.log" >&2
  echo "base image $tag: debootstrap failed (log above)" >&2
  exit 1
}
rm -f "$root.log"

# Trim what a slim image leaves out: package lists, docs, man pages, translations, caches.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
# As in debian:bookworm-slim, packages installed later leave them out too, and apt keeps no
# downloaded packages.
cat >"$root/etc/dpkg/dpkg.cfg.d/slim-image" <<'DPKG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
DPKG
cat >"$root/etc/apt/apt.conf.d/slim-image" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
# The same apt source a debian:bookworm-slim image carries, so `apt-get update` works in builds.
cat >"$root/etc/apt/sources.list" <<SRC
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
SRC

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' - "$tag" >/dev/null
echo "base image $tag: imported ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
