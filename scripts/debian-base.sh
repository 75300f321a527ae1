#!/usr/bin/env bash
# Builds the benchmark's Debian base image without Docker Hub and pushes it, for
# linux/amd64 and linux/arm64, to the local registry as one multi-platform index:
#
#   127.0.0.1:5000/multiarch/debian:bookworm
#
# Each platform's root filesystem is made by `mmdebstrap --variant=minbase` from the
# machine's own Debian mirror (arm64 under QEMU), imported with `docker import
# --platform linux/ARCH`, pushed as `:bookworm-ARCH`, and the two are joined with
# `docker buildx imagetools create`. When the index already exists in the registry with
# both platforms, nothing is rebuilt (a second run takes about a second).
#
# As root on Debian it installs mmdebstrap with apt-get when missing. Needs the stack of
# scripts/docker-stack.sh (dockerd, buildx, registry, QEMU) running.
#
# Usage: sudo scripts/debian-base.sh [--force]
set -euo pipefail

REGISTRY=${MULTIARCH_REGISTRY:-127.0.0.1:5000}
IMAGE=$REGISTRY/multiarch/debian:bookworm
SUITE=bookworm
ARCHES=(amd64 arm64)
SOURCES=/etc/apt/sources.list.d/debian.sources
# An install that touches these upgrades the C library under the whole machine.
PROTECTED_PACKAGES=(libc6 libc-bin base-files)
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

die() {
    echo "debian-base.sh: error: $*" >&2
    exit 1
}

force=false
case "${1:-}" in
--force) force=true ;;
"") ;;
*) die "unknown argument '$1' (allowed: --force)" ;;
esac

# Both platforms of the index, or nothing when it is missing.
index_platforms() {
    docker buildx imagetools inspect "$IMAGE" --format '{{range .Manifest.Manifests}}{{.Platform.OS}}/{{.Platform.Architecture}} {{end}}' 2>/dev/null || true
}

if ! $force; then
    have=$(index_platforms)
    if [[ $have == *linux/amd64* && $have == *linux/arm64* ]]; then
        echo "debian-base: reused $IMAGE ($have)"
        exit 0
    fi
fi

# arch-test (a Recommends of mmdebstrap) is what mmdebstrap checks foreign architectures with.
if ! command -v mmdebstrap >/dev/null || ! command -v arch-test >/dev/null; then
    [ "$(id -u)" = 0 ] || die "mmdebstrap is missing: run this script as root (it installs it with apt-get) or 'apt-get install mmdebstrap'"
    command -v apt-get >/dev/null || die "mmdebstrap is missing and this is not Debian: install mmdebstrap"
    echo "debian-base: installing mmdebstrap ..."
    simulation=$(apt-get -s install -y --no-install-recommends mmdebstrap arch-test 2>&1) || {
        apt-get update -qq || die "apt-get update failed"
        simulation=$(apt-get -s install -y --no-install-recommends mmdebstrap arch-test 2>&1) || die "apt-get -s install mmdebstrap failed:"$'\n'"$simulation"
    }
    for p in "${PROTECTED_PACKAGES[@]}"; do
        ! grep -qE "^Inst $p[ :]" <<<"$simulation" || die "refusing to install mmdebstrap: it would change $p"
    done
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap arch-test >/dev/null ||
        die "apt-get install mmdebstrap failed"
fi

# The machine's own mirror: the first URIs of its Debian sources (no other network here).
mirror=$(awk '/^URIs:/ { print $2; exit }' "$SOURCES" 2>/dev/null || true)
[ -n "$mirror" ] || die "no 'URIs:' line in $SOURCES: cannot tell which Debian mirror to use"

work=$(mktemp -d /tmp/multiarch-debian-base.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Both root filesystems at once: amd64 is mostly download, arm64 mostly QEMU.
pids=()
for arch in "${ARCHES[@]}"; do
    (
        started=$SECONDS
        mmdebstrap --quiet --variant=minbase --architectures="$arch" "$SUITE" "$work/$arch.tar" "$mirror" \
            >"$work/$arch.log" 2>&1 || { tail -20 "$work/$arch.log" >&2; exit 1; }
        echo "debian-base: mmdebstrap $arch $((SECONDS - started)) s ($(du -h "$work/$arch.tar" | cut -f1))"
    ) &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid" || die "mmdebstrap failed"
done

refs=()
for arch in "${ARCHES[@]}"; do
    ref="$IMAGE-$arch"
    docker import --platform "linux/$arch" "$work/$arch.tar" "$ref" >/dev/null
    docker push --quiet "$ref" >/dev/null
    refs+=("$ref")
done
docker buildx imagetools create --tag "$IMAGE" "${refs[@]}" >/dev/null 2>&1 ||
    die "docker buildx imagetools create --tag $IMAGE ${refs[*]} failed"
echo "debian-base: pushed $IMAGE ($(index_platforms))"
