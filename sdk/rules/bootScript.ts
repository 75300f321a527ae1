// The user data of a VmDeployment's hosts: a bash script that installs Docker, logs in
// to ECR with the instance's role (to the ECR registry of the region, never another
// registry), pulls the image pinned by digest, refuses it unless its architecture is the
// host's, runs it under systemd, checks that it answers, and completes the host's launch
// lifecycle action with CONTINUE, or ABANDON and the reason. Rendering is pure, so the
// tests can run the same script against a local registry and dockerd.
import { AUTO_SCALING_GROUP_NAME_PATTERN, REGION_PATTERN } from "./awsNames";
import { dnsSuffixOfRegion, repositoryArnFromUrl } from "./ecr";
import { show } from "./errors";
import { LAUNCH_FAILURE_TAG } from "./iamPolicy";
import { parseImageReference } from "./imageReference";
import { ENVIRONMENT_NAME_PATTERN, slug } from "./names";

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

/** An HTTP health check, asked from the host. */
export interface HttpHealthCheck {
    /** The host port to ask: one published in `ports`. */
    port: number;
    /**
     * The path to ask, with an optional query, as written: `curl --globoff --path-as-is`.
     *
     * An HTTP request target (RFC 9112 origin-form): `/`, then letters, digits,
     * `-._~!$&'()*+,;=:@/?` and `[]{}`, any other character percent-encoded (`%20` for a
     * space); no `#fragment`; at most 1024 characters, e.g. `/health?deep=1`. Defaults to `/`.
     */
    path?: string;
}

/**
 * What "the container answers" means: the check a new host passes before it counts as
 * healthy and the rollout goes on.
 */
export interface HealthCheck {
    /**
     * A command run in the container, which must exit 0.
     *
     * Run as `docker exec <container> COMMAND…`, at most 30 seconds each try, e.g.
     * `["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"]`. Not with `http`.
     * Defaults to none. Equivalent to `docker exec`.
     */
    command?: string[];
    /**
     * An HTTP check from the host: `GET http://127.0.0.1:<port><path>` must answer 2xx or 3xx.
     *
     * `port` is a host port published in `ports`; `path` defaults to `/`. Not with
     * `command`. Defaults to none. Equivalent to
     * `curl --fail --globoff --path-as-is http://127.0.0.1:PORT/PATH`.
     */
    http?: HttpHealthCheck;
    /**
     * Seconds the container must have run before the first check.
     *
     * A container that is not running then (it exited, or restarted) fails the launch.
     * Defaults to `10`; 0 to 600.
     */
    gracePeriodSeconds?: number;
    /**
     * Seconds the check may take to pass, retried every 2 seconds, before the launch fails.
     *
     * Defaults to `300`; 1 to 1800.
     */
    timeoutSeconds?: number;
}

/** The seconds a container must have run before the first check, unless the user says. */
export const DEFAULT_HEALTH_GRACE_SECONDS = 10;

/** The seconds a check may take to pass, unless the user says. */
export const DEFAULT_HEALTH_TIMEOUT_SECONDS = 300;

/** The launch lifecycle hook a host completes once its own check has passed or failed. */
export interface LifecycleHook {
    /** The hook's name. */
    name: string;
    /** The auto-scaling group's name. */
    groupName: string;
    /** The group's region. */
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
    /**
     * The region passed to `aws ecr get-login-password`: the image's registry must be the
     * ECR registry of this region, `<account>.dkr.ecr.<region>.<the partition's DNS suffix>`.
     */
    registryRegion: string;
    /** Ports to publish. */
    ports?: PortMapping[];
    /** The container's command, replacing the image's `CMD`. */
    command?: string[];
    /** Where the container's environment is read from. */
    environmentParameter?: EnvironmentParameter;
    /**
     * What "the container answers" means. Defaults to: the container runs after the grace
     * period, and the image's `HEALTHCHECK`, if it has one, reports healthy.
     */
    healthCheck?: HealthCheck;
    /** The launch lifecycle hook to complete; none: the script completes no launch. */
    lifecycleHook?: LifecycleHook;
}

/** The exit status of the script when the image's architecture is not the host's. */
export const ARCHITECTURE_MISMATCH_EXIT_CODE = 3;

/** EC2 accepts at most 16 KB of user data (before base64). */
export const MAX_USER_DATA_BYTES = 16384;

const CONTAINER_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const PARAMETER_NAME = /^[a-zA-Z0-9_./-]{1,2048}$/;
// RFC 9112's origin-form: an absolute path and an optional query of RFC 3986's pchar, "/"
// and "?", other characters percent-encoded; and "[]{}", which servers take as written
// and curl sends as written with --globoff. No space, double quote, backtick, backslash
// or "#"; a single quote is shellQuote's to carry.
const HTTP_PATH = /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?[\]{}]|%[0-9A-Fa-f]{2})*$/;
const HTTP_PATH_MAX = 1024;

/** The container and systemd unit name of a deployment: `multiarch-<name>`, lowercased and made safe. */
export function containerName(deploymentName: string): string {
    const safe = slug(deploymentName, "._-");
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
    if (!REGION_PATTERN.test(options.registryRegion)) {
        throw new Error(`registryRegion ${show(options.registryRegion)} is not an AWS region, e.g. "us-west-2"`);
    }
    const registryMismatch = registryProblem(options.imageRef, reference.registry, reference.repository, options.registryRegion);
    if (registryMismatch !== undefined) {
        throw new Error(registryMismatch);
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
        if (!PARAMETER_NAME.test(parameter.name) || !Number.isInteger(parameter.version) || parameter.version < 1 || !REGION_PATTERN.test(parameter.region)) {
            throw new Error(`environmentParameter ${show(parameter)} must have an SSM parameter name, a version from 1 and an AWS region`);
        }
    }
    const hook = options.lifecycleHook;
    if (
        hook !== undefined &&
        (!AUTO_SCALING_GROUP_NAME_PATTERN.test(hook.name) || !AUTO_SCALING_GROUP_NAME_PATTERN.test(hook.groupName) || !REGION_PATTERN.test(hook.region))
    ) {
        throw new Error(`lifecycleHook ${show(hook)} must have a hook name, a group name (letters, digits, "_.-") and an AWS region`);
    }
    const check = healthCheckProblems(options.healthCheck, options.ports ?? []);
    if (check.length > 0) {
        throw new Error(`healthCheck ${show(options.healthCheck)}: ${check.map((p) => p.reason).join("; ")}`);
    }
    const health = options.healthCheck ?? {};
    const words = (values: string[]) => values.map(shellQuote).join(" ");
    const base64 = (values: string[]) => values.map((arg) => Buffer.from(arg, "utf8").toString("base64"));
    const command = base64(options.command ?? []);
    const registry = reference.registry;

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
        `readonly HEALTH_COMMAND_BASE64=(${words(base64(health.command ?? []))})`,
        `readonly HEALTH_URL=${shellQuote(health.http === undefined ? "" : `http://127.0.0.1:${health.http.port}${health.http.path ?? "/"}`)}`,
        `readonly HEALTH_GRACE_SECONDS=${shellQuote(String(health.gracePeriodSeconds ?? DEFAULT_HEALTH_GRACE_SECONDS))}`,
        `readonly HEALTH_TIMEOUT_SECONDS=${shellQuote(String(health.timeoutSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS))}`,
        `readonly LIFECYCLE_HOOK=${shellQuote(hook?.name ?? "")}`,
        `readonly AUTO_SCALING_GROUP=${shellQuote(hook?.groupName ?? "")}`,
        `readonly AUTO_SCALING_REGION=${shellQuote(hook?.region ?? "")}`,
    ].join("\n");
    const script = TEMPLATE.replace("@@VALUES@@", () => values);
    const bytes = Buffer.byteLength(script, "utf8");
    if (bytes > MAX_USER_DATA_BYTES) {
        throw new Error(`the boot script is ${bytes} bytes, over EC2's user data limit of ${MAX_USER_DATA_BYTES}: shorten the command`);
    }
    return script;
}

/**
 * Why the host may not log in to the image's registry with the ECR token of `region`, or
 * undefined when the registry is that region's ECR registry: the token goes to whatever
 * registry the script logs in to.
 */
function registryProblem(imageRef: string, registry: string, repository: string, region: string): string | undefined {
    const host = `.${region}.${dnsSuffixOfRegion(region)}`;
    const arn = repositoryArnFromUrl(`${registry}/${repository}`);
    if (arn !== undefined && arn.split(":")[3] === region && registry.endsWith(host)) {
        return undefined;
    }
    return (
        `imageRef ${show(imageRef)} is not in the ECR registry of registryRegion ${show(region)}, <account>.dkr.ecr[-fips]${host}: ` +
        `the host logs in with that region's ECR token (aws ecr get-login-password --region ${region}), which goes to no other registry`
    );
}

/** One problem of a health check: the argument path below `healthCheck` and why. */
export interface HealthCheckProblem {
    /** e.g. `healthCheck.http.port`. */
    propertyPath: string;
    /** What is wrong and what is allowed. */
    reason: string;
}

/**
 * Why a health check cannot be run, given the ports the container publishes: each
 * problem names its argument and shows the value. Empty when it can.
 */
export function healthCheckProblems(check: HealthCheck | undefined, ports: PortMapping[]): HealthCheckProblem[] {
    const problems: HealthCheckProblem[] = [];
    if (check === undefined) {
        return problems;
    }
    const add = (path: string, value: unknown, expected: string) =>
        problems.push({ propertyPath: `healthCheck${path}`, reason: `\`healthCheck${path}\` is ${show(value)}: ${expected}` });
    if (typeof check !== "object" || check === null || Array.isArray(check)) {
        add("", check, "expected { command } or { http: { port, path } }, with gracePeriodSeconds and timeoutSeconds");
        return problems;
    }
    if (check.command !== undefined && check.http !== undefined) {
        add("", check, "expected `command` or `http`, not both");
    }
    if (check.command !== undefined) {
        if (!Array.isArray(check.command) || check.command.length === 0 || !check.command.every((a) => typeof a === "string")) {
            add(".command", check.command, 'expected a non-empty list of strings, run with docker exec, e.g. ["pg_isready"]');
        } else if (check.command.join(" ").length > 2048) {
            add(".command", check.command, "expected at most 2048 characters");
        }
    }
    if (check.http !== undefined) {
        const http = check.http;
        if (typeof http !== "object" || http === null) {
            add(".http", http, "expected { port, path }");
        } else {
            const published = (ports ?? []).map((p) => p?.host);
            if (!published.includes(http.port)) {
                add(
                    ".http.port",
                    http.port,
                    `expected a host port published in \`ports\` (${published.length === 0 ? "none is" : published.join(", ")}): the check runs on the host`,
                );
            }
            if (http.path !== undefined && (typeof http.path !== "string" || http.path.length > HTTP_PATH_MAX || !HTTP_PATH.test(http.path))) {
                add(
                    ".http.path",
                    http.path,
                    `expected a path starting with "/", without spaces, e.g. "/health", and an optional "?query", as an HTTP request target: letters, digits and -._~!$&'()*+,;=:@/?[]{}, any other character percent-encoded ("%20" for a space), no "#fragment", at most ${HTTP_PATH_MAX} characters`,
                );
            }
        }
    }
    const seconds: [".gracePeriodSeconds" | ".timeoutSeconds", unknown, number, number][] = [
        [".gracePeriodSeconds", check.gracePeriodSeconds, 0, 600],
        [".timeoutSeconds", check.timeoutSeconds, 1, 1800],
    ];
    for (const [path, value, min, max] of seconds) {
        if (value !== undefined && !(Number.isInteger(value) && (value as number) >= min && (value as number) <= max)) {
            add(path, value, `expected whole seconds from ${min} to ${max}`);
        }
    }
    return problems;
}

// The script. `@@VALUES@@` becomes the rendered, quoted values; nothing else is
// substituted (`\${` is bash's own `${`, and `\\` a line continuation). The knobs let the
// tests run it on a machine without dnf, systemd or AWS.
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
#   MULTIARCH_INSTANCE_ID=ID        this instance's id, not read from the instance metadata
set -euo pipefail

@@VALUES@@

STATE_DIR=\${MULTIARCH_STATE_DIR:-/etc/multiarch/$CONTAINER}
UNIT_DIR=\${MULTIARCH_UNIT_DIR:-/etc/systemd/system}
CONSOLE=\${MULTIARCH_CONSOLE:-/dev/console}
ENV_FILE=$STATE_DIR/environment
SCRIPT_COPY=$STATE_DIR/boot.sh
MISMATCH=${ARCHITECTURE_MISMATCH_EXIT_CODE}
FAILURE_TAG=${LAUNCH_FAILURE_TAG}
TAG_UNSAFE='[^A-Za-z0-9 _.:/+@-]'
# What the script is doing, and why it failed, for the failure's log line and tag.
STEP=starting
FAILURE=

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
    STEP="pulling $IMAGE_REF"
    retry 5 docker pull --quiet "$IMAGE_REF" >/dev/null
    local architecture image_machine host_machine
    architecture=$(docker image inspect --format '{{.Architecture}}' "$IMAGE_REF")
    image_machine=$(machine_of "$architecture")
    host_machine=$(uname -m)
    if [[ $image_machine != "$host_machine" ]]; then
        FAILURE="image is $architecture ($image_machine) but this host is $host_machine — deploy the $(platform_of "$host_machine") digest"
        log "refusing to run $IMAGE_REF: $FAILURE"
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

# Appends each base64-encoded argument, decoded byte for byte (a trailing newline kept),
# to the array named first.
append_decoded() { # ARRAY BASE64...
    local -n into=$1
    local encoded decoded
    shift
    for encoded in "$@"; do
        decoded=$(printf '%s' "$encoded" | base64 -d && printf x)
        into+=("\${decoded%x}")
    done
}

# The docker run arguments, into RUN_ARGS. The image was checked: never pull again.
run_arguments() {
    RUN_ARGS=(--name "$CONTAINER" --pull never --env-file "$ENV_FILE")
    local port
    for port in "\${PORTS[@]}"; do
        RUN_ARGS+=(--publish "$port")
    done
    RUN_ARGS+=("$IMAGE_REF")
    append_decoded RUN_ARGS "\${COMMAND_BASE64[@]}"
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

# The systemd unit's start: the image pinned by digest must be on the host. One that
# was pruned, or lost with its disk, is pulled again with a fresh login (the ECR token
# is asked for now, so its 12-hour life never matters), and checked again.
ensure_image() {
    if docker image inspect "$IMAGE_REF" >/dev/null 2>&1; then
        return 0
    fi
    log "$IMAGE_REF is not on this host: logging in to $REGISTRY again and pulling it"
    retry 5 login
    pull_and_check
}

# "<status> <health> <exit code> <restarts>" of the container, or "missing none - 0".
container_state() {
    docker inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}} {{.RestartCount}}' "$CONTAINER" 2>/dev/null ||
        echo "missing none - 0"
}

describe_check() {
    if ((\${#HEALTH_COMMAND_BASE64[@]} > 0)); then
        echo "its health command exits 0"
    elif [[ -n $HEALTH_URL ]]; then
        echo "GET $HEALTH_URL answers 2xx or 3xx"
    else
        echo "it runs, and the image's HEALTHCHECK, if any, reports healthy"
    fi
}

# One try of the check, once the container runs; HEALTH is docker's health status.
probe() {
    if ((\${#HEALTH_COMMAND_BASE64[@]} > 0)); then
        local arguments=()
        append_decoded arguments "\${HEALTH_COMMAND_BASE64[@]}"
        timeout 30 docker exec "$CONTAINER" "\${arguments[@]}" >/dev/null 2>&1
    elif [[ -n $HEALTH_URL ]]; then
        # As written: --globoff, or curl expands [] and {} into other requests; --path-as-is,
        # or it removes /../ and /./.
        curl --fail --silent --globoff --path-as-is --max-time 5 --output /dev/null "$HEALTH_URL"
    else
        [[ $HEALTH == none || $HEALTH == healthy ]]
    fi
}

# Passes once the container runs (never having restarted) and answers; otherwise sets
# FAILURE and fails.
check_health() {
    STEP="checking $CONTAINER"
    log "checking $CONTAINER after \${HEALTH_GRACE_SECONDS}s: $(describe_check), within \${HEALTH_TIMEOUT_SECONDS}s"
    sleep "$HEALTH_GRACE_SECONDS"
    local deadline=$((SECONDS + HEALTH_TIMEOUT_SECONDS)) status code restarts
    while true; do
        read -r status HEALTH code restarts < <(container_state)
        if [[ \${MULTIARCH_NO_SYSTEMD:-0} != 1 ]]; then
            restarts=$((restarts + $(systemctl show --property NRestarts --value "$CONTAINER.service" 2>/dev/null || echo 0)))
        fi
        if [[ $status != running ]]; then
            FAILURE="the container is $status (exit code $code), not running — see journalctl -u $CONTAINER.service"
            return 1
        fi
        if [[ $restarts != 0 ]]; then
            FAILURE="the container exited and was restarted $restarts times — see journalctl -u $CONTAINER.service"
            return 1
        fi
        if [[ $HEALTH == unhealthy && \${#HEALTH_COMMAND_BASE64[@]} == 0 && -z $HEALTH_URL ]]; then
            FAILURE="the image's HEALTHCHECK reports unhealthy — see docker inspect $CONTAINER"
            return 1
        fi
        if probe; then
            log "$CONTAINER answers: $(describe_check)"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            FAILURE="the check did not pass within \${HEALTH_TIMEOUT_SECONDS}s: $(describe_check)"
            return 1
        fi
        sleep 2
    done
}

instance_id() {
    if [[ -n \${MULTIARCH_INSTANCE_ID:-} ]]; then
        echo "$MULTIARCH_INSTANCE_ID"
        return 0
    fi
    local token
    token=$(curl --fail --silent --max-time 5 --request PUT --header "X-aws-ec2-metadata-token-ttl-seconds: 300" http://169.254.169.254/latest/api/token)
    curl --fail --silent --max-time 5 --header "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id
}

# Tells the group this launch's result: CONTINUE puts the host in service, ABANDON
# terminates it, and the old host it was to replace keeps serving.
complete_launch() { # CONTINUE|ABANDON INSTANCE
    retry 3 aws autoscaling complete-lifecycle-action --region "$AUTO_SCALING_REGION" --auto-scaling-group-name "$AUTO_SCALING_GROUP" \\
        --lifecycle-hook-name "$LIFECYCLE_HOOK" --instance-id "$2" --lifecycle-action-result "$1"
}

# On a failed boot: one log line that says which host, which digest and why, the same
# reason on the instance as a tag, and the launch abandoned.
on_exit() {
    local status=$? instance reason value LC_ALL=C
    trap - EXIT
    if ((status == 0)); then
        return 0
    fi
    reason=\${FAILURE:-"$STEP failed (exit status $status)"}
    instance=$(instance_id 2>/dev/null) || instance="this host"
    log "launch failed on $instance ($PLATFORM): $IMAGE_REF: $reason"
    if [[ -n $LIFECYCLE_HOOK ]]; then
        # A tag value holds at most 256 characters; these need no quoting in the CLI's
        # shorthand. LC_ALL=C: every other byte becomes a space, whatever the locale.
        value="\${IMAGE_REF##*@} $reason"
        value=\${value//$TAG_UNSAFE/ }
        aws ec2 create-tags --region "$AUTO_SCALING_REGION" --resources "$instance" --tags "Key=$FAILURE_TAG,Value=\${value:0:256}" >/dev/null ||
            log "could not tag $instance with the reason"
        complete_launch ABANDON "$instance" >/dev/null || log "could not abandon the launch: the lifecycle hook's timeout will"
    fi
    exit "$status"
}

main() {
    case \${1:-boot} in
        boot)
            trap on_exit EXIT
            STEP="installing Docker"
            install_docker
            log "logging in to $REGISTRY"
            STEP="logging in to $REGISTRY"
            retry 5 login
            pull_and_check
            STEP="reading the environment"
            write_environment
            STEP="starting $CONTAINER"
            start
            check_health
            if [[ -n $LIFECYCLE_HOOK ]]; then
                STEP="completing the launch"
                complete_launch CONTINUE "$(instance_id)" >/dev/null
                log "launch completed: $CONTAINER serves $IMAGE_REF"
            fi
            ;;
        container)
            ensure_image
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
