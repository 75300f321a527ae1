// The registry client's pure helpers, and its protocol paths against small real HTTP
// servers on 127.0.0.1 that play a registry (bearer flow, redirects to another host,
// oversized and tampered bodies, unknown media types, timeouts).
import * as assert from "assert";
import * as crypto from "crypto";
import * as dns from "dns";
import * as http from "http";
import { AddressInfo } from "net";
import { RegistryClient, RegistryCredentials } from "../../../sdk/clients/registryClient";
import { RegistryError, RegistryErrorKind } from "../../../sdk/rules/registryError";
import { ACCEPTED_MANIFEST_TYPES, ImageIndex, OCI_INDEX, OCI_MANIFEST, selectPlatformManifests } from "../../../sdk/rules/manifest";
import { parseWwwAuthenticate } from "../../../sdk/clients/wwwAuthenticate";
import {
    assertTransportAllowed,
    isLoopbackRegistry,
    normaliseInsecureHosts,
    realmMayReceiveCredentials,
    registryScheme,
} from "../../../sdk/clients/registryTransport";
import { formatImageReference, normaliseRegistryHost, parseDigest, parseImageReference } from "../../../sdk/rules/imageReference";

const HEX_A = "a".repeat(64);
const HEX_B = "b".repeat(64);

describe("parseImageReference", () => {
    const valid: [string, string, ReturnType<typeof parseImageReference>][] = [
        ["127.0.0.1:5000/x/y:tag", "127.0.0.1:5000/x/y:tag", { registry: "127.0.0.1:5000", repository: "x/y", tag: "tag" }],
        [
            `123456789012.dkr.ecr.us-west-2.amazonaws.com/app@sha256:${HEX_A}`,
            `123456789012.dkr.ecr.us-west-2.amazonaws.com/app@sha256:${HEX_A}`,
            { registry: "123456789012.dkr.ecr.us-west-2.amazonaws.com", repository: "app", digest: `sha256:${HEX_A}` },
        ],
        ["alpine", "registry-1.docker.io/library/alpine", { registry: "registry-1.docker.io", repository: "library/alpine" }],
        ["alpine:3.19", "registry-1.docker.io/library/alpine:3.19", { registry: "registry-1.docker.io", repository: "library/alpine", tag: "3.19" }],
        [
            "grafana/grafana:latest",
            "registry-1.docker.io/grafana/grafana:latest",
            { registry: "registry-1.docker.io", repository: "grafana/grafana", tag: "latest" },
        ],
        ["docker.io/alpine", "registry-1.docker.io/library/alpine", { registry: "registry-1.docker.io", repository: "library/alpine" }],
        [
            "index.docker.io/library/alpine:3",
            "registry-1.docker.io/library/alpine:3",
            { registry: "registry-1.docker.io", repository: "library/alpine", tag: "3" },
        ],
        ["localhost/app", "localhost/app", { registry: "localhost", repository: "app" }],
        ["localhost:5000/team/app:v1", "localhost:5000/team/app:v1", { registry: "localhost:5000", repository: "team/app", tag: "v1" }],
        ["[::1]:5000/app", "[::1]:5000/app", { registry: "[::1]:5000", repository: "app" }],
        ["Registry.Example.COM/team/app:V1", "registry.example.com/team/app:V1", { registry: "registry.example.com", repository: "team/app", tag: "V1" }],
        [
            `r.example.com:443/a__b/c-d.e_f:v1.2-rc@sha256:${HEX_B}`,
            `r.example.com:443/a__b/c-d.e_f:v1.2-rc@sha256:${HEX_B}`,
            { registry: "r.example.com:443", repository: "a__b/c-d.e_f", tag: "v1.2-rc", digest: `sha256:${HEX_B}` },
        ],
    ];
    for (const [input, canonical, parts] of valid) {
        it(`parses ${input} as ${canonical}`, () => {
            assert.deepStrictEqual(parseImageReference(input), parts);
            assert.strictEqual(formatImageReference(parseImageReference(input)), canonical);
        });
        it(`round-trips the canonical form of ${input}`, () => {
            assert.deepStrictEqual(parseImageReference(canonical), parts);
            assert.strictEqual(formatImageReference(parseImageReference(canonical)), canonical);
        });
    }

    const form = `expected [registry/]repository[:tag][@sha256:<64 hex>], e.g. "127.0.0.1:5000/team/app:v1"`;
    const invalid: [string, string][] = [
        ["", "it is empty"],
        ["   ", "it is empty"],
        ["http://127.0.0.1:5000/x", `a reference has no URL scheme; drop the "scheme://" prefix`],
        ["a b", "it contains whitespace"],
        ["Alpine", `repository path component "Alpine" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`],
        ["127.0.0.1:5000/x/Y", `repository path component "Y" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`],
        ["x//y", `repository path component "" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`],
        ["-x", `repository path component "-x" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`],
        ["127.0.0.1:5000/", "the repository is missing"],
        ["127.0.0.1:99999/x", `registry "127.0.0.1:99999" is not a host name or IP address with an optional port`],
        ["bad_host.example.com/x", `registry "bad_host.example.com" is not a host name or IP address with an optional port`],
        ["x:-bad", `tag "-bad" must be 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`],
        ["x/y:", `tag "" must be 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`],
        [`x:${"t".repeat(129)}`, `tag "${"t".repeat(129)}" must be 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`],
        ["x@sha256:abc", `digest "sha256:abc" is not "sha256:" followed by 64 lowercase hex characters`],
        [`x@sha256:${HEX_A.toUpperCase()}`, `digest "sha256:${HEX_A.toUpperCase()}" is not "sha256:" followed by 64 lowercase hex characters`],
        [`x@sha512:${HEX_A}${HEX_A}`, `digest "sha512:${HEX_A}${HEX_A}" is not "sha256:" followed by 64 lowercase hex characters`],
        [`r.example.com/${"a".repeat(250)}`, "the name is longer than 255 characters"],
    ];
    for (const [input, why] of invalid) {
        it(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
            assert.throws(() => parseImageReference(input), {
                message: `image reference ${JSON.stringify(input)} is not valid: ${why}; ${form}`,
            });
        });
    }
});

describe("parseDigest", () => {
    it("accepts sha256 with 64 lowercase hex characters", () => {
        assert.deepStrictEqual(parseDigest(`sha256:${HEX_A}`), { algorithm: "sha256", hex: HEX_A });
    });
    for (const bad of [
        "",
        "sha256:",
        `sha256:${HEX_A.slice(1)}`,
        `sha256:${HEX_A}0`,
        `SHA256:${HEX_A}`,
        `sha256:${"A".repeat(64)}`,
        `sha512:${HEX_A}`,
        HEX_A,
        `sha256:${"g".repeat(64)}`,
    ]) {
        it(`rejects ${JSON.stringify(bad.slice(0, 20))}… (${bad.length} characters)`, () => {
            assert.throws(() => parseDigest(bad), {
                message: `digest ${JSON.stringify(bad)} is not valid: expected "sha256:" followed by 64 lowercase hex characters`,
            });
        });
    }
});

describe("parseWwwAuthenticate", () => {
    const cases: [string, ReturnType<typeof parseWwwAuthenticate>][] = [
        [
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
            [{ scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/alpine:pull" } }],
        ],
        ['Basic realm="Registry Realm"', [{ scheme: "basic", params: { realm: "Registry Realm" } }]],
        [
            'Basic realm="https://123456789012.dkr.ecr.us-west-2.amazonaws.com/",service="ecr.amazonaws.com"',
            [{ scheme: "basic", params: { realm: "https://123456789012.dkr.ecr.us-west-2.amazonaws.com/", service: "ecr.amazonaws.com" } }],
        ],
        [
            'Bearer realm="http://127.0.0.1:9/token", Basic realm="b"',
            [
                { scheme: "bearer", params: { realm: "http://127.0.0.1:9/token" } },
                { scheme: "basic", params: { realm: "b" } },
            ],
        ],
        ['BEARER Realm = "r" , Service=svc', [{ scheme: "bearer", params: { realm: "r", service: "svc" } }]],
        [
            'Bearer realm="a \\"quoted\\" realm",scope="repository:a:pull,push"',
            [{ scheme: "bearer", params: { realm: 'a "quoted" realm', scope: "repository:a:pull,push" } }],
        ],
        ["Negotiate", [{ scheme: "negotiate", params: {} }]],
        ["", []],
    ];
    for (const [header, expected] of cases) {
        it(`parses ${JSON.stringify(header)}`, () => {
            assert.deepStrictEqual(parseWwwAuthenticate(header), expected);
        });
    }
});

const buildxIndex: ImageIndex = {
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${"1".repeat(64)}`, platform: { os: "linux", architecture: "amd64" } },
        {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: `sha256:${"2".repeat(64)}`,
            platform: { os: "linux", architecture: "arm64", variant: "v8" },
        },
        {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: `sha256:${"3".repeat(64)}`,
            platform: { os: "unknown", architecture: "unknown" },
            annotations: { "vnd.docker.reference.digest": `sha256:${"1".repeat(64)}`, "vnd.docker.reference.type": "attestation-manifest" },
        },
        {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: `sha256:${"4".repeat(64)}`,
            platform: { os: "unknown", architecture: "unknown" },
        },
        {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: `sha256:${"5".repeat(64)}`,
            platform: { os: "linux", architecture: "amd64" },
            annotations: { "vnd.docker.reference.type": "attestation-manifest" },
        },
    ],
};

describe("selectPlatformManifests", () => {
    it("maps canonical platforms to digests and skips attestation manifests", () => {
        assert.deepStrictEqual(selectPlatformManifests(buildxIndex), {
            "linux/amd64": `sha256:${"1".repeat(64)}`,
            "linux/arm64": `sha256:${"2".repeat(64)}`,
        });
    });
    it("keeps platforms the library does not build as written, and skips entries without a platform", () => {
        const index: ImageIndex = {
            manifests: [
                { digest: `sha256:${"1".repeat(64)}`, platform: { os: "linux", architecture: "arm", variant: "v7" } },
                { digest: `sha256:${"2".repeat(64)}`, platform: { os: "windows", architecture: "amd64" } },
                { digest: `sha256:${"3".repeat(64)}` },
                { digest: `sha256:${"4".repeat(64)}`, platform: { os: "linux", architecture: "x86_64" } },
            ],
        };
        assert.deepStrictEqual(selectPlatformManifests(index), {
            "linux/arm/v7": `sha256:${"1".repeat(64)}`,
            "windows/amd64": `sha256:${"2".repeat(64)}`,
            "linux/amd64": `sha256:${"4".repeat(64)}`,
        });
    });
    it("fails when two manifests claim the same platform", () => {
        const index: ImageIndex = {
            manifests: [
                { digest: `sha256:${"1".repeat(64)}`, platform: { os: "linux", architecture: "arm64" } },
                { digest: `sha256:${"2".repeat(64)}`, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
            ],
        };
        assert.throws(() => selectPlatformManifests(index), {
            message: `the index lists platform linux/arm64 twice, as sha256:${"1".repeat(64)} and sha256:${"2".repeat(64)}: a pull for linux/arm64 is ambiguous; rebuild the index with one manifest per platform`,
        });
    });
    it("fails on a malformed digest", () => {
        assert.throws(() => selectPlatformManifests({ manifests: [{ digest: "sha256:1", platform: { os: "linux", architecture: "amd64" } }] }), {
            message: `digest "sha256:1" is not valid: expected "sha256:" followed by 64 lowercase hex characters`,
        });
    });
});

describe("http vs https policy", () => {
    const schemes: [string, string[], "http" | "https"][] = [
        ["127.0.0.1:5000", [], "http"],
        ["127.3.2.1", [], "http"],
        ["localhost:5000", [], "http"],
        ["localhost", [], "http"],
        ["[::1]:5000", [], "http"],
        ["registry.example.com", [], "https"],
        ["123456789012.dkr.ecr.us-west-2.amazonaws.com", [], "https"],
        ["127.0.0.1.nip.io:5000", [], "https"],
        ["10.0.0.5:5000", [], "https"],
        ["localhost.example.com", [], "https"],
        ["registry.example.com", ["registry.example.com"], "http"],
        ["registry.example.com:5000", ["Registry.Example.COM:5000"], "http"],
        ["registry.example.com", ["registry.example.com:80"], "http"],
        ["registry.example.com:5000", ["registry.example.com"], "https"],
        ["registry.example.com", ["other.example.com"], "https"],
        ["10.0.0.5:5000", ["10.0.0.5:5001"], "https"],
    ];
    for (const [registry, list, scheme] of schemes) {
        it(`uses ${scheme} for ${registry}${list.length > 0 ? ` when insecure is ${JSON.stringify(list)}` : ""}`, () => {
            assert.strictEqual(registryScheme(registry, normaliseInsecureHosts(list)), scheme);
            assert.strictEqual(isLoopbackRegistry(registry), scheme === "http" && list.length === 0);
        });
    }
    it("refuses plain http to a non-loopback host not listed in insecure", () => {
        for (const insecure of [[], ["auth.example.com:8080"], ["other.example.com"]]) {
            assert.throws(() => assertTransportAllowed(new URL("http://auth.example.com/token?scope=x"), normaliseInsecureHosts(insecure)), {
                name: "RegistryError",
                kind: "insecure",
                message:
                    'refusing to send a request to auth.example.com over plain http (http://auth.example.com/token): http is allowed only for loopback hosts (127.0.0.0/8, localhost, [::1]) and the hosts listed in insecure; use https, or add "auth.example.com" to insecure if it really has no TLS',
            });
        }
    });
    it("allows http to loopback hosts and to the hosts listed in insecure, and https anywhere", () => {
        assertTransportAllowed(new URL("http://127.0.0.1:5000/v2/"));
        assertTransportAllowed(new URL("http://[::1]:5000/v2/"));
        assertTransportAllowed(new URL("http://registry.example.com/v2/"), ["registry.example.com"]);
        assertTransportAllowed(new URL("http://registry.example.com:5000/v2/"), ["registry.example.com:5000"]);
        assertTransportAllowed(new URL("https://registry.example.com/v2/"));
    });
    it("refuses other URL schemes", () => {
        assert.throws(() => assertTransportAllowed(new URL("file:///etc/passwd")), {
            message: "refusing to request file:///etc/passwd: only https and http URLs are supported",
        });
    });
    it("takes insecure as a list of registry hosts only", () => {
        const allowed =
            'expected a list of registry hosts with optional ports, e.g. ["registry.lan:5000"], like Docker\'s insecure-registries (loopback hosts need no entry)';
        const cases: [unknown, string][] = [
            [true, `RegistryClient: insecure true is not valid: ${allowed}`],
            ["registry.lan", `RegistryClient: insecure "registry.lan" is not valid: ${allowed}`],
            [["ok.example.com", "http://registry.lan"], `RegistryClient: insecure[1] "http://registry.lan" is not a registry host: ${allowed}`],
            [["10.0.0.0/8"], `RegistryClient: insecure[0] "10.0.0.0/8" is not a registry host: ${allowed}`],
            [[5000], `RegistryClient: insecure[0] 5000 is not a registry host: ${allowed}`],
        ];
        for (const [insecure, message] of cases) {
            assert.throws(() => new RegistryClient({ insecure: insecure as string[] }), { message });
        }
    });
});

describe("which token realms may receive a registry's basic credentials", () => {
    const cases: [string, string, boolean][] = [
        // https: any host, as Docker sends them (Docker Hub's realm is auth.docker.io).
        ["registry-1.docker.io", "https://auth.docker.io/token", true],
        ["registry.example.com", "https://registry.example.com/token", true],
        ["127.0.0.1:5000", "https://auth.example.com/token", true],
        // http: only the loopback registry's own host.
        ["127.0.0.1:5000", "http://127.0.0.1:5001/token", true],
        ["localhost:5000", "http://localhost/token", true],
        ["[::1]:5000", "http://[::1]:5001/token", true],
        ["127.0.0.1:5000", "http://127.0.0.2:5001/token", false],
        ["127.0.0.1:5000", "http://localhost:5001/token", false],
        ["127.0.0.1:5000", "http://auth.example.com/token", false],
        ["registry.example.com", "http://registry.example.com/token", false],
        ["registry.example.com", "http://127.0.0.1/token", false],
        ["127.0.0.1:5000", "ftp://127.0.0.1/token", false],
    ];
    for (const [registry, realm, allowed] of cases) {
        it(`${allowed ? "sends" : "does not send"} the credentials of ${registry} to ${realm}`, () => {
            assert.strictEqual(realmMayReceiveCredentials(registry, new URL(realm)), allowed);
        });
    }
});

describe("credentials are bound to a registry", () => {
    it("names auth.registry when it is missing or not a host", () => {
        const expected =
            'expected the registry host the credentials are for, with an optional port, e.g. "123456789012.dkr.ecr.us-west-2.amazonaws.com" or "127.0.0.1:5001"';
        for (const [registry, shown] of [
            [undefined, "(missing)"],
            ["", '""'],
            ["https://r.example.com", '"https://r.example.com"'],
            ["r.example.com/team", '"r.example.com/team"'],
        ] as const) {
            assert.throws(() => new RegistryClient({ auth: { registry, username: "u", password: "p" } as RegistryCredentials }), {
                message: `RegistryClient: auth.registry ${shown} is not valid: ${expected}`,
            });
        }
    });
    it("reads Docker Hub's aliases and any case as the registry references name", () => {
        assert.strictEqual(normaliseRegistryHost("docker.io"), "registry-1.docker.io");
        assert.strictEqual(normaliseRegistryHost("Index.Docker.IO"), "registry-1.docker.io");
        assert.strictEqual(normaliseRegistryHost("R.Example.com:5000"), "r.example.com:5000");
    });
});

// ---- protocol paths against real HTTP servers on 127.0.0.1 ----

interface Seen {
    method: string;
    url: string;
    authorization?: string;
}

interface TestServer {
    host: string;
    seen: Seen[];
    close(): Promise<void>;
}

async function serve(handler: http.RequestListener, address = "127.0.0.1"): Promise<TestServer> {
    const seen: Seen[] = [];
    const server = http.createServer((req, res) => {
        seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
        handler(req, res);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, address, resolve);
    });
    const { port } = server.address() as AddressInfo;
    return {
        host: `${address}:${port}`,
        seen,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

function digestOf(body: string | Buffer): string {
    return `sha256:${crypto.createHash("sha256").update(body).digest("hex")}`;
}

function sendJson(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { "Content-Length": Buffer.byteLength(body), ...headers });
    res.end(body);
}

const INDEX_BODY = JSON.stringify(buildxIndex);
const INDEX_DIGEST = digestOf(INDEX_BODY);
const CONFIG_BODY = JSON.stringify({ architecture: "arm64", variant: "v8", os: "linux", rootfs: { type: "layers", diff_ids: [] } });
const MANIFEST_BODY = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.docker.distribution.manifest.v2+json",
    config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: digestOf(CONFIG_BODY), size: CONFIG_BODY.length },
    layers: [],
});
const MANIFEST_DIGEST = digestOf(MANIFEST_BODY);

function sendIndex(res: http.ServerResponse, headers: Record<string, string> = {}): void {
    sendJson(res, 200, INDEX_BODY, { "Content-Type": "application/vnd.oci.image.index.v1+json", "Docker-Content-Digest": INDEX_DIGEST, ...headers });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("RegistryClient (against small HTTP servers on 127.0.0.1)", () => {
    const servers: TestServer[] = [];
    const start = async (handler: http.RequestListener, address?: string) => {
        const server = await serve(handler, address);
        servers.push(server);
        return server;
    };
    afterEach(async () => {
        await Promise.all(servers.splice(0).map((s) => s.close()));
    });

    it("reads an index by tag, verifies Docker-Content-Digest and skips attestations", async () => {
        const registry = await start((req, res) => (req.url === "/v2/team/app/manifests/v1" ? sendIndex(res) : sendJson(res, 404, "{}")));
        const resolved = await new RegistryClient().resolveImage(`${registry.host}/team/app:v1`);
        assert.deepStrictEqual(resolved, {
            reference: `${registry.host}/team/app:v1`,
            digest: INDEX_DIGEST,
            mediaType: "application/vnd.oci.image.index.v1+json",
            isIndex: true,
            platforms: { "linux/amd64": `sha256:${"1".repeat(64)}`, "linux/arm64": `sha256:${"2".repeat(64)}` },
            attestations: [`sha256:${"3".repeat(64)}`, `sha256:${"4".repeat(64)}`, `sha256:${"5".repeat(64)}`],
        });
        assert.deepStrictEqual(registry.seen, [{ method: "GET", url: "/v2/team/app/manifests/v1", authorization: undefined }]);
    });

    it("asks for latest when the reference has no tag, and by digest when it has one", async () => {
        const registry = await start((req, res) =>
            req.url === "/v2/app/manifests/latest" || req.url === `/v2/app/manifests/${INDEX_DIGEST}` ? sendIndex(res) : sendJson(res, 404, "{}"),
        );
        const client = new RegistryClient();
        assert.strictEqual((await client.getManifest(`${registry.host}/app`)).digest, INDEX_DIGEST);
        assert.strictEqual((await client.getManifest(`${registry.host}/app:ignored@${INDEX_DIGEST}`)).digest, INDEX_DIGEST);
        assert.deepStrictEqual(
            registry.seen.map((s) => s.url),
            ["/v2/app/manifests/latest", `/v2/app/manifests/${INDEX_DIGEST}`],
        );
    });

    it("gets a bearer token from the realm with basic credentials, then retries", async () => {
        let tokenQuery: URLSearchParams | undefined;
        const auth = await start((req, res) => {
            const url = new URL(req.url ?? "/", "http://x");
            if (url.pathname === "/token" && req.headers.authorization === basic("alice", "s3cret")) {
                tokenQuery = url.searchParams;
                sendJson(res, 200, JSON.stringify({ token: "tok-123", expires_in: 300 }));
            } else {
                sendJson(res, 401, JSON.stringify({ details: "incorrect username or password" }));
            }
        });
        const registry = await start((req, res) => {
            if (req.headers.authorization === "Bearer tok-123") {
                sendIndex(res);
            } else {
                sendJson(res, 401, JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }), {
                    "WWW-Authenticate": `Bearer realm="http://${auth.host}/token",service="test-registry",scope="repository:team/app:pull"`,
                });
            }
        });
        const client = new RegistryClient({ auth: { registry: registry.host, username: "alice", password: "s3cret" } });
        assert.deepStrictEqual(await client.platformDigests(`${registry.host}/team/app:v1`), {
            "linux/amd64": `sha256:${"1".repeat(64)}`,
            "linux/arm64": `sha256:${"2".repeat(64)}`,
        });
        assert.strictEqual(tokenQuery?.get("service"), "test-registry");
        assert.deepStrictEqual(tokenQuery?.getAll("scope"), ["repository:team/app:pull"]);
        assert.deepStrictEqual(
            registry.seen.map((s) => s.authorization),
            [basic("alice", "s3cret"), "Bearer tok-123"],
        );
        // The token is reused for the next read of the same repository.
        await client.getManifest(`${registry.host}/team/app:v1`);
        assert.strictEqual(registry.seen[2].authorization, "Bearer tok-123");
        assert.strictEqual(auth.seen.length, 1);
    });

    it("fetches an anonymous bearer token when no credentials are given", async () => {
        const auth = await start((_req, res) => sendJson(res, 200, JSON.stringify({ access_token: "anon" })));
        const registry = await start((req, res) =>
            req.headers.authorization === "Bearer anon"
                ? sendIndex(res)
                : sendJson(res, 401, "{}", { "WWW-Authenticate": `Bearer realm="http://${auth.host}/token",service="svc"` }),
        );
        await new RegistryClient().getManifest(`${registry.host}/team/app:v1`);
        assert.deepStrictEqual(auth.seen, [{ method: "GET", url: "/token?service=svc&scope=repository%3Ateam%2Fapp%3Apull", authorization: undefined }]);
    });

    it("fails naming the user, not the password, when the token realm rejects the credentials", async () => {
        const auth = await start((_req, res) => sendJson(res, 401, JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad password wrong-pw" }] })));
        const registry = await start((_req, res) => sendJson(res, 401, "{}", { "WWW-Authenticate": `Bearer realm="http://${auth.host}/token",service="svc"` }));
        const error = await new RegistryClient({ auth: { registry: registry.host, username: "alice", password: "wrong-pw" } })
            .getManifest(`${registry.host}/team/app:v1`)
            .then(
                () => assert.fail("expected an error"),
                (e: RegistryError) => e,
            );
        assert.strictEqual(error.kind, "auth");
        assert.strictEqual(
            error.message,
            `authentication failed for registry ${registry.host} as user "alice": HTTP 401 reading a bearer token from http://${auth.host}/token for manifest ${registry.host}/team/app:v1 (registry says: UNAUTHORIZED: bad password ***); check the credentials (an ECR password expires after 12 hours)`,
        );
        assert.ok(!error.message.includes("wrong-pw"));
    });

    it("answers a Basic challenge with the credentials, and fails clearly without them", async () => {
        const registry = await start((req, res) =>
            req.headers.authorization === basic("AWS", "ecr-password")
                ? sendIndex(res)
                : sendJson(res, 401, JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }), {
                      "WWW-Authenticate": 'Basic realm="Registry Realm"',
                  }),
        );
        await new RegistryClient({ auth: { registry: registry.host, username: "AWS", password: "ecr-password" } }).getManifest(`${registry.host}/team/app:v1`);
        await assert.rejects(new RegistryClient().getManifest(`${registry.host}/team/app:v1`), {
            name: "RegistryError",
            message: `authentication failed for registry ${registry.host} anonymously (no credentials were given): HTTP 401 reading manifest ${registry.host}/team/app:v1 (registry says: UNAUTHORIZED: authentication required); pass auth: { registry: "${registry.host}", username, password } or { registry: "${registry.host}", token } (for ECR: username "AWS" and the password from GetAuthorizationToken)`,
        });
        await assert.rejects(
            new RegistryClient({ auth: { registry: registry.host, username: "AWS", password: "nope" } }).getManifest(`${registry.host}/team/app:v1`),
            {
                message: `authentication failed for registry ${registry.host} as user "AWS": HTTP 401 reading manifest ${registry.host}/team/app:v1 (registry says: UNAUTHORIZED: authentication required); check the credentials (an ECR password expires after 12 hours)`,
            },
        );
    });

    it("sends a given bearer token and never shows it in errors", async () => {
        const registry = await start((req, res) => sendJson(res, req.headers.authorization === "Bearer good" ? 403 : 401, "{}"));
        await assert.rejects(new RegistryClient({ auth: { registry: registry.host, token: "bad-token" } }).getManifest(`${registry.host}/team/app:v1`), {
            message: `authentication failed for registry ${registry.host} with the given bearer token: HTTP 401 reading manifest ${registry.host}/team/app:v1; check the credentials (an ECR password expires after 12 hours)`,
        });
        await assert.rejects(new RegistryClient({ auth: { registry: registry.host, token: "good" } }).getManifest(`${registry.host}/team/app:v1`), {
            message: `authentication failed for registry ${registry.host} with the given bearer token: HTTP 403 reading manifest ${registry.host}/team/app:v1; check that this user may pull the repository`,
        });
        assert.deepStrictEqual(
            registry.seen.map((s) => s.authorization),
            ["Bearer bad-token", "Bearer good"],
        );
    });

    it("follows redirects to another host without the Authorization header", async () => {
        const storage = await start((req, res) => {
            if (req.url === "/manifest") {
                sendJson(res, 200, MANIFEST_BODY, { "Content-Type": "application/vnd.docker.distribution.manifest.v2+json" });
            } else if (req.url?.startsWith("/config?")) {
                sendJson(res, 200, CONFIG_BODY, { "Content-Type": "application/octet-stream" });
            } else {
                sendJson(res, 404, "{}");
            }
        }, "127.0.0.2");
        const registry = await start((req, res) => {
            if (req.headers.authorization !== basic("AWS", "pw")) {
                sendJson(res, 401, "{}", { "WWW-Authenticate": 'Basic realm="r"' });
            } else if (req.url === "/v2/app/manifests/v1") {
                res.writeHead(307, { Location: `http://${storage.host}/manifest`, "Docker-Content-Digest": MANIFEST_DIGEST });
                res.end();
            } else if (req.url === `/v2/app/blobs/${digestOf(CONFIG_BODY)}`) {
                res.writeHead(302, { Location: `http://${storage.host}/config?X-Amz-Signature=abc` });
                res.end();
            } else {
                sendJson(res, 404, "{}");
            }
        });
        const resolved = await new RegistryClient({ auth: { registry: registry.host, username: "AWS", password: "pw" } }).resolveImage(
            `${registry.host}/app:v1`,
        );
        assert.deepStrictEqual(resolved, {
            reference: `${registry.host}/app:v1`,
            digest: MANIFEST_DIGEST,
            mediaType: "application/vnd.docker.distribution.manifest.v2+json",
            isIndex: false,
            platforms: { "linux/arm64": MANIFEST_DIGEST },
            attestations: [],
        });
        assert.deepStrictEqual(
            registry.seen.map((s) => s.authorization),
            [basic("AWS", "pw"), basic("AWS", "pw")],
        );
        assert.deepStrictEqual(storage.seen, [
            { method: "GET", url: "/manifest", authorization: undefined },
            { method: "GET", url: "/config?X-Amz-Signature=abc", authorization: undefined },
        ]);
    });

    it("refuses a redirect to plain http on a non-loopback host", async () => {
        const registry = await start((_req, res) => {
            res.writeHead(302, { Location: "http://storage.example.com/blob" });
            res.end();
        });
        await assert.rejects(new RegistryClient().getManifest(`${registry.host}/app:v1`), {
            name: "RegistryError",
            message:
                'refusing to send a request to storage.example.com over plain http (http://storage.example.com/blob): http is allowed only for loopback hosts (127.0.0.0/8, localhost, [::1]) and the hosts listed in insecure; use https, or add "storage.example.com" to insecure if it really has no TLS',
        });
    });

    it("stops reading a body that grows past maxBodyBytes", async () => {
        const registry = await start((_req, res) => {
            res.writeHead(200, { "Content-Type": "application/vnd.oci.image.index.v1+json" });
            // An endless body: the client must stop on its own, not wait for the end.
            const timer = setInterval(() => res.write(Buffer.alloc(16384, 0x20)), 1);
            res.on("close", () => clearInterval(timer));
        });
        await assert.rejects(new RegistryClient({ maxBodyBytes: 100000, timeoutMs: 10000 }).getManifest(`${registry.host}/app:v1`), {
            name: "RegistryError",
            message: `manifest ${registry.host}/app:v1 from registry ${registry.host} is larger than the 100000-byte limit (maxBodyBytes); refusing to read it: raise maxBodyBytes if it is legitimately this large`,
        });
    });

    it("refuses a body whose Content-Length is over maxBodyBytes before reading it", async () => {
        const registry = await start((_req, res) => sendJson(res, 200, " ".repeat(5 * 1024 * 1024)));
        await assert.rejects(new RegistryClient().getManifest(`${registry.host}/app:v1`), {
            message: `manifest ${registry.host}/app:v1 from registry ${registry.host} is larger than the 4194304-byte limit (maxBodyBytes); refusing to read it: raise maxBodyBytes if it is legitimately this large`,
        });
    });

    it("fails when the body does not hash to the Docker-Content-Digest header", async () => {
        const registry = await start((_req, res) => sendIndex(res, { "Docker-Content-Digest": `sha256:${HEX_A}` }));
        await assert.rejects(new RegistryClient().getManifest(`${registry.host}/app:v1`), {
            name: "RegistryError",
            message: `manifest ${registry.host}/app:v1 from registry ${registry.host} hashes to ${INDEX_DIGEST}, but the registry's Docker-Content-Digest header is sha256:${HEX_A}: the registry (or something between) returned other content than asked for; do not use it`,
        });
    });

    it("fails when the body does not hash to the requested digest", async () => {
        const registry = await start((_req, res) => sendIndex(res, { "Docker-Content-Digest": `sha256:${HEX_B}` }));
        await assert.rejects(new RegistryClient().getManifest(`${registry.host}/app@sha256:${HEX_B}`), {
            message: `manifest ${registry.host}/app@sha256:${HEX_B} from registry ${registry.host} hashes to ${INDEX_DIGEST}, but the requested digest is sha256:${HEX_B}: the registry (or something between) returned other content than asked for; do not use it`,
        });
    });

    it("fails when a config blob does not hash to its digest", async () => {
        const registry = await start((req, res) =>
            req.url?.includes("/manifests/")
                ? sendJson(res, 200, MANIFEST_BODY, { "Content-Type": "application/vnd.docker.distribution.manifest.v2+json" })
                : sendJson(res, 200, CONFIG_BODY.replace("arm64", "amd64")),
        );
        await assert.rejects(new RegistryClient().platformDigests(`${registry.host}/app:v1`), {
            message: `blob ${digestOf(CONFIG_BODY)} of ${registry.host}/app hashes to ${digestOf(CONFIG_BODY.replace("arm64", "amd64"))}, not ${digestOf(CONFIG_BODY)}: the registry (or something between) returned other content than asked for; do not use it`,
        });
    });

    it("names an unknown media type and lists the accepted ones", async () => {
        const body = JSON.stringify({ schemaVersion: 1, name: "app", tag: "v1", fsLayers: [] });
        const registry = await start((_req, res) => sendJson(res, 200, body, { "Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws" }));
        await assert.rejects(new RegistryClient().getManifest(`${registry.host}/app:v1`), {
            name: "RegistryError",
            message: `manifest ${registry.host}/app:v1 from registry ${registry.host} has media type "application/vnd.docker.distribution.manifest.v1+prettyjws" (its Content-Type; it has no mediaType field), which this client cannot read; accepted media types: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json`,
        });
    });

    it("sends an Accept header with the four manifest media types", async () => {
        let accept: string | undefined;
        const registry = await start((req, res) => {
            accept = req.headers.accept;
            sendIndex(res);
        });
        await new RegistryClient().getManifest(`${registry.host}/app:v1`);
        assert.strictEqual(
            accept,
            "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        );
    });

    it("gives up when the registry does not answer in time", async () => {
        const registry = await start(() => undefined);
        await assert.rejects(new RegistryClient({ timeoutMs: 200 }).getManifest(`${registry.host}/app:v1`), {
            name: "RegistryError",
            message: `registry ${registry.host} did not answer within 200 ms reading manifest ${registry.host}/app:v1 (GET http://${registry.host}/v2/app/manifests/v1); check that it is up and reachable, or raise timeoutMs`,
        });
    });

    it("gives up when the body stalls after the headers", async () => {
        const registry = await start((_req, res) => {
            res.writeHead(200, { "Content-Type": "application/vnd.oci.image.index.v1+json" });
            res.write("{");
        });
        await assert.rejects(new RegistryClient({ timeoutMs: 200 }).getManifest(`${registry.host}/app:v1`), {
            message: `registry ${registry.host} did not answer within 200 ms reading manifest ${registry.host}/app:v1 (GET http://${registry.host}/v2/app/manifests/v1); check that it is up and reachable, or raise timeoutMs`,
        });
    });

    it("says the registry is unreachable when the connection is refused", async () => {
        const closed = await serve(() => undefined);
        await closed.close();
        await assert.rejects(new RegistryClient().getManifest(`${closed.host}/app:v1`), {
            name: "RegistryError",
            message: `registry at ${closed.host} is unreachable: connection refused (GET http://${closed.host}/v2/app/manifests/v1); check that it is running and that the address is right`,
        });
    });

    it("names the missing repository, tag or digest on 404", async () => {
        const registry = await start((req, res) => {
            const code = req.url?.startsWith("/v2/gone/") ? "NAME_UNKNOWN" : req.url?.startsWith("/v2/plain/") ? undefined : "MANIFEST_UNKNOWN";
            sendJson(res, 404, code ? JSON.stringify({ errors: [{ code, message: "unknown" }] }) : "404 page not found");
        });
        const client = new RegistryClient();
        await assert.rejects(client.getManifest(`${registry.host}/gone:v1`), {
            name: "RegistryError",
            message: `not found: repository "gone" does not exist in registry ${registry.host} (HTTP 404 reading manifest ${registry.host}/gone:v1); check the name, or push the image first`,
        });
        await assert.rejects(client.getManifest(`${registry.host}/team/app:missing`), {
            message: `not found: repository "team/app" or its tag "missing" does not exist in registry ${registry.host} (HTTP 404 reading manifest ${registry.host}/team/app:missing); check the name, or push the image first`,
        });
        await assert.rejects(client.getManifest(`${registry.host}/team/app@sha256:${HEX_A}`), {
            message: `not found: repository "team/app" or its manifest sha256:${HEX_A} does not exist in registry ${registry.host} (HTTP 404 reading manifest ${registry.host}/team/app@sha256:${HEX_A}); check the name, or push the image first`,
        });
        await assert.rejects(client.getManifest(`${registry.host}/plain/app`), {
            message: `not found: repository "plain/app" or its tag "latest" does not exist in registry ${registry.host} (HTTP 404 reading manifest ${registry.host}/plain/app:latest); check the name, or push the image first`,
        });
    });

    it("validates a reference given as parts before using it in a URL", async () => {
        await assert.rejects(new RegistryClient().getManifest({ registry: "127.0.0.1:5000", repository: "../../etc", tag: "v1" }), {
            message: `image reference "127.0.0.1:5000/../../etc:v1" is not valid: repository path component ".." must be lowercase letters and digits, separated by ".", "_", "__" or "-"; expected [registry/]repository[:tag][@sha256:<64 hex>], e.g. "127.0.0.1:5000/team/app:v1"`,
        });
    });

    it("names a missing blob on 404", async () => {
        const registry = await start((req, res) =>
            req.url?.includes("/manifests/")
                ? sendJson(res, 200, MANIFEST_BODY)
                : sendJson(res, 404, JSON.stringify({ errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown" }] })),
        );
        await assert.rejects(new RegistryClient().platformDigests(`${registry.host}/app:v1`), {
            kind: "not-found",
            message: `not found: blob ${digestOf(CONFIG_BODY)} of ${registry.host}/app does not exist in registry ${registry.host} (HTTP 404); check the name, or push the image first`,
        });
    });

    it("fails clearly when asked for the platform of an attestation manifest", async () => {
        const config = JSON.stringify({ architecture: "unknown", os: "unknown", config: {}, rootfs: { type: "layers", diff_ids: [] } });
        const manifest = JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(config), size: config.length },
            layers: [{ mediaType: "application/vnd.in-toto+json", digest: `sha256:${HEX_A}`, size: 1 }],
        });
        const registry = await start((req, res) => (req.url?.includes("/manifests/") ? sendJson(res, 200, manifest) : sendJson(res, 200, config)));
        await assert.rejects(new RegistryClient().platformDigests(`${registry.host}/app@${digestOf(manifest)}`), {
            message: `${registry.host}/app@${digestOf(manifest)} is an attestation manifest (platform unknown/unknown), not a container image: read the image index that carries it instead`,
        });
    });

    it("fails clearly on a single manifest whose config names no platform", async () => {
        const config = JSON.stringify({ predicateType: "https://slsa.dev/provenance/v0.2" });
        const manifest = JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.in-toto+json", digest: digestOf(config), size: config.length },
            layers: [],
        });
        const registry = await start((req, res) => (req.url?.includes("/manifests/") ? sendJson(res, 200, manifest) : sendJson(res, 200, config)));
        await assert.rejects(new RegistryClient().platformDigests(`${registry.host}/app:att`), {
            message: `${registry.host}/app:att is a single manifest whose config ${digestOf(config)} (application/vnd.in-toto+json) names no os/architecture: it is not a container image, so it has no platform`,
        });
    });

    // ---- credentials go only where they belong ----

    it("sends no credentials to a registry other than the one they were given for", async () => {
        const mine = await start((_req, res) => sendIndex(res));
        const other = await start(
            (_req, res) =>
                sendJson(res, 401, JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }), {
                    "WWW-Authenticate": 'Basic realm="r"',
                }),
            "127.0.0.2",
        );
        for (const auth of [
            { registry: mine.host, username: "alice", password: "s3cret" },
            { registry: mine.host, token: "tok-mine" },
        ]) {
            const client = new RegistryClient({ auth });
            await client.getManifest(`${mine.host}/team/app:v1`);
            await assert.rejects(client.getManifest(`${other.host}/team/app:v1`), {
                name: "RegistryError",
                kind: "auth",
                message: `authentication failed for registry ${other.host} anonymously (the credentials given are for registry ${mine.host} only): HTTP 401 reading manifest ${other.host}/team/app:v1 (registry says: UNAUTHORIZED: authentication required); pass auth: { registry: "${other.host}", username, password } or { registry: "${other.host}", token } (for ECR: username "AWS" and the password from GetAuthorizationToken)`,
            });
        }
        assert.deepStrictEqual(
            mine.seen.map((s) => s.authorization),
            [basic("alice", "s3cret"), "Bearer tok-mine"],
        );
        assert.deepStrictEqual(
            other.seen.map((s) => s.authorization),
            [undefined, undefined],
        );
    });

    it("asks another registry's token realm for an anonymous token, without the credentials", async () => {
        const realm = await start((_req, res) => sendJson(res, 200, JSON.stringify({ token: "anon" })), "127.0.0.2");
        const other = await start(
            (req, res) =>
                req.headers.authorization === "Bearer anon"
                    ? sendIndex(res)
                    : sendJson(res, 401, "{}", { "WWW-Authenticate": `Bearer realm="http://${realm.host}/token",service="other"` }),
            "127.0.0.2",
        );
        await new RegistryClient({ auth: { registry: "127.0.0.1:5001", username: "alice", password: "s3cret" } }).getManifest(`${other.host}/team/app:v1`);
        assert.deepStrictEqual(
            other.seen.map((s) => s.authorization),
            [undefined, "Bearer anon"],
        );
        assert.deepStrictEqual(
            realm.seen.map((s) => s.authorization),
            [undefined],
        );
    });

    it("refuses to send basic credentials to a plain-http token realm on another host, even on loopback", async () => {
        const realm = await start((_req, res) => sendJson(res, 200, JSON.stringify({ token: "stolen" })), "127.0.0.2");
        const registry = await start((req, res) =>
            req.headers.authorization === "Bearer stolen"
                ? sendIndex(res)
                : sendJson(res, 401, "{}", { "WWW-Authenticate": `Bearer realm="http://${realm.host}/token",service="svc"` }),
        );
        await assert.rejects(
            new RegistryClient({ auth: { registry: registry.host, username: "alice", password: "s3cret" } }).getManifest(`${registry.host}/app:v1`),
            {
                name: "RegistryError",
                kind: "insecure",
                message: `registry ${registry.host} asked for a bearer token from http://${realm.host}/token; refusing to send its credentials there over plain http: they go to a token realm only over https, or over http to a realm on the registry's own loopback host`,
            },
        );
        assert.deepStrictEqual(realm.seen, []);
    });

    it("answers no challenge from a host the registry redirected to", async () => {
        // A realm the registry's own credentials could go to (its own loopback host), named
        // by the storage host it redirects to rather than by the registry.
        const realm = await start((_req, res) => sendJson(res, 200, JSON.stringify({ token: "t" })));
        const storage = await start((_req, res) => sendJson(res, 401, "{}", { "WWW-Authenticate": `Bearer realm="http://${realm.host}/token"` }), "127.0.0.2");
        const registry = await start((_req, res) => {
            res.writeHead(307, { Location: `http://${storage.host}/blob` });
            res.end();
        });
        await assert.rejects(
            new RegistryClient({ auth: { registry: registry.host, username: "alice", password: "s3cret" } }).getManifest(`${registry.host}/app:v1`),
            {
                name: "RegistryError",
                kind: "auth",
                status: 401,
            },
        );
        assert.deepStrictEqual(realm.seen, []);
        assert.deepStrictEqual(
            storage.seen.map((s) => s.authorization),
            [undefined],
        );
    });

    it("drops the Authorization header on a redirect to another port of the same host, and from a token realm", async () => {
        const elsewhere = await start((req, res) => (req.url === "/token" ? sendJson(res, 200, JSON.stringify({ token: "t" })) : sendIndex(res)));
        const realm = await start((_req, res) => {
            res.writeHead(302, { Location: `http://${elsewhere.host}/token` });
            res.end();
        });
        const registry = await start((req, res) => {
            if (req.headers.authorization === "Bearer t") {
                res.writeHead(307, { Location: `http://${elsewhere.host}/manifest` });
                res.end();
            } else {
                sendJson(res, 401, "{}", { "WWW-Authenticate": `Bearer realm="http://${realm.host}/token"` });
            }
        });
        await new RegistryClient({ auth: { registry: registry.host, username: "alice", password: "s3cret" } }).getManifest(`${registry.host}/app:v1`);
        assert.deepStrictEqual(realm.seen[0].authorization, basic("alice", "s3cret"));
        assert.deepStrictEqual(elsewhere.seen, [
            { method: "GET", url: "/token", authorization: undefined },
            { method: "GET", url: "/manifest", authorization: undefined },
        ]);
    });

    describe("registries off loopback (names resolved to 127.0.0.3 and 127.0.0.4 here)", () => {
        // The module object itself, whose lookup fetch's connections call; an import binding is read-only.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const dnsModule = require("dns") as typeof dns;
        const realLookup = dnsModule.lookup;
        const names: Record<string, string> = { "registry.example.test": "127.0.0.3", "auth.example.test": "127.0.0.4" };
        before(() => {
            dnsModule.lookup = ((hostname: string, options: unknown, callback?: (...args: unknown[]) => void) => {
                const address = names[hostname];
                if (address === undefined) {
                    return (realLookup as (...args: unknown[]) => void)(hostname, options, callback);
                }
                const done = (typeof options === "function" ? options : callback) as (...args: unknown[]) => void;
                const all = typeof options === "object" && (options as { all?: boolean } | null)?.all === true;
                process.nextTick(() => (all ? done(null, [{ address, family: 4 }]) : done(null, address, 4)));
            }) as typeof dns.lookup;
        });
        after(() => {
            dnsModule.lookup = realLookup;
        });
        // A server on `address`, named by `name` with its port.
        const named = async (name: string, handler: http.RequestListener) => {
            const server = await start(handler, names[name]);
            return { ...server, host: `${name}:${server.host.split(":")[1]}` };
        };

        it("uses plain http only to the hosts listed in insecure", async () => {
            const registry = await named("registry.example.test", (_req, res) => sendIndex(res));
            const reference = `${registry.host}/app:v1`;
            assert.strictEqual((await new RegistryClient({ insecure: [registry.host] }).getManifest(reference)).digest, INDEX_DIGEST);
            // Any other list means https, which this plain-http server cannot answer.
            for (const insecure of [[], ["auth.example.test"], ["registry.example.test"], [`auth.example.test:${registry.host.split(":")[1]}`]]) {
                await assert.rejects(new RegistryClient({ insecure, timeoutMs: 5000 }).getManifest(reference), (e: RegistryError) => {
                    assert.strictEqual(e.kind, "unreachable");
                    assert.ok(e.message.includes(`GET https://${registry.host}/v2/app/manifests/v1`), e.message);
                    return true;
                });
            }
            assert.strictEqual(registry.seen.filter((s) => s.method === "GET").length, 1);
        });

        it("never sends basic credentials to a plain-http token realm off loopback, listed in insecure or not", async () => {
            const auth = await named("auth.example.test", (_req, res) => sendJson(res, 200, JSON.stringify({ token: "t" })));
            let realmUrl = "";
            const registry = await named("registry.example.test", (req, res) =>
                req.url?.startsWith("/token")
                    ? sendJson(res, 200, JSON.stringify({ token: "t" }))
                    : req.headers.authorization === "Bearer t"
                      ? sendIndex(res)
                      : sendJson(res, 401, "{}", { "WWW-Authenticate": `Bearer realm="${realmUrl}"` }),
            );
            const credentials = { registry: registry.host, username: "alice", password: "s3cret" };
            for (const realm of [`http://${auth.host}/token`, `http://${registry.host}/token`]) {
                realmUrl = realm;
                const insecure = [registry.host, auth.host];
                await assert.rejects(new RegistryClient({ auth: credentials, insecure }).getManifest(`${registry.host}/app:v1`), {
                    name: "RegistryError",
                    kind: "insecure",
                    message: `registry ${registry.host} asked for a bearer token from ${realm}; refusing to send its credentials there over plain http: they go to a token realm only over https, or over http to a realm on the registry's own loopback host`,
                });
                // Without credentials, the same realm gives an anonymous token.
                await new RegistryClient({ insecure }).getManifest(`${registry.host}/app:v1`);
            }
            assert.deepStrictEqual(
                auth.seen.map((s) => s.authorization),
                [undefined],
            );
            // The registry itself is sent its credentials; its own /token realm over http is not.
            assert.deepStrictEqual(
                registry.seen.filter((s) => s.url.startsWith("/token")).map((s) => s.authorization),
                [undefined],
            );
        });
    });

    describe("bodies that are JSON but not a manifest", () => {
        const D = `sha256:${HEX_A}`;
        const index = (manifests: unknown, extra: Record<string, unknown> = {}) => ({ schemaVersion: 2, mediaType: OCI_INDEX, manifests, ...extra });
        const image = (fields: Record<string, unknown>) => ({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { digest: D }, layers: [], ...fields });
        const deep = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
        // [what, body, Content-Type, kind, the message after "<what> from registry <host> "]
        const cases: [string, string, string, RegistryErrorKind, string][] = [
            ["null", "null", OCI_INDEX, "protocol", `is not a well-formed ${OCI_INDEX}: the document is null, not an object`],
            ["a list", "[]", OCI_MANIFEST, "protocol", `is not a well-formed ${OCI_MANIFEST}: the document is a list, not an object`],
            ["a number", "42", OCI_INDEX, "protocol", `is not a well-formed ${OCI_INDEX}: the document is the number 42, not an object`],
            ["a string", '"x"', OCI_INDEX, "protocol", `is not a well-formed ${OCI_INDEX}: the document is the string "x", not an object`],
            [
                "no mediaType and no Content-Type",
                JSON.stringify({ schemaVersion: 2, manifests: [] }),
                "",
                "media-type",
                `has media type "(none)" (it has no mediaType field and no Content-Type), which this client cannot read; accepted media types: ${ACCEPTED_MANIFEST_TYPES.join(", ")}`,
            ],
            [
                "mediaType a number",
                JSON.stringify(index([], { mediaType: 5 })),
                OCI_INDEX,
                "protocol",
                `is not a well-formed ${OCI_INDEX}: mediaType is the number 5, not a string`,
            ],
            [
                "schemaVersion a string",
                JSON.stringify(index([], { schemaVersion: "2" })),
                "",
                "protocol",
                `is not a well-formed ${OCI_INDEX}: schemaVersion is the string "2", not 2`,
            ],
            [
                "manifests: [null]",
                JSON.stringify(index([null])),
                "",
                "protocol",
                `is not a well-formed ${OCI_INDEX}: manifests[0] is null, not a descriptor object`,
            ],
            [
                "manifests an object",
                JSON.stringify(index({ 0: {} })),
                "",
                "protocol",
                `is not a well-formed ${OCI_INDEX}: manifests is an object, not a list of descriptors`,
            ],
            [
                "a digest that is a number",
                JSON.stringify(index([{ digest: 1 }])),
                "",
                "protocol",
                `is not a well-formed ${OCI_INDEX}: manifests[0].digest is the number 1, not "sha256:" followed by 64 lowercase hex characters`,
            ],
            [
                "a platform that is a string",
                JSON.stringify(index([{ digest: D, platform: "linux/amd64" }])),
                "",
                "protocol",
                `is not a well-formed ${OCI_INDEX}: manifests[0].platform is the string "linux/amd64", not an object`,
            ],
            [
                "a platform without architecture",
                JSON.stringify(index([{ digest: D, platform: { os: "linux" } }])),
                "",
                "protocol",
                `is not a well-formed ${OCI_INDEX}: manifests[0].platform.architecture is missing, not a string`,
            ],
            [
                "annotations with a list value",
                JSON.stringify(index([{ digest: D, annotations: { "vnd.docker.reference.type": ["attestation-manifest"] } }])),
                "",
                "protocol",
                `is not a well-formed ${OCI_INDEX}: manifests[0].annotations["vnd.docker.reference.type"] is a list, not a string`,
            ],
            [
                "a negative size",
                JSON.stringify(index([{ digest: D, size: -1 }])),
                "",
                "protocol",
                `is not a well-formed ${OCI_INDEX}: manifests[0].size is the number -1, not a whole number of bytes`,
            ],
            [
                "no config",
                JSON.stringify(image({ config: undefined })),
                "",
                "protocol",
                `is not a well-formed ${OCI_MANIFEST}: config is missing, not a descriptor object`,
            ],
            [
                "a config digest the client cannot fetch",
                JSON.stringify(image({ config: { digest: "../../x" } })),
                "",
                "protocol",
                `is not a well-formed ${OCI_MANIFEST}: config.digest is the string "../../x", not "sha256:" followed by 64 lowercase hex characters`,
            ],
            [
                "layers null",
                JSON.stringify(image({ layers: null })),
                "",
                "protocol",
                `is not a well-formed ${OCI_MANIFEST}: layers is null, not a list of descriptors`,
            ],
            [
                "a layer that is a string",
                JSON.stringify(image({ layers: ["sha256:x"] })),
                "",
                "protocol",
                `is not a well-formed ${OCI_MANIFEST}: layers[0] is the string "sha256:x", not a descriptor object`,
            ],
            // Deeply nested, within the 4 MiB bound: refused before JSON.parse, which takes seconds over it.
            [
                "a document nested 2,000,000 levels deep",
                `{"mediaType":"${OCI_INDEX}","manifests":${deep(2000000)}}`,
                "",
                "protocol",
                "nests lists and objects more than 64 levels deep, which no manifest does (an index is 4 levels deep); refusing to parse it",
            ],
            [
                "a field the client does not read nested 65 levels deep",
                `{"mediaType":"${OCI_INDEX}","manifests":[],"x":${deep(64)}}`,
                "",
                "protocol",
                "nests lists and objects more than 64 levels deep, which no manifest does (an index is 4 levels deep); refusing to parse it",
            ],
            [
                "a platform nested 64 levels deep (brackets inside strings do not count)",
                `{"mediaType":"${OCI_INDEX}","manifests":[{"digest":"${D}","platform":${deep(61)}}],"s":"${"[".repeat(100)}\\\\"}`,
                "",
                "protocol",
                `is not a well-formed ${OCI_INDEX}: manifests[0].platform is a list, not an object`,
            ],
            [
                "a 1,000,000-character mediaType",
                JSON.stringify(index([], { mediaType: "x".repeat(1000000) })),
                OCI_INDEX,
                "media-type",
                `has media type a 1000000-character string, which this client cannot read; accepted media types: ${ACCEPTED_MANIFEST_TYPES.join(", ")}`,
            ],
            [
                "30,000 entries and then null",
                JSON.stringify(index([...new Array(30000).fill({ digest: D }), null])),
                "",
                "protocol",
                `is not a well-formed ${OCI_INDEX}: manifests[30000] is null, not a descriptor object`,
            ],
        ];
        for (const [what, body, contentType, kind, message] of cases) {
            it(`refuses ${what} as a ${kind} RegistryError, never a TypeError`, async () => {
                const registry = await start((_req, res) => sendJson(res, 200, body, contentType ? { "Content-Type": contentType } : {}));
                for (const read of [
                    (c: RegistryClient) => c.getManifest(`${registry.host}/app:v1`),
                    (c: RegistryClient) => c.resolveImage(`${registry.host}/app:v1`),
                ]) {
                    await assert.rejects(read(new RegistryClient()), (e: Error) => {
                        assert.ok(e instanceof RegistryError, `${e.name}: ${e.message}`);
                        assert.strictEqual(e.kind, kind);
                        assert.strictEqual(e.message, `manifest ${registry.host}/app:v1 from registry ${registry.host} ${message}`);
                        return true;
                    });
                }
            });
        }
    });
});
