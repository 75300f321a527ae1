// The real Docker stack the integration tests need (dockerd, buildx, the local
// registries, arm64 emulation), as `scripts/docker-stack.sh` starts it. A suite calls
// `useDockerStack()` in its `describe`: under CI=true a missing stack fails the suite;
// elsewhere the suite skips with one line that names the script.
import { execFile } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import { runDocker } from "../../sdk/clients/docker";

/** The anonymous local registry. */
export const REGISTRY = "127.0.0.1:5000";
/** The local registry with htpasswd (basic) auth, like ECR's. */
export const AUTH_REGISTRY = "127.0.0.1:5001";
/** The credentials the stack script gives the auth registry. */
export const AUTH_USER = "multiarch";
export const AUTH_PASSWORD = "multiarch-test-password";
/**
 * The htpasswd registry over TLS, by name (127.0.0.1 in /etc/hosts) with a certificate
 * from the machine's own CA, as hosted registries serve: BuildKit and buildx speak plain
 * http to a loopback address whatever the server speaks.
 */
export const TLS_REGISTRY = "registry.multiarch.test:5443";
/** The CA that signed the TLS registry's certificate (the system trusts it too). */
export const TLS_REGISTRY_CA = "/etc/multiarch/tls/ca.crt";

const SCRIPT = "scripts/docker-stack.sh";

/** What is missing from the stack, or an empty list when all of it runs. */
export async function missingStackParts(): Promise<string[]> {
    const missing: string[] = [];
    try {
        await runDocker(["version", "--format", "{{.Server.Version}}"], { timeoutMs: 15000 });
    } catch {
        missing.push("dockerd (docker version cannot reach the daemon)");
    }
    try {
        await runDocker(["buildx", "version"], { timeoutMs: 15000 });
    } catch {
        missing.push("the buildx plugin");
    }
    for (const registry of [REGISTRY, AUTH_REGISTRY, TLS_REGISTRY]) {
        try {
            await registryGet(registry, "/v2/");
        } catch {
            missing.push(`the registry on ${registry}`);
        }
    }
    return missing;
}

/**
 * GET `path` of one of the stack's registries (https verified with the stack's CA for the
 * TLS registry), with the stack's credentials when `authenticated`.
 */
export function registryGet(registry: string, path: string, authenticated = false): Promise<{ status: number; body: string }> {
    const tls = registry === TLS_REGISTRY;
    return new Promise((resolve, reject) => {
        const request = (tls ? https : http).get(
            `${tls ? "https" : "http"}://${registry}${path}`,
            {
                timeout: 5000,
                ...(tls ? { ca: fs.readFileSync(TLS_REGISTRY_CA) } : {}),
                ...(authenticated ? { auth: `${AUTH_USER}:${AUTH_PASSWORD}` } : {}),
            },
            (response) => {
                let body = "";
                response.setEncoding("utf8");
                response.on("data", (chunk: string) => (body += chunk));
                response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
            },
        );
        request.on("timeout", () => request.destroy(new Error(`GET ${registry}${path} timed out`)));
        request.on("error", reject);
    });
}

let checked: Promise<string[]> | undefined;

/** Requires the Docker stack for the enclosing `describe`. */
export function useDockerStack(): void {
    before(async function () {
        this.timeout(60000);
        checked ??= missingStackParts();
        const missing = await checked;
        if (missing.length === 0) {
            return;
        }
        const message = `needs the Docker stack; missing: ${missing.join(", ")}. Start it with \`sudo ${SCRIPT}\``;
        if (process.env.CI === "true") {
            throw new Error(message);
        }
        console.log(`    skipped: ${message}`);
        this.skip();
    });
}

/** How to run one docker CLI call in a test. */
export interface DockerCallOptions {
    /** The whole environment of the call; the test process's own when undefined. */
    env?: NodeJS.ProcessEnv;
    /** A DOCKER_CONFIG dir (credentials) over `env`, so logins touch no real config. */
    config?: string;
    /** Stop the call after this long; 4 minutes unless given (a two-platform build under QEMU). */
    timeoutMs?: number;
}

/** The environment of a call: `env` (or this process's), with `config` as its DOCKER_CONFIG. */
function callEnv(options: DockerCallOptions): NodeJS.ProcessEnv {
    return { ...(options.env ?? process.env), ...(options.config ? { DOCKER_CONFIG: options.config } : {}) };
}

const DOCKER_CALL_TIMEOUT_MS = 240000;

/**
 * Runs the real docker CLI through the project's own runner (`runDocker`: no shell, a
 * failure explained with the CLI's stderr) and returns its stdout.
 *
 * A `--push` the local registry answered with a 500 "invalid checksum digest format" is
 * run once more: with the containerd store the engine pushes again right after BuildKit,
 * and the registry's filesystem driver can hand the second push a tag link it is still
 * writing (seen in its log as `err.detail="invalid checksum digest format"`). That race is
 * the test registry's, not the code under test's.
 */
export async function docker(args: string[], options: DockerCallOptions = {}): Promise<string> {
    const once = async () => (await runDocker(args, { env: callEnv(options), timeoutMs: options.timeoutMs ?? DOCKER_CALL_TIMEOUT_MS })).stdout;
    try {
        return await once();
    } catch (error) {
        if (args.includes("--push") && /500 Internal Server Error/.test(String(error))) {
            return once();
        }
        throw error;
    }
}

/**
 * `docker login` to an auth registry of the stack (by default the http one) with the
 * stack's credentials, the password on stdin (`--password-stdin`, so it is in no argv);
 * returns what the CLI printed.
 *
 * The one docker call `docker` cannot make: `runDocker` writes nothing to a call's stdin.
 */
export function loginToAuthRegistry(options: DockerCallOptions = {}, registry = AUTH_REGISTRY): Promise<string> {
    const args = ["login", registry, "--username", AUTH_USER, "--password-stdin"];
    return new Promise((resolve, reject) => {
        const child = execFile("docker", args, { env: callEnv(options), timeout: options.timeoutMs ?? DOCKER_CALL_TIMEOUT_MS }, (error, stdout, stderr) => {
            if (error) {
                reject(new Error(`docker ${args.join(" ")} failed: ${String(stderr).trim() || error.message}`));
            } else {
                resolve(String(stdout));
            }
        });
        child.stdin?.end(AUTH_PASSWORD);
    });
}

/** One entry of an image index as `docker buildx imagetools inspect --raw` prints it. */
export interface RawIndexEntry {
    digest: string;
    platform?: { os: string; architecture: string; variant?: string };
    annotations?: Record<string, string>;
}

/** True for the provenance attestation entries buildx adds to an index. */
export function isAttestationEntry(entry: RawIndexEntry): boolean {
    return entry.annotations?.["vnd.docker.reference.type"] === "attestation-manifest" || entry.platform?.os === "unknown";
}

/**
 * What buildx itself says an index holds, as an oracle independent of the project's
 * registry reader: the raw bytes, the parsed index and platform → digest without
 * attestations (`linux/arm64/v8` written as `linux/arm64`).
 */
export async function inspectRaw(
    reference: string,
    options: DockerCallOptions = {},
): Promise<{ raw: string; json: { mediaType: string; manifests?: RawIndexEntry[] }; platforms: Record<string, string> }> {
    const raw = await docker(["buildx", "imagetools", "inspect", "--raw", reference], options);
    const json = JSON.parse(raw);
    const platforms: Record<string, string> = {};
    for (const entry of (json.manifests ?? []) as RawIndexEntry[]) {
        if (isAttestationEntry(entry) || !entry.platform) {
            continue;
        }
        const { os, architecture, variant } = entry.platform;
        const keepVariant = variant !== undefined && !(architecture === "arm64" && variant === "v8");
        platforms[`${os}/${architecture}${keepVariant ? `/${variant}` : ""}`] = entry.digest;
    }
    return { raw, json, platforms };
}

/** A name no other test run uses, for repositories and builders: `prefix-<random>`. */
export function uniqueName(prefix: string): string {
    return `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Sets environment variables for the duration of `body`, then restores them. */
export async function withEnv<T>(vars: Record<string, string>, body: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    Object.assign(process.env, vars);
    try {
        return await body();
    } finally {
        for (const [key, value] of Object.entries(saved)) {
            if (value === undefined) {
                delete process.env[key];
            } else {
                process.env[key] = value;
            }
        }
    }
}

/**
 * Requires the BuildKit image a docker-container builder starts for the enclosing
 * `describe` (`scripts/engine.sh` builds it): under CI=true a missing image fails the
 * suite; elsewhere the suite skips with one line that names the script.
 */
export function useBuildkitImage(image: string): void {
    before(async function () {
        this.timeout(60000);
        const present = await runDocker(["image", "inspect", image], { timeoutMs: 15000 }).then(
            () => true,
            () => false,
        );
        if (present) {
            return;
        }
        const message = `needs the BuildKit image ${image}; build it with \`bash scripts/engine.sh\``;
        if (process.env.CI === "true") {
            throw new Error(message);
        }
        console.log(`    skipped: ${message}`);
        this.skip();
    });
}
