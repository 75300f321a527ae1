#!/usr/bin/env bash
# Starts the real Docker stack the integration tests and examples/app use: dockerd with
# the containerd image store, buildx, arm64 emulation (QEMU via binfmt_misc), an
# anonymous registry on 127.0.0.1:5000, an htpasswd registry on 127.0.0.1:5001, an htpasswd
# registry over TLS at registry.multiarch.test:5443 (127.0.0.1 by /etc/hosts; served as ECR,
# GHCR and every hosted registry serve, by name and https, with a certificate from a CA of
# this machine's own that the system trusts), the
# busybox binaries (amd64, arm64) that stand in for Docker Hub base images, and the
# multi-arch base image 127.0.0.1:5000/multiarch/busybox:latest, and cosign (image
# signing and verification).
#
# As root on Debian 12 it installs what is missing (see /work/shared/docs/docker-stack.md
# for why each package comes from where it does) and starts what is not running. Every
# step is idempotent: a second run reuses everything and takes a few seconds.
# Anywhere else (not root, not Debian 12, or `--check`) it installs nothing: it checks
# each part and says what is missing and how to start it.
#
# Usage: sudo scripts/docker-stack.sh [--check]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="$ROOT/.stack"
EXAMPLE_BUSYBOX="$ROOT/examples/app/busybox"
CONF_DIR=/etc/multiarch
DATA_DIR=/var/lib/multiarch
DOCKERD_LOG=/var/log/multiarch-dockerd.log
APT_LOG=/var/log/multiarch-apt.log
# Keep these in step with tests/integration/stack.ts.
REGISTRY_PORT=5000
AUTH_REGISTRY_PORT=5001
TLS_REGISTRY_PORT=5443
TLS_DIR=/etc/multiarch/tls
# A name, not a loopback address: BuildKit, buildx and containerd speak plain http to
# 127.0.0.1 and localhost whatever the server speaks (MatchLocalhost), and no hosted
# registry is reached that way. .test is reserved (RFC 2606), so the name is nobody's.
TLS_REGISTRY_HOST=registry.multiarch.test
SYSTEM_CA=/usr/local/share/ca-certificates/multiarch-registry-ca.crt
AUTH_USER=multiarch
AUTH_PASSWORD=multiarch-test-password
BASE_IMAGE=127.0.0.1:$REGISTRY_PORT/multiarch/busybox:latest
ARCHES=(amd64 arm64)
TRIXIE_SOURCES=/etc/apt/sources.list.d/multiarch-trixie.sources
TRIXIE_PIN=/etc/apt/preferences.d/multiarch-trixie
DOCKER_PACKAGES=(docker.io/trixie docker-cli/trixie docker-buildx/trixie containerd/trixie)
# cosign signs and verifies images (MultiArchImage `signing`, VmDeployment
# `requireSignature`, preflight --sign-key). Trixie's 2.5.0 is one Go binary whose only
# dependency is libc6 (>= 2.34), which bookworm's 2.36 satisfies, so naming it pulls no
# trixie library (guard_install checks).
SIGNING_PACKAGES=(cosign/trixie)
# apache2-utils: htpasswd (bcrypt) for the auth registry; curl and jq: this script's probes;
# openssh-client: ssh-agent, ssh-add and ssh-keygen for the tests of SSH mounts.
OTHER_PACKAGES=(docker-registry qemu-user-static binfmt-support apache2-utils curl jq shellcheck openssh-client)
# An install that touches these upgrades the C library under the whole machine.
PROTECTED_PACKAGES=(libc6 libc-bin base-files)

# dockerd, runc and update-binfmts live in sbin; keep the caller's order first so the
# machine's own docker CLI (/usr/local/bin/docker) stays the one that runs.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

START=$SECONDS

# One line per part: what it is, whether it was reused, started or installed, details.
report() { # PART STATE DETAIL
    printf '%-14s %-9s %s\n' "$1" "$2" "$3"
}

die() {
    echo "docker-stack.sh: error: $*" >&2
    exit 1
}

# ---------------------------------------------------------------------------- probes

daemon_version() {
    docker version --format '{{.Server.Version}}' 2>/dev/null
}

# The HTTP status of GET /v2/ on 127.0.0.1:PORT, or 000 when nothing answers (https for
# the TLS registry's port, verified against the machine's CA).
registry_status() {
    if [ "$1" = "$TLS_REGISTRY_PORT" ]; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 3 --cacert "$TLS_DIR/ca.crt" "https://$TLS_REGISTRY_HOST:$1/v2/" 2>/dev/null || true
    else
        curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$1/v2/" || true
    fi
}

emulates_arm64() {
    grep -q 'linux/arm64' <<<"$(docker buildx inspect default 2>/dev/null || true)"
}

cosign_version() {
    cosign version 2>/dev/null | awk '$1 == "GitVersion:" { print "cosign " $2 }'
}

containerd_store() {
    grep -q 'io.containerd.snapshotter' <<<"$(docker info --format '{{json .DriverStatus}}' 2>/dev/null || true)"
}

base_image_ok() {
    local listing
    listing=$(docker buildx imagetools inspect "$BASE_IMAGE" 2>/dev/null) || return 1
    grep -qE 'Platform:[[:space:]]+linux/amd64$' <<<"$listing" &&
        grep -qE 'Platform:[[:space:]]+linux/arm64$' <<<"$listing"
}

busybox_ok() { # ARCH DIR
    [ -x "$2/$1/busybox" ]
}

# ------------------------------------------------------------------------ check-only

check_only() {
    echo "Checking the Docker stack without installing anything ($1)."
    local missing=0
    local version
    if version=$(daemon_version); then
        report dockerd ok "Docker engine $version"
        containerd_store ||
            echo "  note: the containerd image store is off; multi-platform builds with the default builder need it (Docker Desktop: Settings > General > 'Use containerd for pulling and storing images'; dockerd: daemon.json {\"features\": {\"containerd-snapshotter\": true}})"
    elif grep -qi 'permission denied' <<<"$(docker version 2>&1 || true)"; then
        report dockerd MISSING "a daemon runs but this user may not use its socket: run as root (sudo) or join the docker group"
        missing=1
    else
        report dockerd MISSING "docker version cannot reach a daemon: start Docker Desktop, or on Debian 12 run 'sudo scripts/docker-stack.sh'"
        missing=1
    fi
    if docker buildx version >/dev/null 2>&1; then
        report buildx ok "$(docker buildx version)"
    else
        report buildx MISSING "install the buildx plugin (Debian: docker-buildx; Docker's repo: docker-buildx-plugin)"
        missing=1
    fi
    if command -v cosign >/dev/null; then
        report cosign ok "$(cosign_version)"
    else
        report cosign MISSING "install cosign 2.x (Debian 13: apt-get install cosign; elsewhere the release binary from https://github.com/sigstore/cosign/releases)"
        missing=1
    fi
    if [ -n "${version:-}" ]; then
        if emulates_arm64; then
            report arm64 ok "docker buildx inspect default lists linux/arm64"
        else
            report arm64 MISSING "no arm64 emulation: on Linux install qemu-user-static + binfmt-support, run 'update-binfmts --enable qemu-aarch64', then restart dockerd"
            missing=1
        fi
    fi
    local status
    status=$(registry_status "$REGISTRY_PORT")
    if [ "$status" = 200 ]; then
        report registry ok "127.0.0.1:$REGISTRY_PORT"
    else
        report registry MISSING "nothing answers on 127.0.0.1:$REGISTRY_PORT (HTTP $status): docker run -d --name multiarch-registry -p 127.0.0.1:$REGISTRY_PORT:5000 registry:2"
        missing=1
    fi
    status=$(registry_status "$AUTH_REGISTRY_PORT")
    if [ "$status" = 401 ]; then
        report auth-registry ok "127.0.0.1:$AUTH_REGISTRY_PORT (asks for credentials)"
    else
        report auth-registry MISSING "no htpasswd registry on 127.0.0.1:$AUTH_REGISTRY_PORT (HTTP $status): htpasswd -Bbn $AUTH_USER $AUTH_PASSWORD > auth/htpasswd && docker run -d --name multiarch-auth-registry -p 127.0.0.1:$AUTH_REGISTRY_PORT:5000 -v \"\$PWD/auth:/auth\" -e REGISTRY_AUTH=htpasswd -e REGISTRY_AUTH_HTPASSWD_REALM=multiarch -e REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd registry:2"
        missing=1
    fi
    local arch
    for arch in "${ARCHES[@]}"; do
        if busybox_ok "$arch" "$CACHE/busybox" && busybox_ok "$arch" "$EXAMPLE_BUSYBOX"; then
            report "busybox-$arch" ok "$CACHE/busybox/$arch/busybox"
        else
            report "busybox-$arch" MISSING "put Debian's busybox-static ($arch) /bin/busybox at .stack/busybox/$arch/busybox and examples/app/busybox/$arch/busybox (this script does it as root on Debian 12)"
            missing=1
        fi
    done
    if [ -z "${version:-}" ]; then
        report base-image UNKNOWN "$BASE_IMAGE: cannot check without the daemon"
    elif base_image_ok; then
        report base-image ok "$BASE_IMAGE"
    else
        report base-image MISSING "$BASE_IMAGE (linux/amd64 + linux/arm64) is not in the registry (this script builds it as root on Debian 12)"
        missing=1
    fi
    if [ "$missing" = 1 ]; then
        echo "The Docker stack is incomplete (see MISSING above)." >&2
        exit 1
    fi
    echo "The Docker stack is complete."
}

# ---------------------------------------------------------------------------- packages

installed() { # PACKAGE
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

host_arch() {
    dpkg --print-architecture
}

# The URI of the machine's own bookworm source, so trixie comes from the same mirror.
debian_mirror() {
    local uri=""
    if [ -r /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
            {
                uris = ""; suites = ""
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uris = u[1] }
                    if ($i ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", $i); suites = " " $i " " }
                }
                if (suites ~ /[ \t]bookworm[ \t]/ && uris != "") { print uris; exit }
            }' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i + 1) == "bookworm") { print $i; exit } }' /etc/apt/sources.list)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

APT_UPDATED=0
apt_update() {
    [ "$APT_UPDATED" = 1 ] && return 0
    echo "apt-get update ..."
    apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
}

add_trixie_source() {
    if grep -rqsE '^[[:space:]]*Suites:.*[[:space:]]trixie([[:space:]]|$)|^[[:space:]]*deb[[:space:]].*[[:space:]]trixie[[:space:]]' \
        /etc/apt/sources.list /etc/apt/sources.list.d/; then
        report apt-trixie reused "a trixie source is already configured"
    else
        local mirror
        mirror=$(debian_mirror)
        # Architectures: only the host's, so adding arm64 for busybox does not fetch
        # trixie's arm64 indexes too.
        cat >"$TRIXIE_SOURCES" <<EOF
# Added by multiarch scripts/docker-stack.sh: docker.io 26, buildx, containerd and
# cosign come from trixie; $TRIXIE_PIN keeps everything else on bookworm.
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Architectures: $(host_arch)
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        report apt-trixie installed "$TRIXIE_SOURCES ($mirror)"
    fi
    if grep -rqsE '^Pin:[[:space:]]*release[[:space:]].*n=trixie' /etc/apt/preferences /etc/apt/preferences.d/; then
        report apt-pin reused "trixie is already pinned"
    else
        cat >"$TRIXIE_PIN" <<EOF
# Added by multiarch scripts/docker-stack.sh: nothing comes from trixie unless named.
Package: *
Pin: release n=trixie
Pin-Priority: 100
EOF
        report apt-pin installed "$TRIXIE_PIN (priority 100)"
    fi
}

# Refuses an install that would touch the C library or base-files, or remove anything.
guard_install() { # PACKAGE...
    local simulation touched bad=() removed
    simulation=$(apt-get -s install -y --no-install-recommends "$@" 2>&1) ||
        die "apt-get -s install $* failed:"$'\n'"$simulation"
    touched=$(awk '$1 == "Inst" || $1 == "Remv" || $1 == "Purg" { sub(/:.*/, "", $2); print $2 }' <<<"$simulation" | sort -u)
    local p
    for p in "${PROTECTED_PACKAGES[@]}"; do
        grep -qx "$p" <<<"$touched" && bad+=("$p")
    done
    if [ "${#bad[@]}" -gt 0 ]; then
        grep -E "^(Inst|Remv|Purg) ($(IFS='|'; echo "${bad[*]}"))[ :]" <<<"$simulation" >&2 || true
        die "refusing to install: 'apt-get install $*' would change ${bad[*]} (a mixed bookworm/trixie C library breaks the machine). Check the trixie pin in $TRIXIE_PIN and that each trixie package is named as PACKAGE/trixie."
    fi
    removed=$(awk '$1 == "Remv" || $1 == "Purg" { print $2 }' <<<"$simulation" | tr '\n' ' ')
    [ -z "$removed" ] || die "refusing to install: 'apt-get install $*' would remove: $removed"
    echo "apt-get -s: $(grep -c '^Inst ' <<<"$simulation") packages to install, none of ${PROTECTED_PACKAGES[*]}"
}

install_packages() {
    local wanted=("${SIGNING_PACKAGES[@]}" "${OTHER_PACKAGES[@]}") missing=() spec
    if ! installed docker.io && { command -v dockerd >/dev/null || daemon_version >/dev/null; }; then
        # A Docker engine from elsewhere (e.g. docker-ce): use it, do not install over it.
        report docker-pkgs reused "the existing Docker engine ($(command -v dockerd || echo 'running daemon')), not Debian's docker.io"
    else
        wanted=("${DOCKER_PACKAGES[@]}" "${wanted[@]}")
    fi
    for spec in "${wanted[@]}"; do
        installed "${spec%/*}" || missing+=("$spec")
    done

    local arch arches_missing=()
    for arch in "${ARCHES[@]}"; do
        busybox_ok "$arch" "$CACHE/busybox" || arches_missing+=("$arch")
    done

    if [ "${#missing[@]}" -eq 0 ] && [ "${#arches_missing[@]}" -eq 0 ]; then
        report packages reused "${wanted[*]%/trixie} (all installed)"
        report busybox reused "$CACHE/busybox/{$(IFS=,; echo "${ARCHES[*]}")}/busybox"
        return 0
    fi

    add_trixie_source
    for arch in "${arches_missing[@]}"; do
        if [ "$arch" != "$(host_arch)" ] && ! grep -qx "$arch" <<<"$(dpkg --print-foreign-architectures)"; then
            dpkg --add-architecture "$arch"
            report dpkg-arch installed "dpkg --add-architecture $arch (for apt-get download busybox-static:$arch)"
        fi
    done
    apt_update

    if [ "${#missing[@]}" -gt 0 ]; then
        guard_install "${missing[@]}"
        # No init system: keep package scripts from starting daemons (Debian's registry
        # would listen on all interfaces); this script starts each one its own way.
        local policy_added=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            policy_added=1
        fi
        local t0=$SECONDS rc=0
        echo "apt-get install ${missing[*]} (output in $APT_LOG) ..."
        echo "=== $(date -Is) apt-get install ${missing[*]}" >>"$APT_LOG"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$APT_LOG" 2>&1 || rc=$?
        [ "$policy_added" = 0 ] || rm -f /usr/sbin/policy-rc.d
        if [ "$rc" != 0 ]; then
            tail -n 25 "$APT_LOG" >&2
            die "apt-get install ${missing[*]} failed (exit $rc; log $APT_LOG)"
        fi
        report packages installed "${missing[*]} in $((SECONDS - t0)) s"
    else
        report packages reused "${wanted[*]%/trixie} (all installed)"
    fi

    if [ "${#arches_missing[@]}" -gt 0 ]; then
        fetch_busybox "${arches_missing[@]}"
    else
        report busybox reused "$CACHE/busybox/{$(IFS=,; echo "${ARCHES[*]}")}/busybox"
    fi
}

fetch_busybox() { # ARCH...
    local work arch
    work=$(mktemp -d)
    # apt-get download drops privileges to _apt: let it write here.
    chown _apt "$work" 2>/dev/null || true
    (cd "$work" && apt-get download -qq $(printf 'busybox-static:%s ' "$@")) ||
        { rm -rf "$work"; die "apt-get download busybox-static failed for: $*"; }
    for arch in "$@"; do
        dpkg-deb -x "$work"/busybox-static_*_"$arch".deb "$work/$arch"
        install -D -m 0755 "$work/$arch/bin/busybox" "$CACHE/busybox/$arch/busybox"
    done
    rm -rf "$work"
    chown -R --reference="$ROOT" "$CACHE" 2>/dev/null || true
    report busybox installed "Debian busybox-static for $* in $CACHE/busybox/"
}

# The example's build context needs each platform's busybox next to its Dockerfile.
copy_busybox_to_example() {
    local arch copied=()
    for arch in "${ARCHES[@]}"; do
        if ! cmp -s "$CACHE/busybox/$arch/busybox" "$EXAMPLE_BUSYBOX/$arch/busybox"; then
            install -D -m 0755 "$CACHE/busybox/$arch/busybox" "$EXAMPLE_BUSYBOX/$arch/busybox"
            copied+=("$arch")
        fi
    done
    if [ "${#copied[@]}" -gt 0 ]; then
        chown -R --reference="$ROOT" "$EXAMPLE_BUSYBOX" 2>/dev/null || true
        report example installed "busybox for ${copied[*]} in examples/app/busybox/"
    else
        report example reused "examples/app/busybox/{$(IFS=,; echo "${ARCHES[*]}")}/busybox"
    fi
}

# ---------------------------------------------------------------------------- binfmt

enable_binfmt() {
    local changed=()
    if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
            die "cannot mount binfmt_misc (a container without privileges?): arm64 emulation needs it"
        changed+=("mounted /proc/sys/fs/binfmt_misc")
    fi
    if [ "$(head -n 1 /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null)" != enabled ]; then
        [ -e /var/lib/binfmts/qemu-aarch64 ] || update-binfmts --import qemu-aarch64
        update-binfmts --enable qemu-aarch64 || die "update-binfmts --enable qemu-aarch64 failed"
        changed+=("enabled qemu-aarch64")
    fi
    if [ "${#changed[@]}" -gt 0 ]; then
        BINFMT_CHANGED=1
        report binfmt started "$(IFS=,; echo "${changed[*]}")"
    else
        BINFMT_CHANGED=0
        report binfmt reused "qemu-aarch64 already enabled"
    fi
}

# ---------------------------------------------------------------------------- dockerd

configure_dockerd() {
    mkdir -p /etc/docker
    if [ ! -s /etc/docker/daemon.json ]; then
        echo '{ "features": { "containerd-snapshotter": true } }' >/etc/docker/daemon.json
        echo "wrote /etc/docker/daemon.json (containerd image store)"
    elif ! jq -e '.features["containerd-snapshotter"] == true' /etc/docker/daemon.json >/dev/null; then
        local merged
        merged=$(jq '.features["containerd-snapshotter"] = true' /etc/docker/daemon.json) ||
            die "/etc/docker/daemon.json is not valid JSON"
        printf '%s\n' "$merged" >/etc/docker/daemon.json
        echo "turned on the containerd image store in /etc/docker/daemon.json"
    fi
}

DOCKERD_PID=""
# Starts dockerd in its own session; returns 0 once the daemon answers, 2 when the log
# says iptables cannot be used, 1 otherwise.
start_dockerd() { # EXTRA-FLAG...
    local offset
    offset=$(stat -c %s "$DOCKERD_LOG" 2>/dev/null || echo 0)
    echo "=== $(date -Is) scripts/docker-stack.sh: dockerd $*" >>"$DOCKERD_LOG"
    setsid dockerd "$@" >>"$DOCKERD_LOG" 2>&1 </dev/null &
    DOCKERD_PID=$!
    local i
    for ((i = 0; i < 120; i++)); do
        daemon_version >/dev/null && return 0
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 0.5
    done
    if grep -q 'failed to create NAT chain' <<<"$(tail -c "+$((offset + 1))" "$DOCKERD_LOG")"; then
        stop_dockerd
        return 2
    fi
    return 1
}

stop_dockerd() {
    [ -n "$DOCKERD_PID" ] || return 0
    kill "$DOCKERD_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 40; i++)); do
        kill -0 "$DOCKERD_PID" 2>/dev/null || return 0
        sleep 0.5
    done
    die "dockerd (pid $DOCKERD_PID) did not stop"
}

ensure_dockerd() {
    configure_dockerd
    local version pid
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if ! version=$(daemon_version) && [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
        # A dockerd that is still starting (another run of this script): wait for it.
        local i
        for ((i = 0; i < 60; i++)); do
            version=$(daemon_version) && break
            sleep 0.5
        done
        [ -n "$version" ] || die "dockerd (pid $pid) runs but does not answer; see $DOCKERD_LOG"
    fi
    if [ -n "$version" ]; then
        # BuildKit lists the emulated platforms when dockerd starts: a dockerd started
        # before binfmt was enabled cannot build for arm64 until it restarts.
        if [ "$BINFMT_CHANGED" = 1 ] && ! emulates_arm64; then
            die "dockerd $version (pid ${pid:-?}) started before arm64 emulation was enabled: stop it (kill ${pid:-PID}) and run this script again"
        fi
        containerd_store || echo "  note: this dockerd runs without the containerd image store; restart it to pick up /etc/docker/daemon.json"
        report dockerd reused "Docker engine $version (pid ${pid:-?})"
        return 0
    fi
    command -v dockerd >/dev/null || die "dockerd is not installed (expected Debian's docker.io from trixie)"
    local rc=0 flags=()
    start_dockerd || rc=$?
    if [ "$rc" = 2 ]; then
        echo "dockerd: iptables NAT is not available here; starting it with --iptables=false"
        flags=(--iptables=false)
        rc=0
        start_dockerd "${flags[@]}" || rc=$?
    fi
    if [ "$rc" != 0 ]; then
        echo "--- last lines of $DOCKERD_LOG:" >&2
        tail -n 25 "$DOCKERD_LOG" >&2
        die "dockerd did not answer within 60 s (log: $DOCKERD_LOG)"
    fi
    report dockerd started "Docker engine $(daemon_version) (pid $DOCKERD_PID${flags[*]:+, ${flags[*]}}), log $DOCKERD_LOG"
}

# ---------------------------------------------------------------------------- registries

write_if_changed() { # FILE CONTENT
    if [ "$(cat "$1" 2>/dev/null)" != "$2" ]; then
        printf '%s\n' "$2" >"$1"
    fi
}

registry_config() { # PORT [HTPASSWD [TLS]]
    cat <<EOF
# Written by multiarch scripts/docker-stack.sh.
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $DATA_DIR/registry-$1
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$1
  secret: multiarch-local-registry-$1
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    if [ -n "${3:-}" ]; then
        cat <<EOF
  tls:
    certificate: $TLS_DIR/registry.crt
    key: $TLS_DIR/registry.key
EOF
    fi
    if [ -n "${2:-}" ]; then
        cat <<EOF
auth:
  htpasswd:
    realm: multiarch-registry
    path: $2
EOF
    fi
}

# The TLS registry's name in /etc/hosts, a CA of this machine's own and the registry's
# certificate for that name, trusted by the system (Go programs: dockerd, buildx,
# docker-build, cosign; curl), by dockerd for that registry (/etc/docker/certs.d) and,
# through scripts/engine.sh, by the BuildKit image. docker-container builders with
# network=host read the host's /etc/hosts.
ensure_tls() {
    mkdir -p "$TLS_DIR"
    local made=()
    if ! grep -qE "^127\.0\.0\.1[[:space:]]+(.*[[:space:]])?$TLS_REGISTRY_HOST([[:space:]]|\$)" /etc/hosts; then
        printf '127.0.0.1 %s # multiarch scripts/docker-stack.sh: the TLS test registry\n' "$TLS_REGISTRY_HOST" >>/etc/hosts
        made+=("/etc/hosts")
    fi
    if ! openssl x509 -in "$TLS_DIR/ca.crt" -noout -checkend 86400 >/dev/null 2>&1; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
            -subj "/CN=multiarch local registry CA" -addext "basicConstraints=critical,CA:TRUE" \
            -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" 2>/dev/null ||
            die "openssl could not make the registry CA"
        rm -f "$TLS_DIR/registry.crt"
        made+=("CA")
    fi
    if ! openssl verify -CAfile "$TLS_DIR/ca.crt" "$TLS_DIR/registry.crt" >/dev/null 2>&1 ||
        ! openssl x509 -in "$TLS_DIR/registry.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "DNS:$TLS_REGISTRY_HOST" ||
        ! openssl x509 -in "$TLS_DIR/registry.crt" -noout -checkend 86400 >/dev/null 2>&1; then
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$TLS_REGISTRY_HOST" \
            -keyout "$TLS_DIR/registry.key" -out "$TLS_DIR/registry.csr" 2>/dev/null ||
            die "openssl could not make the registry's key"
        openssl x509 -req -in "$TLS_DIR/registry.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" -CAcreateserial -days 825 \
            -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$TLS_REGISTRY_HOST") \
            -out "$TLS_DIR/registry.crt" 2>/dev/null || die "openssl could not sign the registry's certificate"
        rm -f "$TLS_DIR/registry.csr"
        # A registry still serving the old certificate reads the new one only on start.
        pkill -f "docker-registry serve $CONF_DIR/registry-$TLS_REGISTRY_PORT.yml" 2>/dev/null && sleep 1 || true
        made+=("registry certificate")
    fi
    chmod 600 "$TLS_DIR/ca.key" "$TLS_DIR/registry.key"
    if ! cmp -s "$TLS_DIR/ca.crt" "$SYSTEM_CA"; then
        install -D -m 0644 "$TLS_DIR/ca.crt" "$SYSTEM_CA"
        update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed"
        made+=("system trust")
    fi
    if ! cmp -s "$TLS_DIR/ca.crt" "/etc/docker/certs.d/$TLS_REGISTRY_HOST:$TLS_REGISTRY_PORT/ca.crt"; then
        install -D -m 0644 "$TLS_DIR/ca.crt" "/etc/docker/certs.d/$TLS_REGISTRY_HOST:$TLS_REGISTRY_PORT/ca.crt"
        made+=("dockerd's certs.d")
    fi
    if [ "${#made[@]}" -gt 0 ]; then
        report tls installed "$(IFS=,; echo "${made[*]}") in $TLS_DIR"
    else
        report tls reused "$TLS_DIR/ca.crt (trusted by the system and dockerd)"
    fi
}

ensure_htpasswd() {
    local file=$CONF_DIR/htpasswd
    if [ -s "$file" ] && htpasswd -vb "$file" "$AUTH_USER" "$AUTH_PASSWORD" >/dev/null 2>&1; then
        return 0
    fi
    htpasswd -Bbc "$file" "$AUTH_USER" "$AUTH_PASSWORD" 2>/dev/null
    chmod 644 "$file"
    echo "wrote $file ($AUTH_USER)"
}

ensure_registry() { # NAME PORT EXPECTED-STATUS [HTPASSWD [TLS]]
    local name=$1 port=$2 expected=$3 config=$CONF_DIR/registry-$2.yml log=/var/log/multiarch-registry-$2.log
    mkdir -p "$CONF_DIR" "$DATA_DIR/registry-$port"
    write_if_changed "$config" "$(registry_config "$port" "${4:-}" "${5:-}")"
    local status
    status=$(registry_status "$port")
    if [ "$status" = "$expected" ]; then
        report "$name" reused "127.0.0.1:$port (GET /v2/ -> $status)"
        return 0
    fi
    [ "$status" = 000 ] ||
        die "127.0.0.1:$port answers GET /v2/ with HTTP $status, expected $expected: something else holds the port"
    setsid /usr/bin/docker-registry serve "$config" >>"$log" 2>&1 </dev/null &
    local pid=$! i
    for ((i = 0; i < 40; i++)); do
        status=$(registry_status "$port")
        [ "$status" = "$expected" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if [ "$status" != "$expected" ]; then
        tail -n 15 "$log" >&2
        die "the registry on 127.0.0.1:$port did not come up (GET /v2/ -> $status; log $log)"
    fi
    report "$name" started "127.0.0.1:$port (pid $pid, config $config, log $log)"
}

# ---------------------------------------------------------------------------- base image

ensure_base_image() {
    if base_image_ok; then
        report base-image reused "$BASE_IMAGE (linux/amd64, linux/arm64)"
        return 0
    fi
    local work arch
    work=$(mktemp -d)
    for arch in "${ARCHES[@]}"; do
        install -D -m 0755 "$CACHE/busybox/$arch/busybox" "$work/$arch/busybox"
    done
    # scratch + Debian's static busybox: every applet (sh, uname, cat, sleep, ...) as a
    # symlink in /bin. The RUN executes the target platform's busybox (QEMU for arm64).
    cat >"$work/Dockerfile" <<'EOF'
FROM scratch
ARG TARGETARCH
COPY ${TARGETARCH}/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]
EOF
    local t0=$SECONDS
    docker buildx build --builder default --progress quiet --provenance=false \
        --platform "$(printf 'linux/%s,' "${ARCHES[@]}" | sed 's/,$//')" \
        --tag "$BASE_IMAGE" --push "$work" >/dev/null ||
        { rm -rf "$work"; die "building $BASE_IMAGE failed"; }
    rm -rf "$work"
    base_image_ok || die "$BASE_IMAGE was pushed but the registry does not list linux/amd64 and linux/arm64"
    report base-image started "built and pushed $BASE_IMAGE (linux/amd64, linux/arm64) in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------------------- checks

final_checks() {
    local buildx
    buildx=$(docker buildx version) || die "docker buildx version failed: is docker-buildx in /usr/libexec/docker/cli-plugins?"
    report buildx ok "$buildx"
    command -v cosign >/dev/null || die "cosign is not on PATH (expected Debian's cosign from trixie in /usr/bin)"
    report cosign ok "$(cosign_version)"
    emulates_arm64 || die "docker buildx inspect default does not list linux/arm64 (binfmt enabled after dockerd started? restart dockerd)"
    local arch expected got
    for arch in amd64 arm64; do
        case $arch in amd64) expected=x86_64 ;; arm64) expected=aarch64 ;; esac
        got=$(docker run --rm --platform "linux/$arch" "$BASE_IMAGE" uname -m) ||
            die "docker run --platform linux/$arch $BASE_IMAGE uname -m failed"
        [ "$got" = "$expected" ] || die "docker run --platform linux/$arch printed '$got', expected '$expected'"
        report "run-$arch" ok "docker run --platform linux/$arch $BASE_IMAGE uname -m -> $got"
    done
}

# ---------------------------------------------------------------------------- main

main() {
    local why=""
    if [ "${1:-}" = --check ]; then
        why="--check"
    elif [ "$(id -u)" != 0 ]; then
        why="not root"
    elif ! (. /etc/os-release 2>/dev/null && [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]); then
        why="not Debian 12"
    elif ! command -v apt-get >/dev/null; then
        why="no apt-get"
    fi
    if [ -n "$why" ]; then
        check_only "$why"
        return
    fi
    [ $# -eq 0 ] || die "unknown argument: $1 (usage: scripts/docker-stack.sh [--check])"

    install_packages
    copy_busybox_to_example
    enable_binfmt
    ensure_dockerd
    mkdir -p "$CONF_DIR"
    ensure_htpasswd
    ensure_registry registry "$REGISTRY_PORT" 200
    ensure_registry auth-registry "$AUTH_REGISTRY_PORT" 401 "$CONF_DIR/htpasswd"
    ensure_tls
    ensure_registry tls-registry "$TLS_REGISTRY_PORT" 401 "$CONF_DIR/htpasswd" tls
    ensure_base_image
    final_checks

    echo "Docker stack ready in $((SECONDS - START)) s."
}

main "$@"
