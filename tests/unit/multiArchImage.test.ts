import * as assert from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MultiArchImage, MultiArchImageArgs } from "../../sdk/multiArchImage";
import {
    ECR_PASSWORD,
    REGISTRY,
    fakeDigest,
    invocations,
    isSecretInput,
    promiseOf,
    registered,
    registrations,
    resetMocks,
    reveal,
    settle,
    theOne,
} from "../mocks";

const CONTEXT = path.join(__dirname, "..", "fixtures", "hello");
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

function errorOf(fn: () => unknown): Error & { errors?: { propertyPath: string; reason: string }[] } {
    try {
        fn();
    } catch (e) {
        return e as Error;
    }
    throw new Error("expected an error");
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
        assert.deepStrictEqual(arm.context, { location: CONTEXT });
        assert.deepStrictEqual(arm.dockerfile, { location: path.join(CONTEXT, "Dockerfile") });
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
        const warnings: string[] = [];
        const original = pulumi.log.warn;
        (pulumi.log as { warn: typeof pulumi.log.warn }).warn = async (message: string) => {
            warnings.push(message);
        };
        try {
            await build({ buildArgs: { VERSION: "1", GITHUB_TOKEN: "ghp_value" } });
        } finally {
            (pulumi.log as { warn: typeof pulumi.log.warn }).warn = original;
        }
        assert.strictEqual(warnings.length, 1);
        assert.match(warnings[0], /build arg "GITHUB_TOKEN" looks like a credential/);
        assert.match(warnings[0], /pass it in `secrets`/);
        assert.ok(!warnings[0].includes("ghp_value"));
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
