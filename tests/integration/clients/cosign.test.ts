// Signing for real: key pairs made by `cosign generate-key-pair`, both platforms built
// and pushed to the htpasswd registry (as ECR's basic auth behaves), signed through the
// ImageSignature provider MultiArchImage runs, checked with the real `cosign verify`, and
// refused by the SignatureCheck provider VmDeployment runs when the digest is unsigned,
// signed by another key, or its signature was tampered with.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkProvider, signatureProvider } from "../../../sdk/components/imageSignature";
import { MultiArchImage } from "../../../sdk/components/multiArchImage";
import { preflight } from "../../../sdk/cli/preflight";
import { PROVENANCE_PREDICATE_TYPE, publicKeyFingerprint, runCosign, signImages, verifySignature } from "../../../sdk/clients/cosign";
import { registered, resetMocks, settle } from "../../mocks";
import { AUTH_PASSWORD, AUTH_REGISTRY, AUTH_USER, docker, loginToAuthRegistry, uniqueName, useDockerStack, withEnv } from "../stack";
import { EXAMPLE_APP, fixture } from "../../paths";
import { hostCall } from "../../dynamicHost";
import { runProgram } from "../../helpers";

const PASSWORD = "integration-key-password";
const CREDENTIALS = [{ address: AUTH_REGISTRY, username: AUTH_USER, password: AUTH_PASSWORD }];
const BASIC = `Basic ${Buffer.from(`${AUTH_USER}:${AUTH_PASSWORD}`).toString("base64")}`;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

/**
 * The ImageSignature provider exactly as the engine keeps it: the text Pulumi serialises
 * from a MultiArchImage's closure, loaded with require-from-string in a plain Node
 * process (no ts-node), as the dynamic-provider host does, and its `create` run there.
 */
async function createFromSerialisedProvider(inputs: object, dir: string): Promise<{ id: string; outs: Record<string, unknown> }> {
    await resetMocks();
    const image = new MultiArchImage("api", {
        context: fixture("hello"),
        builderName: "shared",
        signing: { kmsKeyArn: "arn:aws:kms:us-west-2:123456789012:key/only-to-serialise-the-provider" },
    });
    await settle(image.indexRef);
    const providerText: string = registered("pulumi-nodejs:dynamic:Resource").find((r) => r.name === "api-signature")!.inputs.__provider;
    const hosted = await hostCall(dir, providerText, "create", [inputs]);
    assert.strictEqual(hosted.code, 0, hosted.stderr);
    return JSON.parse(hosted.stdout);
}

describe("image signing with cosign (needs scripts/docker-stack.sh)", function () {
    this.timeout(900000);
    useDockerStack();

    const repository = `multiarch-test/${uniqueName("signed")}`;
    const repositoryUrl = `${AUTH_REGISTRY}/${repository}`;
    let work: string;
    let dockerConfig: string;
    const keys: Record<"a" | "b", { privateKey: string; publicKey: string }> = {} as never;
    let refs: { amd64: string; arm64: string; index: string; unsigned: string };

    /** The real `cosign verify`, as anyone would run it, with a logged-in docker config. */
    const cosignVerify = (ref: string, publicKeyFile: string) =>
        runProgram("cosign", ["verify", "--key", publicKeyFile, "--insecure-ignore-tlog=true", "--output", "json", ref], {
            ...process.env,
            DOCKER_CONFIG: dockerConfig,
        });

    async function registry(pathname: string, init: RequestInit = {}): Promise<Response> {
        return fetch(`http://${AUTH_REGISTRY}/v2/${repository}/${pathname}`, {
            ...init,
            headers: { Authorization: BASIC, Accept: OCI_MANIFEST, ...(init.headers ?? {}) },
            signal: AbortSignal.timeout(20000),
        });
    }

    async function tags(): Promise<string[]> {
        return ((await (await registry("tags/list")).json()) as { tags: string[] }).tags.sort();
    }

    /** Every tag with the digest of the manifest it names. */
    async function tagDigests(): Promise<Record<string, string>> {
        const out: Record<string, string> = {};
        for (const tag of await tags()) {
            const response = await registry(`manifests/${tag}`, { method: "HEAD" });
            out[tag] = response.headers.get("docker-content-digest") ?? "";
        }
        return out;
    }

    const sigTag = (ref: string) => `${ref.split("@")[1].replace(":", "-")}.sig`;
    const check = (ref: string, publicKey: string) =>
        checkProvider.create!({ ref, publicKey, registries: CREDENTIALS, context: 'VmDeployment "api"' } as never) as Promise<{
            id: string;
            outs: Record<string, string>;
        }>;

    before(async function () {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-signing-"));
        for (const name of ["a", "b"] as const) {
            const dir = path.join(work, name);
            fs.mkdirSync(dir);
            const generated = await runProgram("cosign", ["generate-key-pair"], { ...process.env, COSIGN_PASSWORD: PASSWORD }, dir);
            assert.strictEqual(generated.code, 0, generated.stderr);
            keys[name] = {
                privateKey: fs.readFileSync(path.join(dir, "cosign.key"), "utf8"),
                publicKey: fs.readFileSync(path.join(dir, "cosign.pub"), "utf8"),
            };
        }
        dockerConfig = path.join(work, "docker-config");
        fs.mkdirSync(dockerConfig);
        await loginToAuthRegistry({ config: dockerConfig });

        // Both platforms, built and pushed by the plan MultiArchImage declares.
        const built = await withEnv({ DOCKER_CONFIG: dockerConfig }, () =>
            preflight({ context: EXAMPLE_APP, registry: AUTH_REGISTRY, repository, registryAuth: { username: AUTH_USER, password: AUTH_PASSWORD } }),
        );
        assert.strictEqual(built.ok, true, JSON.stringify(built, null, 2));
        // One more image in the same repository that nobody signs.
        const context = path.join(work, "unsigned");
        fs.mkdirSync(context);
        fs.writeFileSync(path.join(context, "Dockerfile"), "FROM scratch\nCOPY nonce /nonce\n");
        fs.writeFileSync(path.join(context, "nonce"), `${repository}\n`);
        const metadata = path.join(work, "unsigned.json");
        await docker(
            [
                "buildx",
                "build",
                "--builder",
                "default",
                "--platform",
                "linux/amd64",
                "--provenance=false",
                "--push",
                "-t",
                `${repositoryUrl}:unsigned`,
                "--metadata-file",
                metadata,
                context,
            ],
            { config: dockerConfig },
        );
        refs = {
            amd64: `${repositoryUrl}@${built.platforms[0].digest}`,
            arm64: `${repositoryUrl}@${built.platforms[1].digest}`,
            index: built.indexRef!,
            unsigned: `${repositoryUrl}@${JSON.parse(fs.readFileSync(metadata, "utf8"))["containerimage.digest"]}`,
        };
    });

    after(() => {
        if (work) {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    it("signs each platform digest and the index through MultiArchImage's serialised provider, and cosign verify accepts each", async () => {
        const provenance = { predicateType: PROVENANCE_PREDICATE_TYPE, predicate: { builder: "default", platforms: ["linux/amd64", "linux/arm64"] } };
        const created = await createFromSerialisedProvider(
            { refs: [refs.amd64, refs.arm64, refs.index], privateKey: keys.a.privateKey, password: PASSWORD, registries: CREDENTIALS, provenance },
            work,
        );
        const outs = created.outs as Record<string, unknown>;
        assert.strictEqual(outs.publicKey, keys.a.publicKey);
        const indexByDigest = `${repositoryUrl}@${refs.index.split("@")[1]}`;
        assert.deepStrictEqual(outs.refs, [refs.amd64, refs.arm64, indexByDigest]);
        assert.deepStrictEqual(outs.signatureTags, [refs.amd64, refs.arm64, refs.index].map(sigTag));
        assert.ok(!JSON.stringify(outs).includes(keys.a.privateKey.split("\n")[1]) && !JSON.stringify(outs).includes(PASSWORD), "no key material in state");

        const present = await tags();
        for (const ref of [refs.amd64, refs.arm64, refs.index]) {
            assert.ok(present.includes(sigTag(ref)), `${sigTag(ref)} in ${present.join(", ")}`);
            assert.ok(present.includes(sigTag(ref).replace(/\.sig$/, ".att")), "the provenance attestation is there too");
            const verified = await cosignVerify(ref, path.join(work, "a", "cosign.pub"));
            assert.strictEqual(verified.code, 0, verified.stderr);
            const claims = JSON.parse(verified.stdout) as { critical: { image: { "docker-manifest-digest": string } } }[];
            assert.deepStrictEqual(
                claims.map((c) => c.critical.image["docker-manifest-digest"]),
                [ref.split("@")[1]],
            );
        }
        const attestation = await runProgram(
            "cosign",
            ["verify-attestation", "--key", path.join(work, "a", "cosign.pub"), "--insecure-ignore-tlog=true", "--type", PROVENANCE_PREDICATE_TYPE, refs.arm64],
            { ...process.env, DOCKER_CONFIG: dockerConfig },
        );
        assert.strictEqual(attestation.code, 0, attestation.stderr);
        const statement = JSON.parse(Buffer.from(JSON.parse(attestation.stdout.trim().split("\n")[0]).payload, "base64").toString("utf8"));
        assert.deepStrictEqual(statement.predicate, provenance.predicate);
        assert.deepStrictEqual(statement.subject[0].digest, { sha256: refs.arm64.split(":").pop() });

        // VmDeployment's check lets a digest signed by the key through.
        const passed = await check(refs.amd64, keys.a.publicKey);
        assert.strictEqual(passed.outs.key, `the public key ${publicKeyFingerprint(keys.a.publicKey)}`);
    });

    it("signs nothing new on a second run: no new tags, no changed manifests, no diff", async () => {
        const before = await tagDigests();
        const again = await signImages({
            refs: [refs.amd64, refs.arm64, refs.index],
            key: { privateKey: keys.a.privateKey, password: PASSWORD },
            registries: CREDENTIALS,
        });
        assert.deepStrictEqual(again.signed, []);
        assert.strictEqual(again.alreadySigned.length, 3);
        await signatureProvider.create!({
            refs: [refs.amd64, refs.arm64, refs.index],
            privateKey: keys.a.privateKey,
            password: PASSWORD,
            registries: CREDENTIALS,
            provenance: { predicateType: PROVENANCE_PREDICATE_TYPE, predicate: { builder: "default", platforms: ["linux/amd64", "linux/arm64"] } },
        } as never);
        assert.deepStrictEqual(await tagDigests(), before);
        const olds = (
            await signatureProvider.create!({
                refs: [refs.amd64, refs.arm64, refs.index],
                privateKey: keys.a.privateKey,
                password: PASSWORD,
                registries: CREDENTIALS,
            } as never)
        ).outs;
        const diff = await signatureProvider.diff!("id", olds, {
            refs: [refs.index, refs.arm64, refs.amd64],
            privateKey: keys.a.privateKey,
            password: PASSWORD,
            registries: CREDENTIALS,
        });
        assert.strictEqual(diff.changes, false);
    });

    it("refuses an unsigned digest, naming the digest, the key and what to do", async () => {
        const digest = refs.unsigned.split("@")[1];
        await assert.rejects(check(refs.unsigned, keys.a.publicKey), (e: Error) => {
            assert.match(
                e.message,
                new RegExp(
                    `^VmDeployment "api": refusing ${digest} \\(.*\\): it does not carry a valid signature by the public key ${publicKeyFingerprint(keys.a.publicKey)}: it has no signature at all\\. To fix: .*cosign sign`,
                ),
            );
            return true;
        });
        assert.notStrictEqual((await cosignVerify(refs.unsigned, path.join(work, "a", "cosign.pub"))).code, 0);
    });

    it("refuses a digest signed by a different key", async () => {
        await signImages({ refs: [refs.unsigned], key: { privateKey: keys.b.privateKey, password: PASSWORD }, registries: CREDENTIALS });
        await check(refs.unsigned, keys.b.publicKey);
        await assert.rejects(check(refs.unsigned, keys.a.publicKey), (e: Error) => {
            assert.match(
                e.message,
                new RegExp(
                    `refusing ${refs.unsigned.split("@")[1]} .*by the public key ${publicKeyFingerprint(keys.a.publicKey)}: no signature on it verifies with the key .*signed with another key`,
                ),
            );
            return true;
        });
        assert.notStrictEqual((await cosignVerify(refs.unsigned, path.join(work, "a", "cosign.pub"))).code, 0);
    });

    it("refuses a tampered signature: another digest's signature copied over, or its bytes altered", async () => {
        // Copied: the amd64 signature manifest put under the arm64 digest's signature tag.
        const amd64Signature = await (await registry(`manifests/${sigTag(refs.amd64)}`)).text();
        const put = await registry(`manifests/${sigTag(refs.arm64)}`, { method: "PUT", body: amd64Signature, headers: { "Content-Type": OCI_MANIFEST } });
        assert.strictEqual(put.status, 201);
        await assert.rejects(check(refs.arm64, keys.a.publicKey), (e: Error) => {
            assert.match(e.message, new RegExp(`refusing ${refs.arm64.split("@")[1]} .*its signature was made over another digest`));
            return true;
        });
        assert.notStrictEqual((await cosignVerify(refs.arm64, path.join(work, "a", "cosign.pub"))).code, 0);

        // Altered: one signature byte changed in the amd64 signature manifest.
        const manifest = JSON.parse(amd64Signature);
        const annotations = manifest.layers[0].annotations;
        const signature = Buffer.from(annotations["dev.cosignproject.cosign/signature"], "base64");
        signature[signature.length - 1] ^= 0x01;
        annotations["dev.cosignproject.cosign/signature"] = signature.toString("base64");
        const altered = await registry(`manifests/${sigTag(refs.amd64)}`, {
            method: "PUT",
            body: JSON.stringify(manifest),
            headers: { "Content-Type": OCI_MANIFEST },
        });
        assert.strictEqual(altered.status, 201);
        await assert.rejects(check(refs.amd64, keys.a.publicKey), (e: Error) => {
            assert.match(e.message, new RegExp(`refusing ${refs.amd64.split("@")[1]} .*no signature on it verifies with the key`));
            return true;
        });
        assert.notStrictEqual((await cosignVerify(refs.amd64, path.join(work, "a", "cosign.pub"))).code, 0);
    });
    it("takes every image after `--`: each subcommand reads a ref that is a flag as a reference, and the client refuses it before cosign runs", async () => {
        const leak = path.join(work, "leak");
        const flagRef = `--output-signature=${leak}@${refs.amd64.split("@")[1]}`;
        const key = { COSIGN_PRIVATE_KEY: keys.a.privateKey, COSIGN_PASSWORD: PASSWORD, COSIGN_PUBLIC_KEY: keys.a.publicKey };
        const predicate = path.join(work, "predicate.json");
        fs.writeFileSync(predicate, "{}");
        // Each argv as the client builds it, with the ref in its place after `--`.
        const calls: string[][] = [
            ["sign", "--key", "env://COSIGN_PRIVATE_KEY", "--tlog-upload=false", "--yes", "--", flagRef],
            ["verify", "--key", "env://COSIGN_PUBLIC_KEY", "--insecure-ignore-tlog=true", "--output", "json", "--", flagRef],
            [
                "attest",
                "--key",
                "env://COSIGN_PRIVATE_KEY",
                "--tlog-upload=false",
                "--yes",
                "--replace",
                "--type",
                PROVENANCE_PREDICATE_TYPE,
                "--predicate",
                predicate,
                "--",
                flagRef,
            ],
            ["verify-attestation", "--key", "env://COSIGN_PUBLIC_KEY", "--insecure-ignore-tlog=true", "--type", PROVENANCE_PREDICATE_TYPE, "--", flagRef],
            ["copy", "--only=sig", "--", flagRef, `${AUTH_REGISTRY}/${repository}-copy`],
        ];
        for (const argv of calls) {
            const result = await runCosign(argv, key, CREDENTIALS);
            assert.notStrictEqual(result.code, 0, argv[0]);
            assert.match(result.stderr, /could not parse reference: --output-signature=/, `cosign ${argv[0]}: ${result.stderr}`);
        }
        const written = () => fs.readdirSync(work).filter((name) => name.startsWith("leak"));
        assert.deepStrictEqual(written(), [], "cosign wrote no file");
        await assert.rejects(
            signImages({ refs: [flagRef, refs.unsigned], key: { privateKey: keys.a.privateKey, password: PASSWORD }, registries: CREDENTIALS }),
            /image reference "--output-signature=.*" is not valid/,
        );
        await assert.rejects(verifySignature(flagRef, { publicKey: keys.a.publicKey }, CREDENTIALS), /image reference "--output-signature=.*" is not valid/);
        assert.deepStrictEqual(written(), []);
    });
});
