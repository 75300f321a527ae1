// Property-based tests of the parsers users and registries feed strings to: platforms,
// image references and digests. Whatever the string, a parser either returns a canonical
// value that parses back to itself, or fails with its documented message; it never
// throws a TypeError or accepts a value the rest of the library cannot use (a registry
// host no URL can hold, an architecture inherited from Object.prototype).
import * as assert from "assert";
import fc from "fast-check";
import * as http from "http";
import { AddressInfo } from "net";
import { SUPPORTED_PLATFORMS, normalisePlatform, normalisePlatforms, parsePlatform } from "../../../sdk/rules/platform";
import { FetchedManifest, RegistryClient } from "../../../sdk/clients/registryClient";
import { RegistryError } from "../../../sdk/rules/registryError";
import { ACCEPTED_MANIFEST_TYPES, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, canonicalPlatform } from "../../../sdk/rules/manifest";
import { formatImageReference, parseDigest, parseImageReference, ImageReference } from "../../../sdk/rules/imageReference";

// Enough runs to reach the rare shapes (IPv6 hosts, digests after tags), fast enough for every `npm test`.
const RUNS = 2000;
function check<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts>): void {
    fc.assert(property, { numRuns: RUNS });
}

// Arbitrary text: printable ASCII, every UTF-16 code unit (lone surrogates too), and
// characters with a meaning in the grammars.
const anyText = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(..."/:@.-_[] \t\nAaZz09sha256"), maxLength: 40 }),
);

/** Strings made of a parser's vocabulary, valid and near-valid pieces mixed, plus arbitrary text. */
function nearValid(pieces: fc.Arbitrary<string>): fc.Arbitrary<string> {
    return fc.oneof({ weight: 3, arbitrary: pieces }, { weight: 1, arbitrary: anyText });
}

// ---- platforms ----

const ALLOWED = `expected os/arch[/variant] or an architecture, one of ${SUPPORTED_PLATFORMS.join(", ")} (aliases such as x86_64, aarch64 and linux/arm64/v8 are accepted)`;
const ARCH_WORDS = [
    "amd64",
    "x86_64",
    "x86-64",
    "x64",
    "arm64",
    "aarch64",
    "i386",
    "i686",
    "386",
    "x86",
    "arm",
    "armhf",
    "armv7l",
    "mips64el",
    "ppc64el",
    "riscv64",
    "s390x",
];
// Words that are keys of every object: a lookup table must not resolve them.
const PROTOTYPE_WORDS = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty", "prototype"];

const platformSpelling = nearValid(
    fc
        .tuple(
            fc.option(fc.constantFrom("linux", "LINUX", "Linux", "windows", "darwin", "", "linux ", ...PROTOTYPE_WORDS), { nil: undefined }),
            fc.constantFrom(...ARCH_WORDS, ...PROTOTYPE_WORDS, "AMD64", "AArch64", "amd65", "sparc", "", "arm64 "),
            fc.option(fc.constantFrom("v1", "v7", "v8", "V8", "v9", "", "__proto__"), { nil: undefined }),
            fc.constantFrom("", " ", "\t", "/"),
        )
        .map(([os, arch, variant, pad]) => pad + [...(os === undefined ? [] : [os]), arch, ...(variant === undefined ? [] : [variant])].join("/") + pad),
);

function isPlatformError(error: string): boolean {
    return (
        error === ALLOWED ||
        error === `only linux images are built; ${ALLOWED}` ||
        (/^variant "[a-z0-9_.-]+" of [a-z0-9]+ is not supported by docker-build; /.test(error) && error.endsWith(ALLOWED))
    );
}

describe("platform parsing (properties)", () => {
    it("parses any string to a supported canonical platform that parses to itself, or to the documented error", () => {
        check(
            fc.property(platformSpelling, (spelling) => {
                const parsed = parsePlatform(spelling);
                if ("platform" in parsed) {
                    assert.ok((SUPPORTED_PLATFORMS as readonly string[]).includes(parsed.platform), `${JSON.stringify(spelling)} → ${parsed.platform}`);
                    assert.deepStrictEqual(parsePlatform(parsed.platform), parsed);
                    assert.strictEqual(normalisePlatform(parsed.platform), parsed.platform);
                    assert.strictEqual(normalisePlatform(spelling), parsed.platform);
                } else {
                    assert.ok(isPlatformError(parsed.error), `unexpected error for ${JSON.stringify(spelling)}: ${parsed.error}`);
                    assert.throws(
                        () => normalisePlatform(spelling),
                        (e: Error) => e.constructor === Error && e.message === `platform ${JSON.stringify(spelling)}: ${parsed.error}`,
                    );
                }
            }),
        );
    });

    it("ignores case and surrounding whitespace", () => {
        const asciiSpelling = fc.string({ unit: fc.constantFrom(..."linuxamd64rch_86/v-"), maxLength: 20 });
        check(
            fc.property(
                fc.oneof(
                    platformSpelling.filter((s) => /^[\x20-\x7e]*$/.test(s)),
                    asciiSpelling,
                ),
                (spelling) => {
                    assert.deepStrictEqual(parsePlatform(` ${spelling.toUpperCase()}\t`), parsePlatform(spelling.toLowerCase()));
                },
            ),
        );
    });

    it("normalises a list into distinct platforms, with one problem per rejected entry", () => {
        check(
            fc.property(fc.array(platformSpelling, { minLength: 1, maxLength: 6 }), (spellings) => {
                const { platforms, problems } = normalisePlatforms(spellings);
                assert.strictEqual(new Set(platforms).size, platforms.length);
                assert.strictEqual(platforms.length + problems.length, spellings.length);
                assert.deepStrictEqual(
                    problems.map((p) => p.index),
                    [...new Set(problems.map((p) => p.index))].sort((a, b) => a - b),
                );
            }),
        );
    });

    it("names the platform of any index entry canonically when the library builds it, else as written", () => {
        const part = nearValid(fc.constantFrom("linux", "windows", "arm64", "amd64", "v8", "v7", "unknown", ...PROTOTYPE_WORDS, ""));
        check(
            fc.property(part, part, fc.option(part, { nil: undefined }), (os, architecture, variant) => {
                const platform = canonicalPlatform(os, architecture, variant);
                const written = [os, architecture, ...(variant ? [variant] : [])].join("/").toLowerCase();
                assert.ok(platform === written || (SUPPORTED_PLATFORMS as readonly string[]).includes(platform), `${written} → ${platform}`);
                const parsed = parsePlatform(platform);
                if ("platform" in parsed) {
                    assert.strictEqual(platform, parsed.platform);
                }
            }),
        );
    });
});

// ---- image references ----

const FORM = `expected [registry/]repository[:tag][@sha256:<64 hex>], e.g. "127.0.0.1:5000/team/app:v1"`;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HEX = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 });

const validComponent = fc.stringMatching(/^[a-z0-9]{1,6}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,4}){0,2}$/);
const validTag = fc.stringMatching(/^\w[\w.-]{0,20}$/);
const validRegistry = fc.oneof(
    fc.constantFrom(
        "127.0.0.1:5000",
        "localhost",
        "localhost:5000",
        "[::1]:5000",
        "[fe80::1]",
        "123456789012.dkr.ecr.us-west-2.amazonaws.com",
        "ghcr.io",
        "r.example.com:443",
    ),
    fc
        .tuple(
            // "xx--" labels are reserved for punycode, which URL parsers decode (and refuse when invalid).
            fc.array(
                fc.stringMatching(/^[a-z][a-z0-9-]{0,6}[a-z0-9]$/).filter((label) => label.slice(2, 4) !== "--"),
                { minLength: 2, maxLength: 3 },
            ),
            fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        )
        .map(([labels, port]) => labels.join(".") + (port === undefined ? "" : `:${port}`)),
);

/** References assembled from valid parts, each parts object being what parsing its text must give. */
const validReference: fc.Arbitrary<ImageReference> = fc
    .record({
        registry: validRegistry,
        repository: fc.array(validComponent, { minLength: 1, maxLength: 3 }).map((c) => c.join("/")),
        tag: fc.option(validTag, { nil: undefined }),
        digest: fc.option(
            HEX.map((h) => `sha256:${h}`),
            { nil: undefined },
        ),
    })
    .map(({ tag, digest, ...rest }) => ({ ...rest, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) }));

const referenceText = nearValid(
    fc
        .tuple(
            fc.option(
                fc.oneof(
                    validRegistry,
                    fc.constantFrom("docker.io", "index.docker.io", "registry-1.docker.io", "Registry.Example.COM", "LOCALHOST:5000"),
                    // Hosts that look fine to a regular expression but not to a URL parser.
                    fc.constantFrom(
                        "a.1",
                        "999.1.1.1",
                        "1.2.3.4.5",
                        "[a.b]",
                        "[::1",
                        "x_y.com",
                        "a..b",
                        "-a.com",
                        "h.com:99999",
                        "h.com:",
                        "[::1]:5000:1",
                        "0x7f.1",
                    ),
                ),
                { nil: undefined },
            ),
            fc.array(fc.oneof(validComponent, fc.constantFrom("", ".", "..", "A", "a__b", "a___b", "-a", "a-", "a..b", "a%2f")), {
                minLength: 1,
                maxLength: 3,
            }),
            fc.option(fc.oneof(validTag, fc.constantFrom("", "-x", ".x", "a".repeat(129), "a/b", "v1:2")), { nil: undefined }),
            fc.option(
                fc.oneof(
                    HEX.map((h) => `sha256:${h}`),
                    fc.constantFrom("", "sha256:", "sha256:abc", `sha512:${"a".repeat(128)}`, `sha256:${"A".repeat(64)}`),
                ),
                { nil: undefined },
            ),
        )
        .map(([registry, components, tag, digest]) =>
            [
                registry === undefined ? "" : `${registry}/`,
                components.join("/"),
                tag === undefined ? "" : `:${tag}`,
                digest === undefined ? "" : `@${digest}`,
            ].join(""),
        ),
);

function requestUrl(reference: ImageReference): URL {
    return new URL(`https://${reference.registry}/v2/${reference.repository}/manifests/${reference.digest ?? reference.tag ?? "latest"}`);
}

describe("image reference parsing (properties)", () => {
    it("parses any string to parts whose canonical form parses back to them, or to the documented error", () => {
        check(
            fc.property(referenceText, (text) => {
                let parsed: ImageReference;
                try {
                    parsed = parseImageReference(text);
                } catch (e) {
                    const error = e as Error;
                    assert.strictEqual(error.constructor, Error, `${JSON.stringify(text)} threw ${error.name}: ${error.message}`);
                    assert.ok(error.message.startsWith(`image reference ${JSON.stringify(text)} is not valid: `), error.message);
                    assert.ok(error.message.endsWith(`; ${FORM}`), error.message);
                    return;
                }
                const canonical = formatImageReference(parsed);
                assert.deepStrictEqual(parseImageReference(canonical), parsed, `${JSON.stringify(text)} → ${canonical}`);
                assert.strictEqual(formatImageReference(parseImageReference(canonical)), canonical);
                assert.strictEqual(parsed.registry, parsed.registry.toLowerCase());
                assert.ok(
                    parsed.repository.split("/").every((c) => PATH_COMPONENT.test(c)),
                    parsed.repository,
                );
                assert.ok(`${parsed.registry}/${parsed.repository}`.length <= 255);
            }),
        );
    });

    it("accepts only registries and repositories that make a request URL with exactly that path", () => {
        check(
            fc.property(referenceText, (text) => {
                let parsed: ImageReference;
                try {
                    parsed = parseImageReference(text);
                } catch {
                    return;
                }
                const url = requestUrl(parsed);
                assert.strictEqual(url.pathname, `/v2/${parsed.repository}/manifests/${parsed.digest ?? parsed.tag ?? "latest"}`);
                assert.strictEqual(url.search, "");
                assert.strictEqual(url.hash, "");
            }),
        );
    });

    it("recovers the parts of every reference written from valid parts", () => {
        check(
            fc.property(validReference, (parts) => {
                fc.pre(`${parts.registry}/${parts.repository}`.length <= 255);
                assert.deepStrictEqual(parseImageReference(formatImageReference(parts)), parts);
            }),
        );
    });

    it("reads Docker Hub shorthand as registry-1.docker.io, with library/ for a one-part name", () => {
        check(
            fc.property(fc.array(validComponent, { minLength: 1, maxLength: 2 }), fc.option(validTag, { nil: undefined }), (components, tag) => {
                fc.pre(!/[.:]/.test(components[0]) || components.length === 1);
                const name = components.join("/");
                const text = `${name}${tag === undefined ? "" : `:${tag}`}`;
                const parsed = parseImageReference(text);
                assert.strictEqual(parsed.registry, "registry-1.docker.io");
                assert.strictEqual(parsed.repository, components.length === 1 ? `library/${name}` : name);
                assert.deepStrictEqual(parseImageReference(`docker.io/${text}`), parsed);
            }),
        );
    });
});

// ---- digests ----

const DIGEST_ERROR = (text: string) => `digest ${JSON.stringify(text)} is not valid: expected "sha256:" followed by 64 lowercase hex characters`;

const digestText = nearValid(
    fc.oneof(
        HEX.map((h) => `sha256:${h}`),
        fc
            .tuple(
                fc.constantFrom("sha256:", "SHA256:", "sha512:", "sha256", "", "sha256::"),
                HEX,
                fc.constantFrom("", "0", "\n", " ", "A"),
                fc.nat({ max: 64 }),
            )
            .map(([prefix, hex, suffix, cut]) => `${prefix}${hex.slice(0, cut)}${suffix}${hex.slice(cut)}`),
    ),
);

describe("digest parsing (properties)", () => {
    it("accepts exactly sha256: and 64 lowercase hex characters, and names the value otherwise", () => {
        check(
            fc.property(digestText, (text) => {
                let digest: ReturnType<typeof parseDigest>;
                try {
                    digest = parseDigest(text);
                } catch (e) {
                    assert.strictEqual((e as Error).constructor, Error);
                    assert.strictEqual((e as Error).message, DIGEST_ERROR(text));
                    assert.ok(!/^sha256:[0-9a-f]{64}$/.test(text));
                    return;
                }
                assert.strictEqual(digest.algorithm, "sha256");
                assert.strictEqual(`sha256:${digest.hex}`, text);
                assert.deepStrictEqual(parseDigest(`${digest.algorithm}:${digest.hex}`), digest);
            }),
        );
    });

    it("rejects a valid digest with any one character changed to uppercase, dropped or added", () => {
        check(
            fc.property(HEX, fc.nat({ max: 63 }), fc.constantFrom("upper", "drop", "add"), (hex, at, edit) => {
                const valid = `sha256:${hex}`;
                const i = "sha256:".length + at;
                const changed =
                    edit === "upper"
                        ? valid.slice(0, i) + valid[i].toUpperCase() + valid.slice(i + 1)
                        : edit === "drop"
                          ? valid.slice(0, i) + valid.slice(i + 1)
                          : valid.slice(0, i) + "0" + valid.slice(i);
                fc.pre(changed !== valid);
                assert.throws(() => parseDigest(changed), { message: DIGEST_ERROR(changed) });
            }),
        );
    });
});

// ---- manifest bodies ----

// Runs that each make real HTTP requests: fewer, still enough to reach every field.
const MANIFEST_RUNS = 500;

const SHA256 = HEX.map((h) => `sha256:${h}`);
const anyJson = fc.jsonValue({ maxDepth: 3 });

/** A field's value: mostly a valid one, sometimes any JSON value (null, a list, a number…). */
function field<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
    return fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: anyJson });
}

/** An object with some of these fields, each maybe valid, maybe not. */
function someOf(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
    return fc.record(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, field(v)])), { requiredKeys: [] });
}

const platformJson = someOf({
    os: fc.constantFrom("linux", "unknown", "windows", "__proto__", ""),
    architecture: fc.constantFrom("amd64", "arm64", "x86_64", "unknown", "arm", "constructor", ""),
    variant: fc.constantFrom("v8", "v7", ""),
    "os.version": fc.constantFrom("10.0.17763.1"),
});
const descriptorJson = someOf({
    mediaType: fc.constantFrom(OCI_MANIFEST, DOCKER_MANIFEST, "application/vnd.oci.image.config.v1+json", "application/vnd.in-toto+json"),
    digest: fc.oneof(SHA256, fc.constantFrom(`sha512:${"a".repeat(128)}`, "sha256:1", "", "SHA256:x")),
    size: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, Number.MAX_SAFE_INTEGER + 2)),
    platform: platformJson,
    annotations: fc.oneof(
        fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
        fc.constant({ "vnd.docker.reference.type": "attestation-manifest" }),
    ),
});
const descriptors = fc.array(descriptorJson, { maxLength: 5 });
const schemaVersion = fc.constantFrom(2, 1, "2");
const indexJson = someOf({
    schemaVersion,
    mediaType: fc.constantFrom(OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST),
    manifests: descriptors,
});
const imageManifestJson = someOf({
    schemaVersion,
    mediaType: fc.constantFrom(OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX),
    config: descriptorJson,
    layers: descriptors,
});
// Any JSON value; near-manifests of each kind; and deeply nested documents.
const manifestBody = fc.oneof(
    { weight: 2, arbitrary: anyJson },
    { weight: 4, arbitrary: indexJson },
    { weight: 4, arbitrary: imageManifestJson },
    {
        weight: 1,
        arbitrary: fc
            .tuple(fc.integer({ min: 1000, max: 100000 }), fc.constantFrom("manifests", "layers", "extra", "config"), fc.constantFrom(OCI_INDEX, OCI_MANIFEST))
            .map(([depth, key, mediaType]) => `{"mediaType":"${mediaType}","${key}":${"[".repeat(depth)}${"]".repeat(depth)}}`),
    },
);
const contentTypes = fc.constantFrom(...ACCEPTED_MANIFEST_TYPES, "application/json", "");

// The oracle: what a well-formed manifest is, written independently of the client.
const ANY_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const optional = (v: unknown, ok: (v: unknown) => boolean) => v === undefined || ok(v);
const isString = (v: unknown) => typeof v === "string";
function isDescriptor(d: unknown, sha256Only: boolean): boolean {
    return (
        isRecord(d) &&
        typeof d.digest === "string" &&
        (sha256Only ? /^sha256:[a-f0-9]{64}$/ : ANY_DIGEST).test(d.digest) &&
        optional(d.mediaType, isString) &&
        optional(d.size, (s) => Number.isSafeInteger(s) && (s as number) >= 0) &&
        optional(d.annotations, (a) => isRecord(a) && Object.values(a).every(isString)) &&
        optional(
            d.platform,
            (p) => isRecord(p) && isString(p.os) && isString(p.architecture) && optional(p.variant, isString) && optional(p["os.version"], isString),
        )
    );
}
function isWellFormed(json: unknown, mediaType: string): boolean {
    if (!isRecord(json) || !(ACCEPTED_MANIFEST_TYPES as readonly string[]).includes(mediaType) || !optional(json.schemaVersion, (v) => v === 2)) {
        return false;
    }
    if (!optional(json.mediaType, (m) => m === mediaType)) {
        return false;
    }
    if (mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST) {
        return Array.isArray(json.manifests) && json.manifests.every((d) => isDescriptor(d, true));
    }
    return isDescriptor(json.config, true) && Array.isArray(json.layers) && json.layers.every((d) => isDescriptor(d, false));
}

describe("manifest bodies (properties)", () => {
    let served = { body: "", contentType: "" };
    let server: http.Server;
    let host: string;
    before(async () => {
        server = http.createServer((req, res) => {
            const body = req.url === "/v2/app/manifests/v1" ? served.body : JSON.stringify({ errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown" }] });
            res.writeHead(req.url === "/v2/app/manifests/v1" ? 200 : 404, {
                "Content-Length": Buffer.byteLength(body),
                ...(served.contentType ? { "Content-Type": served.contentType } : {}),
            });
            res.end(body);
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => {
        server.closeAllConnections();
        server.close();
    });

    it("reads any JSON body as a well-formed manifest or index, or fails with a RegistryError of a documented kind", async () => {
        const client = new RegistryClient();
        await fc.assert(
            fc.asyncProperty(manifestBody, contentTypes, async (value, contentType) => {
                const body = typeof value === "string" && value.startsWith('{"mediaType"') ? value : JSON.stringify(value);
                served = { body, contentType };
                const parsed: unknown = JSON.parse(body);
                // The media type the body declares, else the Content-Type.
                const mediaType = isRecord(parsed) && typeof parsed.mediaType === "string" ? parsed.mediaType : contentType;
                let manifest: FetchedManifest;
                try {
                    manifest = await client.getManifest(`${host}/app:v1`);
                } catch (e) {
                    assert.ok(e instanceof RegistryError, `${body.slice(0, 200)} threw ${(e as Error).name}: ${(e as Error).message}`);
                    assert.ok(["media-type", "protocol"].includes(e.kind), `${body.slice(0, 200)}: kind ${e.kind}: ${e.message}`);
                    // Refused exactly when the body is not well formed for its media type.
                    assert.ok(
                        e.kind === "media-type" ? !(ACCEPTED_MANIFEST_TYPES as readonly string[]).includes(mediaType) : !isWellFormed(parsed, mediaType),
                        `${body.slice(0, 300)}: ${e.message}`,
                    );
                    return;
                }
                assert.strictEqual(manifest.mediaType, mediaType);
                assert.ok(isWellFormed(manifest.json, manifest.mediaType), `accepted a malformed body: ${body.slice(0, 300)}`);
                assert.strictEqual(manifest.body.toString("utf8"), body);
                // Resolving it ends in platforms, or in a RegistryError (the config blob is
                // missing here; an index may list a platform twice).
                try {
                    const resolved = await client.resolveImage(`${host}/app:v1`);
                    for (const [platform, digest] of Object.entries(resolved.platforms)) {
                        assert.ok(typeof platform === "string" && /^sha256:[a-f0-9]{64}$/.test(digest), `${platform} → ${digest}`);
                    }
                } catch (e) {
                    assert.ok(e instanceof RegistryError, `${body.slice(0, 200)} threw ${(e as Error).name}: ${(e as Error).message}`);
                    assert.ok(["not-found", "protocol"].includes(e.kind), `${e.kind}: ${e.message}`);
                }
            }),
            { numRuns: MANIFEST_RUNS },
        );
    });

    it("accepts every body that is well formed", async () => {
        const client = new RegistryClient();
        const platform = fc.record(
            { os: fc.constantFrom("linux", "unknown"), architecture: fc.constantFrom("amd64", "arm64", "unknown"), variant: fc.constantFrom("v8") },
            { requiredKeys: ["os", "architecture"] },
        );
        const descriptor = (sha256Only: boolean) =>
            fc.record(
                {
                    mediaType: fc.constantFrom(OCI_MANIFEST, "application/vnd.in-toto+json"),
                    digest: sha256Only ? SHA256 : fc.oneof(SHA256, fc.constant(`sha512:${"a".repeat(128)}`)),
                    size: fc.nat(),
                    platform,
                    annotations: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
                },
                { requiredKeys: ["digest"] },
            );
        const body = fc.oneof(
            fc.record(
                {
                    schemaVersion: fc.constant(2),
                    mediaType: fc.constantFrom(OCI_INDEX, DOCKER_MANIFEST_LIST),
                    manifests: fc.array(descriptor(true), { maxLength: 4 }),
                },
                { requiredKeys: ["mediaType", "manifests"] },
            ),
            fc.record(
                {
                    schemaVersion: fc.constant(2),
                    mediaType: fc.constantFrom(OCI_MANIFEST, DOCKER_MANIFEST),
                    config: descriptor(true),
                    layers: fc.array(descriptor(false), { maxLength: 4 }),
                    extra: anyJson,
                },
                { requiredKeys: ["mediaType", "config", "layers"] },
            ),
        );
        await fc.assert(
            fc.asyncProperty(body, async (json) => {
                served = { body: JSON.stringify(json), contentType: "" };
                const manifest = await client.getManifest(`${host}/app:v1`);
                assert.deepStrictEqual(manifest.json, JSON.parse(served.body));
                assert.strictEqual(manifest.mediaType, json.mediaType);
            }),
            { numRuns: MANIFEST_RUNS / 2 },
        );
    });
});
