// PromotedImage and pull across accounts under mocks: the exact resources and inputs on
// both sides (the build account's repository policy, the destination's repository and
// copy, the hosts' policy for a foreign repository), and the copy's own logic with a
// stand-in docker CLI where only a stand-in can show what happens in between.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { DockerOutput, RunOptions } from "../../../sdk/clients/docker";
import { MultiArchImage } from "../../../sdk/components/multiArchImage";
import { CopySpec, copyImage, diffCopy, dockerConfigJson } from "../../../sdk/clients/imageCopy";
import { PromotedImage, PromotedImageArgs } from "../../../sdk/components/promotedImage";
import { SourceResolver, planCopy, useSourceResolver } from "../../../sdk/components/promotionCopy";
import { VmDeployment } from "../../../sdk/components/vmDeployment";
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
import { errorOf } from "../../helpers";
import { hostResult } from "../../dynamicHost";

const CONTEXT = fixture("hello");
const BUILD_ACCOUNT = "111111111111";
const BUILD_REGION = "us-east-1";
const BUILD_REGISTRY = `${BUILD_ACCOUNT}.dkr.ecr.${BUILD_REGION}.amazonaws.com`;
const BUILD_REPO = `${BUILD_REGISTRY}/build/api`;
const INDEX_DIGEST = fakeDigest("index");
const DIGESTS = { "linux/amd64": fakeDigest("amd64"), "linux/arm64": fakeDigest("arm64") };
const INDEX_REF = `${BUILD_REPO}:v1@${INDEX_DIGEST}`;
const PLATFORM_REFS = { "linux/amd64": `${BUILD_REPO}@${DIGESTS["linux/amd64"]}`, "linux/arm64": `${BUILD_REPO}@${DIGESTS["linux/arm64"]}` };
const DEST_REPO = `${REGISTRY}/multiarch/dev/api`;

const REPOSITORY = "aws:ecr/repository:Repository";
const LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy";
const REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy";
const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
const GET_TOKEN = "aws:ecr/getAuthorizationToken:getAuthorizationToken";
const PUBLIC_KEY = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();

/** Answers as a registry holding the build's index and its platform manifests would. */
const buildRegistry: SourceResolver = async (reference) => {
    const digest = reference.slice(reference.indexOf("@") + 1);
    if (digest === INDEX_DIGEST) {
        return { reference, digest, mediaType: "application/vnd.oci.image.index.v1+json", isIndex: true, platforms: { ...DIGESTS }, attestations: [] };
    }
    const platform = Object.keys(DIGESTS).find((p) => DIGESTS[p as keyof typeof DIGESTS] === digest);
    if (platform === undefined) {
        throw new Error(`not found: ${reference}`);
    }
    return { reference, digest, mediaType: "application/vnd.oci.image.manifest.v1+json", isIndex: false, platforms: { [platform]: digest }, attestations: [] };
};

/**
 * Answers as the registry of a MultiArchImage of this program would: its index, whatever
 * the reference, noting each login the reads came with in `logins`.
 */
function servingBuild(indexRef: string, platforms: Record<string, string>, logins: (string | undefined)[] = []): SourceResolver {
    return async (reference, login) => {
        logins.push(login && `${login.registry} ${login.username}`);
        const digest = indexRef.slice(indexRef.indexOf("@") + 1);
        return { reference, digest, mediaType: "application/vnd.oci.image.index.v1+json", isIndex: true, platforms, attestations: [] };
    };
}

/** The copy answers as its provider would after copying: what the destination serves. */
async function mockEngine(): Promise<void> {
    await resetMocks({
        resources: {
            [DYNAMIC]: ({ inputs }) =>
                inputs.spec === undefined
                    ? { ...inputs, key: "a key" }
                    : {
                          ...inputs,
                          indexDigest: inputs.spec.indexDigest ?? fakeDigest("new index"),
                          platformDigests: inputs.spec.platformDigests,
                          copied: true,
                      },
        },
    });
}

async function promote(args: PromotedImageArgs, name = "api", opts?: pulumi.ComponentResourceOptions): Promise<PromotedImage> {
    const promoted = new PromotedImage(name, args, opts);
    await settle(promoted.platformRefs, promoted.indexRef, promoted.repositoryArn);
    return promoted;
}

describe("PromotedImage", () => {
    beforeEach(async () => {
        await mockEngine();
        useSourceResolver(buildRegistry);
    });
    afterEach(() => useSourceResolver(undefined));

    it("creates the destination repository with the safe defaults, the moving tag alone mutable", async () => {
        await promote({ indexRef: INDEX_REF, tag: "prod" });
        assert.strictEqual(theOne("multiarch:index:PromotedImage", "api").custom, false);
        assert.deepStrictEqual(theOne(REPOSITORY, "api-repo").inputs, {
            name: "multiarch/dev/api",
            forceDelete: false,
            imageScanningConfiguration: { scanOnPush: true },
            imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters: [{ filter: "prod", filterType: "WILDCARD" }],
            encryptionConfigurations: [{ encryptionType: "AES256" }],
        });
        assert.strictEqual(theOne(REPOSITORY, "api-repo").options.retainOnDelete, true, "destroy leaves the repository production runs from");
        assert.strictEqual(theOne(LIFECYCLE, "api-lifecycle").options.retainOnDelete, true);
        const lifecycle = JSON.parse(theOne(LIFECYCLE, "api-lifecycle").inputs.policy);
        assert.deepStrictEqual(lifecycle.rules[0].selection, { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 14 });
    });

    it("copies another stack's index byte for byte, with both registries' credentials as a secret", async () => {
        const promoted = await promote({ indexRef: INDEX_REF, tag: "prod" });
        const copy = theOne(DYNAMIC, "api-copy");
        assert.deepStrictEqual(copy.inputs.spec, {
            sources: [`${BUILD_REPO}@${INDEX_DIGEST}`],
            destination: `${DEST_REPO}:prod`,
            platformDigests: DIGESTS,
            indexDigest: INDEX_DIGEST,
        });
        assert.strictEqual(isSecretInput(copy.inputs.spec), false);
        assert.strictEqual(isSecretInput(copy.inputs.logins), true);
        assert.deepStrictEqual(reveal(copy.inputs.logins), [
            { registry: REGISTRY, username: "AWS", password: ECR_PASSWORD },
            { registry: BUILD_REGISTRY, username: "AWS", password: ECR_PASSWORD },
        ]);
        assert.match(copy.inputs.__provider, /exports\.handler/);
        const inClear = (value: unknown): unknown =>
            isSecretInput(value)
                ? "[secret]"
                : Array.isArray(value)
                  ? value.map(inClear)
                  : typeof value === "object" && value !== null
                    ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inClear(v)]))
                    : value;
        assert.deepStrictEqual(
            registrations.filter((r) => JSON.stringify(inClear(r.inputs)).includes(ECR_PASSWORD)).map((r) => r.name),
            [],
            "the ECR password is in no registered input but the secret logins",
        );
        // A token for each registry, from this component's (the destination's) AWS provider.
        assert.deepStrictEqual(
            invocations
                .filter((i) => i.token === GET_TOKEN)
                .map((i) => `${i.inputs.registryId} ${i.inputs.region}`)
                .sort(),
            [`${BUILD_ACCOUNT} ${BUILD_REGION}`, `${ACCOUNT} undefined`],
        );

        assert.deepStrictEqual(promoted.platforms, ["linux/amd64", "linux/arm64"]);
        assert.deepStrictEqual(await promiseOf(promoted.platformDigests), DIGESTS);
        assert.deepStrictEqual(await promiseOf(promoted.platformRefs), {
            "linux/amd64": `${DEST_REPO}@${DIGESTS["linux/amd64"]}`,
            "linux/arm64": `${DEST_REPO}@${DIGESTS["linux/arm64"]}`,
        });
        assert.strictEqual(await promiseOf(promoted.indexRef), `${DEST_REPO}:prod@${INDEX_DIGEST}`);
        assert.strictEqual(await promiseOf(promoted.indexDigest), INDEX_DIGEST);
        assert.strictEqual(await promiseOf(promoted.repositoryArn), `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/multiarch/dev/api`);
        assert.strictEqual(await promiseOf(promoted.refFor("aarch64")), `${DEST_REPO}@${DIGESTS["linux/arm64"]}`);
        assert.throws(() => promoted.refFor("s390x"), /refFor\("s390x"\): this image was promoted for linux\/amd64, linux\/arm64 only, not linux\/s390x/);
    });

    it("promotes a MultiArchImage of the same program into an existing repository of another region", async () => {
        const image = new MultiArchImage("build", { context: CONTEXT, builderName: "shared", tag: "v1" });
        await settle(image.indexRef);
        const buildIndex = await promiseOf(image.indexRef);
        const buildDigests = await promiseOf(image.platformDigests);
        useSourceResolver(servingBuild(buildIndex, buildDigests));
        const existing = `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/prod/api`;
        const promoted = await promote({ image, repositoryUrl: existing, tag: "prod" }, "prod");
        assert.deepStrictEqual(
            registered(REPOSITORY).map((r) => r.name),
            ["build-repo"],
            "an existing repository is not created",
        );
        assert.deepStrictEqual(theOne(DYNAMIC, "prod-copy").inputs.spec.sources, [buildIndex.replace(":v1@", "@")]);
        assert.deepStrictEqual(reveal(theOne(DYNAMIC, "prod-copy").inputs.logins), [
            { registry: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`, username: "AWS", password: ECR_PASSWORD },
            { registry: REGISTRY, username: "AWS", password: ECR_PASSWORD },
        ]);
        assert.strictEqual(await promiseOf(promoted.repositoryArn), `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/prod/api`);
        assert.deepStrictEqual(await promiseOf(promoted.platformDigests), buildDigests);
    });

    // A preview that rebuilds the source: its digest is unknown, so the copy's spec, which
    // waits for it, reaches the dynamic-provider host as the placeholder.
    it("plans an update of the copy, run as the dynamic-provider host runs it, while a source of the same program is unknown", async () => {
        await promote({ indexRef: INDEX_REF, tag: "prod" });
        const copy = theOne(DYNAMIC, "api-copy");
        const state = { spec: copy.inputs.spec, indexDigest: INDEX_DIGEST, platformDigests: DIGESTS, copied: true };
        const logins = reveal(copy.inputs.logins);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-copy-diff-"));
        try {
            const diff = (news: unknown) => hostResult(dir, copy.inputs.__provider, "diff", ["id", state, news]);
            const update = { changes: true, replaces: [], deleteBeforeReplace: false };
            assert.deepStrictEqual(await diff({ spec: pulumi.runtime.unknownValue, logins }), update);
            assert.deepStrictEqual(await diff({ spec: { ...state.spec, sources: [pulumi.runtime.unknownValue] }, logins }), update);
            assert.deepStrictEqual(await diff({ spec: state.spec, logins: pulumi.runtime.unknownValue }), { ...update, changes: false });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses an existing repository whose tag ECR would not move, naming the fix", async () => {
        await resetMocks({
            calls: {
                "aws:ecr/getRepository:getRepository": (inputs) => ({
                    id: inputs.name,
                    name: inputs.name,
                    registryId: inputs.registryId,
                    imageTagMutability: "IMMUTABLE",
                    imageTagMutabilityExclusionFilters: [],
                }),
            },
        });
        const promoted = new PromotedImage("api", { indexRef: INDEX_REF, repositoryUrl: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/prod/api`, tag: "prod" });
        const error = await new Promise<Error>((resolve) =>
            (promoted.repositoryUrl as unknown as { promise(): Promise<unknown> }).promise().then(
                () => resolve(new Error("no error")),
                (e: Error) => resolve(e),
            ),
        );
        assert.match(
            error.message,
            /`repositoryUrl` is ".*prod\/api": the repository "prod\/api" has image tag mutability IMMUTABLE, so ECR would refuse to move the tags "prod"/,
        );
    });

    it("runs on a VmDeployment unchanged: the hosts pull the promoted digest from the destination alone", async () => {
        const promoted = await promote({ platformRefs: PLATFORM_REFS, tag: "prod" });
        assert.deepStrictEqual(theOne(DYNAMIC, "api-copy").inputs.spec, {
            sources: [PLATFORM_REFS["linux/amd64"], PLATFORM_REFS["linux/arm64"]],
            destination: `${DEST_REPO}:prod`,
            platformDigests: DIGESTS,
        });
        const vm = new VmDeployment("web", { image: promoted, instanceType: "t4g.small" });
        await settle(vm.userData);
        assert.strictEqual(await promiseOf(vm.imageRef), `${DEST_REPO}@${DIGESTS["linux/arm64"]}`);
        const policy = JSON.parse(theOne("aws:iam/rolePolicy:RolePolicy", "web-host-policy").inputs.policy);
        assert.deepStrictEqual(
            policy.Statement.find((s: { Sid: string }) => s.Sid === "PullTheImage").Resource,
            `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/multiarch/dev/api`,
        );
    });

    it("refuses bad arguments before anything is created, all together", () => {
        const error = errorOf(
            () =>
                new PromotedImage("api", {
                    indexRef: `${BUILD_REPO}:v1`,
                    platformRefs: { "linux/amd65": "x", "linux/arm64": `${BUILD_REPO}:latest` },
                    platforms: ["linux/amd64", "linux/amd64"],
                    tag: "v1 beta",
                    repository: { name: "Team/API" },
                    repositoryUrl: "docker.io/team/api",
                }),
        );
        assert.strictEqual(
            error.message,
            [
                'PromotedImage "api" has 8 invalid argument problems:',
                `  - \`indexRef\` is "${BUILD_REPO}:v1": expected an index pinned by digest, <repository>[:<tag>]@sha256:<64 hex>, such as a MultiArchImage's \`indexRef\``,
                '  - `platformRefs` has the key "linux/amd65": expected os/arch[/variant] or an architecture, one of linux/386, linux/amd64, linux/arm, linux/arm64, linux/mips64, linux/mips64le, linux/ppc64le, linux/riscv64, linux/s390x (aliases such as x86_64, aarch64 and linux/arm64/v8 are accepted)',
                `  - \`platformRefs["linux/arm64"]\` is "${BUILD_REPO}:latest": expected an image pinned by digest, <repository>@sha256:<64 hex>, not a tag`,
                '  - `platforms[1]` is "linux/amd64": duplicates [0] (both are linux/amd64); list each platform once',
                '  - `tag` is "v1 beta": expected an image tag: letters, digits, _ . - (not first), at most 128 characters (ECR\'s rule), e.g. "prod"',
                '  - `repository` and `repositoryUrl` are both given ("docker.io/team/api"): give `repository` to create a repository, or `repositoryUrl` to copy into an existing one, not both',
                '  - `repositoryUrl` is "docker.io/team/api": expected the URL of an ECR repository, <account>.dkr.ecr.<region>.amazonaws.com/<name>, e.g. "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/api"',
            ].join("\n") +
                '\n  - `repository.name` is "Team/API": ' +
                'expected 2 to 256 characters of lowercase letters, digits and . _ - separators, with / between namespaces (ECR\'s rule), e.g. "team/api"',
        );
        assert.strictEqual(registered(REPOSITORY).length, 0);
        assert.match(errorOf(() => new PromotedImage("api", {})).message, /none of `image`, `indexRef` and `platformRefs` is given/);
    });

    it("checks the settings of the repository it creates as MultiArchImage does", () => {
        const error = errorOf(
            () =>
                new PromotedImage("api", {
                    indexRef: INDEX_REF,
                    repository: { forceDelete: "yes" as unknown as boolean, scanOnPush: 1 as unknown as boolean, kmsKeyArn: "alias/mine" },
                }),
        );
        assert.strictEqual(
            error.message,
            [
                'PromotedImage "api" has 3 invalid argument problems:',
                '  - `repository.forceDelete` is "yes": expected true or false',
                "  - `repository.scanOnPush` is 1: expected true or false",
                '  - `repository.kmsKeyArn` is "alias/mine": expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id>',
            ].join("\n"),
        );
        assert.strictEqual(registered(REPOSITORY).length, 0);
    });

    describe("requireSignature", () => {
        const KMS_ARN = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";

        it("verifies every source digest the copy tags, and the copy waits for every check and carries their signatures", async () => {
            const promoted = await promote({ indexRef: INDEX_REF, tag: "prod", requireSignature: { publicKey: PUBLIC_KEY } });
            const checks = registered(DYNAMIC).filter((r) => r.name.startsWith("api-signature-check"));
            assert.deepStrictEqual(
                checks.map((c) => [c.name, c.inputs.ref, c.inputs.publicKey, c.inputs.context]),
                [
                    ["api-signature-check-linux-amd64", `${BUILD_REPO}@${DIGESTS["linux/amd64"]}`, PUBLIC_KEY, 'PromotedImage "api"'],
                    ["api-signature-check-linux-arm64", `${BUILD_REPO}@${DIGESTS["linux/arm64"]}`, PUBLIC_KEY, 'PromotedImage "api"'],
                    ["api-signature-check-index", `${BUILD_REPO}@${INDEX_DIGEST}`, PUBLIC_KEY, 'PromotedImage "api"'],
                ],
            );
            for (const check of checks) {
                assert.strictEqual(check.inputs.kmsKeyArn, undefined);
                // The source's credentials: the destination account's token for the build's ECR registry, secret.
                assert.deepStrictEqual(reveal(check.inputs.registries), [{ address: BUILD_REGISTRY, username: "AWS", password: ECR_PASSWORD }]);
                assert.ok(isSecretInput(check.inputs.registries));
            }
            const copy = theOne(DYNAMIC, "api-copy");
            assert.deepStrictEqual(
                copy.dependencies
                    .map((urn) => urn.slice(urn.lastIndexOf("::") + 2))
                    .filter((n) => n.includes("signature-check"))
                    .sort(),
                ["api-signature-check-index", "api-signature-check-linux-amd64", "api-signature-check-linux-arm64"],
            );
            assert.deepStrictEqual(reveal(copy.inputs.spec).signatures, [
                `${BUILD_REPO}@${DIGESTS["linux/amd64"]}`,
                `${BUILD_REPO}@${DIGESTS["linux/arm64"]}`,
                `${BUILD_REPO}@${INDEX_DIGEST}`,
            ]);
            assert.ok(!JSON.stringify(reveal(copy.inputs.spec)).includes(ECR_PASSWORD), "the spec holds no credential");
            assert.deepStrictEqual(theOne(REPOSITORY, "api-repo").inputs.imageTagMutabilityExclusionFilters, [
                { filter: "prod", filterType: "WILDCARD" },
                { filter: "sha256-*", filterType: "WILDCARD" },
            ]);
            assert.strictEqual(await promiseOf(promoted.indexRef), `${DEST_REPO}:prod@${INDEX_DIGEST}`);
        });

        it("checks only the platform digests when a new index is made, with a KMS key", async () => {
            await promote({ platformRefs: PLATFORM_REFS, platforms: ["linux/arm64"], requireSignature: { kmsKeyArn: KMS_ARN } });
            const checks = registered(DYNAMIC).filter((r) => r.name.startsWith("api-signature-check"));
            assert.deepStrictEqual(
                checks.map((c) => [c.name, c.inputs.ref, c.inputs.kmsKeyArn, c.inputs.publicKey]),
                [["api-signature-check-linux-arm64", PLATFORM_REFS["linux/arm64"], KMS_ARN, undefined]],
            );
            assert.deepStrictEqual(reveal(theOne(DYNAMIC, "api-copy").inputs.spec).signatures, [PLATFORM_REFS["linux/arm64"]]);
        });

        it("adds no check and copies no signature without it", async () => {
            await promote({ indexRef: INDEX_REF, tag: "prod" });
            assert.deepStrictEqual(
                registered(DYNAMIC).map((r) => r.name),
                ["api-copy"],
            );
            assert.strictEqual(reveal(theOne(DYNAMIC, "api-copy").inputs.spec).signatures, undefined);
            assert.ok(!theOne(DYNAMIC, "api-copy").dependencies.some((urn) => urn.includes("signature-check")));
        });

        it("refuses a requirement without exactly one valid key, before anything is created", async () => {
            for (const [requirement, expected] of [
                [{}, /`requireSignature` needs exactly one key/],
                [{ publicKey: PUBLIC_KEY, kmsKeyArn: KMS_ARN }, /`requireSignature` needs exactly one key/],
                [{ publicKey: "nope" }, /`requireSignature.publicKey` is "nope": expected a PEM public key/],
                [{ kmsKeyArn: "arn:aws:kms:x" }, /`requireSignature.kmsKeyArn` is "arn:aws:kms:x": expected a KMS key ARN/],
            ] as const) {
                await mockEngine();
                const error = errorOf(() => new PromotedImage("api", { indexRef: INDEX_REF, requireSignature: requirement as never }));
                assert.match(error.message, expected);
                assert.match(error.message, /PromotedImage "api"/);
                assert.strictEqual(registered(REPOSITORY).length, 0);
                assert.strictEqual(registered(DYNAMIC).length, 0);
            }
        });
    });

    // Whoever may kms:UpdateAlias could point an alias at a key of their own, and its
    // signatures would pass the promotion: the anchor is the key itself.
    it("refuses a KMS alias as the key to verify with, before anything is created", async () => {
        await mockEngine();
        const alias = "arn:aws:kms:us-east-1:111111111111:alias/release-signing";
        const error = errorOf(() => new PromotedImage("api", { indexRef: INDEX_REF, requireSignature: { kmsKeyArn: alias } }));
        assert.strictEqual(
            error.message,
            'PromotedImage "api" has 1 invalid argument problem:\n' +
                `  - \`requireSignature.kmsKeyArn\` is "${alias}": expected a key ARN, arn:aws:kms:<region>:<account>:key/<id>, or a public key, not an alias: whoever may kms:UpdateAlias could point it at another key`,
        );
        assert.deepStrictEqual(
            registrations.filter((r) => r.custom),
            [],
        );
    });

    describe("into a registry other than ECR", () => {
        const SOURCE_HOST = "registry.multiarch.test:5443";
        const SOURCE_URL = `${SOURCE_HOST}/src/app`;
        const SOURCE_LOGIN = { username: "multiarch", password: "source-password-not-for-logs" };
        const DESTINATION_URL = "127.0.0.1:5000/prod/app";
        const LOCAL_REFS = {
            "linux/amd64": `127.0.0.1:5000/build/api@${DIGESTS["linux/amd64"]}`,
            "linux/arm64": `127.0.0.1:5000/build/api@${DIGESTS["linux/arm64"]}`,
        };

        /** Every AWS resource the program registered and every AWS function it called. */
        const touchedAws = () => [
            ...registrations.filter((r) => r.type.startsWith("aws:")).map((r) => r.name),
            ...invocations.filter((i) => i.token.startsWith("aws:")).map((i) => i.token),
        ];

        it("copies a MultiArchImage of another registry into a local one: the checks and the copy its only children, nothing of AWS", async () => {
            const image = new MultiArchImage("build", {
                context: CONTEXT,
                builderName: "shared",
                tag: "v1",
                registry: { repositoryUrl: SOURCE_URL, ...SOURCE_LOGIN },
            });
            await settle(image.indexRef, image.platformDigests);
            const buildIndex = await promiseOf(image.indexRef);
            const indexDigest = buildIndex.slice(buildIndex.indexOf("@") + 1);
            const buildDigests = await promiseOf(image.platformDigests);
            const sourceReads: (string | undefined)[] = [];
            useSourceResolver(servingBuild(buildIndex, buildDigests, sourceReads));
            const before = registrations.length;

            const promoted = await promote({
                image,
                sourceCredentials: SOURCE_LOGIN,
                registry: { repositoryUrl: DESTINATION_URL },
                tag: "prod",
                requireSignature: { publicKey: PUBLIC_KEY },
            });
            assert.deepStrictEqual(
                registrations
                    .slice(before)
                    .map((r) => `${r.type} ${r.name}`)
                    .sort(),
                [
                    "multiarch:index:PromotedImage api",
                    `${DYNAMIC} api-copy`,
                    `${DYNAMIC} api-signature-check-index`,
                    `${DYNAMIC} api-signature-check-linux-amd64`,
                    `${DYNAMIC} api-signature-check-linux-arm64`,
                ],
            );
            assert.deepStrictEqual(touchedAws(), [], "no AWS resource and no AWS call, for the build or the promotion");

            const source = `${SOURCE_URL}@${indexDigest}`;
            const copy = theOne(DYNAMIC, "api-copy");
            assert.deepStrictEqual(copy.inputs.spec, {
                sources: [source],
                destination: `${DESTINATION_URL}:prod`,
                platformDigests: buildDigests,
                indexDigest,
                signatures: [...Object.values(buildDigests).map((digest) => `${SOURCE_URL}@${digest}`), source],
            });
            // The anonymous destination has no login; the source's reaches imagetools and cosign, secret.
            assert.ok(isSecretInput(copy.inputs.logins));
            assert.deepStrictEqual(reveal(copy.inputs.logins), [{ registry: SOURCE_HOST, ...SOURCE_LOGIN }]);
            assert.deepStrictEqual(sourceReads, [`${SOURCE_HOST} multiarch`], "the plan reads the source with its own login");
            for (const check of registered(DYNAMIC).filter((r) => r.name.startsWith("api-signature-check"))) {
                assert.ok(isSecretInput(check.inputs.registries), `${check.name}: the source login must be secret`);
                assert.deepStrictEqual(reveal(check.inputs.registries), [{ address: SOURCE_HOST, ...SOURCE_LOGIN }]);
            }
            assert.deepStrictEqual(
                registrations.flatMap((r) => leaks(r.inputs, SOURCE_LOGIN.password, `${r.type} ${r.name}`)),
                [],
            );

            assert.strictEqual(promoted.repository, undefined);
            assert.strictEqual(await promiseOf(promoted.repositoryUrl), DESTINATION_URL);
            assert.strictEqual(await promiseOf(promoted.repositoryArn), "");
            assert.strictEqual(await promiseOf(promoted.indexRef), `${DESTINATION_URL}:prod@${indexDigest}`);
            assert.deepStrictEqual(
                await promiseOf(promoted.platformRefs),
                Object.fromEntries(Object.entries(buildDigests).map(([platform, digest]) => [platform, `${DESTINATION_URL}@${digest}`])),
            );
        });

        it("logs in to the destination with the credentials given, the password secret in every registered input", async () => {
            const token = "ghcr-token-not-for-logs";
            const promoted = await promote({
                platformRefs: LOCAL_REFS,
                registry: { repositoryUrl: "ghcr.io/acme/prod", username: "bot", password: token },
                requireSignature: { publicKey: PUBLIC_KEY },
            });
            const copy = theOne(DYNAMIC, "api-copy");
            assert.ok(isSecretInput(copy.inputs.logins));
            assert.deepStrictEqual(reveal(copy.inputs.logins), [{ registry: "ghcr.io", username: "bot", password: token }]);
            assert.deepStrictEqual(
                registrations.flatMap((r) => leaks(r.inputs, token, `${r.type} ${r.name}`)),
                [],
            );
            // The anonymous source's checks get no login, the destination's least of all.
            assert.deepStrictEqual(
                registered(DYNAMIC)
                    .filter((r) => r.name.startsWith("api-signature-check"))
                    .map((r) => reveal(r.inputs.registries)),
                [[], []],
            );
            assert.strictEqual(copy.inputs.spec.destination, "ghcr.io/acme/prod:latest");
            assert.strictEqual(await promiseOf(promoted.repositoryArn), "");
            assert.deepStrictEqual(touchedAws(), []);
        });

        it("keeps the ARN of an ECR repository given as the registry, calling no AWS API for it", async () => {
            const promoted = await promote({
                platformRefs: LOCAL_REFS,
                registry: { repositoryUrl: DEST_REPO, username: "AWS", password: "a-token-from-elsewhere" },
            });
            assert.strictEqual(await promiseOf(promoted.repositoryArn), `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/multiarch/dev/api`);
            assert.deepStrictEqual(reveal(theOne(DYNAMIC, "api-copy").inputs.logins), [
                { registry: REGISTRY, username: "AWS", password: "a-token-from-elsewhere" },
            ]);
            assert.deepStrictEqual(touchedAws(), []);
        });

        it("logs in once per host: a source on the destination's host is copied with the destination's login, and checked with its own", async () => {
            const reads: (string | undefined)[] = [];
            useSourceResolver(servingBuild(`${SOURCE_URL}:v1@${INDEX_DIGEST}`, DIGESTS, reads));
            await promote({
                indexRef: `${SOURCE_URL}:v1@${INDEX_DIGEST}`,
                sourceCredentials: { username: "reader", password: "reader-password" },
                registry: { repositoryUrl: `${SOURCE_HOST}/prod/app`, username: "writer", password: "writer-password" },
                requireSignature: { publicKey: PUBLIC_KEY },
            });
            assert.deepStrictEqual(reveal(theOne(DYNAMIC, "api-copy").inputs.logins), [
                { registry: SOURCE_HOST, username: "writer", password: "writer-password" },
            ]);
            assert.deepStrictEqual(reads, [`${SOURCE_HOST} writer`], "the plan reads the source as the copy will");
            for (const check of registered(DYNAMIC).filter((r) => r.name.startsWith("api-signature-check"))) {
                assert.deepStrictEqual(reveal(check.inputs.registries), [{ address: SOURCE_HOST, username: "reader", password: "reader-password" }]);
            }
        });
    });
});

describe("planCopy", () => {
    const destination = `${DEST_REPO}:prod`;

    it("fails before anything is copied when the source lacks a needed platform", async () => {
        await assert.rejects(planCopy({ indexRef: INDEX_REF }, ["linux/amd64", "linux/s390x"], destination, [], buildRegistry), {
            message: `cannot promote to ${destination}, nothing was copied:\n  - the source index ${BUILD_REPO}@${INDEX_DIGEST} has no linux/s390x (it has linux/amd64, linux/arm64): build the image for linux/s390x, or leave it out of \`platforms\``,
        });
    });

    it("fails when platform refs and the index are not of the same build", async () => {
        const other = fakeDigest("another build");
        await assert.rejects(
            planCopy({ indexRef: INDEX_REF, platformRefs: { "linux/amd64": `${BUILD_REPO}@${other}` } }, ["linux/amd64"], destination, [], buildRegistry),
            {
                message: `cannot promote to ${destination}, nothing was copied:\n  - \`platformRefs["linux/amd64"]\` is ${other}, but the source index ${BUILD_REPO}@${INDEX_DIGEST} serves ${DIGESTS["linux/amd64"]} for linux/amd64: pass refs of the same build`,
            },
        );
    });

    it("fails when a platform ref is the index, or another platform's image", async () => {
        await assert.rejects(
            planCopy(
                { platformRefs: { "linux/amd64": `${BUILD_REPO}@${INDEX_DIGEST}`, "linux/arm64": PLATFORM_REFS["linux/amd64"] } },
                ["linux/amd64", "linux/arm64"],
                destination,
                [],
                buildRegistry,
            ),
            (error: Error) => {
                assert.match(
                    error.message,
                    /`platformRefs\["linux\/amd64"\]` \S+ is an index \(of linux\/amd64, linux\/arm64\), not one platform's image: pass it as `indexRef`/,
                );
                assert.match(
                    error.message,
                    /`platformRefs\["linux\/arm64"\]` \S+ is a linux\/amd64 image, not linux\/arm64: it was built for another platform/,
                );
                return true;
            },
        );
    });

    it("reads each source with the login of its own registry only", async () => {
        const seen: [string, string | undefined][] = [];
        const logins = [
            { registry: REGISTRY, username: "AWS", password: "destination" },
            { registry: BUILD_REGISTRY, username: "AWS", password: "source" },
        ];
        await planCopy({ platformRefs: PLATFORM_REFS }, ["linux/amd64"], destination, logins, async (reference, login) => {
            seen.push([reference, login?.password]);
            return buildRegistry(reference, login);
        });
        assert.deepStrictEqual(seen, [[PLATFORM_REFS["linux/amd64"], "source"]]);
    });
});

describe("MultiArchImage pullPrincipals", () => {
    beforeEach(() => resetMocks());

    it("grants other accounts and roles the three pull actions only, in a repository policy", async () => {
        const image = new MultiArchImage("api", {
            context: CONTEXT,
            builderName: "shared",
            pullPrincipals: ["210987654321", "arn:aws:iam::310987654321:role/deploy"],
        });
        await settle(image.indexRef);
        const policy = theOne(REPOSITORY_POLICY, "api-pull-policy");
        assert.strictEqual(policy.inputs.repository, "multiarch/dev/api");
        assert.strictEqual(policy.options.retainOnDelete, true, "other accounts keep pulling what they pin after destroy");
        assert.deepStrictEqual(JSON.parse(policy.inputs.policy), {
            Version: "2012-10-17",
            Statement: [
                {
                    Sid: "PullFromOtherAccounts",
                    Effect: "Allow",
                    Principal: { AWS: ["210987654321", "arn:aws:iam::310987654321:role/deploy"] },
                    Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                },
            ],
        });
    });

    it("creates no repository policy without pullPrincipals", async () => {
        const image = new MultiArchImage("api", { context: CONTEXT, builderName: "shared" });
        await settle(image.indexRef);
        assert.deepStrictEqual(registered(REPOSITORY_POLICY), []);
    });

    it("refuses a principal that is neither an account nor a role, and an existing repository", () => {
        assert.match(
            errorOf(() => new MultiArchImage("api", { context: CONTEXT, builderName: "shared", pullPrincipals: ["*", "21098765432"] })).message,
            /`pullPrincipals\[0\]` is "\*": expected a 12-digit AWS account id or an IAM role\/user ARN.*\n.*`pullPrincipals\[1\]` is "21098765432": expected a 12-digit/,
        );
        assert.match(
            errorOf(
                () => new MultiArchImage("api", { context: CONTEXT, builderName: "shared", repositoryUrl: `${DEST_REPO}`, pullPrincipals: ["210987654321"] }),
            ).message,
            /`pullPrincipals` is given with `repositoryUrl`: the policy of an existing repository is not this component's/,
        );
    });
});

describe("VmDeployment of another account's image", () => {
    beforeEach(() => resetMocks());

    it("covers the foreign repository in the hosts' policy and logs in to that registry and region", async () => {
        const vm = new VmDeployment("api", { platformRefs: PLATFORM_REFS, instanceType: "t3.small" });
        await settle(vm.userData);
        const policy = JSON.parse(theOne("aws:iam/rolePolicy:RolePolicy", "api-host-policy").inputs.policy);
        assert.deepStrictEqual(
            policy.Statement.find((s: { Sid: string }) => s.Sid === "PullTheImage"),
            {
                Sid: "PullTheImage",
                Effect: "Allow",
                Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                Resource: `arn:aws:ecr:${BUILD_REGION}:${BUILD_ACCOUNT}:repository/build/api`,
            },
        );
        const userData = await promiseOf(vm.userData);
        assert.match(userData, new RegExp(`^readonly REGISTRY='?${BUILD_REGISTRY.replace(/\./g, "\\.")}'?$`, "m"));
        assert.match(userData, new RegExp(`^readonly REGISTRY_REGION='?${BUILD_REGION}'?$`, "m"));
        assert.strictEqual(await promiseOf(vm.imageRef), PLATFORM_REFS["linux/amd64"]);
    });
});

describe("the copy", () => {
    const logins = [
        { registry: REGISTRY, username: "AWS", password: "destination-password" },
        { registry: BUILD_REGISTRY, username: "AWS", password: "source-password" },
    ];

    const rawIndex = (platforms: Record<string, string>) =>
        JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.index.v1+json",
            manifests: Object.entries(platforms).map(([p, digest]) => ({ digest, platform: { os: "linux", architecture: p.split("/")[1] } })),
        });
    const digestOf = (text: string) => `sha256:${crypto.createHash("sha256").update(text).digest("hex")}`;
    // Platform manifests whose sha256 is their digest, as the stand-in serves them by digest.
    const manifests: Record<string, string> = { amd64: '{"amd64":1}', arm64: '{"arm64":1}' };
    const platformDigests = { "linux/amd64": digestOf(manifests.amd64), "linux/arm64": digestOf(manifests.arm64) };
    const byDigest: Record<string, string> = { [platformDigests["linux/amd64"]]: manifests.amd64, [platformDigests["linux/arm64"]]: manifests.arm64 };
    const copied = rawIndex(platformDigests);

    /**
     * A docker CLI stand-in: the destination tag serves `before` until imagetools create
     * runs and `after` from then on; platform manifests are served by digest.
     */
    function standIn(before: string | undefined, after: string, onCreate: (options: RunOptions) => void = () => undefined) {
        const calls: { argv: string[]; options: RunOptions }[] = [];
        let served = before;
        const run = async (argv: string[], options: RunOptions = {}): Promise<DockerOutput> => {
            calls.push({ argv, options });
            if (argv[2] === "create") {
                onCreate(options);
                served = after;
                return { stdout: "", stderr: "" };
            }
            const ref = argv[argv.length - 1];
            const body = ref.includes("@") ? byDigest[ref.slice(ref.indexOf("@") + 1)] : served;
            if (body === undefined) {
                throw Object.assign(new Error("not found"), { stderr: `ERROR: ${ref}: not found` });
            }
            return { stdout: body, stderr: "" };
        };
        return { run, calls };
    }
    const spec: CopySpec = { sources: [`${BUILD_REPO}@${INDEX_DIGEST}`], destination: `${DEST_REPO}:prod`, platformDigests, indexDigest: digestOf(copied) };

    it("hands imagetools both logins in a private DOCKER_CONFIG, never in argv, and removes it", async () => {
        let seen: { dir: string; mode: number; fileMode: number; json: unknown } | undefined;
        const { run, calls } = standIn(undefined, copied, (options) => {
            const dir = options.env!.DOCKER_CONFIG!;
            seen = {
                dir,
                mode: fs.statSync(dir).mode & 0o777,
                fileMode: fs.statSync(path.join(dir, "config.json")).mode & 0o777,
                json: JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")),
            };
        });
        await copyImage(spec, logins, run);
        assert.ok(seen, "imagetools create ran");
        assert.strictEqual(seen.mode, 0o700);
        assert.strictEqual(seen.fileMode, 0o600);
        assert.deepStrictEqual(seen.json, {
            auths: {
                [REGISTRY]: { auth: Buffer.from("AWS:destination-password").toString("base64") },
                [BUILD_REGISTRY]: { auth: Buffer.from("AWS:source-password").toString("base64") },
            },
        });
        assert.strictEqual(dockerConfigJson(logins), JSON.stringify(seen.json));
        assert.strictEqual(fs.existsSync(seen.dir), false, "the DOCKER_CONFIG directory is removed");
        assert.ok(
            calls.every((c) => c.options.env?.DOCKER_CONFIG === seen!.dir),
            "every call uses the throwaway config",
        );
        assert.ok(!JSON.stringify(calls.map((c) => c.argv)).includes("password"), "no password in any argv");
    });

    it("removes the DOCKER_CONFIG directory when the copy fails", async () => {
        let dir = "";
        const failing = async (_argv: string[], options: RunOptions = {}): Promise<DockerOutput> => {
            dir = options.env!.DOCKER_CONFIG!;
            throw Object.assign(new Error("`docker buildx imagetools inspect` failed: 401 Unauthorized"), { stderr: "401 Unauthorized" });
        };
        await assert.rejects(copyImage(spec, logins, failing), /401 Unauthorized/);
        assert.ok(dir !== "" && !fs.existsSync(dir));
    });

    it("sends nothing when the destination already serves exactly this image", async () => {
        const { run, calls } = standIn(copied, copied);
        assert.deepStrictEqual(await copyImage(spec, logins, run), { indexDigest: digestOf(copied), platformDigests, copied: false });
        assert.deepStrictEqual(
            calls.map((c) => c.argv),
            [["buildx", "imagetools", "inspect", "--raw", "--", `${DEST_REPO}:prod`]],
        );
    });

    it("copies when the tag points elsewhere, then reads the tag and every platform's manifest back", async () => {
        const { run, calls } = standIn(rawIndex({ "linux/amd64": fakeDigest("old") }), copied);
        assert.deepStrictEqual(await copyImage(spec, logins, run), { indexDigest: digestOf(copied), platformDigests, copied: true });
        assert.deepStrictEqual(
            calls.map((c) => c.argv.slice(2)),
            [
                ["inspect", "--raw", "--", `${DEST_REPO}:prod`],
                ["create", "--tag", `${DEST_REPO}:prod`, "--", `${BUILD_REPO}@${INDEX_DIGEST}`],
                ["inspect", "--raw", "--", `${DEST_REPO}:prod`],
                ["inspect", "--raw", "--", `${DEST_REPO}@${platformDigests["linux/amd64"]}`],
                ["inspect", "--raw", "--", `${DEST_REPO}@${platformDigests["linux/arm64"]}`],
            ],
        );
    });

    it("fails when the destination does not serve the source's digests after the copy", async () => {
        const { run } = standIn(undefined, rawIndex({ "linux/amd64": platformDigests["linux/amd64"] }));
        await assert.rejects(copyImage(spec, logins, run), {
            message:
                `copied ${BUILD_REPO}@${INDEX_DIGEST} to ${DEST_REPO}:prod, but reading it back found:\n` +
                `  - ${DEST_REPO}:prod is ${digestOf(rawIndex({ "linux/amd64": platformDigests["linux/amd64"] }))}, not the source index ${digestOf(copied)}\n` +
                `  - linux/arm64 is missing at ${DEST_REPO}:prod, not ${platformDigests["linux/arm64"]}\n` +
                `Do not deploy from ${DEST_REPO}:prod; run \`pulumi up\` again to copy it anew`,
        });
    });

    it("runs again only when the source or destination changed, never for new credentials, and never replaces", () => {
        const renewed = { spec: { ...spec }, logins: [{ ...logins[0], password: "a new ECR token" }] };
        assert.deepStrictEqual(diffCopy({ spec }, renewed), { changes: false });
        assert.deepStrictEqual(diffCopy({ spec }, { spec: { ...spec, indexDigest: fakeDigest("rebuilt"), platformDigests: { ...DIGESTS } } }), {
            changes: true,
        });
        assert.deepStrictEqual(diffCopy({ spec }, { spec: { ...spec, destination: `${DEST_REPO}:prod-2` } }), { changes: true });
    });
});
