// The build plan rendered as a Bake file, built for real: what MultiArchImage declares
// for docker-build is what `docker buildx bake` builds and pushes.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputProblems } from "../../../sdk/rules/errors";
import { indexTag, normaliseBuildSpec, platformBuilds } from "../../../sdk/rules/buildPlan";
import { toBakeFile } from "../../../sdk/rules/bake";
import { RegistryClient } from "../../../sdk/clients/registryClient";
import { CONTEXT_DOCKERFILE, SECRET_DOCKERFILE, SECRET_VALUE, SSH_DOCKERFILE, contextWith, startAgent } from "../components/buildInputs";
import { REGISTRY, docker, inspectRaw, uniqueName, useDockerStack } from "../stack";
import { fixture } from "../../paths";

const FIXTURE = fixture("hello");

describe("Bake file of the build plan (needs scripts/docker-stack.sh)", function () {
    this.timeout(300000);
    useDockerStack();

    const repositoryUrl = `${REGISTRY}/multiarch-test/${uniqueName("bake")}`;
    const spec = normaliseBuildSpec({ context: FIXTURE, tag: "v1" }, new InputProblems())!;
    const registry = new RegistryClient();
    let work: string;
    let built: Record<string, string>;

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-bake-"));
        const bakeFile = path.join(work, "docker-bake.json");
        fs.writeFileSync(bakeFile, JSON.stringify(toBakeFile(spec, { repositoryUrl, buildArgs: { GREETING: "hi" } })));
        const metadataFile = path.join(work, "metadata.json");
        await docker(["buildx", "bake", "--builder", "default", "-f", bakeFile, "--metadata-file", metadataFile]);
        const metadata = JSON.parse(fs.readFileSync(metadataFile, "utf8"));
        built = Object.fromEntries(platformBuilds(spec, repositoryUrl).map((b) => [b.platform, metadata[b.arch]["containerimage.digest"] as string]));
    });

    after(() => fs.rmSync(work, { recursive: true, force: true }));

    it("pushes each platform as a plain manifest under its own tag", async () => {
        for (const build of platformBuilds(spec, repositoryUrl)) {
            const image = await registry.resolveImage(build.imageTag);
            assert.strictEqual(image.isIndex, false, `${build.imageTag} should be a single manifest, without attestations`);
            assert.strictEqual(image.digest, built[build.platform]);
            assert.deepStrictEqual(image.platforms, { [build.platform]: built[build.platform] });
        }
    });

    it("writes each platform's registry cache to its own ref", async () => {
        for (const build of platformBuilds(spec, repositoryUrl)) {
            const cache = await registry.getManifest(build.cacheRef!);
            assert.strictEqual(
                cache.mediaType,
                "application/vnd.oci.image.manifest.v1+json",
                `${build.cacheRef} should be an OCI image manifest (image-manifest=true)`,
            );
        }
    });

    it("joins into an index that lists exactly the platforms built, with their digests", async () => {
        const tag = indexTag(spec, repositoryUrl);
        await docker(["buildx", "imagetools", "create", "--tag", tag, ...Object.values(built).map((d) => `${repositoryUrl}@${d}`)]);
        const index = await registry.resolveImage(tag);
        assert.strictEqual(index.isIndex, true);
        assert.deepStrictEqual(index.platforms, built);
        assert.deepStrictEqual(Object.keys(index.platforms).sort(), ["linux/amd64", "linux/arm64"]);
    });
});

/** Bakes `bake` for real and returns each platform's pushed digest. */
async function bakeAndPush(bake: ReturnType<typeof toBakeFile>, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-bake-"));
    try {
        const file = path.join(work, "docker-bake.json");
        fs.writeFileSync(file, JSON.stringify(bake, null, 2));
        const metadataFile = path.join(work, "metadata.json");
        await docker(["buildx", "bake", "--builder", "default", "-f", file, "--metadata-file", metadataFile], { env });
        const metadata = JSON.parse(fs.readFileSync(metadataFile, "utf8"));
        return Object.fromEntries(Object.entries(bake.target).map(([arch, t]) => [t.platforms[0], metadata[arch]["containerimage.digest"] as string]));
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

/** Runs `script` in each platform's image by digest, as that platform; returns what each printed. */
async function runEach(repositoryUrl: string, digests: Record<string, string>, script: string): Promise<Record<string, string>> {
    const seen: Record<string, string> = {};
    for (const [platform, digest] of Object.entries(digests)) {
        seen[platform] = (await docker(["run", "--rm", "--pull", "always", "--platform", platform, `${repositoryUrl}@${digest}`, "sh", "-c", script])).trim();
    }
    return seen;
}

describe("Bake file of the build inputs (needs scripts/docker-stack.sh)", function () {
    this.timeout(600000);
    useDockerStack();

    const made: string[] = [];
    after(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

    it("gives build args, labels and annotations holding ${…} and %{…} to the image unchanged", async () => {
        const value = "${HOME} %{ if true }x%{ endif } $${y} %%{z} $5";
        const context = contextWith({ Dockerfile: 'FROM scratch\nARG VALUE\nLABEL from.arg="$VALUE"\nCOPY Dockerfile /\n' });
        made.push(context);
        const repositoryUrl = `${REGISTRY}/multiarch-test/${uniqueName("escape")}`;
        const spec = normaliseBuildSpec({ context, platforms: ["linux/amd64"], cache: false }, new InputProblems())!;
        const digests = await bakeAndPush(
            toBakeFile(spec, {
                repositoryUrl,
                buildArgs: { VALUE: value },
                labels: { direct: value, [value.slice(0, 7)]: "key" },
                annotations: { note: value },
            }),
        );
        const ref = `${repositoryUrl}@${digests["linux/amd64"]}`;
        const config = JSON.parse(await docker(["buildx", "imagetools", "inspect", "--format", "{{json .Image}}", ref]));
        assert.strictEqual(config.config.Labels["from.arg"], value);
        assert.strictEqual(config.config.Labels.direct, value);
        assert.strictEqual(config.config.Labels["${HOME}"], "key");
        const manifest = (await inspectRaw(ref)).json as { annotations?: Record<string, string> };
        assert.strictEqual(manifest.annotations?.note, value);
    });

    it("mounts a build secret read from the environment, and keeps only its hash", async () => {
        const context = contextWith({ Dockerfile: SECRET_DOCKERFILE });
        made.push(context);
        const repositoryUrl = `${REGISTRY}/multiarch-test/${uniqueName("bake-secret")}`;
        // BuildKit keys its cache without the secret's value: build afresh so this value is the one mounted.
        const spec = normaliseBuildSpec({ context, cache: false, noCache: true }, new InputProblems())!;
        const bake = toBakeFile(spec, { repositoryUrl, secretIds: ["password"] });
        assert.ok(!JSON.stringify(bake).includes("s3cr3t"), "the Bake file holds a reference, not the value");
        const digests = await bakeAndPush(bake, { ...process.env, password: SECRET_VALUE });
        const hash = (await import("crypto")).createHash("sha256").update(SECRET_VALUE).digest("hex");
        assert.deepStrictEqual(await runEach(repositoryUrl, digests, "echo $(uname -m) $(cat /secret.sha256)"), {
            "linux/amd64": `x86_64 ${hash}`,
            "linux/arm64": `aarch64 ${hash}`,
        });
    });

    it("copies from a named build context", async () => {
        const context = contextWith({ Dockerfile: CONTEXT_DOCKERFILE });
        const extra = contextWith({ "extra.txt": "from the named context" });
        made.push(context, extra);
        const repositoryUrl = `${REGISTRY}/multiarch-test/${uniqueName("bake-context")}`;
        const spec = normaliseBuildSpec({ context, contexts: { extra }, cache: false }, new InputProblems())!;
        const digests = await bakeAndPush(toBakeFile(spec, { repositoryUrl }));
        assert.deepStrictEqual(await runEach(repositoryUrl, digests, "echo $(uname -m) $(cat /extra.txt)"), {
            "linux/amd64": "x86_64 from the named context",
            "linux/arm64": "aarch64 from the named context",
        });
    });

    it("forwards the SSH agent of whoever runs Bake", async () => {
        const context = contextWith({ Dockerfile: SSH_DOCKERFILE });
        made.push(context);
        const agent = startAgent();
        try {
            const repositoryUrl = `${REGISTRY}/multiarch-test/${uniqueName("bake-ssh")}`;
            const spec = normaliseBuildSpec({ context, ssh: [{ id: "default" }], cache: false }, new InputProblems())!;
            const digests = await bakeAndPush(toBakeFile(spec, { repositoryUrl }), { ...process.env, SSH_AUTH_SOCK: agent.socket });
            const seen = await runEach(repositoryUrl, digests, "echo $(uname -m) $(cat /ssh.txt)");
            assert.match(seen["linux/amd64"], /^x86_64 agent at \/run\/buildkit\/ssh_agent\.\d+$/);
            assert.match(seen["linux/arm64"], /^aarch64 agent at \/run\/buildkit\/ssh_agent\.\d+$/);
        } finally {
            agent.stop();
        }
    });
});
