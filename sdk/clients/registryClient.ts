// A small client for the OCI distribution API: it reads an image's manifest or index
// and reports which manifest digest each platform resolves to. The library uses it to
// prove what a build pushed and, at deploy time, that an image has the host's
// architecture. It depends on Node's own `fetch` only.
import { contentDigest, parseDigest, ImageReference, normaliseRegistryHost, formatImageReference, parseImageReference } from "../rules/imageReference";
import { normaliseInsecureHosts, registryScheme, realmMayReceiveCredentials, assertTransportAllowed } from "./registryTransport";
import { parseWwwAuthenticate } from "./wwwAuthenticate";
import {
    ImageIndex,
    ImageManifest,
    ACCEPTED_MANIFEST_TYPES,
    validateManifest,
    INDEX_TYPES,
    selectPlatformManifests,
    isAttestation,
    canonicalPlatform,
} from "../rules/manifest";
import { RegistryError } from "../rules/registryError";

/** Credentials for a registry: a username and password (basic auth, as ECR uses) or a bearer token. */
export type RegistryAuth = BasicAuth | TokenAuth;

/** A username and password, sent as HTTP basic auth or to a token realm. */
export interface BasicAuth {
    /** The user name; `AWS` for ECR. */
    username: string;
    /** The password; for ECR, the one `GetAuthorizationToken` returns. */
    password: string;
}

/** A bearer token, sent as is. */
export interface TokenAuth {
    /** The token. */
    token: string;
}

/** Credentials together with the registry host they were given for. */
export type RegistryCredentials = RegistryAuth & {
    /**
     * The registry host (and port) the credentials belong to, as references write it.
     *
     * For example `123456789012.dkr.ecr.us-west-2.amazonaws.com` or `127.0.0.1:5001`;
     * `docker.io` means Docker Hub. The port is part of the host: `r.example.com` and
     * `r.example.com:443` are different registries, as in Docker's `auths`.
     */
    registry: string;
};

/** How a `RegistryClient` talks to registries. */
export interface RegistryClientOptions {
    /**
     * Credentials, and the registry host they were given for.
     *
     * They are sent only to `auth.registry`: a reference that names another registry is
     * read anonymously. Basic credentials go to that registry as `Authorization: Basic`
     * and to the bearer-token realm it names when the realm is https (on any host, as
     * Docker does; see `realmMayReceiveCredentials`) or plain http on the registry's own
     * loopback host; any other realm is refused (kind `insecure`) before anything is
     * sent. A bearer token goes to the registry only. No credentials follow a redirect to
     * another origin. For ECR: username `AWS`, password from `GetAuthorizationToken`.
     * Defaults to anonymous access. Equivalent to one entry of `docker login`'s `auths`.
     */
    auth?: RegistryCredentials;
    /**
     * How long one HTTP exchange (including redirects and reading the body) may take.
     *
     * Defaults to `30000` ms.
     */
    timeoutMs?: number;
    /**
     * The largest manifest, config blob or token response read, in bytes.
     *
     * Defaults to `4194304` (4 MiB), the limit registries put on manifests.
     */
    maxBodyBytes?: number;
    /**
     * Registry hosts (`host[:port]`) reached over plain http instead of https.
     *
     * Plain http goes only to these hosts (as registries, token realms or redirect
     * targets) and to loopback hosts (127.0.0.0/8, `localhost`, `[::1]`), which need no
     * entry. A listed host still never receives basic credentials at a token realm over
     * http. CIDR ranges are not accepted. Defaults to `[]`. Equivalent to Docker's
     * `insecure-registries` in `daemon.json`.
     */
    insecure?: string[];
    /**
     * How many times a request is retried after HTTP 429, a 5xx status or a reset connection.
     *
     * Waits grow exponentially from `retryBaseMs`, with random jitter, unless the
     * registry sends `Retry-After`, which is honoured up to `retryMaxDelayMs`. No wait
     * starts that would take the request past `timeoutMs` since its first attempt. Other
     * failures (401, 404, timeouts, refused connections) are not retried. Defaults to
     * `4` (five attempts in all).
     */
    retries?: number;
    /**
     * The wait before the first retry; each further retry waits twice as long.
     *
     * The actual wait is between half and all of it (jitter), so that many clients do
     * not retry in step. Defaults to `200` ms.
     */
    retryBaseMs?: number;
    /**
     * The longest wait between two attempts, including one a `Retry-After` header asks for.
     *
     * Defaults to `10000` ms.
     */
    retryMaxDelayMs?: number;
}

/** A manifest or index as read from a registry, with its verified digest. */
export interface FetchedManifest {
    /** The reference that was read. */
    reference: ImageReference;
    /** The sha256 digest of the body, checked against the requested digest or `Docker-Content-Digest`. */
    digest: string;
    /** One of `ACCEPTED_MANIFEST_TYPES`. */
    mediaType: string;
    /** The raw body, byte for byte as the registry stored it. */
    body: Buffer;
    /** The body, parsed. */
    json: ImageIndex | ImageManifest;
}

/** An image resolved to its top-level digest and its platforms' manifest digests. */
export interface ResolvedImage {
    /** The reference that was read, canonical. */
    reference: string;
    /** The digest of what the reference names: the index, or the single manifest. */
    digest: string;
    /** The media type of what the reference names. */
    mediaType: string;
    /** Whether the reference names an index (or manifest list) rather than a single manifest. */
    isIndex: boolean;
    /** Canonical platform → digest of that platform's manifest, e.g. `{"linux/amd64": "sha256:…"}`. */
    platforms: Record<string, string>;
    /** Digests of the attestation manifests the index carries (skipped in `platforms`). */
    attestations: string[];
}

const MAX_REDIRECTS = 5;

// Statuses that say "not now" rather than "never": the request may succeed if repeated.
function isRetryableStatus(status: number): boolean {
    return status === 429 || (status >= 500 && status <= 599);
}

// A connection the registry (or something between) dropped: worth another attempt.
class ConnectionResetError extends RegistryError {}

// An answer, the URL that gave it (after redirects) and its body.
interface Exchanged {
    response: Response;
    url: URL;
    body?: Buffer;
}

interface Target {
    kind: "manifest" | "blob" | "token";
    reference: ImageReference;
    /** What is being read, for messages: `manifest 127.0.0.1:5000/x:y`. */
    what: string;
}

/**
 * Reads manifests and indexes from OCI distribution registries (Docker Registry,
 * ECR, Docker Hub), with anonymous, basic or bearer-token auth.
 */
export class RegistryClient {
    private readonly timeoutMs: number;
    private readonly maxBodyBytes: number;
    private readonly insecure: string[];
    private readonly retries: number;
    private readonly retryBaseMs: number;
    private readonly retryMaxDelayMs: number;
    private readonly auth?: RegistryAuth;
    // The registry `auth` belongs to, canonical.
    private readonly authRegistry?: string;
    // The Authorization header that last worked, per registry and repository.
    private readonly authorizations = new Map<string, string>();

    constructor(options: RegistryClientOptions = {}) {
        if (options.auth !== undefined) {
            const { registry, ...auth } = options.auth;
            this.authRegistry = normaliseRegistryHost(registry, "RegistryClient: auth.registry");
            this.auth = auth as RegistryAuth;
        }
        this.timeoutMs = options.timeoutMs ?? 30000;
        this.maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
        this.insecure = normaliseInsecureHosts(options.insecure ?? []);
        this.retries = options.retries ?? 4;
        this.retryBaseMs = options.retryBaseMs ?? 200;
        this.retryMaxDelayMs = options.retryMaxDelayMs ?? 10000;
        if (!(this.timeoutMs > 0) || !(this.maxBodyBytes > 0)) {
            throw new Error(`RegistryClient: timeoutMs (${this.timeoutMs}) and maxBodyBytes (${this.maxBodyBytes}) must be positive numbers`);
        }
        if (!Number.isInteger(this.retries) || this.retries < 0 || !(this.retryBaseMs >= 0) || !(this.retryMaxDelayMs >= 0)) {
            throw new Error(
                `RegistryClient: retries (${this.retries}) must be a whole number >= 0, and retryBaseMs (${this.retryBaseMs}) and retryMaxDelayMs (${this.retryMaxDelayMs}) numbers >= 0`,
            );
        }
    }

    /**
     * Reads the manifest or index a reference names (by digest when it has one, else by
     * tag, default `latest`), checks its media type and that its sha256 matches the
     * requested digest or, by tag, the registry's `Docker-Content-Digest` (when it sends one).
     */
    async getManifest(reference: string | ImageReference): Promise<FetchedManifest> {
        const ref = toReference(reference);
        const tagOrDigest = ref.digest ?? ref.tag ?? "latest";
        const shown = formatImageReference(ref.digest || ref.tag ? ref : { ...ref, tag: "latest" });
        const target: Target = { kind: "manifest", reference: ref, what: `manifest ${shown}` };
        const { response, body } = await this.read(ref, `/manifests/${tagOrDigest}`, ACCEPTED_MANIFEST_TYPES.join(", "), target);

        const actual = contentDigest(body);
        const headerDigest = response.headers.get("docker-content-digest")?.trim();
        const expected = ref.digest ?? headerDigest;
        const source = ref.digest !== undefined ? "the requested digest" : "the registry's Docker-Content-Digest header";
        if (expected !== undefined && expected !== actual) {
            throw new RegistryError(
                "digest-mismatch",
                `${target.what} from registry ${ref.registry} hashes to ${actual}, but ${source} is ${expected}: the registry (or something between) returned other content than asked for; do not use it`,
            );
        }

        const contentType = (response.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
        const validated = validateManifest(body, contentType, `${target.what} from registry ${ref.registry}`);
        return { reference: ref, digest: actual, body, ...validated };
    }

    /**
     * Reads a blob (e.g. an image config) by digest, checking its sha256; the registry may
     * redirect to storage on another host (ECR → S3), which gets no Authorization header.
     */
    async getBlob(reference: string | ImageReference, digest: string): Promise<Buffer> {
        parseDigest(digest);
        const ref = toReference(reference);
        const target: Target = { kind: "blob", reference: ref, what: `blob ${digest} of ${ref.registry}/${ref.repository}` };
        const { body } = await this.read(ref, `/blobs/${digest}`, "*/*", target);
        const actual = contentDigest(body);
        if (actual !== digest) {
            throw new RegistryError(
                "digest-mismatch",
                `${target.what} hashes to ${actual}, not ${digest}: the registry (or something between) returned other content than asked for; do not use it`,
            );
        }
        return body;
    }

    /**
     * Resolves a reference to its digest and each platform's manifest digest. For an
     * index, attestation manifests are skipped; for a single manifest, its config blob
     * says the platform.
     */
    async resolveImage(reference: string | ImageReference): Promise<ResolvedImage> {
        const manifest = await this.getManifest(reference);
        const shown = formatImageReference(manifest.reference);
        if (INDEX_TYPES.has(manifest.mediaType)) {
            const index = manifest.json as ImageIndex;
            return {
                reference: shown,
                digest: manifest.digest,
                mediaType: manifest.mediaType,
                isIndex: true,
                platforms: selectPlatformManifests(index, `${shown} from registry ${manifest.reference.registry}`),
                attestations: index.manifests.filter(isAttestation).map((m) => m.digest),
            };
        }
        const config = (manifest.json as ImageManifest).config;
        const raw = await this.getBlob(manifest.reference, config.digest);
        let image: { os?: unknown; architecture?: unknown; variant?: unknown };
        try {
            image = JSON.parse(raw.toString("utf8"));
        } catch {
            image = {};
        }
        if (typeof image.os !== "string" || typeof image.architecture !== "string") {
            throw new RegistryError(
                "protocol",
                `${shown} is a single manifest whose config ${config.digest} (${config.mediaType ?? "no media type"}) names no os/architecture: it is not a container image, so it has no platform`,
            );
        }
        if (image.os === "unknown" && image.architecture === "unknown") {
            throw new RegistryError(
                "protocol",
                `${shown} is an attestation manifest (platform unknown/unknown), not a container image: read the image index that carries it instead`,
            );
        }
        const platform = canonicalPlatform(image.os, image.architecture, typeof image.variant === "string" ? image.variant : undefined);
        return {
            reference: shown,
            digest: manifest.digest,
            mediaType: manifest.mediaType,
            isIndex: false,
            platforms: { [platform]: manifest.digest },
            attestations: [],
        };
    }

    /** Canonical platform → manifest digest of an image, e.g. `{"linux/amd64": "sha256:…", "linux/arm64": "sha256:…"}`. */
    async platformDigests(reference: string | ImageReference): Promise<Record<string, string>> {
        return (await this.resolveImage(reference)).platforms;
    }

    // The credentials given for this registry; none for any other.
    private credentialsFor(registry: string): RegistryAuth | undefined {
        return registry === this.authRegistry ? this.auth : undefined;
    }

    // GETs /v2/<repository><path>, authenticating as the registry asks, and reads the body.
    private async read(ref: ImageReference, path: string, accept: string, target: Target): Promise<{ response: Response; body: Buffer }> {
        const url = new URL(`${registryScheme(ref.registry, this.insecure)}://${ref.registry}/v2/${ref.repository}${path}`);
        const key = `${ref.registry}/${ref.repository}`;
        const auth = this.credentialsFor(ref.registry);
        let authorization = this.authorizations.get(key) ?? initialAuthorization(auth);
        let triedToken = false;
        let triedBasic = authorization?.startsWith("Basic ") ?? false;
        for (;;) {
            const { response, body, url: answered } = await this.exchange(url, { accept, authorization }, target, ref.registry);
            // Only the registry itself may ask for credentials: a challenge from a host it
            // redirected to (storage, a CDN) is not followed.
            if (response.status === 401 && answered.origin === url.origin && !(auth !== undefined && "token" in auth)) {
                const challenges = parseWwwAuthenticate(response.headers.get("www-authenticate") ?? "");
                const bearer = challenges.find((c) => c.scheme === "bearer" && c.params.realm);
                const basic = challenges.find((c) => c.scheme === "basic");
                if (bearer && !triedToken) {
                    triedToken = true;
                    authorization = `Bearer ${await this.fetchToken(bearer.params, ref, target, auth)}`;
                    continue;
                }
                if (basic && !triedBasic && auth !== undefined && "username" in auth) {
                    triedBasic = true;
                    authorization = basicAuthorization(auth);
                    continue;
                }
            }
            if (response.ok) {
                if (authorization !== undefined) {
                    this.authorizations.set(key, authorization);
                }
                return { response, body: body ?? Buffer.alloc(0) };
            }
            throw this.statusError(response, body, target, ref.registry);
        }
    }

    // The token flow of the distribution spec: GET realm?service=…&scope=…, with the
    // registry's basic credentials when it has some and the realm may receive them.
    private async fetchToken(params: Record<string, string>, ref: ImageReference, target: Target, auth: RegistryAuth | undefined): Promise<string> {
        let realm: URL;
        try {
            realm = new URL(params.realm);
        } catch {
            throw new RegistryError(
                "protocol",
                `registry ${ref.registry} asked for a bearer token from realm ${JSON.stringify(params.realm)}, which is not a URL`,
            );
        }
        if (params.service) {
            realm.searchParams.set("service", params.service);
        }
        for (const scope of (params.scope ?? `repository:${ref.repository}:pull`).split(" ").filter(Boolean)) {
            realm.searchParams.append("scope", scope);
        }
        const basicAuth = auth !== undefined && "username" in auth ? auth : undefined;
        if (basicAuth !== undefined && !realmMayReceiveCredentials(ref.registry, realm)) {
            throw new RegistryError(
                "insecure",
                `registry ${ref.registry} asked for a bearer token from ${realm.origin}${realm.pathname}; refusing to send its credentials there over plain http: they go to a token realm only over https, or over http to a realm on the registry's own loopback host`,
            );
        }
        const authorization = basicAuth !== undefined ? basicAuthorization(basicAuth) : undefined;
        const tokenTarget: Target = { kind: "token", reference: ref, what: `a bearer token from ${realm.origin}${realm.pathname} for ${target.what}` };
        const { response, body } = await this.exchange(realm, { accept: "application/json", authorization }, tokenTarget, ref.registry);
        if (!response.ok) {
            throw this.statusError(response, body, tokenTarget, ref.registry);
        }
        let token: unknown;
        try {
            const json = JSON.parse((body ?? Buffer.alloc(0)).toString("utf8"));
            token = json.token ?? json.access_token;
        } catch {
            token = undefined;
        }
        if (typeof token !== "string" || token === "") {
            throw new RegistryError(
                "protocol",
                `the token service ${realm.origin}${realm.pathname} of registry ${ref.registry} answered without a "token" or "access_token" field`,
            );
        }
        return token;
    }

    // One GET, repeated after 429, 5xx or a reset connection with exponential backoff and
    // jitter (or the registry's Retry-After), within `retries` and the `timeoutMs` budget.
    private async exchange(start: URL, init: { accept: string; authorization?: string }, target: Target, registry: string): Promise<Exchanged> {
        const started = Date.now();
        for (let attempt = 1; ; attempt++) {
            let outcome: Exchanged | undefined;
            let reset: ConnectionResetError | undefined;
            try {
                outcome = await this.exchangeOnce(start, init, target, registry);
            } catch (error) {
                if (!(error instanceof ConnectionResetError)) {
                    throw error;
                }
                reset = error;
            }
            if (outcome !== undefined && !isRetryableStatus(outcome.response.status)) {
                return outcome;
            }
            const retryAfter = outcome === undefined ? undefined : retryAfterMs(outcome.response.headers.get("retry-after"));
            const backoff = this.retryBaseMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
            const delay = Math.round(Math.min(this.retryMaxDelayMs, retryAfter ?? backoff));
            const elapsed = Date.now() - started;
            const outOfAttempts = attempt > this.retries;
            if (outOfAttempts || elapsed + delay > this.timeoutMs) {
                const gaveUp = `gave up after ${attempt} ${attempt === 1 ? "attempt" : "attempts"} in ${(elapsed / 1000).toFixed(1)} s${
                    outOfAttempts ? "" : ` (waiting another ${delay} ms would pass timeoutMs, ${this.timeoutMs} ms)`
                }`;
                if (reset !== undefined) {
                    throw new RegistryError(
                        "unreachable",
                        `${reset.message}; ${gaveUp}; check that the registry (and any proxy or load balancer in front of it) stays up`,
                    );
                }
                throw this.unavailableError(outcome!, target, registry, gaveUp);
            }
            await new Promise((resolve) => setTimeout(resolve, delay));
        }
    }

    // One GET, following redirects by hand so the Authorization header never reaches
    // another host, bounded in time and body size. Non-2xx bodies are read too (for the
    // registry's error message).
    private async exchangeOnce(start: URL, init: { accept: string; authorization?: string }, target: Target, registry: string): Promise<Exchanged> {
        const signal = AbortSignal.timeout(this.timeoutMs);
        let url = start;
        for (let hop = 0; ; hop++) {
            assertTransportAllowed(url, this.insecure);
            const headers: Record<string, string> = { Accept: init.accept };
            if (init.authorization !== undefined && url.origin === start.origin) {
                headers.Authorization = init.authorization;
            }
            let response: Response;
            try {
                response = await fetch(url, { headers, redirect: "manual", signal });
            } catch (error) {
                throw this.transportError(error, url, registry, target);
            }
            const location = response.headers.get("location");
            if ([301, 302, 303, 307, 308].includes(response.status) && location) {
                await response.body?.cancel();
                if (hop >= MAX_REDIRECTS) {
                    throw new RegistryError(
                        "protocol",
                        `reading ${target.what}: registry ${registry} redirected more than ${MAX_REDIRECTS} times (last to ${location})`,
                    );
                }
                url = new URL(location, url);
                continue;
            }
            try {
                return { response, url, body: await readBounded(response, this.maxBodyBytes, `${target.what} from registry ${registry}`) };
            } catch (error) {
                throw this.transportError(error, url, registry, target);
            }
        }
    }

    private transportError(error: unknown, url: URL, registry: string, target: Target): Error {
        if (error instanceof RegistryError) {
            return error;
        }
        const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
        const where = `GET ${url.origin}${url.pathname}`;
        if (err.name === "TimeoutError") {
            return new RegistryError(
                "timeout",
                `registry ${registry} did not answer within ${this.timeoutMs} ms reading ${target.what} (${where}); check that it is up and reachable, or raise timeoutMs`,
            );
        }
        const code = err.cause?.code;
        if (code === "ECONNREFUSED") {
            return new RegistryError(
                "unreachable",
                `registry at ${url.host} is unreachable: connection refused (${where}); check that it is running and that the address is right`,
            );
        }
        if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
            return new RegistryError(
                "unreachable",
                `registry at ${url.host} is unreachable: its host name does not resolve (${code}, ${where}); check the registry name`,
            );
        }
        const detail = [code, err.cause?.message ?? err.message].filter(Boolean).join(": ");
        if (code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET" || err.message === "terminated") {
            return new ConnectionResetError(
                "unreachable",
                `registry at ${url.host} closed the connection before answering in full (${detail}; ${where}) reading ${target.what}`,
            );
        }
        return new RegistryError("unreachable", `registry at ${url.host} is unreachable (${detail}; ${where}); check the address, TLS setup and network`);
    }

    private statusError(response: Response, body: Buffer | undefined, target: Target, registry: string): RegistryError {
        const status = response.status;
        const registryErrors = parseRegistryErrors(body);
        const said = registryErrors.length > 0 ? ` (registry says: ${registryErrors.map((e) => `${e.code}: ${e.message}`).join("; ")})` : "";
        if (status === 401 || status === 403) {
            const auth = this.credentialsFor(registry);
            const who =
                auth === undefined
                    ? this.authRegistry === undefined
                        ? "anonymously (no credentials were given)"
                        : `anonymously (the credentials given are for registry ${this.authRegistry} only)`
                    : "token" in auth
                      ? "with the given bearer token"
                      : `as user ${JSON.stringify(auth.username)}`;
            const hint =
                auth === undefined
                    ? `pass auth: { registry: "${registry}", username, password } or { registry: "${registry}", token } (for ECR: username "AWS" and the password from GetAuthorizationToken)`
                    : status === 403
                      ? "check that this user may pull the repository"
                      : "check the credentials (an ECR password expires after 12 hours)";
            return new RegistryError(
                "auth",
                this.redact(`authentication failed for registry ${registry} ${who}: HTTP ${status} reading ${target.what}${said}; ${hint}`),
                status,
            );
        }
        if (status === 404) {
            const ref = target.reference;
            let detail: string;
            if (target.kind !== "manifest") {
                detail = `${target.what} does not exist in registry ${registry}`;
            } else if (registryErrors.some((e) => e.code === "NAME_UNKNOWN")) {
                detail = `repository ${JSON.stringify(ref.repository)} does not exist in registry ${registry}`;
            } else {
                // Registries answer MANIFEST_UNKNOWN for a missing repository too, so name both.
                const missing = ref.digest ? `manifest ${ref.digest}` : `tag ${JSON.stringify(ref.tag ?? "latest")}`;
                detail = `repository ${JSON.stringify(ref.repository)} or its ${missing} does not exist in registry ${registry}`;
            }
            const reading = target.kind === "manifest" ? ` reading ${target.what}` : "";
            return new RegistryError("not-found", this.redact(`not found: ${detail} (HTTP 404${reading}); check the name, or push the image first`), status);
        }
        return new RegistryError(
            "protocol",
            this.redact(`registry ${registry} answered HTTP ${status} ${response.statusText} reading ${target.what}${said}`),
            status,
        );
    }

    // The error once 429 or 5xx answers have used up the retries.
    private unavailableError(outcome: { response: Response; body?: Buffer }, target: Target, registry: string, gaveUp: string): RegistryError {
        const { status, statusText } = outcome.response;
        const registryErrors = parseRegistryErrors(outcome.body);
        const said = registryErrors.length > 0 ? ` (registry says: ${registryErrors.map((e) => `${e.code}: ${e.message}`).join("; ")})` : "";
        const hint =
            status === 429
                ? "it is rate-limiting this client: wait, then try again, or raise retries and retryMaxDelayMs"
                : "it is overloaded or failing: check its health and logs, then try again";
        return new RegistryError(
            "unavailable",
            this.redact(`registry ${registry} answered HTTP ${status}${statusText ? ` ${statusText}` : ""} reading ${target.what}${said}; ${gaveUp}; ${hint}`),
            status,
        );
    }

    // Registries may echo request details; make sure no secret reaches a message.
    private redact(message: string): string {
        const secrets =
            this.auth === undefined
                ? []
                : "token" in this.auth
                  ? [this.auth.token]
                  : [this.auth.password, basicAuthorization(this.auth).slice("Basic ".length)];
        return secrets.filter((s) => s.length > 0).reduce((m, s) => m.split(s).join("***"), message);
    }
}

/** Canonical platform → manifest digest of an image; see `RegistryClient.platformDigests`. */
export async function platformDigests(reference: string, options: RegistryClientOptions = {}): Promise<Record<string, string>> {
    return new RegistryClient(options).platformDigests(reference);
}

/** The digest and platforms of an image; see `RegistryClient.resolveImage`. */
export async function resolveImage(reference: string, options: RegistryClientOptions = {}): Promise<ResolvedImage> {
    return new RegistryClient(options).resolveImage(reference);
}

// Validates a reference given as parts too: its repository ends up in a URL path.
function toReference(reference: string | ImageReference): ImageReference {
    return parseImageReference(typeof reference === "string" ? reference : formatImageReference(reference));
}

// A Retry-After header (seconds, or an HTTP date) in milliseconds; undefined when absent or unreadable.
function retryAfterMs(header: string | null): number | undefined {
    const value = header?.trim();
    if (!value) {
        return undefined;
    }
    if (/^\d+$/.test(value)) {
        return Number(value) * 1000;
    }
    const at = Date.parse(value);
    return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

// The Authorization header sent before the registry asks for one.
function initialAuthorization(auth: RegistryAuth | undefined): string | undefined {
    if (auth === undefined) {
        return undefined;
    }
    return "token" in auth ? `Bearer ${auth.token}` : basicAuthorization(auth);
}

function basicAuthorization(auth: { username: string; password: string }): string {
    return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
}

function parseRegistryErrors(body: Buffer | undefined): { code: string; message: string }[] {
    if (body === undefined || body.length === 0) {
        return [];
    }
    try {
        const json = JSON.parse(body.toString("utf8"));
        if (!Array.isArray(json?.errors)) {
            return [];
        }
        return json.errors
            .filter((e: unknown) => typeof (e as { code?: unknown })?.code === "string")
            .map((e: { code: string; message?: unknown }) => ({ code: e.code, message: typeof e.message === "string" ? e.message : "" }));
    } catch {
        return [];
    }
}

// Reads a response body, giving up as soon as it exceeds maxBytes, so a hostile or
// broken registry cannot make the client buffer without bound.
async function readBounded(response: Response, maxBytes: number, what: string): Promise<Buffer> {
    const tooLarge = () =>
        new RegistryError(
            "too-large",
            `${what} is larger than the ${maxBytes}-byte limit (maxBodyBytes); refusing to read it: raise maxBodyBytes if it is legitimately this large`,
        );
    const declared = Number(response.headers.get("content-length") ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
        await response.body?.cancel();
        throw tooLarge();
    }
    if (response.body === null) {
        return Buffer.alloc(0);
    }
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
        const { done, value } = await reader.read();
        if (done) {
            break;
        }
        total += value.byteLength;
        if (total > maxBytes) {
            await reader.cancel();
            throw tooLarge();
        }
        chunks.push(value);
    }
    return Buffer.concat(chunks);
}
