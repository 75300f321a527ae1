// Promotion on the real stack: the example app built by preflight into the anonymous
// registry, promoted into the htpasswd registry (which authenticates like ECR) by the
// text Pulumi serialises for PromotedImage's dynamic provider, run in a plain Node
// process as the dynamic-provider host runs it. Every digest is read back from both
// registries, each promoted image runs as its platform, and a second promotion is
// counted, request by request, through a proxy in front of the destination.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { preflight } from "../../../sdk/cli/preflight";
import { checkProvider } from "../../../sdk/components/imageSignature";
import { CopySpec, RegistryLogin, copyImage } from "../../../sdk/clients/imageCopy";
import { imagetoolsCreateArgv } from "../../../sdk/clients/buildx";
import { runDocker } from "../../../sdk/clients/docker";
import { PromotedImage, signedSources } from "../../../sdk/components/promotedImage";
import { planCopy, useSourceResolver } from "../../../sdk/components/promotionCopy";
import { signImages } from "../../../sdk/clients/cosign";
import { RegistryClient } from "../../../sdk/clients/registryClient";
import { fakeDigest, registered, resetMocks, settle } from "../../mocks";
import { AUTH_PASSWORD, AUTH_REGISTRY, AUTH_USER, REGISTRY, TLS_REGISTRY, docker, inspectRaw, loginToAuthRegistry, uniqueName, useDockerStack } from "../stack";
import { EXAMPLE_APP } from "../../paths";
import { hostCall } from "../../dynamicHost";
import { runProgram } from "../../helpers";

const PLATFORMS = ["linux/amd64", "linux/arm64"];

/** A proxy on 127.0.0.1 in front of a registry that records every request as `METHOD /path`. */
async function countingProxy(upstream: string): Promise<{ host: string; requests: string[]; close: () => Promise<void> }> {
    const requests: string[] = [];
    const [hostname, port] = upstream.split(":");
    const server = http.createServer((req, res) => {
        requests.push(`${req.method} ${req.url}`);
        // The Host header is kept, so the registry's upload URLs point back through the proxy.
        const forwarded = http.request({ hostname, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (upstreamRes) => {
            res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
            upstreamRes.pipe(res);
        });
        forwarded.on("error", () => res.destroy());
        req.pipe(forwarded);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port: own } = server.address() as net.AddressInfo;
    return {
        host: `127.0.0.1:${own}`,
        requests,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

/** Requests that write to a registry: blob uploads (POST/PATCH/PUT) and manifest PUTs. */
function writes(requests: string[]): string[] {
    return requests.filter((r) => !r.startsWith("GET ") && !r.startsWith("HEAD "));
}

/** The dynamic provider's text exactly as PromotedImage registers it, from a program under mocks. */
async function serialisedProvider(): Promise<string> {
    await resetMocks();
    const source = "111111111111.dkr.ecr.us-east-1.amazonaws.com/build/api";
    const digest = fakeDigest("index");
    useSourceResolver(async (reference) => ({
        reference,
        digest,
        mediaType: "application/vnd.oci.image.index.v1+json",
        isIndex: true,
        platforms: { "linux/amd64": fakeDigest("amd64"), "linux/arm64": fakeDigest("arm64") },
        attestations: [],
    }));
    try {
        const promoted = new PromotedImage("serialised", {
            indexRef: `${source}:v1@${digest}`,
            repositoryUrl: "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/api",
        });
        await settle(promoted.repositoryUrl);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const copy = registered("pulumi-nodejs:dynamic:Resource").find((r) => r.name === "serialised-copy");
        assert.ok(copy, "PromotedImage registers its copy");
        assert.strictEqual(typeof copy.inputs.__provider, "string");
        return copy.inputs.__provider;
    } finally {
        useSourceResolver(undefined);
    }
}

describe("promotion (needs scripts/docker-stack.sh)", function () {
    this.timeout(600000);
    useDockerStack();

    let work: string;
    let providerText: string;
    let built: { indexRef: string; indexDigest: string; platforms: Record<string, string>; repository: string };
    let proxy: Awaited<ReturnType<typeof countingProxy>>;
    let dockerConfig: string;
    const sourceClient = new RegistryClient();
    const destinationClient = new RegistryClient({ auth: { registry: AUTH_REGISTRY, username: AUTH_USER, password: AUTH_PASSWORD } });

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-promote-test-"));
        providerText = await serialisedProvider();
        const repository = `multiarch-test/${uniqueName("promote-src")}`;
        const result = await preflight({ context: EXAMPLE_APP, repository, cache: false });
        assert.strictEqual(result.ok, true, JSON.stringify(result.platforms));
        const index = await sourceClient.resolveImage(result.indexRef!);
        built = { indexRef: result.indexRef!, indexDigest: index.digest, platforms: index.platforms, repository: `${REGISTRY}/${repository}` };
        assert.deepStrictEqual(Object.keys(built.platforms).sort(), PLATFORMS);
        proxy = await countingProxy(AUTH_REGISTRY);
        dockerConfig = path.join(work, "docker-config");
        fs.mkdirSync(dockerConfig);
        fs.writeFileSync(
            path.join(dockerConfig, "config.json"),
            JSON.stringify({ auths: { [AUTH_REGISTRY]: { auth: Buffer.from(`${AUTH_USER}:${AUTH_PASSWORD}`).toString("base64") } } }),
        );
    });
    after(async () => {
        await proxy?.close();
        fs.rmSync(work, { recursive: true, force: true });
    });

    /**
     * Runs the serialised provider's create in a plain Node process, with its own TMPDIR.
     * Asynchronously: the counting proxy answers from this process's event loop.
     */
    async function createThroughProvider(spec: CopySpec, logins: RegistryLogin[]): Promise<{ id: string; outs: Record<string, unknown>; leftInTmp: string[] }> {
        const tmp = fs.mkdtempSync(path.join(work, "tmp-"));
        const hosted = await hostCall(work, providerText, "create", [{ spec, logins }], { ...process.env, TMPDIR: tmp }, 300000);
        if (hosted.code !== 0) {
            throw new Error(`the provider's create failed: ${hosted.stderr}`);
        }
        const out = hosted.stdout;
        return { ...JSON.parse(out), leftInTmp: fs.readdirSync(tmp) };
    }

    const loginsFor = (host: string): RegistryLogin[] => [{ registry: host, username: AUTH_USER, password: AUTH_PASSWORD }];

    it("promotes every platform by digest into the authenticated registry, and the copy runs as each platform", async () => {
        const destinationRepository = `multiarch-test/${uniqueName("promoted")}`;
        const destination = `${proxy.host}/${destinationRepository}:prod`;
        const logins = loginsFor(proxy.host);
        const spec = await planCopy({ indexRef: built.indexRef }, PLATFORMS, destination, logins);
        assert.deepStrictEqual(spec, {
            sources: [`${built.repository}@${built.indexDigest}`],
            destination,
            platformDigests: built.platforms,
            indexDigest: built.indexDigest,
        });

        proxy.requests.length = 0;
        const first = await createThroughProvider(spec, logins);
        assert.strictEqual(first.id, destination);
        assert.deepStrictEqual(first.outs, { spec, indexDigest: built.indexDigest, platformDigests: built.platforms, copied: true });
        assert.deepStrictEqual(first.leftInTmp, [], "the throwaway DOCKER_CONFIG is removed");
        assert.ok(
            writes(proxy.requests).some((r) => r.startsWith("POST ") && r.includes("/blobs/uploads/")),
            `the first copy uploads blobs:\n${proxy.requests.join("\n")}`,
        );

        // Read back from both registries, by the project's client and by buildx as an oracle.
        const atDestination = await destinationClient.resolveImage(`${AUTH_REGISTRY}/${destinationRepository}:prod`);
        const atSource = await sourceClient.resolveImage(built.indexRef);
        assert.strictEqual(atDestination.digest, atSource.digest);
        assert.deepStrictEqual(atDestination.platforms, atSource.platforms);
        for (const [platform, digest] of Object.entries(built.platforms)) {
            const manifest = await destinationClient.resolveImage(`${AUTH_REGISTRY}/${destinationRepository}@${digest}`);
            assert.deepStrictEqual(manifest.platforms, { [platform]: digest });
        }
        const oracle = await inspectRaw(`${AUTH_REGISTRY}/${destinationRepository}:prod`, { config: dockerConfig });
        const sourceOracle = await inspectRaw(built.indexRef);
        assert.strictEqual(oracle.raw, sourceOracle.raw, "the index is copied byte for byte");
        assert.deepStrictEqual(oracle.platforms, built.platforms);

        for (const [platform, digest] of Object.entries(built.platforms)) {
            const seen = await docker(
                ["run", "--rm", "--pull", "always", "--platform", platform, `${AUTH_REGISTRY}/${destinationRepository}@${digest}`, "uname", "-m"],
                {
                    config: dockerConfig,
                },
            );
            assert.strictEqual(seen.trim(), platform === "linux/amd64" ? "x86_64" : "aarch64", `${platform} runs as itself`);
        }

        // The same promotion again sends nothing: one read of the tag, no write.
        proxy.requests.length = 0;
        const second = await createThroughProvider(spec, logins);
        assert.strictEqual(second.outs.copied, false);
        assert.strictEqual(second.outs.indexDigest, built.indexDigest);
        assert.deepStrictEqual(writes(proxy.requests), [], `the second promotion writes nothing:\n${proxy.requests.join("\n")}`);

        // Under a new tag, imagetools sends no blob the destination already has: manifests only.
        proxy.requests.length = 0;
        const retag = await createThroughProvider({ ...spec, destination: `${proxy.host}/${destinationRepository}:prod-2` }, logins);
        assert.strictEqual(retag.outs.copied, true);
        const sent = writes(proxy.requests);
        assert.deepStrictEqual(
            sent.filter((r) => r.includes("/blobs/")),
            [],
            `no blob is uploaded again:\n${sent.join("\n")}`,
        );
        assert.ok(
            sent.some((r) => r === `PUT /v2/${destinationRepository}/manifests/prod-2`),
            `the new tag is written:\n${sent.join("\n")}`,
        );
    });

    it("promotes platform refs without an index: a new index over the same platform digests", async () => {
        const destinationRepository = `multiarch-test/${uniqueName("promoted-refs")}`;
        const destination = `${AUTH_REGISTRY}/${destinationRepository}:prod`;
        const refs = Object.fromEntries(Object.entries(built.platforms).map(([p, d]) => [p, `${built.repository}@${d}`]));
        const spec = await planCopy({ platformRefs: refs }, PLATFORMS, destination, loginsFor(AUTH_REGISTRY));
        assert.strictEqual(spec.indexDigest, undefined);
        const result = await copyImage(spec, loginsFor(AUTH_REGISTRY));
        assert.strictEqual(result.copied, true);
        assert.deepStrictEqual(result.platformDigests, built.platforms);
        const atDestination = await destinationClient.resolveImage(`${destination}@${result.indexDigest}`);
        assert.deepStrictEqual(atDestination.platforms, built.platforms);
        assert.strictEqual((await copyImage(spec, loginsFor(AUTH_REGISTRY))).copied, false);
    });

    it("promotes into the TLS registry by name with its login, every platform's digest unchanged there", async () => {
        const destinationRepository = `multiarch-test/${uniqueName("promoted-tls")}`;
        const destination = `${TLS_REGISTRY}/${destinationRepository}:prod`;
        const logins = loginsFor(TLS_REGISTRY);
        const spec = await planCopy({ indexRef: built.indexRef }, PLATFORMS, destination, logins);
        const created = await createThroughProvider(spec, logins);
        assert.deepStrictEqual(created.outs, { spec, indexDigest: built.indexDigest, platformDigests: built.platforms, copied: true });
        assert.deepStrictEqual(created.leftInTmp, [], "the throwaway DOCKER_CONFIG is removed");

        // buildx as the oracle, logged in by `docker login` in a config of its own.
        const config = fs.mkdtempSync(path.join(work, "tls-config-"));
        await loginToAuthRegistry({ config }, TLS_REGISTRY);
        const promoted = await inspectRaw(destination, { config });
        assert.strictEqual(promoted.raw, (await inspectRaw(built.indexRef)).raw, "the index is copied byte for byte");
        assert.deepStrictEqual(promoted.platforms, built.platforms);
        for (const [platform, digest] of Object.entries(built.platforms)) {
            const manifest = await inspectRaw(`${TLS_REGISTRY}/${destinationRepository}@${digest}`, { config });
            assert.strictEqual(
                `sha256:${crypto.createHash("sha256").update(manifest.raw).digest("hex")}`,
                digest,
                `${platform} is served as its source digest`,
            );
        }
    });

    it("fails before anything is tagged when the source lacks a platform or mislabels one", async () => {
        const destinationRepository = `multiarch-test/${uniqueName("refused")}`;
        const destination = `${AUTH_REGISTRY}/${destinationRepository}:prod`;
        await assert.rejects(planCopy({ indexRef: built.indexRef }, [...PLATFORMS, "linux/s390x"], destination, loginsFor(AUTH_REGISTRY)), (error: Error) => {
            assert.strictEqual(
                error.message,
                `cannot promote to ${destination}, nothing was copied:\n` +
                    `  - the source index ${built.repository}@${built.indexDigest} has no linux/s390x (it has linux/amd64, linux/arm64): build the image for linux/s390x, or leave it out of \`platforms\``,
            );
            return true;
        });
        const swapped = {
            "linux/amd64": `${built.repository}@${built.platforms["linux/arm64"]}`,
            "linux/arm64": `${built.repository}@${built.platforms["linux/amd64"]}`,
        };
        await assert.rejects(planCopy({ platformRefs: swapped }, PLATFORMS, destination, loginsFor(AUTH_REGISTRY)), (error: Error) => {
            assert.match(error.message, /`platformRefs\["linux\/amd64"\]` \S+ is a linux\/arm64 image, not linux\/amd64: it was built for another platform/);
            assert.match(error.message, /`platformRefs\["linux\/arm64"\]` \S+ is a linux\/amd64 image, not linux\/arm64/);
            return true;
        });
        const missing = `${built.repository}@${fakeDigest("never pushed")}`;
        await assert.rejects(
            planCopy({ platformRefs: { "linux/amd64": missing } }, ["linux/amd64"], destination, []),
            /not found: .*does not exist in registry 127\.0\.0\.1:5000/,
        );
        await assert.rejects(destinationClient.resolveImage(destination), /not found/);
    });

    it("with requireSignature: refuses an unsigned source digest before anything is tagged, and carries verified signatures to the destination", async () => {
        const keyDir = path.join(work, "key");
        fs.mkdirSync(keyDir);
        const password = "integration-key-password";
        const generated = await runProgram("cosign", ["generate-key-pair"], { ...process.env, COSIGN_PASSWORD: password }, keyDir);
        assert.strictEqual(generated.code, 0, generated.stderr);
        const publicKey = fs.readFileSync(path.join(keyDir, "cosign.pub"), "utf8");
        const privateKey = fs.readFileSync(path.join(keyDir, "cosign.key"), "utf8");

        const destinationRepository = `multiarch-test/${uniqueName("promoted-signed")}`;
        const destination = `${AUTH_REGISTRY}/${destinationRepository}:prod`;
        const logins = loginsFor(AUTH_REGISTRY);
        const planned = await planCopy({ indexRef: built.indexRef }, PLATFORMS, destination, logins);
        const spec: CopySpec = { ...planned, signatures: signedSources(planned, PLATFORMS) };
        assert.deepStrictEqual(spec.signatures, [
            `${built.repository}@${built.platforms["linux/amd64"]}`,
            `${built.repository}@${built.platforms["linux/arm64"]}`,
            `${built.repository}@${built.indexDigest}`,
        ]);
        // The checks PromotedImage's copy depends on, as the provider runs them: the
        // source (anonymous) is not signed yet, so each refuses, and nothing was copied.
        const check = (ref: string) => checkProvider.create!({ ref, publicKey, registries: [], context: 'PromotedImage "api"' });
        for (const ref of spec.signatures!) {
            await assert.rejects(check(ref), (error: Error) => {
                assert.match(error.message, /PromotedImage "api"/);
                assert.ok(error.message.includes(ref.split("@")[1]), error.message);
                return true;
            });
        }
        await assert.rejects(destinationClient.resolveImage(destination), /not found/, "nothing is tagged at the destination");

        // Signed at the source, every check passes, and the provider copies image and signatures.
        await signImages({ refs: spec.signatures!, key: { privateKey, password }, registries: [] });
        for (const ref of spec.signatures!) {
            await check(ref);
        }
        const created = await createThroughProvider(spec, logins);
        assert.strictEqual(created.outs.indexDigest, built.indexDigest);

        // `cosign verify` at the destination, with only the destination's credentials.
        const verifyConfig = path.join(work, "verify-config");
        fs.mkdirSync(verifyConfig);
        fs.copyFileSync(path.join(dockerConfig, "config.json"), path.join(verifyConfig, "config.json"));
        for (const digest of [...Object.values(built.platforms), built.indexDigest]) {
            const verified = await runProgram(
                "cosign",
                ["verify", "--key", path.join(keyDir, "cosign.pub"), "--insecure-ignore-tlog=true", `${AUTH_REGISTRY}/${destinationRepository}@${digest}`],
                { ...process.env, DOCKER_CONFIG: verifyConfig },
                keyDir,
            );
            assert.strictEqual(verified.code, 0, `cosign verify of the promoted ${digest}: ${verified.stderr}`);
        }
        // Again: the signatures are already there, nothing fails and nothing is replaced.
        const again = await createThroughProvider(spec, logins);
        assert.strictEqual(again.outs.copied, false);
    });
    it("moves no second tag for a source that is a flag: buildx reads it after `--` as a source and refuses it, and copyImage refuses it before any call", async () => {
        const destination = `${REGISTRY}/multiarch-test/${uniqueName("flag-destination")}:prod`;
        const other = `${REGISTRY}/multiarch-test/${uniqueName("flag-other")}:moved`;
        const source = `${built.repository}@${built.indexDigest}`;
        await assert.rejects(runDocker(imagetoolsCreateArgv(destination, [`--tag=${other}`, source])), /failed to parse source "--tag=/);
        await assert.rejects(
            copyImage({ sources: [`--tag=${other}`, source], destination, platformDigests: built.platforms }, []),
            /cannot copy to .*, nothing was run:\n {2}- source 1: image reference "--tag=/,
        );
        for (const reference of [destination, other]) {
            await assert.rejects(sourceClient.resolveImage(reference), /not found/, `${reference} was never tagged`);
        }
    });
});
