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
 * Normalises a list of insecure registry hosts (`host[:port]`, as Docker's
 * `insecure-registries` writes them) for `isInsecureHost`: lower-cased, with the http
 * default port `:80` dropped. Throws an error that names the argument, the value and the
 * allowed form.
 */
export function normaliseInsecureHosts(insecure: unknown): string[] {
    const allowed =
        'expected a list of registry hosts with optional ports, e.g. ["registry.lan:5000"], like Docker\'s insecure-registries (loopback hosts need no entry)';
    if (!Array.isArray(insecure)) {
        throw new Error(`RegistryClient: insecure ${describeValue(insecure)} is not valid: ${allowed}`);
    }
    return insecure.map((entry: unknown, i) => {
        if (typeof entry !== "string" || !isValidRegistryHost(entry.toLowerCase())) {
            throw new Error(`RegistryClient: insecure[${i}] ${describeValue(entry)} is not a registry host: ${allowed}`);
        }
        return new URL(`http://${entry.toLowerCase()}`).host;
    });
}

/** Whether `host[:port]` is one of the (normalised) insecure hosts; loopback hosts are not listed here. */
function isInsecureHost(host: string, insecure: readonly string[]): boolean {
    let normal: string;
    try {
        normal = new URL(`http://${host}`).host;
    } catch {
        return false;
    }
    return insecure.includes(normal);
}

/**
 * The URL scheme used to reach a registry: `https`, except `http` for loopback
 * registries (which local test registries serve without TLS, and which Docker treats as
 * insecure by default) and for the hosts listed in `insecure`.
 */
export function registryScheme(registry: string, insecure: readonly string[] = []): "http" | "https" {
    return isLoopbackRegistry(registry) || isInsecureHost(registry, insecure) ? "http" : "https";
}

/**
 * Throws unless a URL the client is about to request (a registry endpoint, a token
 * realm, a redirect target) may be used: plain http only to loopback hosts and to the
 * hosts listed in `insecure`.
 */
export function assertTransportAllowed(url: URL, insecure: readonly string[] = []): void {
    if (url.protocol === "https:") {
        return;
    }
    if (url.protocol !== "http:") {
        throw new RegistryError("insecure", `refusing to request ${url.href}: only https and http URLs are supported`);
    }
    if (!isLoopbackRegistry(url.host) && !isInsecureHost(url.host, insecure)) {
        throw new RegistryError(
            "insecure",
            `refusing to send a request to ${url.host} over plain http (${url.origin}${url.pathname}): http is allowed only for loopback hosts (127.0.0.0/8, localhost, [::1]) and the hosts listed in insecure; use https, or add "${url.host}" to insecure if it really has no TLS`,
        );
    }
}

/**
 * Whether a registry's basic credentials may go to the bearer-token realm it names.
 * Over https, yes, on any host: that is what Docker does (moby's
 * `staticCredentialStore.Basic` in `registry/auth.go` ignores the realm's URL), and
 * registries such as Docker Hub name a separate auth host (`registry-1.docker.io` →
 * `https://auth.docker.io/token`). Over plain http, only to a realm on the registry's
 * own host when that host is loopback: credentials never cross a network in clear text,
 * nor go to another host over http (even one on loopback).
 */
export function realmMayReceiveCredentials(registry: string, realm: URL): boolean {
    if (realm.protocol === "https:") {
        return true;
    }
    if (realm.protocol !== "http:" || !isLoopbackRegistry(registry) || !isLoopbackRegistry(realm.host)) {
        return false;
    }
    try {
        return new URL(`http://${registry}`).hostname.toLowerCase() === realm.hostname.toLowerCase();
    } catch {
        return false;
    }
}

/**
 * The canonical form of the registry host credentials are given for, as
 * `parseImageReference` writes a reference's registry: lower-cased, Docker Hub's aliases
 * (`docker.io`, `index.docker.io`) as `registry-1.docker.io`. Throws an error naming the
 * value when it is not a registry host.
 */
export function normaliseRegistryHost(registry: unknown, argument = "registry"): string {
    if (typeof registry !== "string" || !isValidRegistryHost(registry.toLowerCase())) {
        throw new Error(
            `${argument} ${describeValue(registry)} is not valid: expected the registry host the credentials are for, with an optional port, e.g. "123456789012.dkr.ecr.us-west-2.amazonaws.com" or "127.0.0.1:5001"`,
        );
    }
    const host = registry.toLowerCase();
    return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB_REGISTRY : host;
}

// A value for a message: short JSON, or its type when it is large or not JSON.
function describeValue(value: unknown): string {
    if (value === undefined) {
        return "(missing)";
    }
    let text: string | undefined;
    try {
        text = JSON.stringify(value);
    } catch {
        text = undefined;
    }
    if (text === undefined || text.length > 80) {
        return `(${value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`})`;
    }
    return text;
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
 * manifests and entries without a platform. Throws a `RegistryError` of kind `protocol`
 * when two entries name the same platform with different digests, since a pull would
 * then be ambiguous; `source` names the index in that message.
 */
export function selectPlatformManifests(index: ImageIndex, source = "the index"): Record<string, string> {
    const byPlatform: Record<string, string> = {};
    for (const entry of index.manifests ?? []) {
        if (isAttestation(entry) || !entry.platform?.os || !entry.platform.architecture) {
            continue;
        }
        parseDigest(entry.digest);
        const platform = canonicalPlatform(entry.platform.os, entry.platform.architecture, entry.platform.variant);
        const earlier = byPlatform[platform];
        if (earlier !== undefined && earlier !== entry.digest) {
            throw new RegistryError(
                "protocol",
                `${source} lists platform ${platform} twice, as ${earlier} and ${entry.digest}: a pull for ${platform} is ambiguous; rebuild the index with one manifest per platform`,
            );
        }
        byPlatform[platform] = entry.digest;
    }
    return byPlatform;
}

/** A manifest body that `validateManifest` accepted. */
export interface ValidatedManifest {
    /** Its media type: an image index (or manifest list) or an image manifest. */
    mediaType: string;
    /** The parsed body, with the fields this client reads checked. */
    json: ImageIndex | ImageManifest;
}

/**
 * Checks that a manifest body is a well-formed image index or image manifest of an
 * accepted media type, and returns it parsed. Its media type is its `mediaType` field,
 * else `contentType` (the registry's Content-Type); one outside `ACCEPTED_MANIFEST_TYPES`
 * is a `RegistryError` of kind `media-type`. Then the body must be a JSON object with
 * `schemaVersion` 2 when present, and:
 *
 * - an index: `manifests`, a list of descriptors;
 * - a manifest: `config`, a descriptor, and `layers`, a list of descriptors;
 *
 * where a descriptor is an object with a `digest` (`sha256:` and 64 hex digits for
 * index entries and the config, which this client reads; any OCI digest for layers), and
 * when present a string `mediaType`, a whole `size` >= 0, string `annotations` and a
 * `platform` with string `os` and `architecture` (and string `variant`, `os.version`).
 * Anything else is a `RegistryError` of kind `protocol` naming the first bad field.
 * Fields this client does not read are not checked. A body nested more than 64 levels
 * deep is refused (kind `protocol`) before it is parsed, and only the fields above are
 * visited, so no document within `maxBodyBytes` costs more than one pass over its bytes
 * and one `JSON.parse` of a shallow document.
 */
export function validateManifest(body: Buffer, contentType: string, what: string): ValidatedManifest {
    if (nestingDepth(body, MAX_MANIFEST_DEPTH) > MAX_MANIFEST_DEPTH) {
        throw new RegistryError(
            "protocol",
            `${what} nests lists and objects more than ${MAX_MANIFEST_DEPTH} levels deep, which no manifest does (an index is 4 levels deep); refusing to parse it`,
        );
    }
    let json: unknown;
    let parsed = true;
    try {
        json = JSON.parse(body.toString("utf8"));
    } catch {
        parsed = false;
    }
    const declared = isObject(json) ? json.mediaType : undefined;
    const mediaType = typeof declared === "string" ? declared : contentType;
    if (!(ACCEPTED_MANIFEST_TYPES as readonly string[]).includes(mediaType)) {
        const source =
            typeof declared === "string"
                ? ""
                : contentType === ""
                  ? " (it has no mediaType field and no Content-Type)"
                  : " (its Content-Type; it has no mediaType field)";
        throw new RegistryError(
            "media-type",
            `${what} has media type ${mediaType.length > 200 ? `a ${mediaType.length}-character string` : JSON.stringify(mediaType || "(none)")}${source}, which this client cannot read; accepted media types: ${ACCEPTED_MANIFEST_TYPES.join(", ")}`,
        );
    }
    const malformed = (why: string) => new RegistryError("protocol", `${what} is not a well-formed ${mediaType}: ${why}`);
    if (!parsed) {
        throw new RegistryError("protocol", `${what} is not valid JSON although its media type is ${mediaType}`);
    }
    if (!isObject(json)) {
        throw malformed(`the document is ${jsonType(json)}, not an object`);
    }
    if (declared !== undefined && typeof declared !== "string") {
        throw malformed(`mediaType is ${jsonType(declared)}, not a string`);
    }
    if (json.schemaVersion !== undefined && json.schemaVersion !== 2) {
        throw malformed(`schemaVersion is ${jsonType(json.schemaVersion)}, not 2`);
    }
    const checkList = (name: "manifests" | "layers", sha256Only: boolean) => {
        const list = json[name];
        if (!Array.isArray(list)) {
            throw malformed(`${name} is ${jsonType(list)}, not a list of descriptors`);
        }
        list.forEach((entry, i) => checkDescriptor(entry, `${name}[${i}]`, sha256Only, malformed));
    };
    if (INDEX_TYPES.has(mediaType)) {
        checkList("manifests", true);
    } else {
        checkDescriptor(json.config, "config", true, malformed);
        checkList("layers", false);
    }
    return { mediaType, json: json as unknown as ImageIndex | ImageManifest };
}

// Far deeper than any manifest, far shallower than what makes JSON.parse slow (a 4 MiB
// body of nested lists takes it seconds).
const MAX_MANIFEST_DEPTH = 64;

// How deeply a JSON text nests lists and objects, counted up to just past `limit`, in one
// pass over the bytes (brackets inside strings do not count).
function nestingDepth(body: Buffer, limit: number): number {
    let depth = 0;
    let inString = false;
    for (let i = 0; i < body.length; i++) {
        const byte = body[i];
        if (inString) {
            if (byte === 0x5c) {
                i++;
            } else if (byte === 0x22) {
                inString = false;
            }
        } else if (byte === 0x22) {
            inString = true;
        } else if (byte === 0x5b || byte === 0x7b) {
            if (++depth > limit) {
                return depth;
            }
        } else if (byte === 0x5d || byte === 0x7d) {
            depth--;
        }
    }
    return depth;
}

// The OCI image spec's digest grammar (descriptor.md): algorithm ":" encoded.
const ANY_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function checkDescriptor(value: unknown, field: string, sha256Only: boolean, malformed: (why: string) => RegistryError): void {
    if (!isObject(value)) {
        throw malformed(`${field} is ${jsonType(value)}, not a descriptor object`);
    }
    const digestOk = typeof value.digest === "string" && (sha256Only ? DIGEST.test(value.digest) : ANY_DIGEST.test(value.digest));
    if (!digestOk) {
        const expected = sha256Only ? '"sha256:" followed by 64 lowercase hex characters' : "an algorithm:encoded digest";
        throw malformed(`${field}.digest is ${jsonType(value.digest)}, not ${expected}`);
    }
    if (value.mediaType !== undefined && typeof value.mediaType !== "string") {
        throw malformed(`${field}.mediaType is ${jsonType(value.mediaType)}, not a string`);
    }
    if (value.size !== undefined && !(Number.isSafeInteger(value.size) && (value.size as number) >= 0)) {
        throw malformed(`${field}.size is ${jsonType(value.size)}, not a whole number of bytes`);
    }
    if (value.annotations !== undefined) {
        if (!isObject(value.annotations)) {
            throw malformed(`${field}.annotations is ${jsonType(value.annotations)}, not an object`);
        }
        for (const [key, annotation] of Object.entries(value.annotations)) {
            if (typeof annotation !== "string") {
                throw malformed(`${field}.annotations[${JSON.stringify(key.slice(0, 60))}] is ${jsonType(annotation)}, not a string`);
            }
        }
    }
    if (value.platform !== undefined) {
        const platform = value.platform;
        if (!isObject(platform)) {
            throw malformed(`${field}.platform is ${jsonType(platform)}, not an object`);
        }
        for (const key of ["os", "architecture"]) {
            if (typeof platform[key] !== "string") {
                throw malformed(`${field}.platform.${key} is ${jsonType(platform[key])}, not a string`);
            }
        }
        for (const key of ["variant", "os.version"]) {
            if (platform[key] !== undefined && typeof platform[key] !== "string") {
                throw malformed(`${field}.platform.${key} is ${jsonType(platform[key])}, not a string`);
            }
        }
    }
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

// A JSON value's kind for a message, with short strings and numbers shown: never the
// whole value, which may be megabytes of hostile JSON.
function jsonType(value: unknown): string {
    if (value === undefined) {
        return "missing";
    }
    if (value === null) {
        return "null";
    }
    if (Array.isArray(value)) {
        return "a list";
    }
    if (typeof value === "string") {
        return value.length <= 80 ? `the string ${JSON.stringify(value)}` : `a ${value.length}-character string`;
    }
    if (typeof value === "number") {
        return `the number ${value}`;
    }
    if (typeof value === "boolean") {
        return String(value);
    }
    return "an object";
}

/**
 * What went wrong talking to a registry, for callers that branch on it:
 *
 * - `auth`: the registry refused the credentials, or wants some and none were given for it (401, 403).
 * - `not-found`: the repository, tag, manifest or blob does not exist (404).
 * - `media-type`: a manifest's media type (its `mediaType` field, else its Content-Type) is
 *   missing or not one of `ACCEPTED_MANIFEST_TYPES`.
 * - `digest-mismatch`: a body does not hash to the digest asked for or announced.
 * - `too-large`: a body is larger than `maxBodyBytes`.
 * - `timeout`: no full answer within `timeoutMs`.
 * - `unreachable`: the connection was refused or dropped, or the host does not resolve.
 * - `unavailable`: 429 or 5xx answers outlasted the retries.
 * - `insecure`: a request would use plain http to a host that is neither loopback nor listed in
 *   `insecure`, or send credentials to a token realm that may not have them.
 * - `protocol`: an answer this client cannot use: another HTTP status, a token response
 *   without a token, a body that is not JSON, or JSON that is not a well-formed manifest or
 *   index (see `validateManifest`), an index listing one platform twice, a config without a platform.
 */
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
