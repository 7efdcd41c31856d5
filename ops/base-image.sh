#!/usr/bin/env bash
# Build a Debian bookworm base image with Python 3.11 from Debian's own packages (debootstrap,
# then docker import), for machines that reach a Debian mirror but no registry of base images.
# Usage: ops/base-image.sh [TAG]   (default mastering-trainer-base:bookworm; kept if it exists)
# MIRROR overrides the Debian mirror (default: the one apt uses here, else deb.debian.org).
set -euo pipefail
tag=${1:-mastering-trainer-base:bookworm}
docker=${DOCKER:-docker}

if $docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag exists"
  exit 0
fi

mirror=${MIRROR:-$(awk '/^URIs:/ && $2 ~ /\/debian$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }

rootfs=$(mktemp -d /tmp/mt-rootfs.XXXXXX)
trap 'rm -rf "$rootfs" "$rootfs.log"' EXIT
echo "debootstrap bookworm (minbase) from $mirror"
for attempt in 1 2 3; do
  if debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
    break
  fi
  tail -5 "$rootfs.log" >&2
  [ "$attempt" = 3 ] && { echo "debootstrap failed 3 times" >&2; exit 1; }
  echo "debootstrap failed (attempt $attempt); retrying" >&2
  rm -rf "$rootfs" && mkdir -p "$rootfs"
  sleep $((attempt * 10))
done
rm -f "$rootfs.log"
# Security updates too, from the same mirror (deb.debian.org/debian -> .../debian-security).
cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
SOURCES
# What python:3.11-slim offers: a `python3` on PATH; apt lists and caches dropped.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
tar --numeric-owner -C "$rootfs" -c . | $docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' - "$tag" >/dev/null
echo "base image $tag: $($docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')"
