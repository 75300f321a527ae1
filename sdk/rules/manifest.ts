// OCI and Docker manifests and indexes: their media types, the one place a registry's
// answer is checked to be a manifest, and the choice of each platform's manifest.
import { parsePlatform } from "./platform";
import { RegistryError } from "./registryError";
import { parseDigest, DIGEST } from "./imageReference";

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

export const INDEX_TYPES = new Set<string>([OCI_INDEX, DOCKER_MANIFEST_LIST]);

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
