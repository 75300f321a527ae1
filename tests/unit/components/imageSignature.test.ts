// Signing under mocks: the exact ImageSignature and SignatureCheck resources and their
// inputs, that no key material reaches a non-secret input or output, the repository
// settings signatures need, and how the cosign runner hands keys and credentials over
// (checked with a stand-in `cosign` that records what it was given).
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { lifecyclePolicy, mutableTagFilters } from "../../../sdk/rules/ecr";
import { MultiArchImage, MultiArchImageArgs } from "../../../sdk/components/multiArchImage";
import {
    PROVENANCE_PREDICATE_TYPE,
    describeKey,
    digestRef,
    keyIdOf,
    publicKeyFingerprint,
    runCosign,
    signatureTag,
    signingKeyProblems,
    verificationFailure,
} from "../../../sdk/clients/cosign";
import { VmDeployment } from "../../../sdk/components/vmDeployment";
import {
    ECR_PASSWORD,
    ECR_TOKEN,
    REGISTRY,
    fakeDigest,
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
import { hostCall, hostResult } from "../../dynamicHost";

const CONTEXT = fixture("hello");
const REPO_URL = `${REGISTRY}/multiarch/dev/api`;
const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
const KMS_ARN = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const ALIAS_ARN = "arn:aws:kms:us-west-2:123456789012:alias/release-signing";
/** How an alias is refused as the key to verify with: it can be repointed. */
const ALIAS_REFUSED =
    "expected a key ARN, arn:aws:kms:<region>:<account>:key/<id>, or a public key, not an alias: whoever may kms:UpdateAlias could point it at another key";
// A made-up key in the shape `cosign generate-key-pair` writes; only its text matters here.
const PRIVATE_KEY = `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${crypto.randomBytes(300).toString("base64")}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`;
const KEY_BODY = PRIVATE_KEY.split("\n")[1];
const PASSWORD = "cosign-password-never-shown";
const PUBLIC_KEY = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();

async function build(args: Partial<MultiArchImageArgs> = {}): Promise<MultiArchImage> {
    const image = new MultiArchImage("api", { context: CONTEXT, builderName: "shared", ...args });
    await settle(image.platformRefs, image.indexRef, image.bakeFile);
    return image;
}

describe("MultiArchImage signing", () => {
    beforeEach(() => resetMocks());

    it("adds one ImageSignature over every platform digest and the index, the key and password secret", async () => {
        await build({ signing: { privateKey: PRIVATE_KEY, password: PASSWORD } });
        const signature = theOne(DYNAMIC, "api-signature");
        assert.deepStrictEqual(
            registered(DYNAMIC).map((r) => r.name),
            ["api-signature"],
        );
        const inputs = signature.inputs;
        assert.deepStrictEqual(inputs.refs, [
            `${REPO_URL}@${fakeDigest("api-amd64")}`,
            `${REPO_URL}@${fakeDigest("api-arm64")}`,
            `${REPO_URL}:latest@${fakeDigest("api-index")}`,
        ]);
        assert.ok(isSecretInput(inputs.privateKey), "privateKey is secret");
        assert.ok(isSecretInput(inputs.password), "password is secret");
        assert.strictEqual(reveal(inputs.privateKey), PRIVATE_KEY);
        assert.strictEqual(reveal(inputs.password), PASSWORD);
        assert.strictEqual(inputs.kmsKeyArn, undefined);
        assert.strictEqual(inputs.provenance, undefined);
        // The registry credentials reach the engine as one secret.
        assert.ok(isSecretInput(inputs.registries), "the registry credentials are secret");
        assert.deepStrictEqual(reveal(inputs.registries), [{ address: REGISTRY, username: "AWS", password: ECR_PASSWORD }]);
        assert.strictEqual(typeof inputs.__provider, "string", "a dynamic resource carries its serialised provider");
    });

    it("signs with a KMS key by ARN, with no private key or password", async () => {
        await build({ signing: { kmsKeyArn: KMS_ARN } });
        const inputs = theOne(DYNAMIC, "api-signature").inputs;
        assert.strictEqual(inputs.kmsKeyArn, KMS_ARN);
        assert.strictEqual(inputs.privateKey, undefined);
        assert.strictEqual(inputs.password, undefined);
    });

    it("adds no signature resource without `signing`", async () => {
        const image = await build();
        assert.deepStrictEqual(registered(DYNAMIC), []);
        assert.strictEqual(image.signingPublicKey, undefined);
    });

    it("attests a provenance predicate of facts only: build arg names, never their values", async () => {
        await build({
            signing: { kmsKeyArn: KMS_ARN, provenance: true },
            buildArgs: { VERSION: "1.2.3", API_TOKEN: pulumi.secret("token-value") },
            target: "runtime",
        });
        const provenance = reveal(theOne(DYNAMIC, "api-signature").inputs.provenance);
        const dockerfile = path.join(CONTEXT, "Dockerfile");
        assert.deepStrictEqual(provenance, {
            predicateType: PROVENANCE_PREDICATE_TYPE,
            predicate: {
                buildType: "multiarch:index:MultiArchImage",
                context: { hash: fakeDigest("ctx-api-amd64") },
                dockerfile: { path: dockerfile, digest: `sha256:${crypto.createHash("sha256").update(fs.readFileSync(dockerfile)).digest("hex")}` },
                buildArgNames: ["API_TOKEN", "VERSION"],
                target: "runtime",
                platforms: ["linux/amd64", "linux/arm64"],
                builder: "shared",
                repository: REPO_URL,
                platformDigests: { "linux/amd64": fakeDigest("api-amd64"), "linux/arm64": fakeDigest("api-arm64") },
                indexDigest: fakeDigest("api-index"),
            },
        });
        assert.ok(!JSON.stringify(provenance).includes("1.2.3") && !JSON.stringify(provenance).includes("token-value"));
    });

    it("puts no key material or registry password in any non-secret input or output", async () => {
        // Given as plain strings, as a careless program would: the component makes them secret.
        const image = await build({ signing: { privateKey: PRIVATE_KEY, password: PASSWORD, provenance: true } });
        const outputs = await promiseOf(
            pulumi.all([image.platformRefs, image.indexRef, image.bakeFile, image.platformDigests, image.repositoryUrl, image.signingPublicKey ?? ""]),
        );
        for (const secret of [KEY_BODY, PASSWORD, ECR_PASSWORD, ECR_TOKEN]) {
            const found = registrations.flatMap((r) => leaks(r.inputs, secret, `${r.type} ${r.name}`));
            assert.deepStrictEqual(found, [], `${secret.slice(0, 8)}… leaks`);
            assert.ok(!JSON.stringify(outputs).includes(secret));
        }
    });

    it("refuses bad signing arguments before anything is created, never showing a key", () => {
        const cases: [MultiArchImageArgs["signing"], RegExp][] = [
            [{}, /`signing` needs exactly one key: `kmsKeyArn` .* or `privateKey` .*, and has neither/],
            [{ kmsKeyArn: KMS_ARN, privateKey: PRIVATE_KEY }, /`signing` needs exactly one key: .*not both/],
            [{ kmsKeyArn: "alias/mine" }, /`signing.kmsKeyArn` is "alias\/mine": expected a KMS key ARN/],
            [{ privateKey: "not a key but a secret value" }, /`signing.privateKey` is not a PEM private key \(its value is not shown\)/],
            [{ kmsKeyArn: KMS_ARN, password: PASSWORD }, /`signing.password` goes with `privateKey`/],
        ];
        for (const [signing, expected] of cases) {
            const error = errorOf(() => new MultiArchImage("api", { context: CONTEXT, builderName: "shared", signing }));
            assert.match(error.message, expected);
            assert.ok(!error.message.includes("secret value") && !error.message.includes(PASSWORD) && !error.message.includes(KEY_BODY));
        }
        assert.deepStrictEqual(registrations, []);
    });

    it("signs with a KMS key named by its alias", async () => {
        await build({ signing: { kmsKeyArn: ALIAS_ARN } });
        assert.strictEqual(theOne(DYNAMIC, "api-signature").inputs.kmsKeyArn, ALIAS_ARN);
    });

    it("refuses a tag in cosign's sha256- namespace", () => {
        const error = errorOf(() => new MultiArchImage("api", { context: CONTEXT, builderName: "shared", tag: "sha256-abc" }));
        assert.match(error.message, /`tag` is "sha256-abc": expected a tag that does not start with "sha256-": cosign keeps signatures under those tags/);
    });
});

describe("VmDeployment requireSignature", () => {
    beforeEach(() => resetMocks());
    const ref = `${REGISTRY}/team/api@${fakeDigest("amd64")}`;

    it("verifies the digest it pins, with a token for the image's registry, before the launch template", async () => {
        const LaunchTemplate = aws.ec2.LaunchTemplate;
        let launchTemplateOptions: pulumi.CustomResourceOptions | undefined;
        Object.defineProperty(aws.ec2, "LaunchTemplate", {
            configurable: true,
            value: class extends LaunchTemplate {
                constructor(name: string, args: aws.ec2.LaunchTemplateArgs, opts?: pulumi.CustomResourceOptions) {
                    launchTemplateOptions = opts;
                    super(name, args, opts);
                }
            },
        });
        try {
            const vm = new VmDeployment("api", { platformRefs: { "linux/amd64": ref }, requireSignature: { publicKey: PUBLIC_KEY } });
            await settle(vm.userData, vm.launchTemplateId);
        } finally {
            Object.defineProperty(aws.ec2, "LaunchTemplate", { configurable: true, value: LaunchTemplate });
        }
        const check = theOne(DYNAMIC, "api-signature-check").inputs;
        assert.strictEqual(check.ref, ref);
        assert.strictEqual(check.publicKey, PUBLIC_KEY);
        assert.strictEqual(check.kmsKeyArn, undefined);
        assert.strictEqual(check.context, 'VmDeployment "api"');
        assert.deepStrictEqual(reveal(check.registries), [{ address: REGISTRY, username: "AWS", password: ECR_PASSWORD }]);
        assert.ok(isSecretInput(check.registries));
        const dependsOn = launchTemplateOptions?.dependsOn as pulumi.Resource[];
        assert.strictEqual(dependsOn.length, 1);
        assert.match(await promiseOf(dependsOn[0].urn), /::api-signature-check$/);
    });

    it("adds no check without requireSignature", async () => {
        const vm = new VmDeployment("api", { platformRefs: { "linux/amd64": ref } });
        await settle(vm.userData);
        // The one dynamic resource is the rollout wait.
        assert.deepStrictEqual(
            registered(DYNAMIC).map((r) => r.name),
            ["api-rollout"],
        );
    });

    it("refuses a requirement with no key, two keys or a bad one", () => {
        const cases: [object, RegExp][] = [
            [{}, /`requireSignature` needs exactly one key/],
            [{ publicKey: PUBLIC_KEY, kmsKeyArn: KMS_ARN }, /`requireSignature` needs exactly one key/],
            [{ publicKey: "nope" }, /`requireSignature.publicKey` is "nope": expected a PEM public key/],
            [{ kmsKeyArn: "key/1" }, /`requireSignature.kmsKeyArn` is "key\/1": expected a KMS key ARN/],
        ];
        for (const [requireSignature, expected] of cases) {
            const error = errorOf(() => new VmDeployment("api", { platformRefs: { "linux/amd64": ref }, requireSignature }));
            assert.match(error.message, expected);
        }
    });

    // Whoever may kms:UpdateAlias could point the alias at a key of their own, and hosts
    // would run what it signed: the anchor is the key itself.
    it("refuses a KMS alias as the key to verify with, before anything is created", () => {
        const error = errorOf(() => new VmDeployment("api", { platformRefs: { "linux/amd64": ref }, requireSignature: { kmsKeyArn: ALIAS_ARN } }));
        assert.strictEqual(
            error.message,
            `VmDeployment "api" has 1 invalid argument problem:\n  - \`requireSignature.kmsKeyArn\` is "${ALIAS_ARN}": ${ALIAS_REFUSED}`,
        );
        assert.deepStrictEqual(
            registrations.filter((r) => r.custom),
            [],
        );
    });
});

// An alias known only once another resource exists (an aws.kms.Alias's `arn`) passes the
// constructor's check; the serialised check refuses it before cosign runs.
describe("the signature check's provider, run as the dynamic-provider host runs it", function () {
    this.timeout(60000);
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-signature-check-"))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("refuses a KMS alias that arrives as an output, verifying nothing", async () => {
        await resetMocks();
        const ref = `${REGISTRY}/team/api@${fakeDigest("amd64")}`;
        const vm = new VmDeployment("api", { platformRefs: { "linux/amd64": ref }, requireSignature: { kmsKeyArn: pulumi.output(KMS_ARN) } });
        await settle(vm.userData, vm.launchTemplateId);
        const providerText = theOne(DYNAMIC, "api-signature-check").inputs.__provider;
        // No cosign on PATH: a refusal that ran cosign would say it is missing instead.
        fs.mkdirSync(path.join(dir, "empty"), { recursive: true });
        const inputs = { ref, kmsKeyArn: ALIAS_ARN, registries: [], context: 'VmDeployment "api"' };
        for (const op of ["create", "update"]) {
            const run = await hostCall(dir, providerText, op, op === "create" ? [inputs] : ["id", { ref, kmsKeyArn: KMS_ARN, key: "k" }, inputs], {
                PATH: path.join(dir, "empty"),
                HOME: dir,
            });
            assert.strictEqual(run.code, 1, run.stdout);
            assert.strictEqual(
                run.stderr.trim(),
                `VmDeployment "api": \`requireSignature.kmsKeyArn\` is "${ALIAS_ARN}": ${ALIAS_REFUSED}; nothing was verified`,
            );
        }
    });
});

/** ECR's WILDCARD filter: `*` matches any run of characters. */
function matchesFilter(tag: string, filter: string): boolean {
    return new RegExp(
        `^${filter
            .split("*")
            .map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, "\\$&"))
            .join(".*")}$`,
    ).test(tag);
}

/** Which images an ECR lifecycle policy's rules select, by the rules' tag selection. */
function selectedBy(policy: string, image: { tags: string[] }): boolean {
    return JSON.parse(policy).rules.some((rule: { selection: { tagStatus: string; tagPrefixList?: string[] } }) => {
        const status = rule.selection.tagStatus;
        if (status === "untagged") {
            return image.tags.length === 0;
        }
        if (status === "any") {
            return true;
        }
        return image.tags.some((t) => (rule.selection.tagPrefixList ?? []).some((p) => t.startsWith(p)));
    });
}

// A preview after a change to the app: docker-build reports each rebuilt image's digest
// as unknown, and the dynamic-provider host hands each unknown to `diff` as the
// placeholder, a whole input or one element of it.
describe("the signing providers' diff in a preview, run as the dynamic-provider host runs it", function () {
    this.timeout(60000);
    const UNKNOWN = pulumi.runtime.unknownValue;
    const UPDATE = { changes: true, replaces: [], deleteBeforeReplace: false };
    const refs = [`${REPO_URL}@${fakeDigest("api-amd64")}`, `${REPO_URL}@${fakeDigest("api-arm64")}`, `${REPO_URL}@${fakeDigest("api-index")}`];
    let dir: string;

    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-signing-diff-"))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    async function signatureProviderText(): Promise<string> {
        await resetMocks();
        await build({ signing: { kmsKeyArn: KMS_ARN } });
        return theOne(DYNAMIC, "api-signature").inputs.__provider;
    }

    async function checkProviderText(): Promise<string> {
        await resetMocks();
        const vm = new VmDeployment("api", { platformRefs: { "linux/amd64": refs[0] }, requireSignature: { publicKey: PUBLIC_KEY } });
        await settle(vm.userData, vm.launchTemplateId);
        return theOne(DYNAMIC, "api-signature-check").inputs.__provider;
    }

    const signed = { refs, keyId: keyIdOf({ kmsKeyArn: KMS_ARN }), publicKey: PUBLIC_KEY, signatureTags: refs.map(signatureTag) };
    const signatureNews = (newRefs: unknown) => ({
        refs: newRefs,
        kmsKeyArn: KMS_ARN,
        registries: [{ address: REGISTRY, username: "AWS", password: UNKNOWN }],
    });

    it("plans an update of the signature when every digest is unknown", async () => {
        assert.deepStrictEqual(await hostResult(dir, await signatureProviderText(), "diff", ["id", signed, signatureNews(UNKNOWN)]), UPDATE);
    });

    it("plans an update of the signature when one digest is unknown", async () => {
        assert.deepStrictEqual(
            await hostResult(dir, await signatureProviderText(), "diff", ["id", signed, signatureNews([refs[0], refs[1], UNKNOWN])]),
            UPDATE,
        );
    });

    it("plans nothing for known, unchanged digests whose registry credentials are unknown", async () => {
        assert.deepStrictEqual(await hostResult(dir, await signatureProviderText(), "diff", ["id", signed, signatureNews(refs)]), {
            ...UPDATE,
            changes: false,
        });
    });

    it("plans an update of the signature check when the digest or the public key is unknown", async () => {
        const providerText = await checkProviderText();
        const verified = { ref: refs[0], publicKey: PUBLIC_KEY, key: describeKey({ publicKey: PUBLIC_KEY }) };
        const news = { ref: refs[0], publicKey: PUBLIC_KEY, registries: [], context: 'VmDeployment "api"' };
        assert.deepStrictEqual(await hostResult(dir, providerText, "diff", ["id", verified, { ...news, ref: UNKNOWN }]), UPDATE);
        assert.deepStrictEqual(await hostResult(dir, providerText, "diff", ["id", verified, { ...news, publicKey: UNKNOWN }]), UPDATE);
        assert.deepStrictEqual(await hostResult(dir, providerText, "diff", ["id", verified, news]), { ...UPDATE, changes: false });
    });
});

describe("the repository with signatures", () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const sig = signatureTag(`${REPO_URL}@${digest}`);

    it("lets cosign move its signature and attestation tags under tag immutability", () => {
        const filters = mutableTagFilters("latest").map((f) => f.filter);
        assert.strictEqual(sig, `sha256-${"ab".repeat(32)}.sig`);
        for (const tag of [sig, sig.replace(/\.sig$/, ".att")]) {
            assert.ok(
                filters.some((f) => matchesFilter(tag, f)),
                `${tag} is mutable`,
            );
        }
        assert.ok(!filters.some((f) => matchesFilter("v1.2.3", f)), "a release tag stays immutable");
    });

    it("keeps every filter within ECR's rules: letters, digits and ._*-, at most 128 characters and 2 wildcards", () => {
        for (const { filter, filterType } of mutableTagFilters("latest")) {
            assert.strictEqual(filterType, "WILDCARD");
            assert.match(filter, /^[A-Za-z0-9._*-]{1,128}$/);
            assert.ok(filter.split("*").length - 1 <= 2, filter);
        }
    });

    it("never expires a signature while its image is kept, nor after", () => {
        const policy = lifecyclePolicy(14);
        assert.strictEqual(selectedBy(policy, { tags: ["latest-amd64"] }), false, "the pinned image is kept");
        assert.strictEqual(selectedBy(policy, { tags: [sig] }), false, "its signature is kept");
        assert.strictEqual(selectedBy(policy, { tags: [] }), true, "an image a rebuild untagged expires");
    });
});

describe("signing helpers", () => {
    it("reduces a ref to <repository>@digest, dropping a tag but not a registry port", () => {
        const d = `sha256:${"0".repeat(64)}`;
        const table: [string, string][] = [
            [`127.0.0.1:5001/a/b:v1@${d}`, `127.0.0.1:5001/a/b@${d}`],
            [`127.0.0.1:5001/a/b@${d}`, `127.0.0.1:5001/a/b@${d}`],
            [`${REPO_URL}:latest@${d}`, `${REPO_URL}@${d}`],
        ];
        for (const [ref, expected] of table) {
            assert.strictEqual(digestRef(ref), expected);
        }
        assert.throws(() => digestRef(`${REPO_URL}:latest`), /is not an image by digest/);
    });

    it("identifies a key in state without holding it", () => {
        assert.strictEqual(keyIdOf({ kmsKeyArn: KMS_ARN }), `awskms:///${KMS_ARN}`);
        const id = keyIdOf({ privateKey: PRIVATE_KEY, password: PASSWORD });
        assert.match(id, /^private-key-sha256:[0-9a-f]{64}$/);
        assert.ok(!id.includes(KEY_BODY.slice(0, 16)));
        assert.notStrictEqual(id, keyIdOf({ privateKey: PRIVATE_KEY.replace("A", "B") }));
    });

    it("names a key by its fingerprint or ARN in messages, and says what to do", () => {
        const fingerprint = publicKeyFingerprint(PUBLIC_KEY);
        assert.match(fingerprint, /^SHA256:[0-9a-f]{64}$/);
        assert.strictEqual(describeKey({ publicKey: PUBLIC_KEY }), `the public key ${fingerprint}`);
        assert.strictEqual(describeKey({ kmsKeyArn: KMS_ARN }), `the KMS key ${KMS_ARN}`);
        const ref = `${REPO_URL}@sha256:${"1".repeat(64)}`;
        const message = verificationFailure(
            ref,
            { publicKey: PUBLIC_KEY },
            { ok: false, kind: "unsigned", reason: "it has no signature at all" },
            'VmDeployment "api"',
        );
        assert.strictEqual(
            message,
            `VmDeployment "api": refusing sha256:${"1".repeat(64)} (${ref}): it does not carry a valid signature by the public key ${fingerprint}: it has no signature at all. ` +
                `To fix: deploy a digest that MultiArchImage signed with this key (\`signing\`), or sign this one: \`cosign sign --key <key> --tlog-upload=false ${ref}\`; if the key changed, give the new public key.`,
        );
    });

    it("finds every problem with a signing key without showing it", () => {
        assert.deepStrictEqual(signingKeyProblems({ privateKey: PRIVATE_KEY, password: PASSWORD }), []);
        assert.deepStrictEqual(signingKeyProblems({ kmsKeyArn: KMS_ARN }), []);
        const problems = signingKeyProblems({ privateKey: "garbage-secret" });
        assert.strictEqual(problems.length, 1);
        assert.ok(!problems[0].includes("garbage-secret"));
    });
});

describe("the cosign runner (a stand-in cosign records what it is given)", function () {
    let work: string;
    let savedPath: string | undefined;
    let savedDockerConfig: string | undefined;
    const record = () => JSON.parse(fs.readFileSync(path.join(work, "record.json"), "utf8"));

    before(function () {
        if (spawnSync("sh", ["-c", "command -v stat"]).status !== 0) {
            this.skip();
        }
        work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-fake-cosign-"));
        const bin = path.join(work, "bin");
        fs.mkdirSync(bin);
        // Records argv, the key variables' presence, DOCKER_CONFIG's mode and contents.
        fs.writeFileSync(
            path.join(bin, "cosign"),
            `#!/bin/sh
printf '%s\\n' "$@" > "${work}/argv"
{
  printf '{"dockerConfig":"%s",' "$DOCKER_CONFIG"
  printf '"dirMode":"%s","fileMode":"%s",' "$(stat -c %a "$DOCKER_CONFIG")" "$(stat -c %a "$DOCKER_CONFIG/config.json")"
  printf '"config":%s,' "$(cat "$DOCKER_CONFIG/config.json")"
  printf '"hasKey":%s,"password":"%s"}' "$([ -n "$COSIGN_PRIVATE_KEY" ] && echo true || echo false)" "$COSIGN_PASSWORD"
} > "${work}/record.json"
echo "Error: refused for the test, key was $COSIGN_PRIVATE_KEY" >&2
exit 1
`,
            { mode: 0o755 },
        );
        savedPath = process.env.PATH;
        savedDockerConfig = process.env.DOCKER_CONFIG;
        process.env.PATH = `${bin}:${process.env.PATH}`;
        process.env.DOCKER_CONFIG = path.join(work, "users-own-docker-config");
    });

    after(() => {
        process.env.PATH = savedPath;
        if (savedDockerConfig === undefined) {
            delete process.env.DOCKER_CONFIG;
        } else {
            process.env.DOCKER_CONFIG = savedDockerConfig;
        }
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("passes the key through the environment and credentials through a throwaway 0700/0600 docker config it removes", async () => {
        const ref = `127.0.0.1:5001/a/b@sha256:${"2".repeat(64)}`;
        const result = await runCosign(["sign", "--key", "env://COSIGN_PRIVATE_KEY", ref], { COSIGN_PRIVATE_KEY: PRIVATE_KEY, COSIGN_PASSWORD: PASSWORD }, [
            { address: "127.0.0.1:5001", username: "multiarch", password: "registry-password-x" },
        ]);
        const argv = fs.readFileSync(path.join(work, "argv"), "utf8");
        assert.strictEqual(argv, `sign\n--key\nenv://COSIGN_PRIVATE_KEY\n${ref}\n`);
        const seen = record();
        assert.strictEqual(seen.hasKey, true);
        assert.strictEqual(seen.password, PASSWORD);
        assert.notStrictEqual(seen.dockerConfig, process.env.DOCKER_CONFIG, "never the user's docker config");
        assert.deepStrictEqual([seen.dirMode, seen.fileMode], ["700", "600"]);
        assert.deepStrictEqual(seen.config, { auths: { "127.0.0.1:5001": { auth: Buffer.from("multiarch:registry-password-x").toString("base64") } } });
        assert.strictEqual(fs.existsSync(seen.dockerConfig), false, "the throwaway config is removed");
        assert.strictEqual(result.code, 1);
        assert.ok(!result.stderr.includes(KEY_BODY), "what cosign prints is scrubbed of the key");
        assert.match(result.stderr, /key was \[secret\]/);
    });
});
