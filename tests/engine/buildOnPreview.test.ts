// `buildOnPreview: true` on the real engine: a preview builds each platform once every
// input is known, pushing no image but exporting the registry cache, and a preview on a
// machine that lacks the builder builds nothing rather than failing or building on
// another builder.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { EngineProject, preview, registryTags, tearDown, TLS_REGISTRY_LOGIN, up, useEngine } from "./engine";
import { docker, inspectRaw, loginToAuthRegistry, REGISTRY, TLS_REGISTRY, uniqueName } from "../integration/stack";

const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { BuildxBuilder, MultiArchImage } from "multiarch";

const config = new pulumi.Config();
const builder = new BuildxBuilder("builder", { driverOptions: { network: "host" } });
const image = new MultiArchImage("app", {
    context: "./app",
    tag: "v1",
    registry: { repositoryUrl: config.require("repository"), username: config.require("registryUser"), password: config.requireSecret("registryPassword") },
    builderName: builder.name,
    buildOnPreview: true,
});

export const builderName = builder.name;
export const platformDigests = image.platformDigests;
`;

const DOCKERFILE = `FROM ${REGISTRY}/multiarch/busybox:latest
COPY message.txt /message.txt
`;

const AMD64 = "docker-build:index:Image::app-amd64";
const ARM64 = "docker-build:index:Image::app-arm64";
const INDEX = "docker-build:index:Index::app-index";
const BUILDER_RESOURCE = "pulumi-nodejs:dynamic:Resource::builder-buildx";

describe("buildOnPreview: true on the real engine (Pulumi CLI, docker-build, a docker-container builder, the TLS registry)", function () {
    this.timeout(900_000);
    useEngine();

    let project: EngineProject;
    let stack: Stack;
    let repository: string;
    let builderName: string | undefined;
    let loginDir: string;

    /** What each tag of the repository points at. */
    async function manifests(): Promise<Record<string, string>> {
        const tags = await registryTags(repository);
        const entries = await Promise.all(
            tags.map(async (tag) => [
                tag,
                JSON.parse(
                    await docker(["buildx", "imagetools", "inspect", "--format", "{{json .Manifest.Digest}}", `${repository}:${tag}`], { config: loginDir }),
                ),
            ]),
        );
        return Object.fromEntries(entries);
    }

    before(async function () {
        repository = `${TLS_REGISTRY}/${uniqueName("engine-bop")}/app`;
        project = await EngineProject.create("buildonpreview", { "index.ts": PROGRAM, "app/Dockerfile": DOCKERFILE, "app/message.txt": "one\n" });
        stack = await project.stack("dev", {
            repository: { value: repository },
            ...TLS_REGISTRY_LOGIN,
        });
        loginDir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-engine-login-"));
        await loginToAuthRegistry({ config: loginDir }, TLS_REGISTRY);
    });

    after(() => tearDown(project, stack, { builder: builderName, dirs: [loginDir] }));

    it("builds nothing in the first preview of a new stack, whose builder does not exist yet", async () => {
        const plan = await preview(stack);
        assert.ok(!plan.diagnostics.some((d) => /error/i.test(d)), plan.diagnostics.join("\n"));
        assert.deepStrictEqual(await registryTags(repository), []);
    });

    it("builds in a preview of a changed file, exporting the cache but pushing no image", async () => {
        builderName = ((await up(stack)).outputs as { builderName: string }).builderName;
        const before = await manifests();
        project.write({ "app/message.txt": "two\n" });
        const plan = await preview(stack);
        assert.deepStrictEqual(plan.changed, [AMD64, ARM64, INDEX].sort());
        assert.ok(!plan.diagnostics.some((d) => /Skipping preview build/.test(d)), plan.diagnostics.join("\n"));
        const after = await manifests();
        assert.deepStrictEqual(Object.keys(after), Object.keys(before));
        assert.strictEqual(after["v1-amd64"], before["v1-amd64"]);
        assert.strictEqual(after["v1"], before["v1"]);
        assert.notStrictEqual(after["cache-amd64"], before["cache-amd64"]);
    });

    it("on a machine that lacks the builder, previews a changed file without building or failing, and up builds there", async () => {
        await docker(["buildx", "rm", builderName!]);
        project.write({ "app/message.txt": "three\n" });
        const before = await manifests();
        const plan = await preview(stack);
        assert.deepStrictEqual(plan.changed, [AMD64, ARM64, INDEX, BUILDER_RESOURCE].sort());
        assert.deepStrictEqual(await manifests(), before);
        const result = await up(stack);
        assert.deepStrictEqual(result.summary, { same: 3, update: 4 });
        const digests = (result.outputs as { platformDigests: Record<string, string> }).platformDigests;
        assert.deepStrictEqual((await inspectRaw(`${repository}:v1`, { config: loginDir })).platforms, digests);
    });
});
