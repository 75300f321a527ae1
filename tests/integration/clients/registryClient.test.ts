// The registry client against the real local registries: images pushed with the real
// buildx, compared with what `docker buildx imagetools inspect --raw` reports.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RegistryClient } from "../../../sdk/clients/registryClient";
import { RegistryError } from "../../../sdk/rules/registryError";
import { AUTH_PASSWORD, AUTH_REGISTRY, AUTH_USER, REGISTRY, docker, inspectRaw, isAttestationEntry, loginToAuthRegistry, useDockerStack } from "../stack";

const BASE_IMAGE = `${REGISTRY}/multiarch/busybox:latest`;

/** Builds the test Dockerfile for both platforms and pushes it, returning the tag pushed. */
async function pushMultiArch(
    context: string,
    tag: string,
    provenance: string[],
    env?: NodeJS.ProcessEnv,
    platforms = "linux/amd64,linux/arm64",
): Promise<string> {
    await docker(["buildx", "build", "--builder", "default", "--platform", platforms, ...provenance, "--push", "-t", tag, context], { env });
    return tag;
}

/** Deletes a pushed tag's manifest from its registry (both test registries allow deletes). */
async function deletePushed(tag: string): Promise<void> {
    const auth = tag.startsWith(`${AUTH_REGISTRY}/`) ? { registry: AUTH_REGISTRY, username: AUTH_USER, password: AUTH_PASSWORD } : undefined;
    const { reference, digest } = await new RegistryClient({ auth }).getManifest(tag);
    const headers: Record<string, string> = auth ? { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}` } : {};
    await fetch(`http://${reference.registry}/v2/${reference.repository}/manifests/${digest}`, {
        method: "DELETE",
        headers,
        signal: AbortSignal.timeout(10000),
    });
}

function sha256(text: string): string {
    return `sha256:${crypto.createHash("sha256").update(text).digest("hex")}`;
}

describe("registry reader (needs scripts/docker-stack.sh)", function () {
    this.timeout(300000);
    useDockerStack();

    const run = `t${Date.now().toString(36)}${crypto.randomBytes(3).toString("hex")}`;
    const pushedTags: string[] = [];
    let workDir: string;
    let context: string;

    before(async function () {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-registry-"));
        context = path.join(workDir, "context");
        fs.mkdirSync(context);
        fs.writeFileSync(path.join(context, "Dockerfile"), `FROM ${BASE_IMAGE}\nCOPY nonce /nonce\n`);
        // A unique file per run, so every push makes new manifests rather than reusing old ones.
        fs.writeFileSync(path.join(context, "nonce"), `${run}\n`);
    });

    after(async function () {
        if (workDir !== undefined) {
            fs.rmSync(workDir, { recursive: true, force: true });
        }
        // buildx's docker driver also keeps the pushed images in the local store; and the
        // registries are shared, so remove what this run pushed there too.
        for (const tag of pushedTags) {
            await docker(["image", "rm", tag]).catch(() => undefined);
            await deletePushed(tag).catch(() => undefined);
        }
    });

    const client = new RegistryClient({ timeoutMs: 30000 });

    it("returns each platform's manifest digest of a buildx push without attestations", async () => {
        const tag = await pushMultiArch(context, `${REGISTRY}/registry-test/${run}/plain:v1`, ["--provenance=false", "--sbom=false"]);
        pushedTags.push(tag);
        const { raw, json, platforms } = await inspectRaw(tag);
        const resolved = await client.resolveImage(tag);

        assert.strictEqual(resolved.digest, sha256(raw));
        assert.strictEqual(resolved.mediaType, json.mediaType);
        assert.strictEqual(resolved.isIndex, true);
        assert.deepStrictEqual(resolved.platforms, platforms);
        assert.deepStrictEqual(Object.keys(resolved.platforms).sort(), ["linux/amd64", "linux/arm64"]);
        assert.deepStrictEqual(resolved.attestations, []);
        assert.deepStrictEqual(await client.platformDigests(tag), resolved.platforms);
    });

    it("skips the provenance attestation manifests of a buildx push", async () => {
        const tag = await pushMultiArch(context, `${REGISTRY}/registry-test/${run}/attested:v1`, ["--provenance=mode=min"]);
        pushedTags.push(tag);
        const { raw, json, platforms } = await inspectRaw(tag);
        const attestations = json.manifests!.filter(isAttestationEntry).map((e) => e.digest);
        assert.strictEqual(attestations.length, 2, `buildx should add one attestation per platform; raw index: ${raw}`);

        const resolved = await client.resolveImage(tag);
        assert.strictEqual(resolved.digest, sha256(raw));
        assert.deepStrictEqual(resolved.platforms, platforms);
        assert.deepStrictEqual(Object.keys(resolved.platforms).sort(), ["linux/amd64", "linux/arm64"]);
        assert.deepStrictEqual(resolved.attestations, attestations);
        for (const digest of Object.values(resolved.platforms)) {
            assert.ok(!attestations.includes(digest), `${digest} is an attestation manifest`);
        }

        // Read by digest, the index gives the same answer; an attestation alone has no platform.
        assert.deepStrictEqual(await client.platformDigests(`${REGISTRY}/registry-test/${run}/attested@${resolved.digest}`), resolved.platforms);
        await assert.rejects(client.platformDigests(`${REGISTRY}/registry-test/${run}/attested@${attestations[0]}`), {
            name: "RegistryError",
            message: `${REGISTRY}/registry-test/${run}/attested@${attestations[0]} is an attestation manifest (platform unknown/unknown), not a container image: read the image index that carries it instead`,
        });
    });

    it("reads each platform's manifest by digest and finds its platform in the config blob", async () => {
        const tag = `${REGISTRY}/registry-test/${run}/plain:v1`;
        const platforms = await client.platformDigests(tag);
        assert.ok(Object.keys(platforms).length === 2, "the first test pushed this image");
        for (const [platform, digest] of Object.entries(platforms)) {
            const single = await client.resolveImage(`${REGISTRY}/registry-test/${run}/plain@${digest}`);
            assert.deepStrictEqual(single.platforms, { [platform]: digest });
            assert.strictEqual(single.isIndex, false);
        }
    });

    it("returns the one platform of a single-platform push", async () => {
        const tag = await pushMultiArch(
            context,
            `${REGISTRY}/registry-test/${run}/single:arm64`,
            ["--provenance=false", "--sbom=false"],
            undefined,
            "linux/arm64",
        );
        pushedTags.push(tag);
        const { raw, json, platforms } = await inspectRaw(tag);
        const resolved = await client.resolveImage(tag);
        assert.strictEqual(resolved.digest, sha256(raw));
        const expected = json.manifests === undefined ? { "linux/arm64": sha256(raw) } : platforms;
        assert.deepStrictEqual(resolved.platforms, expected);
        assert.deepStrictEqual(Object.keys(resolved.platforms), ["linux/arm64"]);
    });

    it("fails naming the repository and tag when the tag does not exist", async () => {
        const reference = `${REGISTRY}/registry-test/${run}/plain:no-such-tag`;
        await assert.rejects(client.platformDigests(reference), {
            name: "RegistryError",
            kind: "not-found",
            message: `not found: repository "registry-test/${run}/plain" or its tag "no-such-tag" does not exist in registry ${REGISTRY} (HTTP 404 reading manifest ${reference}); check the name, or push the image first`,
        });
    });

    describe(`the basic-auth registry ${AUTH_REGISTRY}`, () => {
        const reference = `${AUTH_REGISTRY}/registry-test/${run}/private:v1`;
        let dockerEnv: NodeJS.ProcessEnv;

        before(async function () {
            // A throwaway DOCKER_CONFIG, so the login touches nobody's real credentials.
            const dockerConfig = path.join(workDir, "docker-config");
            fs.mkdirSync(dockerConfig);
            dockerEnv = { ...process.env, DOCKER_CONFIG: dockerConfig };
            await loginToAuthRegistry({ env: dockerEnv });
            pushedTags.push(await pushMultiArch(context, reference, ["--provenance=mode=min"], dockerEnv));
        });

        it("reads the image with the right credentials", async () => {
            const { raw, platforms } = await inspectRaw(reference, { env: dockerEnv });
            const resolved = await new RegistryClient({ auth: { registry: AUTH_REGISTRY, username: AUTH_USER, password: AUTH_PASSWORD } }).resolveImage(
                reference,
            );
            assert.strictEqual(resolved.digest, sha256(raw));
            assert.deepStrictEqual(resolved.platforms, platforms);
            assert.deepStrictEqual(Object.keys(resolved.platforms).sort(), ["linux/amd64", "linux/arm64"]);
        });

        it("fails naming the user, and not the password, when the password is wrong", async () => {
            const wrong = "wrong-password-do-not-print";
            const error: RegistryError = await new RegistryClient({ auth: { registry: AUTH_REGISTRY, username: AUTH_USER, password: wrong } })
                .platformDigests(reference)
                .then(
                    () => assert.fail("a wrong password was accepted"),
                    (e) => e,
                );
            assert.strictEqual(error.kind, "auth");
            assert.strictEqual(error.status, 401);
            assert.strictEqual(
                error.message,
                `authentication failed for registry ${AUTH_REGISTRY} as user "${AUTH_USER}": HTTP 401 reading manifest ${reference} (registry says: UNAUTHORIZED: authentication required); check the credentials (an ECR password expires after 12 hours)`,
            );
            assert.ok(!error.message.includes(wrong));
            assert.ok(!error.message.includes(Buffer.from(`${AUTH_USER}:${wrong}`).toString("base64")));
        });

        it("sends the credentials only to the registry they were given for", async () => {
            // The same user and password, bound to the anonymous registry: the htpasswd
            // registry gets none of them, and says so.
            const elsewhere = new RegistryClient({ auth: { registry: REGISTRY, username: AUTH_USER, password: AUTH_PASSWORD } });
            await assert.rejects(elsewhere.platformDigests(reference), {
                name: "RegistryError",
                kind: "auth",
                message: `authentication failed for registry ${AUTH_REGISTRY} anonymously (the credentials given are for registry ${REGISTRY} only): HTTP 401 reading manifest ${reference} (registry says: UNAUTHORIZED: authentication required); pass auth: { registry: "${AUTH_REGISTRY}", username, password } or { registry: "${AUTH_REGISTRY}", token } (for ECR: username "AWS" and the password from GetAuthorizationToken)`,
            });
            // Bound to the htpasswd registry, the same client reads it, and still reads the
            // anonymous registry anonymously.
            const bound = new RegistryClient({ auth: { registry: AUTH_REGISTRY, username: AUTH_USER, password: AUTH_PASSWORD } });
            assert.deepStrictEqual(Object.keys(await bound.platformDigests(reference)).sort(), ["linux/amd64", "linux/arm64"]);
            assert.deepStrictEqual(Object.keys(await bound.platformDigests(BASE_IMAGE)).sort(), ["linux/amd64", "linux/arm64"]);
        });

        it("fails saying credentials are needed when none are given", async () => {
            await assert.rejects(new RegistryClient().platformDigests(reference), {
                name: "RegistryError",
                kind: "auth",
                message: `authentication failed for registry ${AUTH_REGISTRY} anonymously (no credentials were given): HTTP 401 reading manifest ${reference} (registry says: UNAUTHORIZED: authentication required); pass auth: { registry: "${AUTH_REGISTRY}", username, password } or { registry: "${AUTH_REGISTRY}", token } (for ECR: username "AWS" and the password from GetAuthorizationToken)`,
            });
        });
    });
});
