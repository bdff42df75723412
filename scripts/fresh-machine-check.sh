#!/usr/bin/env bash
# Runs the test command (.ci/run) on a minimal Debian 12 root, as a new
# machine would: nothing installed but what `debootstrap --variant=minbase`
# puts there, so every package the tests need must come from
# scripts/install-deps.sh. A machine on which packages were installed by
# hand hides a missing one; this does not.
#
#   scripts/fresh-machine-check.sh             # the committed HEAD
#   UTPOST_FRESH_ROOT=/var/tmp/x scripts/fresh-machine-check.sh
#   scripts/fresh-machine-check.sh --keep      # leave the root for a look
#
# Needs root (debootstrap, chroot, mounts) and Debian's archive. The root is
# made anew each run, from the same mirror the host's apt uses; the
# checkout is a clean clone of HEAD (uncommitted changes are not tested),
# with shared/ beside it when the host has one, as CI lays it out.
set -euo pipefail
root_dir=$(cd "$(dirname "$0")/.." && pwd)
fresh=${UTPOST_FRESH_ROOT:-/var/tmp/utpost-fresh-root}
keep=false
[ "${1:-}" = "--keep" ] && keep=true
if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-machine-check: must run as root (debootstrap, chroot)" >&2
  exit 2
fi
if ! command -v debootstrap >/dev/null; then
  env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
# The host's own Debian mirror (deb822 or one-line sources).
mirror=$(grep -hoE '^URIs: *\S+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null |
  head -1 | awk '{print $2}')
if [ -z "$mirror" ]; then
  mirror=$(grep -hoE '^deb +\S+/debian/? ' /etc/apt/sources.list 2>/dev/null |
    head -1 | awk '{print $2}')
fi
mirror=${mirror:-http://deb.debian.org/debian}
security=${mirror%/debian}/debian-security

mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -l "${mounts[$i]}" 2>/dev/null || true
  done
  # Processes a failed run left in the root (a broker, say) go with it.
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    if [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$fresh" ]; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  # Mounts the tests made inside the root (podman's storage), deepest first.
  awk -v root="$fresh/" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  if ! $keep; then rm -rf --one-file-system "$fresh"; fi
}
trap cleanup EXIT

rm -rf --one-file-system "$fresh"
mkdir -p "$fresh"
echo "fresh-machine-check: debootstrap bookworm (minbase) from $mirror into $fresh"
start=$(date +%s)
debootstrap --variant=minbase bookworm "$fresh" "$mirror" >"$fresh.debootstrap.log" 2>&1 ||
  { tail -20 "$fresh.debootstrap.log"; exit 1; }
cat >"$fresh/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
SOURCES
cp /etc/hosts "$fresh/etc/hosts"
# The certificate authorities this machine adds to Debian's (a network's
# TLS proxy, say): the new root reaches the registries as this machine
# does. ca-certificates, which install-deps installs, takes them in.
mkdir -p "$fresh/usr/local/share/ca-certificates"
cp -r /usr/local/share/ca-certificates/. "$fresh/usr/local/share/ca-certificates/" 2>/dev/null || true
cp /etc/resolv.conf "$fresh/etc/resolv.conf" 2>/dev/null || true
for m in proc sys dev dev/pts dev/shm; do
  mkdir -p "$fresh/$m"
  mount --bind "/$m" "$fresh/$m"
  mounts+=("$fresh/$m")
done
mkdir -p "$fresh/src"
git -C "$root_dir" clone -q --no-hardlinks "$root_dir" "$fresh/src/utpost"
if [ -d "$root_dir/../shared" ]; then
  cp -r "$root_dir/../shared" "$fresh/src/shared"
fi
echo "fresh-machine-check: running .ci/run in the new root (root set up in $(($(date +%s) - start)) s)"
status=0
chroot "$fresh" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 CI=true /bin/bash -c 'cd /src/utpost && bash .ci/run' || status=$?
echo "fresh-machine-check: .ci/run exited $status after $(($(date +%s) - start)) s"
exit "$status"
