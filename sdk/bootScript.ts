// The user data of a VmDeployment's hosts: a bash script that installs Docker, logs in
// to ECR with the instance's role, pulls the image pinned by digest, refuses it unless
// its architecture is the host's, and runs it under systemd. Rendering is pure, so the
// tests can run the same script against a local registry and dockerd.
import { show } from "./errors";
import { parseImageReference } from "./registry";

/** One published port: the host's port and the container's. */
export interface PortMapping {
    /** The port on the host. Equivalent to the first part of `docker run --publish HOST:CONTAINER`. */
    host: number;
    /** The port inside the container. Equivalent to the second part of `docker run --publish HOST:CONTAINER`. */
    container: number;
}

/** The SSM parameter (SecureString) that holds a container's environment as an env file. */
export interface EnvironmentParameter {
    /** The parameter's name. */
    name: string;
    /** The version to read: pinning it makes a changed environment a changed script. */
    version: number;
    /** The parameter's region. */
    region: string;
}

/** What a boot script runs. */
export interface BootScriptOptions {
    /** The container's and the systemd unit's name, e.g. `multiarch-api` (see `containerName`). */
    containerName: string;
    /** The image pinned by digest, `<registry>/<repository>@sha256:<64 hex>`, without a tag. */
    imageRef: string;
    /** The platform the digest was chosen for, e.g. `linux/amd64` (logged). */
    platform: string;
    /** The region passed to `aws ecr get-login-password`. */
    registryRegion: string;
    /** Ports to publish. */
    ports?: PortMapping[];
    /** The container's command, replacing the image's `CMD`. */
    command?: string[];
    /** Where the container's environment is read from. */
    environmentParameter?: EnvironmentParameter;
}

/** The exit status of the script when the image's architecture is not the host's. */
export const ARCHITECTURE_MISMATCH_EXIT_CODE = 3;

/** EC2 accepts at most 16 KB of user data (before base64). */
export const MAX_USER_DATA_BYTES = 16384;

/** The names an environment variable may have: a shell identifier. */
export const ENVIRONMENT_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

const CONTAINER_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const PARAMETER_NAME = /^[a-zA-Z0-9_./-]{1,2048}$/;

/** The container and systemd unit name of a deployment: `multiarch-<name>`, lowercased and made safe. */
export function containerName(deploymentName: string): string {
    const safe = deploymentName
        .toLowerCase()
        .replace(/[^a-z0-9_.-]+/g, "-")
        .replace(/^[._-]+|[._-]+$/g, "");
    return `multiarch-${safe || "app"}`.slice(0, 63).replace(/[._-]+$/, "");
}

/**
 * Why an environment variable cannot go into a Docker env file, or undefined when it can.
 * The value is never repeated: it may be a secret.
 */
export function environmentVariableProblem(key: string, value?: unknown): string | undefined {
    if (!ENVIRONMENT_NAME_PATTERN.test(key)) {
        return `\`environment\` has the key ${show(key)}: expected a variable name of letters, digits and "_", not starting with a digit`;
    }
    if (value === undefined) {
        return undefined;
    }
    if (typeof value !== "string") {
        return `\`environment.${key}\` is not a string: give every value as a string`;
    }
    if (/[\r\n\0]/.test(value)) {
        return `\`environment.${key}\` contains a line break or NUL character, which a Docker env file cannot carry: encode the value (e.g. base64) and decode it in the container`;
    }
    return undefined;
}

/**
 * The container's environment as a Docker env file (`KEY=value` lines). Docker passes
 * each value through verbatim: no quotes are removed and nothing is expanded, so `$`,
 * quotes and spaces arrive as written. Throws for a key or value an env file cannot carry.
 */
export function environmentFile(environment: Record<string, string>): string {
    return Object.entries(environment)
        .map(([key, value]) => {
            const problem = environmentVariableProblem(key, value);
            if (problem !== undefined) {
                throw new Error(problem);
            }
            return `${key}=${value}\n`;
        })
        .join("");
}

/** A string as one single-quoted shell word. */
function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Renders the boot script. Every rendered value is checked against a shell-safe pattern
 * and single-quoted, and the command's arguments are base64-encoded, so no value can
 * change what the script does. Throws an error naming the bad option.
 */
export function renderBootScript(options: BootScriptOptions): string {
    const reference = parseImageReference(options.imageRef);
    if (reference.digest === undefined || reference.tag !== undefined) {
        throw new Error(`imageRef ${show(options.imageRef)} must pin a digest and carry no tag: <repository>@sha256:<64 hex>`);
    }
    if (!CONTAINER_NAME.test(options.containerName)) {
        throw new Error(`containerName ${show(options.containerName)} must be 1-63 lowercase letters, digits and "_.-", starting with a letter or digit`);
    }
    if (!REGION.test(options.registryRegion)) {
        throw new Error(`registryRegion ${show(options.registryRegion)} is not an AWS region, e.g. "us-west-2"`);
    }
    if (!/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/.test(options.platform)) {
        throw new Error(`platform ${show(options.platform)} must be os/arch[/variant], e.g. "linux/amd64"`);
    }
    const ports = (options.ports ?? []).map((p) => {
        for (const port of [p.host, p.container]) {
            if (!Number.isInteger(port) || port < 1 || port > 65535) {
                throw new Error(`port mapping ${show(p)} must have whole-number ports from 1 to 65535`);
            }
        }
        return `${p.host}:${p.container}`;
    });
    const parameter = options.environmentParameter;
    if (parameter !== undefined) {
        if (!PARAMETER_NAME.test(parameter.name) || !Number.isInteger(parameter.version) || parameter.version < 1 || !REGION.test(parameter.region)) {
            throw new Error(`environmentParameter ${show(parameter)} must have an SSM parameter name, a version from 1 and an AWS region`);
        }
    }
    const words = (values: string[]) => values.map(shellQuote).join(" ");
    const command = (options.command ?? []).map((arg) => Buffer.from(arg, "utf8").toString("base64"));
    const registry = options.imageRef.slice(0, options.imageRef.indexOf("/"));

    const values = [
        `readonly CONTAINER=${shellQuote(options.containerName)}`,
        `readonly IMAGE_REF=${shellQuote(options.imageRef)}`,
        `readonly PLATFORM=${shellQuote(options.platform)}`,
        `readonly REGISTRY=${shellQuote(registry)}`,
        `readonly REGISTRY_REGION=${shellQuote(options.registryRegion)}`,
        `readonly PORTS=(${words(ports)})`,
        `readonly COMMAND_BASE64=(${words(command)})`,
        `readonly ENVIRONMENT_PARAMETER=${shellQuote(parameter?.name ?? "")}`,
        `readonly ENVIRONMENT_PARAMETER_VERSION=${shellQuote(parameter === undefined ? "" : String(parameter.version))}`,
        `readonly ENVIRONMENT_REGION=${shellQuote(parameter?.region ?? "")}`,
    ].join("\n");
    const script = TEMPLATE.replace("@@VALUES@@", () => values);
    const bytes = Buffer.byteLength(script, "utf8");
    if (bytes > MAX_USER_DATA_BYTES) {
        throw new Error(`the boot script is ${bytes} bytes, over EC2's user data limit of ${MAX_USER_DATA_BYTES}: shorten the command`);
    }
    return script;
}

// The script. `@@VALUES@@` becomes the rendered, quoted values; nothing else is
// substituted (`\${` is bash's own `${`; the template holds no other backslash). The knobs let the tests run it on a machine without dnf, systemd or AWS.
const TEMPLATE = `#!/bin/bash
# multiarch boot script: installs Docker, logs in to the registry with the instance's
# role, pulls the image pinned by digest, refuses it unless its architecture is this
# host's (uname -m), and runs it under systemd with restart. Running it again replaces
# the container and its unit cleanly.
#
# Usage: boot.sh [boot|container]   (container: what the systemd unit runs)
# Knobs, for running it outside EC2 (the integration tests do):
#   MULTIARCH_SKIP_INSTALL=1        do not install or start Docker (dnf, systemctl)
#   MULTIARCH_REGISTRY_USER, MULTIARCH_REGISTRY_PASSWORD
#                                   log in with these, not AWS + aws ecr get-login-password
#   MULTIARCH_ENVIRONMENT_FILE=PATH copy the container's env file from PATH, not from SSM
#   MULTIARCH_NO_SYSTEMD=1          write the unit but run the container with
#                                   docker run --detach --restart unless-stopped
#   MULTIARCH_STATE_DIR=DIR         env file and this script's copy (/etc/multiarch/NAME)
#   MULTIARCH_UNIT_DIR=DIR          where the unit goes (/etc/systemd/system)
#   MULTIARCH_CONSOLE=PATH          where log lines go besides stderr (/dev/console)
set -euo pipefail

@@VALUES@@

STATE_DIR=\${MULTIARCH_STATE_DIR:-/etc/multiarch/$CONTAINER}
UNIT_DIR=\${MULTIARCH_UNIT_DIR:-/etc/systemd/system}
CONSOLE=\${MULTIARCH_CONSOLE:-/dev/console}
ENV_FILE=$STATE_DIR/environment
SCRIPT_COPY=$STATE_DIR/boot.sh
MISMATCH=${ARCHITECTURE_MISMATCH_EXIT_CODE}

# Log lines start with "multiarch:" and also go to the console, so that
# aws ec2 get-console-output shows why a host does not serve.
log() {
    local line="multiarch: $*"
    echo "$line" >&2
    if [[ -c $CONSOLE && -w $CONSOLE ]]; then
        echo "$line" >"$CONSOLE" || true
    fi
}

retry() { # ATTEMPTS COMMAND...
    local attempts=$1 attempt=1
    shift
    until "$@"; do
        if ((attempt >= attempts)); then
            log "giving up after $attempts attempts: $1"
            return 1
        fi
        log "retrying in $((attempt * 5))s: $1"
        sleep $((attempt * 5))
        attempt=$((attempt + 1))
    done
}

install_docker() {
    if [[ \${MULTIARCH_SKIP_INSTALL:-0} == 1 ]]; then
        log "not installing Docker (MULTIARCH_SKIP_INSTALL=1)"
        return
    fi
    log "installing Docker"
    retry 5 dnf install -y docker
    systemctl enable --now docker
}

registry_password() {
    if [[ -n \${MULTIARCH_REGISTRY_PASSWORD:-} ]]; then
        printf '%s' "$MULTIARCH_REGISTRY_PASSWORD"
    else
        aws ecr get-login-password --region "$REGISTRY_REGION"
    fi
}

login() {
    registry_password | docker login --username "\${MULTIARCH_REGISTRY_USER:-AWS}" --password-stdin "$REGISTRY" >/dev/null
}

# What uname -m prints on a machine of an OCI architecture.
machine_of() {
    case $1 in
        amd64) echo x86_64 ;;
        arm64) echo aarch64 ;;
        386) echo i686 ;;
        arm) echo armv7l ;;
        *) echo "$1" ;;
    esac
}

platform_of() {
    case $1 in
        x86_64) echo linux/amd64 ;;
        aarch64) echo linux/arm64 ;;
        *) echo "$1" ;;
    esac
}

pull_and_check() {
    log "pulling $IMAGE_REF (pinned for $PLATFORM)"
    retry 5 docker pull --quiet "$IMAGE_REF" >/dev/null
    local architecture image_machine host_machine
    architecture=$(docker image inspect --format '{{.Architecture}}' "$IMAGE_REF")
    image_machine=$(machine_of "$architecture")
    host_machine=$(uname -m)
    if [[ $image_machine != "$host_machine" ]]; then
        log "refusing to run $IMAGE_REF: image is $architecture ($image_machine) but this host is $host_machine — deploy the $(platform_of "$host_machine") digest"
        exit "$MISMATCH"
    fi
    log "$IMAGE_REF is $architecture, as this host ($host_machine) is"
}

write_environment() {
    install -d -m 0700 "$STATE_DIR"
    local staged
    staged=$(mktemp "$STATE_DIR/.environment.XXXXXX")
    if [[ -n \${MULTIARCH_ENVIRONMENT_FILE:-} ]]; then
        cat -- "$MULTIARCH_ENVIRONMENT_FILE" >"$staged"
    elif [[ -n $ENVIRONMENT_PARAMETER ]]; then
        log "reading the environment from SSM parameter $ENVIRONMENT_PARAMETER version $ENVIRONMENT_PARAMETER_VERSION"
        local name="$ENVIRONMENT_PARAMETER:$ENVIRONMENT_PARAMETER_VERSION"
        retry 5 aws ssm get-parameter --region "$ENVIRONMENT_REGION" --name "$name" --with-decryption --query Parameter.Value --output text >"$staged"
    fi
    mv -f -- "$staged" "$ENV_FILE"
}

# The docker run arguments, into RUN_ARGS. The image was checked: never pull again.
run_arguments() {
    RUN_ARGS=(--name "$CONTAINER" --pull never --env-file "$ENV_FILE")
    local port encoded decoded
    for port in "\${PORTS[@]}"; do
        RUN_ARGS+=(--publish "$port")
    done
    RUN_ARGS+=("$IMAGE_REF")
    for encoded in "\${COMMAND_BASE64[@]}"; do
        decoded=$(printf '%s' "$encoded" | base64 -d && printf x)
        RUN_ARGS+=("\${decoded%x}")
    done
}

write_unit() {
    install -m 0700 -- "\${BASH_SOURCE[0]}" "$SCRIPT_COPY"
    install -d "$UNIT_DIR"
    cat >"$UNIT_DIR/$CONTAINER.service" <<UNIT
[Unit]
Description=multiarch container $CONTAINER
After=docker.service network-online.target
Wants=network-online.target
Requires=docker.service

[Service]
ExecStartPre=-/usr/bin/docker rm --force $CONTAINER
ExecStart=/bin/bash $SCRIPT_COPY container
ExecStop=/usr/bin/docker stop $CONTAINER
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
}

start() {
    write_unit
    if [[ \${MULTIARCH_NO_SYSTEMD:-0} == 1 ]]; then
        log "starting $CONTAINER with docker run (MULTIARCH_NO_SYSTEMD=1)"
        docker rm --force "$CONTAINER" >/dev/null 2>&1 || true
        run_arguments
        docker run --detach --restart unless-stopped "\${RUN_ARGS[@]}" >/dev/null
    else
        log "starting $CONTAINER.service"
        systemctl daemon-reload
        systemctl enable "$CONTAINER.service"
        systemctl restart "$CONTAINER.service"
    fi
    log "$CONTAINER runs $IMAGE_REF"
}

main() {
    case \${1:-boot} in
        boot)
            install_docker
            log "logging in to $REGISTRY"
            retry 5 login
            pull_and_check
            write_environment
            start
            ;;
        container)
            run_arguments
            exec docker run --rm "\${RUN_ARGS[@]}"
            ;;
        *)
            log "unknown command \${1}: expected boot or container"
            exit 2
            ;;
    esac
}

main "$@"
`;
