import * as assert from "assert";
import * as crypto from "crypto";
import * as http from "http";
import type { AddressInfo } from "net";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MultiArchImage, MultiArchImageArgs } from "../../../sdk/components/multiArchImage";
import {
    ACCOUNT,
    ECR_PASSWORD,
    REGION,
    REGISTRY,
    fakeDigest,
    invocations,
    isSecretInput,
    leaks,
    promiseOf,
    registered,
    registrations,
    resetMocks,
    reveal,
    settle,
    theOne,
} from "../../mocks";
import { fixture } from "../../paths";
import { portablePath } from "../../../sdk/rules/buildPlan";
import { errorOf } from "../../helpers";

const CONTEXT = fixture("hello");
const REPO_URL = `${REGISTRY}/multiarch/dev/api`;
const IMAGE = "docker-build:index:Image";
const INDEX = "docker-build:index:Index";
const REPOSITORY = "aws:ecr/repository:Repository";
const LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy";
const DYNAMIC = "pulumi-nodejs:dynamic:Resource";

async function build(args: Partial<MultiArchImageArgs> = {}, name = "api"): Promise<MultiArchImage> {
    const image = new MultiArchImage(name, { context: CONTEXT, builderName: "shared", ...args });
    await settle(image.platformRefs, image.indexRef, image.bakeFile);
    return image;
}

describe("MultiArchImage", () => {
    beforeEach(() => resetMocks());

    it("registers under the multiarch:index:MultiArchImage token", async () => {
        await build();
        assert.deepStrictEqual(theOne("multiarch:index:MultiArchImage", "api").custom, false);
    });

    it("pushes one image per platform with its own tag, cache and builder", async () => {
        await build();
        assert.deepStrictEqual(
            registered(IMAGE).map((r) => r.name),
            ["api-amd64", "api-arm64"],
        );
        const arm = theOne(IMAGE, "api-arm64").inputs;
        assert.deepStrictEqual(arm.platforms, ["linux/arm64"]);
        assert.deepStrictEqual(arm.tags, [`${REPO_URL}:latest-arm64`]);
        assert.strictEqual(arm.push, true);
        assert.deepStrictEqual(arm.builder, { name: "shared" });
        assert.deepStrictEqual(arm.context, { location: portablePath(CONTEXT) });
        assert.deepStrictEqual(arm.dockerfile, { location: path.join(portablePath(CONTEXT), "Dockerfile") });
        assert.deepStrictEqual(arm.cacheFrom, [{ registry: { ref: `${REPO_URL}:cache-arm64` } }]);
        assert.deepStrictEqual(arm.cacheTo, [{ registry: { ref: `${REPO_URL}:cache-arm64`, mode: "max", imageManifest: true, ociMediaTypes: true } }]);
        assert.ok(isSecretInput(arm.registries), "the registry credentials must reach the engine as a secret");
        assert.deepStrictEqual(reveal(arm.registries), [{ address: REGISTRY, username: "AWS", password: ECR_PASSWORD }]);
        assert.deepStrictEqual(theOne(IMAGE, "api-amd64").inputs.tags, [`${REPO_URL}:latest-amd64`]);
    });

    it("builds the platforms given, normalised, in order", async () => {
        const image = await build({ platforms: ["aarch64", "x86_64", "linux/s390x"], tag: "v2" });
        assert.deepStrictEqual(image.platforms, ["linux/arm64", "linux/amd64", "linux/s390x"]);
        assert.deepStrictEqual(
            registered(IMAGE).map((r) => [r.name, r.inputs.platforms[0], r.inputs.tags[0]]),
            [
                ["api-arm64", "linux/arm64", `${REPO_URL}:v2-arm64`],
                ["api-amd64", "linux/amd64", `${REPO_URL}:v2-amd64`],
                ["api-s390x", "linux/s390x", `${REPO_URL}:v2-s390x`],
            ],
        );
    });

    it("passes build args, target, labels and build-on-preview through to every image", async () => {
        await build({ buildArgs: { VERSION: "1.0" }, target: "runtime", labels: { team: "platform" }, buildOnPreview: false });
        for (const image of registered(IMAGE)) {
            assert.deepStrictEqual(image.inputs.buildArgs, { VERSION: "1.0" });
            assert.strictEqual(image.inputs.target, "runtime");
            assert.deepStrictEqual(image.inputs.labels, { team: "platform" });
            assert.strictEqual(image.inputs.buildOnPreview, false);
        }
    });

    it("gives docker-build the same context and Dockerfile paths for a relative context and the same one given absolutely", async () => {
        const relative = `.${path.sep}${path.relative(process.cwd(), CONTEXT)}`;
        await build({ context: relative }, "relative");
        await build({ context: path.resolve(CONTEXT) }, "absolute");
        await build({ context: path.resolve(CONTEXT), dockerfile: path.join(path.resolve(CONTEXT), "Dockerfile") }, "both");
        const paths = (name: string) => {
            const image = registered(IMAGE).find((r) => r.name === `${name}-amd64`)!;
            return [image.inputs.context, image.inputs.dockerfile];
        };
        assert.deepStrictEqual(paths("relative"), [{ location: relative }, { location: path.join(relative, "Dockerfile") }]);
        assert.deepStrictEqual(paths("absolute"), paths("relative"));
        assert.deepStrictEqual(paths("both"), [
            { location: relative },
            { location: `.${path.sep}${path.join(path.relative(process.cwd(), CONTEXT), "Dockerfile")}` },
        ]);
    });

    it("passes ssh, named contexts, network, add-hosts, pull and no-cache exactly to every image", async () => {
        const inputs = {
            ssh: [{ id: "default" }, { id: "deploy", paths: ["/keys/deploy"] }],
            contexts: { base: "docker-image://127.0.0.1:5000/multiarch/busybox@sha256:" + "b".repeat(64), assets: CONTEXT },
            network: "none" as const,
            addHosts: ["db.internal:10.0.0.5"],
            pull: true,
            noCache: true,
        };
        await build(inputs);
        assert.strictEqual(registered(IMAGE).length, 2);
        for (const image of registered(IMAGE)) {
            assert.deepStrictEqual(image.inputs.ssh, inputs.ssh);
            assert.deepStrictEqual(image.inputs.context, {
                location: portablePath(CONTEXT),
                named: { base: { location: inputs.contexts.base }, assets: { location: portablePath(CONTEXT) } },
            });
            assert.strictEqual(image.inputs.network, "none");
            assert.deepStrictEqual(image.inputs.addHosts, ["db.internal:10.0.0.5"]);
            assert.strictEqual(image.inputs.pull, true);
            assert.strictEqual(image.inputs.noCache, true);
        }
    });

    it("pushes through a registry export that carries the annotations, instead of push", async () => {
        const annotations = { "org.opencontainers.image.source": "https://example.com/api", team: "${not-a-variable}" };
        const image = await build({ annotations });
        for (const r of registered(IMAGE)) {
            assert.strictEqual(r.inputs.push, false);
            assert.deepStrictEqual(r.inputs.exports, [{ registry: { annotations } }]);
        }
        const bake = JSON.parse(await promiseOf(image.bakeFile));
        assert.deepStrictEqual(bake.target.arm64.annotations, ["org.opencontainers.image.source=https://example.com/api", "team=$${not-a-variable}"]);
    });

    it("adds the extra caches after the registry cache, each scoped to its platform", async () => {
        const image = await build({
            cacheFrom: [{ registry: { ref: "127.0.0.1:5000/team/cache:main" } }, { local: { src: "/tmp/c" } }, { gha: { scope: "api" } }],
            cacheTo: [{ inline: {} }, { local: { dest: "/tmp/c", mode: "max" } }, { s3: { region: "us-west-2", bucket: "b", name: "api" } }],
        });
        const arm = theOne(IMAGE, "api-arm64").inputs;
        assert.deepStrictEqual(arm.cacheFrom, [
            { registry: { ref: `${REPO_URL}:cache-arm64` } },
            { registry: { ref: "127.0.0.1:5000/team/cache:main-arm64" } },
            { local: { src: "/tmp/c/arm64" } },
            { gha: { scope: "api-arm64" } },
        ]);
        assert.deepStrictEqual(arm.cacheTo, [
            { registry: { ref: `${REPO_URL}:cache-arm64`, mode: "max", imageManifest: true, ociMediaTypes: true } },
            { inline: {} },
            { local: { dest: "/tmp/c/arm64", mode: "max" } },
            { s3: { region: "us-west-2", bucket: "b", name: "api-arm64" } },
        ]);
        assert.deepStrictEqual(theOne(IMAGE, "api-amd64").inputs.cacheFrom[2], { local: { src: "/tmp/c/amd64" } });
        const bake = JSON.parse(await promiseOf(image.bakeFile));
        assert.deepStrictEqual(bake.target.arm64["cache-from"].slice(1), [
            "type=registry,ref=127.0.0.1:5000/team/cache:main-arm64",
            "type=local,src=/tmp/c/arm64",
            "type=gha,scope=api-arm64",
        ]);
        assert.deepStrictEqual(bake.target.arm64["cache-to"].slice(1), [
            "type=inline",
            "type=local,dest=/tmp/c/arm64,mode=max",
            "type=s3,region=us-west-2,bucket=b,name=api-arm64",
        ]);
    });

    it("keeps the extra caches when the registry cache is off", async () => {
        await build({ cache: false, cacheTo: [{ inline: {} }] });
        for (const image of registered(IMAGE)) {
            assert.strictEqual(image.inputs.cacheFrom, undefined);
            assert.deepStrictEqual(image.inputs.cacheTo, [{ inline: {} }]);
        }
    });

    it("leaves the cache out when cache is false", async () => {
        await build({ cache: false });
        for (const image of registered(IMAGE)) {
            assert.strictEqual(image.inputs.cacheFrom, undefined);
            assert.strictEqual(image.inputs.cacheTo, undefined);
        }
    });

    it("joins the per-platform images in one index under the tag", async () => {
        await build({ tag: "v1.2.3" });
        const index = theOne(INDEX, "api-index").inputs;
        assert.strictEqual(index.tag, `${REPO_URL}:v1.2.3`);
        assert.deepStrictEqual(index.sources, [`${REPO_URL}:v1.2.3-amd64@${fakeDigest("api-amd64")}`, `${REPO_URL}:v1.2.3-arm64@${fakeDigest("api-arm64")}`]);
        assert.strictEqual(index.push, true);
        assert.ok(isSecretInput(index.registry));
        assert.deepStrictEqual(reveal(index.registry), { address: REGISTRY, username: "AWS", password: ECR_PASSWORD });
    });

    it("exposes each platform's digest and ref, and the index's", async () => {
        const image = await build();
        assert.deepStrictEqual(await promiseOf(image.platformDigests), {
            "linux/amd64": fakeDigest("api-amd64"),
            "linux/arm64": fakeDigest("api-arm64"),
        });
        assert.deepStrictEqual(await promiseOf(image.platformRefs), {
            "linux/amd64": `${REPO_URL}@${fakeDigest("api-amd64")}`,
            "linux/arm64": `${REPO_URL}@${fakeDigest("api-arm64")}`,
        });
        assert.strictEqual(await promiseOf(image.indexRef), `${REPO_URL}:latest@${fakeDigest("api-index")}`);
        assert.strictEqual(await promiseOf(image.indexDigest), fakeDigest("api-index"));
        assert.strictEqual(await promiseOf(image.repositoryUrl), REPO_URL);
        assert.strictEqual(await promiseOf(image.builderName), "shared");
    });

    it("creates a repository with safe defaults", async () => {
        await build();
        const repo = theOne(REPOSITORY, "api-repo").inputs;
        assert.strictEqual(repo.name, "multiarch/dev/api");
        assert.strictEqual(repo.forceDelete, false);
        assert.deepStrictEqual(repo.imageScanningConfiguration, { scanOnPush: true });
        assert.strictEqual(repo.imageTagMutability, "IMMUTABLE_WITH_EXCLUSION");
        assert.deepStrictEqual(repo.imageTagMutabilityExclusionFilters, [
            { filter: "latest", filterType: "WILDCARD" },
            { filter: "latest-*", filterType: "WILDCARD" },
            { filter: "cache-*", filterType: "WILDCARD" },
            { filter: "sha256-*", filterType: "WILDCARD" },
        ]);
        assert.deepStrictEqual(repo.encryptionConfigurations, [{ encryptionType: "AES256" }]);
        const lifecycle = theOne(LIFECYCLE, "api-lifecycle").inputs;
        assert.strictEqual(lifecycle.repository, "multiarch/dev/api");
        assert.strictEqual(JSON.parse(lifecycle.policy).rules[0].selection.tagStatus, "untagged");
        assert.strictEqual(JSON.parse(lifecycle.policy).rules[0].selection.countNumber, 14);
    });

    it("applies the repository settings given", async () => {
        const kms = "arn:aws:kms:us-west-2:123456789012:key/abcd";
        await build({ repository: { name: "team/api", forceDelete: true, scanOnPush: false, kmsKeyArn: kms, lifecycle: { untaggedExpiryDays: 3 } } });
        const repo = theOne(REPOSITORY, "api-repo").inputs;
        assert.strictEqual(repo.name, "team/api");
        assert.strictEqual(repo.forceDelete, true);
        assert.deepStrictEqual(repo.imageScanningConfiguration, { scanOnPush: false });
        assert.deepStrictEqual(repo.encryptionConfigurations, [{ encryptionType: "KMS", kmsKey: kms }]);
        assert.strictEqual(JSON.parse(theOne(LIFECYCLE, "api-lifecycle").inputs.policy).rules[0].selection.countNumber, 3);
        assert.deepStrictEqual(theOne(IMAGE, "api-amd64").inputs.tags, [`${REGISTRY}/team/api:latest-amd64`]);
    });

    it("asks ECR for a token for the repository's registry", async () => {
        await build();
        const calls = invocations.filter((i) => i.token === "aws:ecr/getAuthorizationToken:getAuthorizationToken");
        assert.strictEqual(calls.length, 1);
        assert.strictEqual(calls[0].inputs.registryId, "123456789012");
    });

    it("pushes to an existing repository without creating one", async () => {
        const url = "210987654321.dkr.ecr.eu-central-1.amazonaws.com/shared/api";
        const image = await build({ repositoryUrl: url });
        assert.deepStrictEqual(registered(REPOSITORY), []);
        assert.deepStrictEqual(registered(LIFECYCLE), []);
        assert.deepStrictEqual(theOne(IMAGE, "api-amd64").inputs.tags, [`${url}:latest-amd64`]);
        assert.strictEqual(reveal(theOne(IMAGE, "api-amd64").inputs.registries)[0].address, "210987654321.dkr.ecr.eu-central-1.amazonaws.com");
        const call = invocations.find((i) => i.token === "aws:ecr/getAuthorizationToken:getAuthorizationToken")!;
        assert.strictEqual(call.inputs.registryId, "210987654321");
        assert.strictEqual(call.inputs.region, "eu-central-1");
        assert.strictEqual(await promiseOf(image.repositoryArn), "arn:aws:ecr:eu-central-1:210987654321:repository/shared/api");
    });

    it("creates its own docker-container builder when none is named", async () => {
        const image = new MultiArchImage("web", { context: CONTEXT });
        await settle(image.platformRefs);
        assert.ok(image.builder, "expected a child BuildxBuilder");
        theOne("multiarch:index:BuildxBuilder", "web-builder");
        const dynamic = registered(DYNAMIC);
        assert.strictEqual(dynamic.length, 1);
        assert.strictEqual(dynamic[0].inputs.spec.driver, "docker-container");
        const builderName = await promiseOf(image.builderName);
        assert.strictEqual(theOne(IMAGE, "web-amd64").inputs.builder.name, builderName);
    });

    it("keeps the registry password and the build secrets secret", async () => {
        const image = await build({ secrets: { NPM_TOKEN: "s3cr3t-npm" } });
        const amd64 = image.images["linux/amd64"];
        assert.strictEqual(await pulumi.isSecret(amd64.registries), true);
        assert.strictEqual(await pulumi.isSecret(amd64.secrets), true);
        assert.strictEqual(await pulumi.isSecret(image.index.registry), true);
        const sent = theOne(IMAGE, "api-amd64").inputs.secrets;
        assert.ok(isSecretInput(sent), "build secrets must reach the engine as a secret");
        assert.deepStrictEqual(reveal(sent), { NPM_TOKEN: "s3cr3t-npm" });
        for (const output of [image.platformDigests, image.platformRefs, image.indexRef, image.bakeFile] as pulumi.Output<unknown>[]) {
            assert.strictEqual(await pulumi.isSecret(output), false);
        }
        const bake = await promiseOf(image.bakeFile);
        assert.ok(!bake.includes("s3cr3t-npm"), "the Bake file must not carry secret values");
        assert.ok(!bake.includes(ECR_PASSWORD), "the Bake file must not carry the registry password");
    });

    it("exposes the same build as a Bake file", async () => {
        const image = await build({ buildArgs: { VERSION: "1" }, secrets: { NPM_TOKEN: "x" } });
        const bake = JSON.parse(await promiseOf(image.bakeFile));
        assert.deepStrictEqual(bake.group.default.targets, ["amd64", "arm64"]);
        for (const r of registered(IMAGE)) {
            const target = bake.target[r.inputs.platforms[0].split("/")[1]];
            assert.deepStrictEqual(target.tags, r.inputs.tags);
            assert.deepStrictEqual(target.platforms, r.inputs.platforms);
            assert.deepStrictEqual(target["cache-from"], [`type=registry,ref=${r.inputs.cacheFrom[0].registry.ref}`]);
            assert.deepStrictEqual(target.args, { VERSION: "1" });
            assert.deepStrictEqual(target.secret, ["id=NPM_TOKEN,env=NPM_TOKEN"]);
        }
    });

    it("gives the ref of a platform by any spelling", async () => {
        const image = await build();
        assert.strictEqual(await promiseOf(image.refFor("aarch64")), `${REPO_URL}@${fakeDigest("api-arm64")}`);
        assert.strictEqual(await promiseOf(image.refFor("x86_64")), `${REPO_URL}@${fakeDigest("api-amd64")}`);
    });

    it("fails clearly for the ref of a platform it did not build", async () => {
        const image = await build({ platforms: ["amd64"] });
        assert.throws(() => image.refFor("arm64"), {
            message: 'refFor("arm64"): this image was built for linux/amd64 only, not linux/arm64; add "linux/arm64" to `platforms`',
        });
        assert.throws(() => image.refFor("linux/arm65"), /refFor\("linux\/arm65"\): expected os\/arch/);
    });

    it("warns when a build arg looks like a credential", async () => {
        const { warnings } = await withWarnings(() => build({ buildArgs: { VERSION: "1", GITHUB_TOKEN: "ghp_value" } }));
        assert.strictEqual(warnings.length, 1);
        assert.match(warnings[0], /build arg "GITHUB_TOKEN" looks like a credential/);
        assert.match(warnings[0], /pass it in `secrets`/);
        assert.ok(!warnings[0].includes("ghp_value"));
    });

    describe("across the life of a stack", () => {
        // image.go Delete and index.go Delete remove the pushed manifest by digest
        // (client.go Delete → ManifestDelete); a replace that rebuilt the same digest would
        // delete what the new state points at (pulumi/pulumi-docker-build#606).
        it("retains every platform's image and the index when they are deleted or replaced", async () => {
            await build({ platforms: ["amd64", "arm64", "s390x"] });
            const retained = [...registered(IMAGE), ...registered(INDEX)].map((r) => [r.name, r.options.retainOnDelete]);
            assert.deepStrictEqual(retained, [
                ["api-amd64", true],
                ["api-arm64", true],
                ["api-s390x", true],
                ["api-index", true],
            ]);
        });

        it("keeps the repository and its lifecycle policy on destroy by default, so destroy completes", async () => {
            await build();
            assert.strictEqual(theOne(REPOSITORY, "api-repo").options.retainOnDelete, true);
            assert.strictEqual(theOne(LIFECYCLE, "api-lifecycle").options.retainOnDelete, true);
            assert.strictEqual(theOne(REPOSITORY, "api-repo").inputs.forceDelete, false);
        });

        it("lets destroy delete the repository with every image when forceDelete is true", async () => {
            await build({ repository: { forceDelete: true } });
            // Unset, not false: the engine then inherits the parent's retainOnDelete (step_generator inheritFromParent).
            assert.strictEqual(theOne(REPOSITORY, "api-repo").options.retainOnDelete, undefined);
            assert.strictEqual(theOne(LIFECYCLE, "api-lifecycle").options.retainOnDelete, undefined);
            assert.strictEqual(theOne(REPOSITORY, "api-repo").inputs.forceDelete, true);
        });
    });

    describe("preview", () => {
        /** A resource whose `name` stays unknown during the preview, as a builder still to be created has. */
        class PendingBuilder extends pulumi.CustomResource {
            declare readonly name: pulumi.Output<string>;
            constructor(name: string) {
                super("test:index:Builder", name, { name: undefined });
            }
        }

        it("does not build on preview by default", async () => {
            await build();
            assert.deepStrictEqual(
                registered(IMAGE).map((r) => r.inputs.buildOnPreview),
                [false, false],
            );
        });

        it("builds on preview only when asked", async () => {
            await build({ buildOnPreview: true });
            assert.deepStrictEqual(
                registered(IMAGE).map((r) => r.inputs.buildOnPreview),
                [true, true],
            );
        });

        // docker-build never previews an image with `push` (image.go buildable compares the
        // inputs with normalize(true), which appends the push export), so an opted-in image
        // pushes through a registry export; the default keeps `push`, as existing stacks have it.
        it("pushes through a registry export when built on preview, through push otherwise", async () => {
            await build({ buildOnPreview: true }, "previewed");
            await build({}, "plain");
            const pushing = (name: string) => {
                const image = registered(IMAGE).find((r) => r.name === `${name}-amd64`)!;
                return [image.inputs.push, image.inputs.exports];
            };
            assert.deepStrictEqual(pushing("previewed"), [false, [{ registry: {} }]]);
            assert.deepStrictEqual(pushing("plain"), [true, undefined]);
        });

        // docker-build looks the builder up by name on this machine (host.go) and fails a
        // preview build when it is missing; an unknown tag makes it skip the build instead.
        it("keeps the tags unknown in a preview built on a machine that lacks the builder, known without buildOnPreview", async () => {
            await resetMocks({ dryRun: true });
            const absent = `absent-${Date.now().toString(36)}`;
            const previewed = new MultiArchImage("previewed", { context: CONTEXT, builderName: absent, buildOnPreview: true });
            const plain = new MultiArchImage("plain", { context: CONTEXT, builderName: absent });
            await settle(...[previewed, plain].flatMap((image) => Object.values(image.images).map((i) => i.urn)));
            const tags = (prefix: string) =>
                registered(IMAGE)
                    .filter((r) => r.name.startsWith(prefix))
                    .map((r) => r.inputs.tags[0]);
            assert.ok(tags("previewed-").length === 2 && tags("previewed-").every((t) => pulumi.isUnknown(t)), JSON.stringify(tags("previewed-")));
            assert.deepStrictEqual(
                tags("plain-"),
                [`${REPO_URL}:latest-amd64`, `${REPO_URL}:latest-arm64`].map((t) => t.replace("/api:", "/plain:")),
            );
        });

        // An unknown builder name reaches docker-build as "": normalize (image.go) keeps it,
        // buildable() stays true and builderFor("") (host.go) picks or creates any builder.
        // An unknown tag makes buildable() false, so the opted-in preview skips the build.
        for (const buildOnPreview of [undefined, true]) {
            it(`keeps every tag and cache ref unknown while the builder's name is unknown (buildOnPreview ${buildOnPreview})`, async () => {
                await resetMocks({ dryRun: true });
                const image = new MultiArchImage("api", { context: CONTEXT, builderName: new PendingBuilder("pending").name, buildOnPreview });
                await settle(...Object.values(image.images).map((i) => i.urn));
                assert.strictEqual(registered(IMAGE).length, 2);
                for (const r of registered(IMAGE)) {
                    assert.ok(pulumi.isUnknown(r.inputs.builder.name), `${r.name}: builder name`);
                    assert.ok(pulumi.isUnknown(r.inputs.tags[0]), `${r.name}: tags must be unknown, got ${r.inputs.tags}`);
                    assert.ok(pulumi.isUnknown(r.inputs.cacheFrom[0].registry.ref), `${r.name}: cacheFrom`);
                    assert.ok(pulumi.isUnknown(r.inputs.cacheTo[0].registry.ref), `${r.name}: cacheTo`);
                    assert.strictEqual(r.inputs.buildOnPreview, buildOnPreview ?? false);
                }
                assert.strictEqual(await (image.images["linux/arm64"].tags as unknown as { isKnown: Promise<boolean> }).isKnown, false);
            });
        }

        it("sends each image exactly its platform's inputs during a preview", async () => {
            await resetMocks({ dryRun: true });
            const image = new MultiArchImage("api", { context: CONTEXT, builderName: "shared" });
            await settle(image.repositoryUrl, image.indexRef);
            const cacheRef = `${REPO_URL}:cache-arm64`;
            assert.deepStrictEqual(reveal(theOne(IMAGE, "api-arm64").inputs), {
                buildOnPreview: false,
                builder: { name: "shared" },
                cacheFrom: [{ registry: { ref: cacheRef } }],
                cacheTo: [{ registry: { ref: cacheRef, mode: "max", imageManifest: true, ociMediaTypes: true } }],
                context: { location: portablePath(CONTEXT) },
                dockerfile: { location: path.join(portablePath(CONTEXT), "Dockerfile") },
                network: "default",
                platforms: ["linux/arm64"],
                push: true,
                registries: [{ address: REGISTRY, username: "AWS", password: ECR_PASSWORD }],
                tags: [`${REPO_URL}:latest-arm64`],
            });
            assert.deepStrictEqual(theOne(IMAGE, "api-arm64").options, {
                retainOnDelete: true,
                protect: undefined,
                deleteBeforeReplace: false,
                ignoreChanges: [],
                replaceOnChanges: [],
            });
        });

        // index.go Update sets the ref to the bare tag and returns before pushing when DryRun.
        it("reports the index digest as unknown during a preview, never the bare tag", async () => {
            await resetMocks({ dryRun: true });
            const image = new MultiArchImage("api", { context: CONTEXT, builderName: "shared" });
            assert.strictEqual(await promiseOf(image.indexRef), `${REPO_URL}:latest`);
            assert.strictEqual(await (image.indexDigest as unknown as { isKnown: Promise<boolean> }).isKnown, false);
        });
    });

    // A `pulumi refresh` reads the Index with the login of the state's inputs (step.go
    // RefreshStep.Apply), an ECR token that expires after 12 hours. ECR then answers 403,
    // which regclient makes ErrHTTPUnauthorized like a 401 (reghttp HTTPError), and
    // index.go Read keeps `Ref = Tag`, the bare tag, without failing. Every later `up` that
    // changes no source keeps that state: index.go Diff ignores the password and step.go
    // SameStep.Apply keeps the outputs. The mock's Index answers so; its repository is a
    // registry on 127.0.0.1 that serves the index to the ECR login of this run only.
    describe("after a refresh that read the index with an expired ECR token", () => {
        const BUILT = { "linux/amd64": fakeDigest("api-amd64"), "linux/arm64": fakeDigest("api-arm64") };
        let registry: IndexRegistry | undefined;
        afterEach(() => registry?.close());

        async function refreshedImage(
            served: Record<string, string>,
            { dryRun = false, refuse = false } = {},
        ): Promise<{ image: MultiArchImage; url: string }> {
            registry = await indexRegistry("multiarch/dev/api", "latest", served);
            registry.refuse = refuse;
            const host = registry.host;
            await resetMocks({
                dryRun,
                resources: {
                    [REPOSITORY]: ({ inputs }) => ({
                        ...inputs,
                        registryId: ACCOUNT,
                        arn: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${inputs.name}`,
                        repositoryUrl: `${host}/${inputs.name}`,
                    }),
                    [INDEX]: ({ inputs }) => ({ ...inputs, ref: inputs.tag }),
                },
            });
            return { image: new MultiArchImage("api", { context: CONTEXT, builderName: "shared" }), url: `${host}/multiarch/dev/api` };
        }

        it("pins indexRef and indexDigest to the index the tag names, read back with this up's ECR token, and says how to store it again", async () => {
            const { value, warnings } = await withWarnings(async () => {
                const { image, url } = await refreshedImage(BUILT);
                return { url, ref: await promiseOf(image.indexRef), digest: await promiseOf(image.indexDigest), secret: await pulumi.isSecret(image.indexRef) };
            });
            const served = registry!.digest;
            assert.strictEqual(value.ref, `${value.url}:latest@${served}`);
            assert.strictEqual(value.digest, served);
            assert.strictEqual(value.secret, false, "a digest read with the secret token is not secret");
            assert.deepStrictEqual(registry!.authorizations, [`Basic ${Buffer.from(`AWS:${ECR_PASSWORD}`).toString("base64")}`]);
            assert.deepStrictEqual(warnings, [
                `${refreshedState(value.url)}. \`indexRef\` and \`indexDigest\` are read back with this \`up\`'s login: ${served}, the index of this build's images. A \`pulumi refresh\` within 12 hours of this \`up\`, whose login the state now holds, stores the digest in the Index's state again`,
            ]);
        });

        it("reads nothing back during a preview, which keeps the bare tag and an unknown digest", async () => {
            const { value, warnings } = await withWarnings(async () => {
                const { image, url } = await refreshedImage(BUILT, { dryRun: true });
                return { url, ref: await promiseOf(image.indexRef), known: await (image.indexDigest as unknown as { isKnown: Promise<boolean> }).isKnown };
            });
            assert.strictEqual(value.ref, `${value.url}:latest`);
            assert.strictEqual(value.known, false);
            assert.deepStrictEqual(registry!.authorizations, []);
            assert.deepStrictEqual(warnings, []);
        });

        it("fails, naming both indexes and the command that pushes this build's again, when the tag names another build's index", async () => {
            const other = { "linux/amd64": fakeDigest("other-amd64"), "linux/arm64": fakeDigest("api-arm64") };
            const { image, url } = await refreshedImage(other);
            await assert.rejects((image.indexRef as unknown as { promise(): Promise<string> }).promise(), {
                message: `${refreshedState(url)}; the tag now names the index ${registry!.digest} of linux/amd64 ${other["linux/amd64"]}, linux/arm64 ${other["linux/arm64"]}, not this build's (linux/amd64 ${BUILT["linux/amd64"]}, linux/arm64 ${BUILT["linux/arm64"]}): something else moved it. Push this build's index again with \`pulumi up --replace 'urn:pulumi:dev::multiarch::multiarch:index:MultiArchImage$docker-build:index:Index::api-index'\``,
            });
        });

        it("fails with the registry's answer when the index cannot be read back", async () => {
            const { image, url } = await refreshedImage(BUILT, { refuse: true });
            const host = url.split("/")[0];
            await assert.rejects((image.indexRef as unknown as { promise(): Promise<string> }).promise(), {
                message: `${refreshedState(url)}; reading it back with this \`up\`'s login failed: authentication failed for registry ${host} as user "AWS": HTTP 403 reading manifest ${url}:latest (registry says: DENIED: Your authorization token has expired. Reauthenticate and try again.); check that this user may pull the repository`,
            });
        });
    });

    describe("an existing repository", () => {
        const url = "210987654321.dkr.ecr.eu-central-1.amazonaws.com/shared/api";
        function describing(setting: { imageTagMutability: string; imageTagMutabilityExclusionFilters?: { filter: string; filterType: string }[] }) {
            return {
                "aws:ecr/getRepository:getRepository": (inputs: Record<string, string>) => ({
                    id: inputs.name,
                    name: inputs.name,
                    registryId: inputs.registryId,
                    region: inputs.region,
                    repositoryUrl: url,
                    imageTagMutabilityExclusionFilters: [],
                    ...setting,
                }),
            };
        }
        async function failureOf(image: MultiArchImage): Promise<pulumi.InputPropertyError> {
            const resolved = (image.repositoryUrl as unknown as { promise(): Promise<string> }).promise();
            return resolved.then(
                () => assert.fail("expected repositoryUrl to fail"),
                (e: pulumi.InputPropertyError) => e,
            );
        }

        it("reads the repository's tag mutability at preview", async () => {
            await resetMocks({ dryRun: true });
            const image = await build({ repositoryUrl: url });
            assert.strictEqual(await promiseOf(image.repositoryUrl), url);
            const calls = invocations.filter((i) => i.token === "aws:ecr/getRepository:getRepository");
            assert.deepStrictEqual(
                calls.map((c) => c.inputs),
                [{ name: "shared/api", registryId: "210987654321", region: "eu-central-1" }],
            );
        });

        it("fails at preview, naming every tag, when the repository's tags are all immutable", async () => {
            await resetMocks({ dryRun: true, calls: describing({ imageTagMutability: "IMMUTABLE" }) });
            const image = new MultiArchImage("api", { context: CONTEXT, builderName: "shared", repositoryUrl: url, tag: "v1" });
            const error = await failureOf(image);
            assert.ok(pulumi.InputPropertyError.isInstance(error), `expected InputPropertyError, got ${error}`);
            assert.strictEqual(error.propertyPath, "repositoryUrl");
            assert.strictEqual(
                error.reason,
                `\`repositoryUrl\` is "${url}": the repository "shared/api" has image tag mutability IMMUTABLE, so ECR would refuse to move the tags ` +
                    '"v1", "v1-amd64", "v1-arm64", "cache-amd64", "cache-arm64", which every `pulumi up` moves to the new build: ' +
                    'make them mutable with the exclusion filters "v1", "v1-*", "cache-*" (`aws ecr put-image-tag-mutability --repository-name shared/api ' +
                    "--image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=v1 " +
                    "filterType=WILDCARD,filter=v1-* filterType=WILDCARD,filter=cache-*`), or use image tag mutability MUTABLE",
            );
            await new Promise((resolve) => setTimeout(resolve, 100));
            assert.deepStrictEqual(registered(IMAGE), [], "no image may reach the engine");
        });

        it("names only the tags its exclusion filters leave immutable", async () => {
            await resetMocks({
                dryRun: true,
                calls: describing({
                    imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
                    imageTagMutabilityExclusionFilters: [{ filter: "latest*", filterType: "WILDCARD" }],
                }),
            });
            const error = await failureOf(new MultiArchImage("api", { context: CONTEXT, builderName: "shared", repositoryUrl: url }));
            assert.match(
                error.reason,
                /has image tag mutability IMMUTABLE_WITH_EXCLUSION with the exclusion filters "latest\*", so ECR would refuse to move the tags "cache-amd64", "cache-arm64",/,
            );
            assert.match(
                error.reason,
                /make them mutable with the exclusion filters "cache-\*" \(`aws ecr put-image-tag-mutability .* filterType=WILDCARD,filter=latest\* filterType=WILDCARD,filter=cache-\*`\)/,
            );
        });

        it("counts cosign's signature tags among the moving tags when it signs", async () => {
            const filters = ["latest", "latest-*", "cache-*"].map((filter) => ({ filter, filterType: "WILDCARD" }));
            await resetMocks({
                dryRun: true,
                calls: describing({ imageTagMutability: "IMMUTABLE_WITH_EXCLUSION", imageTagMutabilityExclusionFilters: filters }),
            });
            const signing = { privateKey: pulumi.secret("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"), password: pulumi.secret("pw") };
            const error = await failureOf(new MultiArchImage("api", { context: CONTEXT, builderName: "shared", repositoryUrl: url, signing }));
            assert.match(error.reason, /so ECR would refuse to move the tags "sha256-0{64}\.sig",/);
            assert.match(error.reason, /make them mutable with the exclusion filters "sha256-\*"/);
        });

        it("names the exclusion filters that keep moving tags immutable in a mutable repository", async () => {
            await resetMocks({
                dryRun: true,
                calls: describing({
                    imageTagMutability: "MUTABLE_WITH_EXCLUSION",
                    imageTagMutabilityExclusionFilters: [
                        { filter: "v*", filterType: "WILDCARD" },
                        { filter: "release-*", filterType: "WILDCARD" },
                    ],
                }),
            });
            const error = await failureOf(
                new MultiArchImage("api", { context: CONTEXT, builderName: "shared", repositoryUrl: url, tag: "v2", cache: false, platforms: ["arm64"] }),
            );
            assert.match(
                error.reason,
                /so ECR would refuse to move the tags "v2", "v2-arm64", which every `pulumi up` moves to the new build: remove the exclusion filters "v\*" that match them$/,
            );
        });

        for (const setting of [
            { imageTagMutability: "MUTABLE" },
            {
                imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
                imageTagMutabilityExclusionFilters: [
                    { filter: "latest", filterType: "WILDCARD" },
                    { filter: "latest-*", filterType: "WILDCARD" },
                    { filter: "cache-*", filterType: "WILDCARD" },
                ],
            },
            { imageTagMutability: "MUTABLE_WITH_EXCLUSION", imageTagMutabilityExclusionFilters: [{ filter: "v*", filterType: "WILDCARD" }] },
        ]) {
            it(`accepts a repository with ${JSON.stringify(setting)}`, async () => {
                await resetMocks({ dryRun: true, calls: describing(setting) });
                const image = await build({ repositoryUrl: url });
                assert.strictEqual(await promiseOf(image.repositoryUrl), url);
                assert.deepStrictEqual(theOne(IMAGE, "api-amd64").inputs.tags, [`${url}:latest-amd64`]);
            });
        }
    });

    describe("a registry other than ECR", () => {
        const LOCAL_URL = "127.0.0.1:5000/team/api";
        const GHCR_URL = "ghcr.io/acme/api";
        const GHCR_TOKEN = "ghcr-token-not-for-logs";
        const KMS_ARN = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

        async function push(registry: MultiArchImageArgs["registry"], args: Partial<MultiArchImageArgs> = {}): Promise<MultiArchImage> {
            const image = new MultiArchImage("api", { context: CONTEXT, registry, ...args });
            await settle(image.platformRefs, image.indexRef, image.bakeFile, image.builderName, image.repositoryArn);
            return image;
        }

        function awsTouched(): string[] {
            return [
                ...registrations.filter((r) => r.type.startsWith("aws:")).map((r) => `resource ${r.type} ${r.name}`),
                ...invocations.filter((i) => i.token.startsWith("aws:")).map((i) => `invoke ${i.token}`),
            ];
        }

        it("pushes anonymously to a local registry, creating no AWS resource and making no AWS call", async () => {
            const image = await push({ repositoryUrl: LOCAL_URL });
            assert.deepStrictEqual(
                registrations.map((r) => `${r.type} ${r.name}`),
                [
                    "multiarch:index:MultiArchImage api",
                    "multiarch:index:BuildxBuilder api-builder",
                    `${DYNAMIC} api-builder-buildx`,
                    `${IMAGE} api-amd64`,
                    `${IMAGE} api-arm64`,
                    `${INDEX} api-index`,
                ],
            );
            assert.deepStrictEqual(awsTouched(), []);
            for (const arch of ["amd64", "arm64"]) {
                const inputs = theOne(IMAGE, `api-${arch}`).inputs;
                assert.deepStrictEqual(inputs.tags, [`${LOCAL_URL}:latest-${arch}`]);
                assert.deepStrictEqual(inputs.cacheFrom, [{ registry: { ref: `${LOCAL_URL}:cache-${arch}` } }]);
                assert.deepStrictEqual(inputs.cacheTo, [
                    { registry: { ref: `${LOCAL_URL}:cache-${arch}`, mode: "max", imageManifest: true, ociMediaTypes: true } },
                ]);
                assert.strictEqual(inputs.registries, undefined, "an anonymous push gives docker-build no login");
            }
            const index = theOne(INDEX, "api-index").inputs;
            assert.strictEqual(index.tag, `${LOCAL_URL}:latest`);
            assert.strictEqual(index.registry, undefined);
            assert.strictEqual(await promiseOf(image.repositoryUrl), LOCAL_URL);
            assert.strictEqual(await promiseOf(image.repositoryArn), "");
            assert.strictEqual(image.repository, undefined);
            assert.deepStrictEqual(await promiseOf(image.platformRefs), {
                "linux/amd64": `${LOCAL_URL}@${fakeDigest("api-amd64")}`,
                "linux/arm64": `${LOCAL_URL}@${fakeDigest("api-arm64")}`,
            });
        });

        it("logs docker-build in to the registry's host with the credentials given, the password secret", async () => {
            const image = await push({ repositoryUrl: GHCR_URL, username: "bot", password: GHCR_TOKEN }, { builderName: "shared" });
            const login = { address: "ghcr.io", username: "bot", password: GHCR_TOKEN };
            for (const r of registered(IMAGE)) {
                assert.ok(isSecretInput(r.inputs.registries), `${r.name}: the registry login must reach the engine as a secret`);
                assert.deepStrictEqual(reveal(r.inputs.registries), [login]);
            }
            const index = theOne(INDEX, "api-index").inputs;
            assert.ok(isSecretInput(index.registry), "the index's registry login must reach the engine as a secret");
            assert.deepStrictEqual(reveal(index.registry), login);
            assert.deepStrictEqual(
                registrations.flatMap((r) => leaks(r.inputs, GHCR_TOKEN, `${r.type} ${r.name}`)),
                [],
            );
            assert.strictEqual(await pulumi.isSecret(image.images["linux/amd64"].registries), true);
            assert.strictEqual(await pulumi.isSecret(image.index.registry), true);
            assert.deepStrictEqual(awsTouched(), []);
        });

        it("keeps the ARN of an ECR repository given as the registry, logging in with the credentials given and calling no AWS API", async () => {
            const url = `${REGISTRY}/team/api`;
            const image = await push({ repositoryUrl: url, username: "AWS", password: "a-token-from-elsewhere" }, { builderName: "shared" });
            assert.strictEqual(await promiseOf(image.repositoryArn), "arn:aws:ecr:us-west-2:123456789012:repository/team/api");
            assert.deepStrictEqual(reveal(theOne(IMAGE, "api-amd64").inputs.registries), [
                { address: REGISTRY, username: "AWS", password: "a-token-from-elsewhere" },
            ]);
            assert.deepStrictEqual(awsTouched(), []);
        });

        it("signs in the registry with the same login, or anonymously without one", async () => {
            await push({ repositoryUrl: GHCR_URL, username: "bot", password: GHCR_TOKEN }, { builderName: "shared", signing: { kmsKeyArn: KMS_ARN } });
            const signed = theOne(DYNAMIC, "api-signature").inputs;
            assert.deepStrictEqual(signed.refs, [
                `${GHCR_URL}@${fakeDigest("api-amd64")}`,
                `${GHCR_URL}@${fakeDigest("api-arm64")}`,
                `${GHCR_URL}:latest@${fakeDigest("api-index")}`,
            ]);
            assert.ok(isSecretInput(signed.registries), "the signature's registry login must be secret");
            assert.deepStrictEqual(reveal(signed.registries), [{ address: "ghcr.io", username: "bot", password: GHCR_TOKEN }]);

            await resetMocks();
            await push({ repositoryUrl: LOCAL_URL }, { builderName: "shared", signing: { kmsKeyArn: KMS_ARN } });
            assert.deepStrictEqual(theOne(DYNAMIC, "api-signature").inputs.registries, []);
            assert.deepStrictEqual(awsTouched(), []);
        });

        it("checks an Output repositoryUrl once known, with the same message", async () => {
            const image = new MultiArchImage("api", {
                context: CONTEXT,
                builderName: "shared",
                registry: { repositoryUrl: pulumi.output("https://ghcr.io/acme/api") },
            });
            const resolved = (image.repositoryUrl as unknown as { promise(): Promise<string> }).promise();
            await assert.rejects(resolved, (e: Error) => {
                assert.ok(pulumi.InputPropertyError.isInstance(e), `expected InputPropertyError, got ${e}`);
                assert.strictEqual((e as pulumi.InputPropertyError).propertyPath, "registry.repositoryUrl");
                assert.strictEqual(
                    (e as pulumi.InputPropertyError).reason,
                    '`registry.repositoryUrl` is "https://ghcr.io/acme/api": expected <host>[:port]/<path> without a scheme, e.g. "ghcr.io/acme/api"',
                );
                return true;
            });
        });

        const expected = (url: string, shape: string) =>
            `\`registry.repositoryUrl\` is "${url}": expected <host>[:port]/<path> ${shape}, e.g. "ghcr.io/acme/api"`;
        const both = (argument: string, what: string) =>
            `\`registry\` and \`${argument}\` are both given: \`registry\` pushes to the repository it names, \`${argument}\` ${what}; give one or the other`;
        const badUrls: [what: string, url: string, shape: string][] = [
            ["with a scheme", "https://ghcr.io/a", "without a scheme"],
            ["with a tag", `${LOCAL_URL}:v1`, "without a tag (the component adds its own)"],
            ["with a digest", `${GHCR_URL}@${fakeDigest("x")}`, "without a digest"],
            ["in upper case", "GHCR.io/acme/api", "in lowercase"],
            ["with whitespace", "ghcr.io/acme/ api", "without whitespace"],
            ["starting with -", "-ghcr.io/acme/api", 'not starting with "-"'],
            ["without a host", "acme/api", "with the registry's host first"],
            ["without a path", "ghcr.io:443", "with a path after the host"],
            [
                "with a malformed path",
                "ghcr.io/acme/-api",
                "of a host name or IP address and path components of lowercase letters and digits separated by . _ __ or -",
            ],
        ];
        const refused: [string, Partial<MultiArchImageArgs>, string, string][] = [
            ...badUrls.map(([what, url, shape]): [string, Partial<MultiArchImageArgs>, string, string] => [
                `a URL ${what}`,
                { registry: { repositoryUrl: url } },
                "registry.repositoryUrl",
                expected(url, shape),
            ]),
            [
                "a user name without a password",
                { registry: { repositoryUrl: GHCR_URL, username: "bot" } },
                "registry.password",
                '`registry.password` is undefined, but `registry.username` is "bot": give both to log in, or neither for an anonymous push',
            ],
            [
                "a password without a user name",
                { registry: { repositoryUrl: GHCR_URL, password: GHCR_TOKEN } },
                "registry.username",
                "`registry.username` is undefined, but `registry.password` is given (its value is not shown): give both to log in, or neither for an anonymous push",
            ],
            ["registry and repository", { registry: { repositoryUrl: GHCR_URL }, repository: {} }, "registry", both("repository", "creates an ECR repository")],
            [
                "registry and repositoryUrl",
                { registry: { repositoryUrl: GHCR_URL }, repositoryUrl: `${REGISTRY}/team/api` },
                "registry",
                both("repositoryUrl", "pushes to an existing ECR repository"),
            ],
            [
                "registry and pullPrincipals",
                { registry: { repositoryUrl: GHCR_URL }, pullPrincipals: ["210987654321"] },
                "registry",
                both("pullPrincipals", "is the policy of an ECR repository this component creates"),
            ],
        ];
        for (const [what, args, propertyPath, reason] of refused) {
            it(`refuses ${what} with the exact message, before any child exists`, () => {
                const error = errorOf(() => new MultiArchImage("bad", { context: CONTEXT, ...args }));
                assert.ok(pulumi.InputPropertiesError.isInstance(error), `expected InputPropertiesError, got ${error}`);
                assert.deepStrictEqual(error.errors, [{ propertyPath, reason }]);
                assert.strictEqual(error.message, `MultiArchImage "bad" has 1 invalid argument problem:\n  - ${reason}`);
                assert.ok(!error.message.includes(GHCR_TOKEN), "the message must not show the password");
                assert.deepStrictEqual(
                    registrations.filter((r) => r.type !== "multiarch:index:MultiArchImage"),
                    [],
                );
            });
        }

        it("accepts a registry host with a port, localhost and Docker Hub, and tags under the URL as given", async () => {
            const urls = [LOCAL_URL, "localhost:5000/api", "docker.io/acme/api", "registry.example.com/a/b/c", "harbor.internal:8443/team/api"];
            const images = urls.map(
                (repositoryUrl, i) => new MultiArchImage(`ok${i}`, { context: CONTEXT, builderName: "shared", registry: { repositoryUrl } }),
            );
            await settle(...images.map((image) => image.platformRefs));
            assert.deepStrictEqual(
                urls.map((_, i) => theOne(IMAGE, `ok${i}-amd64`).inputs.tags[0]),
                urls.map((url) => `${url}:latest-amd64`),
            );
        });
    });

    describe("bad input", () => {
        const cases: [string, Partial<MultiArchImageArgs>, string, RegExp][] = [
            ["a missing context", { context: "./no-such-dir" }, "context", /`context` is "\.\/no-such-dir": expected an existing directory/],
            ["a bad platform", { platforms: ["linux/amd65"] }, "platforms[0]", /`platforms\[0\]` is "linux\/amd65": expected os\/arch/],
            ["a bad tag", { tag: "v1 beta" }, "tag", /`tag` is "v1 beta": expected an image tag/],
            [
                "a bad repository name",
                { repository: { name: "Team/API" } },
                "repository.name",
                /`repository.name` is "Team\/API": expected 2 to 256 characters of lowercase/,
            ],
            [
                "both repository and repositoryUrl",
                { repository: {}, repositoryUrl: `${REGISTRY}/api` },
                "repository",
                /`repository` and `repositoryUrl` are both given/,
            ],
            [
                "a non-ECR repositoryUrl",
                { repositoryUrl: "docker.io/me/api" },
                "repositoryUrl",
                /`repositoryUrl` is "docker.io\/me\/api": expected the URL of an ECR repository/,
            ],
            [
                "a bad lifecycle",
                { repository: { lifecycle: { untaggedExpiryDays: 0 } } },
                "repository.lifecycle.untaggedExpiryDays",
                /is 0: expected a whole number of days from 1 to 3650/,
            ],
            ["a bad KMS key", { repository: { kmsKeyArn: "my-key" } }, "repository.kmsKeyArn", /`repository.kmsKeyArn` is "my-key": expected a KMS key ARN/],
            ["an empty builder name", { builderName: " " }, "builderName", /`builderName` is " ": expected the name of a buildx builder/],
            ["an ssh id with a comma", { ssh: [{ id: "a,b" }] }, "ssh[0].id", /`ssh\[0\].id` is "a,b": expected an id such as "default"/],
            [
                "a named context that is missing",
                { contexts: { base: "./no-such-base" } },
                "contexts.base",
                /`contexts.base` is "\.\/no-such-base": expected an existing directory/,
            ],
            ["an unknown network", { network: "bridge" as never }, "network", /`network` is "bridge": expected one of "default", "host", "none"/],
            ["an add-host without an ip", { addHosts: ["db.internal"] }, "addHosts[0]", /`addHosts\[0\]` is "db.internal": expected host:ip/],
            ["a pull that is no boolean", { pull: "yes" as never }, "pull", /`pull` is "yes": expected true or false/],
            [
                "a cache with two backends",
                { cacheTo: [{ inline: {}, local: { dest: "/c" } }] },
                "cacheTo[0]",
                /expected exactly one of inline, registry, local, s3, gha/,
            ],
            [
                "a cache with a credential",
                { cacheFrom: [{ gha: { token: "ghs_x" } as never }] },
                "cacheFrom[0].gha.token",
                /`cacheFrom\[0\].gha.token` is given: cache credentials are read from the environment/,
            ],
            [
                "a cache ref with a digest",
                { cacheFrom: [{ registry: { ref: "r.io/c@sha256:abc" } }] },
                "cacheFrom[0].registry.ref",
                /expected a repository with an optional tag and no digest/,
            ],
            [
                "an annotation value with a comma",
                { annotations: { title: "a,b" } },
                "annotations.title",
                /`annotations.title` is "a,b": expected a non-empty string without commas/,
            ],
        ];
        for (const [what, args, property, message] of cases) {
            it(`fails on ${what}, before any child exists`, () => {
                const error = errorOf(() => new MultiArchImage("bad", { context: CONTEXT, ...args }));
                assert.ok(pulumi.InputPropertiesError.isInstance(error), `expected InputPropertiesError, got ${error}`);
                assert.deepStrictEqual(
                    error.errors!.map((e) => e.propertyPath),
                    [property],
                );
                assert.match(error.message, message);
                assert.match(error.message, /^MultiArchImage "bad" has 1 invalid argument problem:/);
                assert.deepStrictEqual(
                    registrations.filter((r) => r.type !== "multiarch:index:MultiArchImage"),
                    [],
                );
            });
        }

        it("reports every problem together", () => {
            const error = errorOf(
                () =>
                    new MultiArchImage("bad", {
                        context: "/nope",
                        platforms: ["amd64", "x86_64"],
                        tag: ":",
                        repository: { name: "A" },
                        repositoryUrl: "x",
                    }),
            );
            assert.deepStrictEqual(
                error.errors!.map((e) => e.propertyPath),
                ["context", "platforms[1]", "tag", "repository", "repositoryUrl", "repository.name"],
            );
            assert.match(error.message, /has 6 invalid argument problems/);
        });

        it("fails when an Output repositoryUrl resolves to something that is not ECR", async () => {
            const image = new MultiArchImage("bad", { context: CONTEXT, builderName: "b", repositoryUrl: pulumi.output("quay.io/me/api") });
            const resolved = (image.repositoryUrl as unknown as { promise(): Promise<string> }).promise();
            await assert.rejects(resolved, (e: Error) => {
                assert.ok(pulumi.InputPropertyError.isInstance(e), `expected InputPropertyError, got ${e}`);
                assert.strictEqual((e as pulumi.InputPropertyError).propertyPath, "repositoryUrl");
                assert.match(e.message, /`repositoryUrl` is "quay.io\/me\/api": expected the URL of an ECR repository/);
                return true;
            });
        });
    });
});

/** Why the index is read back: the first half of its warning or error. */
function refreshedState(url: string): string {
    return `docker-build's state of the index "${url}:latest" has no digest: a \`pulumi refresh\` read it with the registry login an earlier \`up\` recorded, which the registry refused (an ECR token expires after 12 hours), and kept the bare tag (index.go Read)`;
}

/** What `fn` resolves to, and every warning the program logged meanwhile. */
async function withWarnings<T>(fn: () => Promise<T>): Promise<{ value: T; warnings: string[] }> {
    const warnings: string[] = [];
    const original = pulumi.log.warn;
    (pulumi.log as { warn: typeof pulumi.log.warn }).warn = async (message: string) => {
        warnings.push(message);
    };
    try {
        return { value: await fn(), warnings };
    } finally {
        (pulumi.log as { warn: typeof pulumi.log.warn }).warn = original;
    }
}

/** A registry on 127.0.0.1 serving one image index, and what it was asked. */
interface IndexRegistry {
    host: string;
    /** The served index's digest. */
    digest: string;
    /** The Authorization header of each request. */
    authorizations: (string | undefined)[];
    /** Answer 403 to every request from now on, as ECR does to an expired token. */
    refuse: boolean;
    close(): Promise<void>;
}

/** Serves an OCI index of `platforms` (platform → manifest digest) at `<repository>:<tag>`. */
async function indexRegistry(repository: string, tag: string, platforms: Record<string, string>): Promise<IndexRegistry> {
    const body = JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: Object.entries(platforms).map(([platform, digest]) => {
            const [os, architecture] = platform.split("/");
            return { mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size: 1024, platform: { os, architecture } };
        }),
    });
    const served: IndexRegistry = {
        host: "",
        digest: `sha256:${crypto.createHash("sha256").update(body).digest("hex")}`,
        authorizations: [],
        refuse: false,
        close: async () => undefined,
    };
    const server = http.createServer((req, res) => {
        served.authorizations.push(req.headers.authorization);
        if (served.refuse || req.url !== `/v2/${repository}/manifests/${tag}`) {
            res.writeHead(403, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ errors: [{ code: "DENIED", message: "Your authorization token has expired. Reauthenticate and try again." }] }));
            return;
        }
        res.writeHead(200, { "Content-Type": "application/vnd.oci.image.index.v1+json", "Docker-Content-Digest": served.digest });
        res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    served.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    served.close = () =>
        new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
        });
    return served;
}
