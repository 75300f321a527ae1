// The life of a stack on the real engine: a MultiArchImage on a docker-container builder,
// pushed with credentials to the stack's TLS registry (as to any hosted registry), through first preview, up, a second up, a changed file
// (with and without signing), a fresh machine, a second checkout, refresh, destroy and
// up again. Every assertion reads the engine's own plan and summary, the stack's state,
// the registry, or runs the image; nothing is mocked.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { cosignKeyPair, destroy, EngineProject, preview, refresh, registryTags, tearDown, TLS_REGISTRY_LOGIN, up, useEngine } from "./engine";
import { docker, DockerCallOptions, inspectRaw, loginToAuthRegistry, REGISTRY, TLS_REGISTRY, uniqueName } from "../integration/stack";

const PROGRAM = `import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BuildxBuilder, MultiArchImage } from "multiarch";

const config = new pulumi.Config();
// network=host: the builder's container reaches the registry on the host's 127.0.0.1.
const builder = new BuildxBuilder("builder", { driverOptions: { network: "host" } });
const signingKey = config.getSecret("signingKey");
const image = new MultiArchImage("app", {
    // An absolute context, as \`path.join(__dirname, ...)\` gives, differs between checkouts.
    context: config.getBoolean("absoluteContext") ? path.join(__dirname, "app") : "./app",
    tag: "v1",
    registry: { repositoryUrl: config.require("repository"), username: config.require("registryUser"), password: config.requireSecret("registryPassword") },
    builderName: builder.name,
    secrets: { token: config.requireSecret("buildToken") },
    signing: signingKey ? { privateKey: signingKey, password: config.requireSecret("signingPassword") } : undefined,
});

export const builderName = builder.name;
export const platformDigests = image.platformDigests;
export const indexRef = image.indexRef;
`;

const DOCKERFILE = `FROM ${REGISTRY}/multiarch/busybox:latest
COPY message.txt /message.txt
RUN --mount=type=secret,id=token test -s /run/secrets/token
CMD ["cat", "/message.txt"]
`;

const IMAGE = "multiarch:index:MultiArchImage::app";
const BUILDER = "multiarch:index:BuildxBuilder::builder";
const BUILDER_RESOURCE = "pulumi-nodejs:dynamic:Resource::builder-buildx";
const AMD64 = "docker-build:index:Image::app-amd64";
const ARM64 = "docker-build:index:Image::app-arm64";
const INDEX = "docker-build:index:Index::app-index";
const SIGNATURE = "pulumi-nodejs:dynamic:Resource::app-signature";

/**
 * A second checkout of the project at another path, its files written under `umask` as
 * git writes them (0666 and 0777 less the umask), with the first one's dependencies.
 */
function checkoutOf(project: EngineProject, umask: number): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `multiarch-engine-checkout-${umask.toString(8)}-`));
    const copy = (from: string, to: string) => {
        for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
            if (entry.name === "node_modules") {
                continue;
            }
            const [source, target] = [path.join(from, entry.name), path.join(to, entry.name)];
            if (entry.isDirectory()) {
                fs.mkdirSync(target);
                fs.chmodSync(target, 0o777 & ~umask);
                copy(source, target);
            } else {
                fs.copyFileSync(source, target);
                fs.chmodSync(target, 0o666 & ~umask);
            }
        }
    };
    copy(project.dir, dir);
    fs.symlinkSync(path.join(project.dir, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

async function builderExists(name: string, options: DockerCallOptions = {}): Promise<boolean> {
    try {
        await docker(["buildx", "inspect", name], options);
        return true;
    } catch {
        return false;
    }
}

describe("the life of a stack on the real engine (Pulumi CLI, docker-build, a docker-container builder, the local registry)", function () {
    this.timeout(900_000);
    useEngine();

    let project: EngineProject;
    let stack: Stack;
    let repository: string;
    let first: { platformDigests: Record<string, string>; indexRef: string; builderName: string };
    let keyDir: string;
    // The test's own docker and cosign calls log in here; the program's own calls get the
    // credentials from its `registry` argument only.
    let login: DockerCallOptions;

    /** What `docker run --platform` of the image prints for `uname -m`. */
    async function archSeen(ref: string, platform: string): Promise<string> {
        return (await docker(["run", "--rm", "--pull", "always", "--platform", platform, ref, "uname", "-m"], login)).trim();
    }

    before(async function () {
        repository = `${TLS_REGISTRY}/${uniqueName("engine-life")}/app`;
        project = await EngineProject.create("lifecycle", { "index.ts": PROGRAM, "app/Dockerfile": DOCKERFILE, "app/message.txt": "first\n" });
        stack = await project.stack("dev", {
            repository: { value: repository },
            ...TLS_REGISTRY_LOGIN,
            buildToken: { value: "build-token-1", secret: true },
        });
        keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-engine-keys-"));
        login = { config: path.join(keyDir, "docker") };
        await loginToAuthRegistry(login, TLS_REGISTRY);
    });

    after(() => tearDown(project, stack, { builder: first?.builderName, dirs: [keyDir] }));

    it("previews a new stack without building anything or writing to the registry", async () => {
        const plan = await preview(stack);
        assert.deepStrictEqual(plan.changed, [AMD64, ARM64, INDEX, BUILDER, BUILDER_RESOURCE, IMAGE].sort());
        assert.ok(
            Object.values(plan.ops).every((op) => op === "create"),
            JSON.stringify(plan.ops),
        );
        assert.deepStrictEqual(await registryTags(repository), []);
        assert.strictEqual(plan.diagnostics.filter((d) => d.includes("error")).length, 0, plan.diagnostics.join("\n"));
    });

    it("builds and pushes both platforms on up; the digests are the registry's and each runs as its architecture", async () => {
        const result = await up(stack);
        assert.deepStrictEqual(result.summary, { create: 7 });
        first = result.outputs as typeof first;
        const index = await inspectRaw(first.indexRef, login);
        assert.deepStrictEqual(index.platforms, first.platformDigests);
        assert.deepStrictEqual(Object.keys(first.platformDigests).sort(), ["linux/amd64", "linux/arm64"]);
        assert.deepStrictEqual(await registryTags(repository), ["cache-amd64", "cache-arm64", "v1", "v1-amd64", "v1-arm64"]);
        assert.strictEqual(await archSeen(`${repository}@${first.platformDigests["linux/amd64"]}`, "linux/amd64"), "x86_64");
        assert.strictEqual(await archSeen(`${repository}@${first.platformDigests["linux/arm64"]}`, "linux/arm64"), "aarch64");
    });

    it("changes nothing on a second up", async () => {
        const plan = await preview(stack, { expectNoChanges: true });
        assert.deepStrictEqual(plan.changed, []);
        const result = await up(stack);
        assert.deepStrictEqual(result.summary, { same: 7 });
        assert.deepStrictEqual(result.outputs, first);
    });

    it("changes nothing when a build secret's value rotates", async () => {
        await stack.setConfig("buildToken", { value: "build-token-2", secret: true });
        const plan = await preview(stack);
        assert.deepStrictEqual(plan.changed, [], JSON.stringify(plan.diffs));
    });

    let second: typeof first;

    it("on one changed file, previews only what the digests feed, then pushes new digests", async () => {
        project.write({ "app/message.txt": "second\n" });
        const plan = await preview(stack);
        assert.deepStrictEqual(plan.changed, [AMD64, ARM64, INDEX].sort());
        const result = await up(stack);
        assert.deepStrictEqual(result.summary, { same: 4, update: 3 });
        second = result.outputs as typeof first;
        assert.strictEqual(second.builderName, first.builderName);
        for (const platform of ["linux/amd64", "linux/arm64"]) {
            assert.notStrictEqual(second.platformDigests[platform], first.platformDigests[platform]);
        }
        assert.deepStrictEqual((await inspectRaw(`${repository}:v1`, login)).platforms, second.platformDigests);
    });

    let publicKey: string;

    it("with signing, previews a changed file without failing and signs the new digests on up", async () => {
        const keys = await cosignKeyPair(project, keyDir, "engine-test");
        publicKey = keys.publicKeyFile;
        await stack.setAllConfig({
            signingKey: { value: keys.privateKey, secret: true },
            signingPassword: { value: "engine-test", secret: true },
        });
        const signed = await up(stack);
        assert.deepStrictEqual(signed.summary, { create: 1, same: 7 });

        project.write({ "app/message.txt": "third\n" });
        const plan = await preview(stack);
        assert.deepStrictEqual(plan.changed, [AMD64, ARM64, INDEX, SIGNATURE].sort());
        const result = await up(stack);
        assert.deepStrictEqual(result.summary, { same: 4, update: 4 });
        const third = result.outputs as typeof first;
        const refs = [...Object.values(third.platformDigests).map((d) => `${repository}@${d}`), third.indexRef.replace(/:v1@/, "@")];
        for (const ref of refs) {
            await project.run("cosign", ["verify", "--key", publicKey, "--insecure-ignore-tlog=true", ref], 120_000, { DOCKER_CONFIG: login.config! });
        }
        second = third;
    });

    it("shows no change from a second checkout of the same commit at another path, its context given absolutely", async () => {
        const checkout = checkoutOf(project, 0o022);
        try {
            const other = await project.stack("dev", { absoluteContext: { value: "true" } }, {}, checkout);
            const plan = await preview(other);
            assert.deepStrictEqual(plan.changed, [], JSON.stringify(plan.diffs));
        } finally {
            fs.rmSync(checkout, { recursive: true, force: true });
        }
    });

    it("under umask 002 instead of 022, rebuilds the images: the file modes are in the context hash and in the layers", async () => {
        const checkout = checkoutOf(project, 0o002);
        try {
            const other = await project.stack("dev", {}, {}, checkout);
            const plan = await preview(other);
            assert.deepStrictEqual(plan.changed, [AMD64, ARM64, INDEX, SIGNATURE].sort());
            assert.deepStrictEqual(plan.diffs[AMD64], ["contextHash"]);
        } finally {
            fs.rmSync(checkout, { recursive: true, force: true });
        }
    });

    it("on a fresh machine (builder gone, BuildKit state gone, new DOCKER_CONFIG) previews only the builder, and up recreates it and builds nothing", async () => {
        await docker(["buildx", "rm", first.builderName]);
        const dockerConfig = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-engine-docker-"));
        try {
            const fresh = await project.stack("dev", {}, { DOCKER_CONFIG: dockerConfig });
            const plan = await preview(fresh);
            assert.deepStrictEqual(plan.changed, [BUILDER_RESOURCE]);
            const before = await registryTags(repository);
            const result = await up(fresh);
            assert.deepStrictEqual(result.summary, { same: 7, update: 1 });
            assert.deepStrictEqual(result.outputs, second);
            assert.ok(await builderExists(first.builderName, { config: dockerConfig }));
            assert.deepStrictEqual(await registryTags(repository), before);
        } finally {
            await docker(["buildx", "rm", first.builderName], { config: dockerConfig }).catch(() => undefined);
            fs.rmSync(dockerConfig, { recursive: true, force: true });
        }
        // Back on this machine's own docker config, whose builder record is gone with the builder.
        const result = await up(stack);
        assert.deepStrictEqual(result.summary, { same: 7, update: 1 });
    });

    it("refreshes with no changes", async () => {
        const result = await refresh(stack);
        assert.deepStrictEqual(result.summary, { same: 8 });
        assert.deepStrictEqual((await preview(stack, { expectNoChanges: true })).changed, []);
    });

    it("destroys: the images, index, signatures and cache stay in the registry, the builder it created is gone; up again works", async () => {
        const before = await registryTags(repository);
        const result = await destroy(stack);
        assert.ok(
            Object.values(result.ops).every((op) => op === "delete"),
            JSON.stringify(result.ops),
        );
        assert.deepStrictEqual(await registryTags(repository), before);
        assert.ok(
            before.some((tag) => tag.endsWith(".sig")),
            before.join(","),
        );
        assert.strictEqual(await builderExists(first.builderName), false);
        const again = await up(stack);
        assert.deepStrictEqual(again.summary, { create: 8 });
        assert.deepStrictEqual(again.outputs, second);
    });
});
