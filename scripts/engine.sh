#!/usr/bin/env bash
# Builds the real Pulumi engine these tests run, from Go modules (no release download can
# be reached here), and prints the `export` lines of a shell that uses it:
#
#   eval "$(bash scripts/engine.sh)"
#
# What it builds (tools/*/go.mod and go.sum pin every version):
#   pulumi                        the Pulumi CLI v3.248.0, the release @pulumi/pulumi is pinned to
#   pulumi-language-nodejs        the Node.js language host (tools/pulumi/pulumi-language-nodejs: the
#                                 proxy serves no version of Pulumi's own; see its doc comment),
#                                 and beside it pulumi-resource-pulumi-nodejs, the dynamic-provider
#                                 plugin a release bundles
#   pulumi-resource-docker-build  docker-build v0.0.22, its version set at link time, then
#                                 installed as a plugin from the file
#   buildkitd, buildctl           BuildKit v0.31.2 with its version ldflags, and from them the
#                                 image docker-container builders start here (needs dockerd and
#                                 the registry of scripts/docker-stack.sh)
#
# Everything it builds lives outside the clone, in $MULTIARCH_TOOLS (default
# /var/cache/multiarch as root, ~/.cache/multiarch otherwise), in a directory keyed by the
# tool's version and the hash of its tools module, so a second run, or CI on the same
# machine, reuses it in a second or two. Progress goes to stderr; stdout has only the
# export lines.
#
# With --check it builds and installs nothing: it prints the same export lines when
# everything is in place, and exits 3 naming what is missing otherwise (the real-engine
# tests use it to find the engine).
#
# Usage: bash scripts/engine.sh [--no-image | --check]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PULUMI_VERSION=v3.248.0
DOCKER_BUILD_VERSION=0.0.22
BUILDKIT_VERSION=v0.31.2
REGISTRY=127.0.0.1:5000
# The image docker-container builders run. buildx falls back to a local image of the name
# it pulls when the pull fails (no Docker Hub here), and docker-build creates builders
# with buildx's default, so the image carries that name too.
BUILDKIT_IMAGE=$REGISTRY/multiarch/buildkit:$BUILDKIT_VERSION
BUILDX_DEFAULT_IMAGE=moby/buildkit:buildx-stable-1
# The CA of the stack's TLS registry (scripts/docker-stack.sh): builders trust it as the
# machine does.
REGISTRY_CA=/etc/multiarch/tls/ca.crt

if [ -z "${MULTIARCH_TOOLS:-}" ]; then
    if [ "$(id -u)" = 0 ]; then MULTIARCH_TOOLS=/var/cache/multiarch; else MULTIARCH_TOOLS=${XDG_CACHE_HOME:-$HOME/.cache}/multiarch; fi
fi
export GOMODCACHE=$MULTIARCH_TOOLS/go/mod GOCACHE=$MULTIARCH_TOOLS/go/build GOFLAGS=-mod=readonly CGO_ENABLED=0
export PATH="$PATH:/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin"
LOGS=$MULTIARCH_TOOLS/logs
START=$SECONDS

say() { printf '%-14s %-9s %s\n' "$1" "$2" "$3" >&2; }
die() {
    echo "engine.sh: error: $*" >&2
    exit 1
}

with_image=true check_only=false
case "${1:-}" in
--no-image) with_image=false ;;
--check) check_only=true ;;
"") ;;
*) die "unknown argument '$1' (usage: scripts/engine.sh [--no-image | --check])" ;;
esac
missing=()

command -v go >/dev/null || die "go is not on PATH: these tools are built from Go modules and need Go 1.26"
mkdir -p "$GOMODCACHE" "$GOCACHE" "$LOGS"

# The key of a tools module: its go.mod, go.sum and every Go file of its own.
module_key() { # DIR
    (cd "$1" && find . -name '*.go' -o -name go.mod -o -name go.sum -o -name 'pulumi-resource-*' | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-12
}

# Builds PACKAGES of tools/MODULE into OUT (once per key), with FLAGS...
build() { # NAME MODULE OUT -- GO-BUILD-ARGS...
    local name=$1 module=$2 out=$3
    shift 4
    if [ -f "$out/.complete" ]; then
        say "$name" reused "$out"
        return 0
    fi
    if [ "$check_only" = true ]; then
        missing+=("$name ($out is not built)")
        return 0
    fi
    local log=$LOGS/$name.log stage t0=$SECONDS
    stage=$(mktemp -d "$MULTIARCH_TOOLS/.stage-$name.XXXXXX")
    say "$name" building "go build in tools/$module (log $log; cold on 2 cores: several minutes)"
    if ! (cd "$ROOT/tools/$module" && go build -trimpath -o "$stage/" "$@") >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -rf "$stage"
        die "building $name failed (log $log)"
    fi
    rm -rf "$out"
    mkdir -p "$(dirname "$out")"
    mv "$stage" "$out"
    chmod 755 "$out"
    touch "$out/.complete"
    # Earlier builds of the same version (another tools module) are not used again.
    local old
    for old in "${out%-*}"-*; do
        [ "$old" = "$out" ] || rm -rf "$old"
    done
    say "$name" built "$out in $((SECONDS - t0)) s"
}

# One build at a time per machine: a second run waits for the first instead of racing it.
exec 9>"$MULTIARCH_TOOLS/.engine.lock"
[ "$check_only" = true ] || flock 9

PULUMI_DIR=$MULTIARCH_TOOLS/engine/pulumi-$PULUMI_VERSION-$(module_key "$ROOT/tools/pulumi")
build pulumi pulumi "$PULUMI_DIR" -- \
    -tags osusergo,grpcnotrace \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION -X main.version=$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./pulumi-language-nodejs
# Bundled with the CLI, as in a release; the engine looks beside `pulumi` for it.
[ "$check_only" = true ] || install -m 0755 "$ROOT/tools/pulumi/pulumi-resource-pulumi-nodejs" "$PULUMI_DIR/"

DOCKER_BUILD_DIR=$MULTIARCH_TOOLS/engine/docker-build-v$DOCKER_BUILD_VERSION-$(module_key "$ROOT/tools/docker-build")
build docker-build docker-build "$DOCKER_BUILD_DIR" -- \
    -ldflags "-X github.com/pulumi/pulumi-docker-build/provider.Version=$DOCKER_BUILD_VERSION" \
    github.com/pulumi/pulumi-docker-build/provider/cmd/pulumi-resource-docker-build

BUILDKIT_DIR=$MULTIARCH_TOOLS/engine/buildkit-$BUILDKIT_VERSION-$(module_key "$ROOT/tools/buildkit")
build buildkit buildkit "$BUILDKIT_DIR" -- \
    -tags "osusergo netgo static_build seccomp" \
    -ldflags "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION -X github.com/moby/buildkit/version.Revision=$BUILDKIT_VERSION -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit" \
    github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl

# ------------------------------------------------------------------- the engine's home

if [ "${#missing[@]}" -gt 0 ]; then
    printf 'engine.sh --check: missing %s\n' "${missing[@]}" >&2
    echo "build them with: bash scripts/engine.sh" >&2
    exit 3
fi

export PATH="$PULUMI_DIR:$PATH"
export PULUMI_HOME=$MULTIARCH_TOOLS/pulumi-home
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true PULUMI_DISABLE_REGISTRY_RESOLVE=true
mkdir -p "$PULUMI_HOME"
[ "$(pulumi version 2>/dev/null)" = "$PULUMI_VERSION" ] || die "$PULUMI_DIR/pulumi version does not print $PULUMI_VERSION"

# The plugin cache holds docker-build as `pulumi plugin install --file` put it there;
# reinstall when the binary differs (a rebuild with another key).
plugin_dir=$PULUMI_HOME/plugins/resource-docker-build-v$DOCKER_BUILD_VERSION
if cmp -s "$plugin_dir/pulumi-resource-docker-build" "$DOCKER_BUILD_DIR/pulumi-resource-docker-build"; then
    say docker-build reused "plugin resource docker-build $DOCKER_BUILD_VERSION in $plugin_dir"
elif [ "$check_only" = true ]; then
    echo "engine.sh --check: missing the docker-build plugin in $plugin_dir; install it with: bash scripts/engine.sh" >&2
    exit 3
else
    pulumi plugin rm resource docker-build "$DOCKER_BUILD_VERSION" --yes >/dev/null 2>&1 || true
    pulumi plugin install resource docker-build "$DOCKER_BUILD_VERSION" --file "$DOCKER_BUILD_DIR/pulumi-resource-docker-build" >&2 ||
        die "pulumi plugin install resource docker-build $DOCKER_BUILD_VERSION --file … failed"
    say docker-build installed "plugin resource docker-build $DOCKER_BUILD_VERSION in $plugin_dir"
fi

# docker-build's schema carries Java and C# package settings whose modules the proxy does
# not serve (tools/docker-build/stubs): the built schema must hold the published ones.
schema_check=$MULTIARCH_TOOLS/engine/docker-build-schema-$(sha256sum "$ROOT/tools/docker-build/stubs/language.json" "$DOCKER_BUILD_DIR/pulumi-resource-docker-build" | sha256sum | cut -c1-12).ok
if [ ! -f "$schema_check" ] && [ "$check_only" = false ]; then
    schema=$(cd "$(mktemp -d)" && pulumi package get-schema "$DOCKER_BUILD_DIR/pulumi-resource-docker-build") ||
        die "pulumi package get-schema of the built docker-build plugin failed"
    # shellcheck disable=SC2016 # the JavaScript is single-quoted on purpose
    node -e '
        const [schema, expected] = [JSON.parse(process.argv[1]), JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"))];
        const sorted = (v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v);
        for (const lang of Object.keys(expected)) {
            const got = JSON.stringify(sorted(schema.language?.[lang]));
            if (got !== JSON.stringify(sorted(expected[lang]))) {
                console.error(`docker-build schema: language.${lang} is ${got}, the published schema has ${JSON.stringify(expected[lang])}`);
                process.exit(1);
            }
        }
        if (schema.version !== process.argv[3]) { console.error(`docker-build schema: version ${schema.version}, expected ${process.argv[3]}`); process.exit(1); }
    ' "$schema" "$ROOT/tools/docker-build/stubs/language.json" "$DOCKER_BUILD_VERSION" || die "the built docker-build plugin's schema differs from the published one"
    touch "$schema_check"
    say docker-schema ok "language.java and language.csharp as published, version $DOCKER_BUILD_VERSION"
fi

# --------------------------------------------------------------- the BuildKit image

buildkit_image_ok() {
    [ "$(docker image inspect --format '{{index .Config.Labels "org.multiarch.buildkit.key"}}' "$BUILDX_DEFAULT_IMAGE" 2>/dev/null)" = "$1" ] &&
        docker buildx imagetools inspect "$BUILDKIT_IMAGE" >/dev/null 2>&1
}

# The machine's own bookworm mirror (as scripts/docker-stack.sh reads it).
debian_mirror() {
    awk 'BEGIN { RS = ""; FS = "\n" } { u = ""; s = ""
        for (i = 1; i <= NF; i++) { if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, a, /[ \t]+/); u = a[1] } if ($i ~ /^Suites:/) s = " " $i " " }
        if (s ~ /[ \t]bookworm[ \t]/ && u != "") { print u; exit } }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true
}

ensure_buildkit_image() {
    local key ca_key=none
    [ ! -f "$REGISTRY_CA" ] || ca_key=$(sha256sum "$REGISTRY_CA" | cut -c1-12)
    key=$(basename "$BUILDKIT_DIR")-debian-runc-3-ca-$ca_key
    if buildkit_image_ok "$key"; then
        say buildkit-image reused "$BUILDKIT_IMAGE, also tagged $BUILDX_DEFAULT_IMAGE"
        return 0
    fi
    if [ "$check_only" = true ]; then
        echo "engine.sh --check: missing the BuildKit image $BUILDKIT_IMAGE (or its local tag $BUILDX_DEFAULT_IMAGE); build it with: bash scripts/engine.sh" >&2
        exit 3
    fi
    local t0=$SECONDS work mirror
    work=$(mktemp -d)
    mirror=$(debian_mirror)
    if ! command -v mmdebstrap >/dev/null; then
        [ "$(id -u)" = 0 ] || die "mmdebstrap is missing: the BuildKit image is made from Debian packages (apt-get install mmdebstrap)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >>"$LOGS/apt.log" 2>&1 ||
            { apt-get update -qq >>"$LOGS/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >>"$LOGS/apt.log" 2>&1; } ||
            die "apt-get install mmdebstrap failed"
    fi
    # buildkitd runs each step with runc (Debian's is linked against the C library, so it
    # comes with the Debian root it needs); git fetches git contexts; pigz speeds up
    # layer compression.
    mmdebstrap --quiet --variant=minbase --include=runc,ca-certificates,git,pigz,xz-utils \
        bookworm "$work/rootfs.tar" ${mirror:+"$mirror"} >&2 || { rm -rf "$work"; die "mmdebstrap of the BuildKit image's root failed"; }
    docker import "$work/rootfs.tar" multiarch/buildkit-base:bookworm >/dev/null || { rm -rf "$work"; die "docker import failed"; }
    cp "$BUILDKIT_DIR/buildkitd" "$BUILDKIT_DIR/buildctl" "$work/"
    if [ -f "$REGISTRY_CA" ]; then cp "$REGISTRY_CA" "$work/multiarch-registry-ca.crt"; else : >"$work/multiarch-registry-ca.crt"; fi
    cat >"$work/Dockerfile" <<EOF
FROM multiarch/buildkit-base:bookworm
COPY buildkitd buildctl /usr/bin/
COPY multiarch-registry-ca.crt /usr/local/share/ca-certificates/
RUN ["update-ca-certificates"]
VOLUME /var/lib/buildkit
LABEL org.multiarch.buildkit.key="$key"
ENTRYPOINT ["buildkitd"]
EOF
    docker buildx build --builder default --quiet --provenance=false --load -t "$BUILDKIT_IMAGE" -t "$BUILDX_DEFAULT_IMAGE" "$work" >/dev/null ||
        { rm -rf "$work"; die "building the BuildKit image failed"; }
    rm -rf "$work"
    docker push --quiet "$BUILDKIT_IMAGE" >/dev/null || die "docker push $BUILDKIT_IMAGE failed (is the registry of scripts/docker-stack.sh up?)"
    say buildkit-image built "$BUILDKIT_IMAGE ($(docker run --rm --entrypoint buildkitd "$BUILDKIT_IMAGE" --version | awk '{print $3}')), also tagged $BUILDX_DEFAULT_IMAGE, in $((SECONDS - t0)) s"
}

if [ "$with_image" = true ]; then
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
        die "no Docker daemon answers: run scripts/docker-stack.sh first (the BuildKit image is built with it), or pass --no-image"
    ensure_buildkit_image
fi

say engine ready "in $((SECONDS - START)) s"
cat <<EOF
export PATH="$PULUMI_DIR:\$PATH"
export PULUMI_HOME="$PULUMI_HOME"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_BACKEND_URL="\${PULUMI_BACKEND_URL:-file://$MULTIARCH_TOOLS/backend}"
export PULUMI_CONFIG_PASSPHRASE="\${PULUMI_CONFIG_PASSPHRASE-}"
export MULTIARCH_BUILDKIT_IMAGE="$BUILDKIT_IMAGE"
EOF
mkdir -p "$MULTIARCH_TOOLS/backend"
