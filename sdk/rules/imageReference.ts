// The image reference grammar of the distribution spec: parse, normalise and format
// `registry/repository[:tag][@digest]`.
import { createHash } from "crypto";

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

// An array, not a Set: clients serialised into a provider's closure import this module.
const DOCKER_HUB_ALIASES = ["docker.io", "index.docker.io", DOCKER_HUB_REGISTRY];

// The grammar of github.com/distribution/reference, restricted to sha256 digests.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** The tag rule of the distribution spec, which ECR follows: up to 128 letters, digits and `_.-`, not first `.` or `-`. */
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export const DIGEST = /^sha256:[a-f0-9]{64}$/;

const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[a-fA-F0-9:.]+\]$/;
const MAX_NAME_LENGTH = 255;

/** The content digest of bytes (a manifest, a blob) as a registry names them: `sha256:<64 hex>`. */
export function contentDigest(content: Buffer | string): string {
    return `sha256:${createHash("sha256").update(content).digest("hex")}`;
}

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
    const { repository: name, tag } = splitTag(rest);
    rest = name;
    if (tag !== undefined && !TAG_PATTERN.test(tag)) {
        throw bad(`tag ${JSON.stringify(tag)} must be 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`);
    }
    const host = hostOf(rest);
    const registry = registryOf(rest);
    let repository = host === undefined ? rest : rest.slice(host.length + 1);
    if (!isValidRegistryHost(registry)) {
        throw bad(`registry ${JSON.stringify(host)} is not a host name or IP address with an optional port`);
    }
    if (registry === DOCKER_HUB_REGISTRY && !repository.includes("/")) {
        repository = `library/${repository}`;
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

/**
 * A name without digest split at its tag, if it has one: the last `:` after the last `/`,
 * so a registry's port is never a tag. `127.0.0.1:5000/team/api:v1` →
 * `{ repository: "127.0.0.1:5000/team/api", tag: "v1" }`; `127.0.0.1:5000/team/api` →
 * `{ repository: "127.0.0.1:5000/team/api" }`.
 */
export function splitTag(name: string): { repository: string; tag?: string } {
    const colon = name.lastIndexOf(":");
    return colon > name.lastIndexOf("/") ? { repository: name.slice(0, colon), tag: name.slice(colon + 1) } : { repository: name };
}

/**
 * The registry host a name (without digest) begins with, as written, or undefined when it
 * names none (a Docker Hub name such as `acme/api`): a first path component with `.` or
 * `:`, or `localhost`.
 */
export function hostOf(name: string): string | undefined {
    const slash = name.indexOf("/");
    const first = name.slice(0, slash);
    return slash >= 0 && (first.includes(".") || first.includes(":") || first.toLowerCase() === "localhost") ? first : undefined;
}

/**
 * The registry of a reference or repository URL, as `parseImageReference` reads it
 * (lower-cased; `registry-1.docker.io` for a Docker Hub name), without checking the rest:
 * `123456789012.dkr.ecr.us-west-2.amazonaws.com/team/api@sha256:…` →
 * `123456789012.dkr.ecr.us-west-2.amazonaws.com`.
 */
export function registryOf(reference: string): string {
    const host = hostOf(reference.split("@")[0]);
    return host === undefined ? DOCKER_HUB_REGISTRY : canonicalHost(host);
}

// A registry host as references name it: lower-cased, Docker Hub's aliases as `registry-1.docker.io`.
function canonicalHost(host: string): string {
    const lower = host.toLowerCase();
    return DOCKER_HUB_ALIASES.includes(lower) ? DOCKER_HUB_REGISTRY : lower;
}

export function isValidRegistryHost(hostPort: string): boolean {
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
    return canonicalHost(registry);
}

// A value for a message: short JSON, or its type when it is large or not JSON.
export function describeValue(value: unknown): string {
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
