// A small client for the OCI distribution API: it reads an image's manifest or index
// and reports which manifest digest each platform resolves to. The library uses it to
// prove what a build pushed and, at deploy time, that an image has the host's
// architecture. It depends on Node's own `fetch` only.
import * as crypto from "crypto";
import { parsePlatform } from "./platform";

/** An image reference split into its parts, e.g. `127.0.0.1:5000/team/app:v1`. */
export interface ImageReference {
    /** The registry host and optional port, e.g. `registry-1.docker.io` or `127.0.0.1:5000`. */
    registry: string;
    /** The repository path inside the registry, e.g. `library/alpine`. */
    repository: string;
    /** The tag, when the reference names one. */
    tag?: string;
    /** The `sha256:` digest, when the reference pins one. */
    digest?: string;
}

/** A validated content digest. */
export interface Digest {
    /** The hash algorithm; only sha256 is accepted. */
    algorithm: "sha256";
    /** The 64 lowercase hex digits of the hash. */
    hex: string;
}

/** The registry that Docker Hub's shorthand names (`alpine`, `docker.io/x/y`) resolve to. */
export const DOCKER_HUB_REGISTRY = "registry-1.docker.io";

const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", DOCKER_HUB_REGISTRY]);

// The grammar of github.com/distribution/reference, restricted to sha256 digests.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[a-fA-F0-9:.]+\]$/;
const MAX_NAME_LENGTH = 255;

/**
 * Validates a content digest: `sha256:` followed by 64 lowercase hex characters.
 * Throws an error that shows the value and the expected form.
 */
export function parseDigest(value: string): Digest {
    if (typeof value !== "string" || !DIGEST.test(value)) {
        throw new Error(`digest ${JSON.stringify(value)} is not valid: expected "sha256:" followed by 64 lowercase hex characters`);
    }
    return { algorithm: "sha256", hex: value.slice("sha256:".length) };
}

/**
 * Parses an image reference `[registry/]repository[:tag][@sha256:…]`. A first path
 * component without `.` or `:` (and not `localhost`) is a Docker Hub repository, as in
 * `docker pull`: `alpine` → `registry-1.docker.io/library/alpine`. The registry host
 * is lower-cased; a missing tag stays missing (readers default it to `latest`).
 * Throws an error that names the bad part and the allowed form.
 */
export function parseImageReference(reference: string): ImageReference {
    const bad = (why: string): Error =>
        new Error(
            `image reference ${JSON.stringify(reference)} is not valid: ${why}; expected [registry/]repository[:tag][@sha256:<64 hex>], e.g. "127.0.0.1:5000/team/app:v1"`,
        );
    if (typeof reference !== "string" || reference.trim() === "") {
        throw bad("it is empty");
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(reference)) {
        throw bad('a reference has no URL scheme; drop the "scheme://" prefix');
    }
    if (/\s/.test(reference)) {
        throw bad("it contains whitespace");
    }
    let rest = reference;
    let digest: string | undefined;
    const at = rest.indexOf("@");
    if (at >= 0) {
        digest = rest.slice(at + 1);
        rest = rest.slice(0, at);
        if (!DIGEST.test(digest)) {
            throw bad(`digest ${JSON.stringify(digest)} is not "sha256:" followed by 64 lowercase hex characters`);
        }
    }
    let tag: string | undefined;
    const lastColon = rest.lastIndexOf(":");
    if (lastColon > rest.lastIndexOf("/")) {
        tag = rest.slice(lastColon + 1);
        rest = rest.slice(0, lastColon);
        if (!TAG.test(tag)) {
            throw bad(`tag ${JSON.stringify(tag)} must be 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`);
        }
    }
    const slash = rest.indexOf("/");
    const first = slash >= 0 ? rest.slice(0, slash) : "";
    let registry: string;
    let repository: string;
    if (slash >= 0 && (first.includes(".") || first.includes(":") || first.toLowerCase() === "localhost")) {
        registry = first.toLowerCase();
        repository = rest.slice(slash + 1);
        if (!isValidRegistryHost(registry)) {
            throw bad(`registry ${JSON.stringify(first)} is not a host name or IP address with an optional port`);
        }
    } else {
        registry = DOCKER_HUB_REGISTRY;
        repository = rest;
    }
    if (DOCKER_HUB_ALIASES.has(registry)) {
        registry = DOCKER_HUB_REGISTRY;
        if (!repository.includes("/")) {
            repository = `library/${repository}`;
        }
    }
    if (repository === "") {
        throw bad("the repository is missing");
    }
    const badComponent = repository.split("/").find((c) => !PATH_COMPONENT.test(c));
    if (badComponent !== undefined) {
        throw bad(`repository path component ${JSON.stringify(badComponent)} must be lowercase letters and digits, separated by ".", "_", "__" or "-"`);
    }
    if (`${registry}/${repository}`.length > MAX_NAME_LENGTH) {
        throw bad(`the name is longer than ${MAX_NAME_LENGTH} characters`);
    }
    return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

function isValidRegistryHost(hostPort: string): boolean {
    const match = /^(\[[^\]]*\]|[^:]+)(?::(\d{1,5}))?$/.exec(hostPort);
    if (match === null) {
        return false;
    }
    const [, host, port] = match;
    if (port !== undefined && Number(port) > 65535) {
        return false;
    }
    if (!(IPV6_HOST.test(host) || host.split(".").every((c) => DOMAIN_COMPONENT.test(c)))) {
        return false;
    }
    // The client puts the host in a URL: names the URL parser refuses ("a.1", which it
    // reads as a bad IPv4 address, "999.1.1.1", "[a.b]") must fail here, not as a TypeError later.
    try {
        new URL(`https://${hostPort}/`);
        return true;
    } catch {
        return false;
    }
}

/**
 * Formats a reference as `registry/repository[:tag][@digest]`. For a parsed reference
 * this is its canonical form: `formatImageReference(parseImageReference(x))` parses
 * back to the same parts.
 */
export function formatImageReference(reference: ImageReference): string {
    const tag = reference.tag !== undefined ? `:${reference.tag}` : "";
    const digest = reference.digest !== undefined ? `@${reference.digest}` : "";
    return `${reference.registry}/${reference.repository}${tag}${digest}`;
}

/** Whether a registry host (`host[:port]`) is this machine: 127.0.0.0/8, `localhost` or `[::1]`. */
export function isLoopbackRegistry(registry: string): boolean {
    let host: string;
    try {
        host = new URL(`http://${registry}`).hostname.toLowerCase();
    } catch {
        return false;
    }
    return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The URL scheme used to reach a registry: `https`, except `http` for loopback
 * registries (which local test registries serve without TLS, as Docker assumes) and
 * for registries the caller marks `insecure`.
 */
export function registryScheme(registry: string, insecure = false): "http" | "https" {
    return insecure || isLoopbackRegistry(registry) ? "http" : "https";
}

/**
 * Throws unless a URL the client is about to request (a registry endpoint, a token
 * realm, a redirect target) may be used: plain http only to loopback hosts or when the
 * client is `insecure`.
 */
export function assertTransportAllowed(url: URL, insecure = false): void {
    if (url.protocol === "https:") {
        return;
    }
    if (url.protocol !== "http:") {
        throw new RegistryError("insecure", `refusing to request ${url.href}: only https and http URLs are supported`);
    }
    if (!insecure && !isLoopbackRegistry(url.host)) {
        throw new RegistryError(
            "insecure",
            `refusing to send a request to ${url.host} over plain http (${url.origin}${url.pathname}): http is allowed only for loopback hosts (127.0.0.0/8, localhost, [::1]); use https, or pass insecure: true if this registry really has no TLS`,
        );
    }
}

/** One challenge of a `WWW-Authenticate` header: its scheme (lower-cased) and parameters. */
export interface AuthChallenge {
    /** The auth scheme, lower-cased: `bearer` or `basic`. */
    scheme: string;
    /** The challenge's parameters, e.g. `realm`, `service`, `scope`. */
    params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235), including several challenges joined
 * by commas, e.g. `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`.
 * Parameter names are lower-cased; quoted values are unescaped.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
    const challenges: AuthChallenge[] = [];
    let i = 0;
    const skip = (chars: RegExp) => {
        while (i < header.length && chars.test(header[i])) i++;
    };
    const readToken = (): string => {
        const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]*/.exec(header.slice(i))![0];
        i += token.length;
        return token;
    };
    for (;;) {
        skip(/[\s,]/);
        const scheme = readToken();
        if (scheme === "") {
            break;
        }
        const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
        challenges.push(challenge);
        for (;;) {
            skip(/[\s,]/);
            const start = i;
            const name = readToken();
            skip(/ /);
            if (name === "" || header[i] !== "=") {
                // Not `name=value`: the next challenge's scheme starts here.
                i = start;
                break;
            }
            i++;
            skip(/ /);
            let value = "";
            if (header[i] === '"') {
                for (i++; i < header.length && header[i] !== '"'; i++) {
                    if (header[i] === "\\" && i + 1 < header.length) i++;
                    value += header[i];
                }
                i++;
            } else {
                value = readToken();
            }
            challenge.params[name.toLowerCase()] = value;
        }
    }
    return challenges;
}

/** OCI image index media type. */
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
/** Docker manifest list media type. */
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
/** OCI image manifest media type. */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** Docker image manifest (schema 2) media type. */
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
/** The manifest media types this client reads, in the order it asks for them. */
export const ACCEPTED_MANIFEST_TYPES = [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST] as const;

const INDEX_TYPES = new Set<string>([OCI_INDEX, DOCKER_MANIFEST_LIST]);

/** A content descriptor as it appears in a manifest or index. */
export interface Descriptor {
    /** The media type of what the descriptor points to. */
    mediaType?: string;
    /** The digest of what it points to, `sha256:…`. */
    digest: string;
    /** Its size in bytes. */
    size?: number;
    /** The platform of an index entry. */
    platform?: DescriptorPlatform;
    /** Annotations, e.g. `vnd.docker.reference.type: attestation-manifest`. */
    annotations?: Record<string, string>;
}

/** The platform of an index entry, as the OCI image spec writes it. */
export interface DescriptorPlatform {
    /** The operating system, e.g. `linux`; `unknown` on attestation entries. */
    os?: string;
    /** The architecture, e.g. `amd64`, `arm64`. */
    architecture?: string;
    /** The variant, e.g. `v8` of arm64. */
    variant?: string;
    /** The operating system's version (Windows images). */
    "os.version"?: string;
}

/** The fields of an image index (or Docker manifest list) this client uses. */
export interface ImageIndex {
    /** Always 2. */
    schemaVersion?: number;
    /** `OCI_INDEX` or `DOCKER_MANIFEST_LIST`. */
    mediaType?: string;
    /** One entry per platform, plus any attestation entries. */
    manifests: Descriptor[];
}

/** The fields of an image manifest this client uses. */
export interface ImageManifest {
    /** Always 2. */
    schemaVersion?: number;
    /** `OCI_MANIFEST` or `DOCKER_MANIFEST`. */
    mediaType?: string;
    /** The image config blob, which names the image's platform. */
    config: Descriptor;
    /** The image's layers. */
    layers: Descriptor[];
}

/** Whether an index entry is a BuildKit attestation (provenance/SBOM), not a runnable image. */
export function isAttestation(entry: Descriptor): boolean {
    return (
        entry.annotations?.["vnd.docker.reference.type"] === "attestation-manifest" ||
        (entry.platform?.os === "unknown" && entry.platform?.architecture === "unknown")
    );
}

/**
 * The canonical platform of an `os`/`architecture`/`variant` triple, normalised like
 * user input (`linux/arm64/v8` → `linux/arm64`); platforms the library does not build
 * (`linux/arm/v7`, `windows/amd64`) are kept as written, lower-cased.
 */
export function canonicalPlatform(os: string, architecture: string, variant?: string): string {
    const written = [os, architecture, ...(variant ? [variant] : [])].join("/").toLowerCase();
    const parsed = parsePlatform(written);
    return "platform" in parsed ? parsed.platform : written;
}

/**
 * Maps each platform of an index to the digest of its manifest, skipping attestation
 * manifests and entries without a platform. Throws when two entries name the same
 * platform with different digests, since a pull would then be ambiguous.
 */
export function selectPlatformManifests(index: ImageIndex): Record<string, string> {
    const byPlatform: Record<string, string> = {};
    for (const entry of index.manifests ?? []) {
        if (isAttestation(entry) || !entry.platform?.os || !entry.platform.architecture) {
            continue;
        }
        parseDigest(entry.digest);
        const platform = canonicalPlatform(entry.platform.os, entry.platform.architecture, entry.platform.variant);
        const earlier = byPlatform[platform];
        if (earlier !== undefined && earlier !== entry.digest) {
            throw new Error(
                `the index lists platform ${platform} twice, as ${earlier} and ${entry.digest}: a pull for ${platform} is ambiguous; rebuild the index with one manifest per platform`,
            );
        }
        byPlatform[platform] = entry.digest;
    }
    return byPlatform;
}

/** What went wrong talking to a registry, for callers that branch on it. */
export type RegistryErrorKind =
    "auth" | "not-found" | "media-type" | "digest-mismatch" | "too-large" | "timeout" | "unreachable" | "unavailable" | "insecure" | "protocol";

/** An error from a registry exchange; `kind` says which, the message says what to do. */
export class RegistryError extends Error {
    constructor(
        /** What kind of failure it was, for callers that handle some kinds. */
        public readonly kind: RegistryErrorKind,
        message: string,
        /** The HTTP status the registry answered, when it answered. */
        public readonly status?: number,
    ) {
        super(message);
        this.name = "RegistryError";
    }
}

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

/** How a `RegistryClient` talks to registries. */
export interface RegistryClientOptions {
    /**
     * Credentials sent to the registry.
     *
     * Basic credentials go to the registry as `Authorization: Basic` and to a bearer
     * token realm when the registry asks for one. For ECR: username `AWS`, password
     * from `GetAuthorizationToken`. Defaults to anonymous access.
     */
    auth?: RegistryAuth;
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
     * Use plain http for every registry, and allow http token realms and redirects.
     *
     * Loopback registries (127.0.0.0/8, `localhost`, `[::1]`) use http without it.
     * Defaults to `false`. Equivalent to Docker's `insecure-registries`.
     */
    insecure?: boolean;
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
    private readonly insecure: boolean;
    private readonly retries: number;
    private readonly retryBaseMs: number;
    private readonly retryMaxDelayMs: number;
    private readonly auth?: RegistryAuth;
    // The Authorization header that last worked, per registry and repository.
    private readonly authorizations = new Map<string, string>();

    constructor(options: RegistryClientOptions = {}) {
        this.auth = options.auth;
        this.timeoutMs = options.timeoutMs ?? 30000;
        this.maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
        this.insecure = options.insecure ?? false;
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

        const actual = sha256(body);
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
        let json: { mediaType?: unknown } | undefined;
        try {
            json = JSON.parse(body.toString("utf8"));
        } catch {
            json = undefined;
        }
        const bodyType = typeof json?.mediaType === "string" ? json.mediaType : undefined;
        const mediaType = bodyType ?? contentType;
        if (!(ACCEPTED_MANIFEST_TYPES as readonly string[]).includes(mediaType)) {
            throw new RegistryError(
                "media-type",
                `${target.what} from registry ${ref.registry} has media type ${JSON.stringify(mediaType || "(none)")}, which this client cannot read; accepted media types: ${ACCEPTED_MANIFEST_TYPES.join(", ")}`,
            );
        }
        if (json === undefined || typeof json !== "object") {
            throw new RegistryError("protocol", `${target.what} from registry ${ref.registry} is not valid JSON although its media type is ${mediaType}`);
        }
        const shapeOk = INDEX_TYPES.has(mediaType) ? Array.isArray((json as ImageIndex).manifests) : typeof (json as ImageManifest).config?.digest === "string";
        if (!shapeOk) {
            throw new RegistryError(
                "protocol",
                `${target.what} from registry ${ref.registry} is a ${mediaType} without ${INDEX_TYPES.has(mediaType) ? "a manifests list" : "a config descriptor"}`,
            );
        }
        return { reference: ref, digest: actual, mediaType, body, json: json as ImageIndex | ImageManifest };
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
        const actual = sha256(body);
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
                platforms: selectPlatformManifests(index),
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

    // GETs /v2/<repository><path>, authenticating as the registry asks, and reads the body.
    private async read(ref: ImageReference, path: string, accept: string, target: Target): Promise<{ response: Response; body: Buffer }> {
        const url = new URL(`${registryScheme(ref.registry, this.insecure)}://${ref.registry}/v2/${ref.repository}${path}`);
        const key = `${ref.registry}/${ref.repository}`;
        let authorization = this.authorizations.get(key) ?? this.initialAuthorization();
        let triedToken = false;
        let triedBasic = authorization?.startsWith("Basic ") ?? false;
        for (;;) {
            const { response, body } = await this.exchange(url, { accept, authorization }, target, ref.registry);
            if (response.status === 401 && !("token" in (this.auth ?? {}))) {
                const challenges = parseWwwAuthenticate(response.headers.get("www-authenticate") ?? "");
                const bearer = challenges.find((c) => c.scheme === "bearer" && c.params.realm);
                const basic = challenges.find((c) => c.scheme === "basic");
                if (bearer && !triedToken) {
                    triedToken = true;
                    authorization = `Bearer ${await this.fetchToken(bearer.params, ref, target)}`;
                    continue;
                }
                if (basic && !triedBasic && this.auth && "username" in this.auth) {
                    triedBasic = true;
                    authorization = basicAuthorization(this.auth);
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

    private initialAuthorization(): string | undefined {
        if (this.auth === undefined) {
            return undefined;
        }
        return "token" in this.auth ? `Bearer ${this.auth.token}` : basicAuthorization(this.auth);
    }

    // The token flow of the distribution spec: GET realm?service=…&scope=…, with basic
    // credentials when the client has them.
    private async fetchToken(params: Record<string, string>, ref: ImageReference, target: Target): Promise<string> {
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
        const authorization = this.auth && "username" in this.auth ? basicAuthorization(this.auth) : undefined;
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
    private async exchange(
        start: URL,
        init: { accept: string; authorization?: string },
        target: Target,
        registry: string,
    ): Promise<{ response: Response; body?: Buffer }> {
        const started = Date.now();
        for (let attempt = 1; ; attempt++) {
            let outcome: { response: Response; body?: Buffer } | undefined;
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
    private async exchangeOnce(
        start: URL,
        init: { accept: string; authorization?: string },
        target: Target,
        registry: string,
    ): Promise<{ response: Response; body?: Buffer }> {
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
                return { response, body: await readBounded(response, this.maxBodyBytes, `${target.what} from registry ${registry}`) };
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
            const who =
                this.auth === undefined
                    ? "anonymously (no credentials were given)"
                    : "token" in this.auth
                      ? "with the given bearer token"
                      : `as user ${JSON.stringify(this.auth.username)}`;
            const hint =
                this.auth === undefined
                    ? 'pass auth: { username, password } or { token } (for ECR: username "AWS" and the password from GetAuthorizationToken)'
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

function basicAuthorization(auth: { username: string; password: string }): string {
    return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
}

function sha256(body: Buffer): string {
    return `sha256:${crypto.createHash("sha256").update(body).digest("hex")}`;
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
