// PromotedImage on the real engine: a signed MultiArchImage in the stack's TLS registry,
// built on a builder made by hand that the program adopts by name, copied by digest into
// another registry (the anonymous one on 127.0.0.1:5000) with `requireSignature`, through
// preview, up, a second up, a changed file and destroy. The engine's own plan and summary,
// the destination registry and buildx are the oracles.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { cosignKeyPair, destroy, EngineProject, preview, registryTags, tearDown, TLS_REGISTRY_LOGIN, up, useEngine } from "./engine";
import { docker, inspectRaw, REGISTRY, TLS_REGISTRY, uniqueName } from "../integration/stack";

const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { BuildxBuilder, MultiArchImage, PromotedImage } from "multiarch";

const config = new pulumi.Config();
const login = { username: config.require("registryUser"), password: config.requireSecret("registryPassword") };
// A builder that exists before the stack: adopted, never removed by it.
const builder = new BuildxBuilder("builder", { name: config.require("builderName"), driverOptions: { network: "host" } });
const image = new MultiArchImage("app", {
    context: "./app",
    tag: "v1",
    registry: { repositoryUrl: config.require("source"), ...login },
    builderName: builder.name,
    signing: { privateKey: config.requireSecret("signingKey"), password: config.requireSecret("signingPassword") },
});
const promoted = new PromotedImage("prod", {
    image,
    tag: "v1",
    registry: { repositoryUrl: config.require("destination") },
    sourceCredentials: login,
    requireSignature: { publicKey: image.signingPublicKey! },
});

export const builderName = builder.name;
export const sourceDigests = image.platformDigests;
export const promotedDigests = promoted.platformDigests;
export const promotedIndex = promoted.indexRef;
`;

const DOCKERFILE = `FROM ${REGISTRY}/multiarch/busybox:latest
COPY message.txt /message.txt
`;

const COPY = "pulumi-nodejs:dynamic:Resource::prod-copy";

describe("PromotedImage between two registries on the real engine, with requireSignature (Pulumi CLI, docker-build, cosign, the local registries)", function () {
    this.timeout(900_000);
    useEngine();

    let project: EngineProject;
    let stack: Stack;
    let destination: string;
    let keyDir: string;
    let adopted: string;
    let outputs: { builderName: string; sourceDigests: Record<string, string>; promotedDigests: Record<string, string>; promotedIndex: string };

    before(async function () {
        const name = uniqueName("engine-promote");
        adopted = uniqueName("engine-adopted");
        await docker(["buildx", "create", "--name", adopted, "--driver", "docker-container", "--driver-opt", "network=host", "--bootstrap"]);
        destination = `${REGISTRY}/${name}/prod`;
        project = await EngineProject.create("promotion", { "index.ts": PROGRAM, "app/Dockerfile": DOCKERFILE, "app/message.txt": "one\n" });
        keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-engine-keys-"));
        const keys = await cosignKeyPair(project, keyDir, "promotion-test");
        stack = await project.stack("dev", {
            source: { value: `${TLS_REGISTRY}/${name}/app` },
            destination: { value: destination },
            ...TLS_REGISTRY_LOGIN,
            signingKey: { value: keys.privateKey, secret: true },
            signingPassword: { value: "promotion-test", secret: true },
            builderName: { value: adopted },
        });
    });

    after(() => tearDown(project, stack, { builder: adopted, dirs: [keyDir] }));

    it("previews a new stack, copying nothing", async () => {
        const plan = await preview(stack);
        assert.strictEqual(plan.ops[COPY], "create");
        assert.deepStrictEqual(await registryTags(destination), []);
    });

    it("copies every platform by digest with its signature on up", async () => {
        const result = await up(stack);
        outputs = result.outputs as typeof outputs;
        assert.deepStrictEqual(outputs.promotedDigests, outputs.sourceDigests);
        assert.deepStrictEqual((await inspectRaw(outputs.promotedIndex)).platforms, outputs.sourceDigests);
        const tags = await registryTags(destination);
        for (const digest of Object.values(outputs.sourceDigests)) {
            assert.ok(tags.includes(`sha256-${digest.slice("sha256:".length)}.sig`), `no signature of ${digest} in ${tags.join(", ")}`);
        }
        assert.ok(tags.includes("v1"), tags.join(", "));
    });

    it("changes nothing on a second up", async () => {
        assert.deepStrictEqual((await preview(stack)).changed, []);
        const result = await up(stack);
        assert.deepStrictEqual(Object.keys(result.summary), ["same"]);
    });

    it("previews a changed file without failing and copies the new digests on up", async () => {
        project.write({ "app/message.txt": "two\n" });
        const plan = await preview(stack);
        assert.ok(plan.changed.includes(COPY), plan.changed.join(", "));
        const result = await up(stack);
        const next = result.outputs as typeof outputs;
        assert.deepStrictEqual(next.promotedDigests, next.sourceDigests);
        assert.notDeepStrictEqual(next.sourceDigests, outputs.sourceDigests);
        assert.deepStrictEqual((await inspectRaw(`${destination}:v1`)).platforms, next.sourceDigests);
        outputs = next;
    });

    it("destroys, leaving every copied image and signature in the destination and the adopted builder running", async () => {
        assert.strictEqual(outputs.builderName, adopted);
        const before = await registryTags(destination);
        await destroy(stack);
        assert.deepStrictEqual(await registryTags(destination), before);
        assert.match(await docker(["buildx", "inspect", adopted]), /Status:\s+running/);
    });
});
