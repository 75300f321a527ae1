// One table of bad inputs across the components, the Bake rendering and preflight. Each
// must fail before anything is created, with an error that names the argument, shows
// the value and says what is allowed, and with nothing else (no TypeError, no stack).
import * as assert from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BuildxBuilder, BuildxBuilderArgs } from "../../../sdk/components/buildxBuilder";
import { InputProblems } from "../../../sdk/rules/errors";
import { MultiArchImage, MultiArchImageArgs } from "../../../sdk/components/multiArchImage";
import { normaliseBuildSpec } from "../../../sdk/rules/buildPlan";
import { toBakeFile, BakeInputs } from "../../../sdk/rules/bake";
import { PreflightOptions, planPreflight } from "../../../sdk/cli/preflight";
import { PromotedImage, PromotedImageArgs } from "../../../sdk/components/promotedImage";
import { PreflightError } from "../../../sdk/rules/preflightError";
import { VmDeployment, VmDeploymentArgs } from "../../../sdk/components/vmDeployment";
import { REGISTRY, registrations, resetMocks } from "../../mocks";
import { fixture } from "../../paths";
import { ErrorWithProblems, errorOf } from "../../helpers";

const CONTEXT = fixture("hello");
const DIGEST = `sha256:${"a".repeat(64)}`;
const AMD64_REF = `${REGISTRY}/team/api@${DIGEST}`;

interface Case {
    /** What is wrong, in the test's name. */
    what: string;
    /** Runs the bad call. */
    call: () => unknown;
    /** The argument paths the error must name, in order. */
    paths: string[];
    /** What the message must say. */
    says: RegExp;
}

function image(args: Partial<MultiArchImageArgs>): () => unknown {
    return () => new MultiArchImage("bad", { context: CONTEXT, builderName: "b", ...args } as MultiArchImageArgs);
}
function builder(args: Partial<BuildxBuilderArgs>): () => unknown {
    return () => new BuildxBuilder("bad", args as BuildxBuilderArgs);
}
function vm(args: Partial<VmDeploymentArgs>): () => unknown {
    return () => new VmDeployment("bad", { platformRefs: { "linux/amd64": AMD64_REF }, ...args } as VmDeploymentArgs);
}
function promoted(args: Partial<PromotedImageArgs>): () => unknown {
    return () => new PromotedImage("bad", { indexRef: `127.0.0.1:5000/team/api:v1@${DIGEST}`, ...args });
}
function bake(inputs: Partial<BakeInputs>): () => unknown {
    const spec = normaliseBuildSpec({ context: CONTEXT }, new InputProblems())!;
    return () => toBakeFile(spec, { repositoryUrl: "127.0.0.1:5000/team/api", ...inputs } as BakeInputs);
}
function preflight(options: Partial<PreflightOptions>): () => unknown {
    return () => planPreflight({ context: CONTEXT, ...options } as PreflightOptions);
}

const cases: Case[] = [
    // MultiArchImage
    {
        what: "MultiArchImage: a missing context",
        call: image({ context: "/no/such/app" }),
        paths: ["context"],
        says: /`context` is "\/no\/such\/app": expected an existing directory/,
    },
    {
        what: "MultiArchImage: no context at all",
        call: image({ context: undefined }),
        paths: ["context"],
        says: /`context` is undefined: expected the path of the build context directory/,
    },
    {
        what: "MultiArchImage: a context that is a file",
        call: image({ context: path.join(CONTEXT, "message.txt") }),
        paths: ["context"],
        says: /but it is a file/,
    },
    {
        what: "MultiArchImage: a missing Dockerfile",
        call: image({ dockerfile: path.join(CONTEXT, "Dockerfile.prod") }),
        paths: ["dockerfile"],
        says: /`dockerfile` is ".*Dockerfile\.prod": expected the Dockerfile to exist/,
    },
    {
        what: "MultiArchImage: a malformed platform",
        call: image({ platforms: ["linux/amd65"] }),
        paths: ["platforms[0]"],
        says: /`platforms\[0\]` is "linux\/amd65": expected os\/arch/,
    },
    { what: "MultiArchImage: an unsupported OS", call: image({ platforms: ["windows/amd64"] }), paths: ["platforms[0]"], says: /only linux images are built/ },
    {
        what: "MultiArchImage: an unsupported variant",
        call: image({ platforms: ["linux/arm/v6"] }),
        paths: ["platforms[0]"],
        says: /variant "v6" of arm is not supported/,
    },
    {
        what: "MultiArchImage: duplicate platforms after normalising",
        call: image({ platforms: ["x86_64", "linux/amd64"] }),
        paths: ["platforms[1]"],
        says: /duplicates \[0\] \(both are linux\/amd64\)/,
    },
    {
        what: "MultiArchImage: empty platforms",
        call: image({ platforms: [] }),
        paths: ["platforms"],
        says: /`platforms` is \[\]: expected at least one platform/,
    },
    {
        what: "MultiArchImage: platforms as a string",
        call: image({ platforms: "linux/amd64" as unknown as string[] }),
        paths: ["platforms"],
        says: /`platforms` is "linux\/amd64": expected a list of platforms/,
    },
    { what: "MultiArchImage: a tag with a space", call: image({ tag: "v1 beta" }), paths: ["tag"], says: /`tag` is "v1 beta": expected an image tag/ },
    {
        what: "MultiArchImage: a tag over ECR's length with the suffix",
        call: image({ tag: "v".repeat(128) }),
        paths: ["tag"],
        says: /expected at most 122 characters/,
    },
    { what: "MultiArchImage: a tag that collides with the caches", call: image({ tag: "cache-v1" }), paths: ["tag"], says: /does not start with "cache-"/ },
    {
        what: "MultiArchImage: an upper-case repository name",
        call: image({ repository: { name: "Team/Api" } }),
        paths: ["repository.name"],
        says: /`repository.name` is "Team\/Api": expected 2 to 256 characters of lowercase/,
    },
    {
        what: "MultiArchImage: a one-letter repository name",
        call: image({ repository: { name: "a" } }),
        paths: ["repository.name"],
        says: /`repository.name` is "a"/,
    },
    {
        what: "MultiArchImage: repository and repositoryUrl",
        call: image({ repository: {}, repositoryUrl: `${REGISTRY}/team/api` }),
        paths: ["repository"],
        says: /`repository` and `repositoryUrl` are both given/,
    },
    {
        what: "MultiArchImage: a repositoryUrl outside ECR",
        call: image({ repositoryUrl: "ghcr.io/team/api" }),
        paths: ["repositoryUrl"],
        says: /`repositoryUrl` is "ghcr.io\/team\/api": expected the URL of an ECR repository/,
    },
    {
        what: "MultiArchImage: a registry URL with a scheme",
        call: image({ registry: { repositoryUrl: "https://ghcr.io/acme/api" } }),
        paths: ["registry.repositoryUrl"],
        says: /- `registry\.repositoryUrl` is "https:\/\/ghcr\.io\/acme\/api": expected <host>\[:port\]\/<path> without a scheme, e\.g\. "ghcr\.io\/acme\/api"$/,
    },
    {
        what: "MultiArchImage: a registry URL with a tag",
        call: image({ registry: { repositoryUrl: "127.0.0.1:5000/team/api:v1" } }),
        paths: ["registry.repositoryUrl"],
        says: /- `registry\.repositoryUrl` is "127\.0\.0\.1:5000\/team\/api:v1": expected <host>\[:port\]\/<path> without a tag \(the component adds its own\), e\.g\. "ghcr\.io\/acme\/api"$/,
    },
    {
        what: "MultiArchImage: registry and repositoryUrl",
        call: image({ registry: { repositoryUrl: "ghcr.io/acme/api" }, repositoryUrl: `${REGISTRY}/team/api` }),
        paths: ["registry"],
        says: /- `registry` and `repositoryUrl` are both given: `registry` pushes to the repository it names, `repositoryUrl` pushes to an existing ECR repository; give one or the other$/,
    },
    {
        what: "MultiArchImage: a registry user name without a password",
        call: image({ registry: { repositoryUrl: "ghcr.io/acme/api", username: "bot" } }),
        paths: ["registry.password"],
        says: /- `registry\.password` is undefined, but `registry\.username` is "bot": give both to log in, or neither for an anonymous push$/,
    },
    {
        what: "MultiArchImage: a lifecycle of 0 days",
        call: image({ repository: { lifecycle: { untaggedExpiryDays: 0 } } }),
        paths: ["repository.lifecycle.untaggedExpiryDays"],
        says: /is 0: expected a whole number of days from 1 to 3650/,
    },
    {
        what: "MultiArchImage: a fractional lifecycle",
        call: image({ repository: { lifecycle: { untaggedExpiryDays: 1.5 } } }),
        paths: ["repository.lifecycle.untaggedExpiryDays"],
        says: /is 1\.5: expected a whole number/,
    },
    {
        what: "MultiArchImage: a KMS key that is not an ARN",
        call: image({ repository: { kmsKeyArn: "alias/mine" } }),
        paths: ["repository.kmsKeyArn"],
        says: /`repository.kmsKeyArn` is "alias\/mine": expected a KMS key ARN/,
    },
    {
        what: "MultiArchImage: forceDelete as a string",
        call: image({ repository: { forceDelete: "yes" as unknown as boolean } }),
        paths: ["repository.forceDelete"],
        says: /`repository.forceDelete` is "yes": expected true or false/,
    },
    {
        what: "MultiArchImage: cache as a string",
        call: image({ cache: "false" as unknown as boolean }),
        paths: ["cache"],
        says: /`cache` is "false": expected true or false/,
    },
    {
        what: "MultiArchImage: a target with a space",
        call: image({ target: "run time" }),
        paths: ["target"],
        says: /`target` is "run time": expected the name of a Dockerfile stage/,
    },
    {
        what: "MultiArchImage: a secret id that is no variable name",
        call: image({ secrets: { "npm-token": "x" } }),
        paths: ["secrets"],
        says: /`secrets` has the id "npm-token": expected letters, digits and _/,
    },
    {
        what: "MultiArchImage: a blank builder name",
        call: image({ builderName: "" }),
        paths: ["builderName"],
        says: /`builderName` is "": expected the name of a buildx builder/,
    },
    // BuildxBuilder
    {
        what: "BuildxBuilder: the docker driver",
        call: builder({ driver: "docker" as never }),
        paths: ["driver"],
        says: /`driver` is "docker": docker-build cannot build with the `docker` driver/,
    },
    {
        what: "BuildxBuilder: an unknown driver",
        call: builder({ driver: "podman" as never }),
        paths: ["driver"],
        says: /`driver` is "podman": expected one of "docker-container", "kubernetes", "remote"/,
    },
    { what: "BuildxBuilder: a name buildx refuses", call: builder({ name: "9builder" }), paths: ["name"], says: /`name` is "9builder"/ },
    { what: "BuildxBuilder: the reserved name default", call: builder({ name: "default" }), paths: ["name"], says: /`name` is "default"/ },
    {
        what: "BuildxBuilder: remote nodes without endpoints",
        call: builder({ driver: "remote", nodes: [{ platforms: ["linux/amd64"] }] }),
        paths: ["nodes[0].endpoint"],
        says: /the remote driver needs the BuildKit address of every node/,
    },
    {
        what: "BuildxBuilder: a kubernetes node with an endpoint",
        call: builder({ driver: "kubernetes", nodes: [{ endpoint: "tcp://x:1234" }] }),
        paths: ["nodes[0].endpoint"],
        says: /expected no endpoint with the kubernetes driver/,
    },
    {
        what: "BuildxBuilder: two nodes on one endpoint",
        call: builder({ nodes: [{ name: "a" }, { name: "b" }] }),
        paths: ["nodes[1].endpoint"],
        says: /buildx refuses two nodes on one endpoint/,
    },
    {
        what: "BuildxBuilder: one platform on two nodes",
        call: builder({
            nodes: [
                { name: "a", endpoint: "ssh://x86", platforms: ["amd64"] },
                { name: "b", endpoint: "ssh://arm", platforms: ["x86_64"] },
            ],
        }),
        paths: ["nodes[1].platforms"],
        says: /linux\/amd64 is also on nodes\[0\]/,
    },
    {
        what: "BuildxBuilder: platforms with nodes",
        call: builder({ platforms: ["linux/amd64"], nodes: [{ name: "a" }] }),
        paths: ["platforms"],
        says: /expected no builder-wide platforms when `nodes` is given/,
    },
    { what: "BuildxBuilder: an empty node list", call: builder({ nodes: [] }), paths: ["nodes"], says: /`nodes` is \[\]: expected at least one node/ },
    {
        what: "BuildxBuilder: a malformed node platform",
        call: builder({ nodes: [{ name: "a", platforms: ["linux/arm65"] }] }),
        paths: ["nodes[0].platforms[0]"],
        says: /`nodes\[0\].platforms\[0\]` is "linux\/arm65"/,
    },
    {
        what: "BuildxBuilder: bootstrap as a string",
        call: builder({ bootstrap: "no" as unknown as boolean }),
        paths: ["bootstrap"],
        says: /`bootstrap` is "no": expected true or false/,
    },
    // VmDeployment
    {
        what: "VmDeployment: neither image nor platformRefs",
        call: () => new VmDeployment("bad", {}),
        paths: ["image"],
        says: /neither `image` nor `platformRefs` is given/,
    },
    {
        what: "VmDeployment: both image and platformRefs",
        call: () =>
            new VmDeployment("bad", { image: new MultiArchImage("img", { context: CONTEXT, builderName: "b" }), platformRefs: { "linux/amd64": AMD64_REF } }),
        paths: ["image"],
        says: /`image` and `platformRefs` are both given/,
    },
    {
        what: "VmDeployment: a ref pinned by tag",
        call: vm({ platformRefs: { "linux/amd64": `${REGISTRY}/team/api:v1` } }),
        paths: ['platformRefs["linux/amd64"]'],
        says: /expected an image pinned by digest/,
    },
    {
        what: "VmDeployment: a ref outside ECR",
        call: vm({ platformRefs: { "linux/amd64": `ghcr.io/team/api@${DIGEST}` } }),
        paths: ['platformRefs["linux/amd64"]'],
        says: /expected an image in ECR/,
    },
    {
        what: "VmDeployment: an image outside ECR",
        call: vm({
            platformRefs: undefined,
            image: { platforms: ["linux/amd64"], platformRefs: { "linux/amd64": `ghcr.io/team/api@${DIGEST}` }, repositoryArn: "" },
        }),
        paths: ["image"],
        says: /- `image` is in the repository "ghcr\.io\/team\/api", outside ECR: the hosts authenticate to ECR only \(with their instance role's ECR token\), so they could not pull it; push the image to ECR \(a MultiArchImage without `registry`\), or promote it into ECR with a PromotedImage$/,
    },
    {
        what: "VmDeployment: a malformed platform key",
        call: vm({ platformRefs: { "linux/amd65": AMD64_REF } }),
        paths: ["platformRefs"],
        says: /`platformRefs` has the key "linux\/amd65"/,
    },
    {
        what: "VmDeployment: refs in two repositories",
        call: vm({ platformRefs: { "linux/amd64": AMD64_REF, "linux/arm64": `${REGISTRY}/team/other@${DIGEST}` } }),
        paths: ["platformRefs"],
        says: /names 2 repositories/,
    },
    {
        what: "VmDeployment: an empty instance type",
        call: vm({ instanceType: "" }),
        paths: ["instanceType"],
        says: /`instanceType` is "": expected an EC2 instance type/,
    },
    {
        what: "VmDeployment: a negative count",
        call: vm({ desiredCount: -1 }),
        paths: ["desiredCount"],
        says: /`desiredCount` is -1: expected a whole number of hosts/,
    },
    { what: "VmDeployment: a fractional count", call: vm({ desiredCount: 1.5 }), paths: ["desiredCount"], says: /`desiredCount` is 1\.5/ },
    {
        what: "VmDeployment: minSize over desiredCount",
        call: vm({ desiredCount: 2, minSize: 3 }),
        paths: ["minSize"],
        says: /`minSize` is 3: expected at most `desiredCount` \(2\)/,
    },
    {
        what: "VmDeployment: maxSize under desiredCount",
        call: vm({ desiredCount: 2, maxSize: 1 }),
        paths: ["maxSize"],
        says: /`maxSize` is 1: expected at least `desiredCount` \(2\)/,
    },
    {
        what: "VmDeployment: port 0",
        call: vm({ ports: [{ host: 0, container: 80 }] }),
        paths: ["ports[0].host"],
        says: /`ports\[0\].host` is 0: expected a whole-number port from 1 to 65535/,
    },
    {
        what: "VmDeployment: port 70000",
        call: vm({ ports: [{ host: 80, container: 70000 }] }),
        paths: ["ports[0].container"],
        says: /`ports\[0\].container` is 70000/,
    },
    {
        what: "VmDeployment: a duplicate host port",
        call: vm({
            ports: [
                { host: 80, container: 8080 },
                { host: 80, container: 9090 },
            ],
        }),
        paths: ["ports[1].host"],
        says: /duplicates ports\[0\].host/,
    },
    {
        what: "VmDeployment: an environment name with a dash",
        call: vm({ environment: { "APP-MODE": "x" } }),
        paths: ["environment"],
        says: /`environment` has the key "APP-MODE": expected a variable name/,
    },
    {
        what: "VmDeployment: an environment value with a line break",
        call: vm({ environment: { PEM: "line1\nline2" } }),
        paths: ["environment.PEM"],
        says: /contains a line break/,
    },
    { what: "VmDeployment: a malformed AMI id", call: vm({ amiId: "ubuntu-22.04" }), paths: ["amiId"], says: /`amiId` is "ubuntu-22.04": expected an AMI id/ },
    {
        what: "VmDeployment: command as a string",
        call: vm({ command: "node server.js" as unknown as string[] }),
        paths: ["command"],
        says: /`command` is "node server.js": expected a list of arguments/,
    },
    {
        what: "VmDeployment: a KMS alias as the key to verify with",
        call: vm({ requireSignature: { kmsKeyArn: "arn:aws:kms:us-west-2:123456789012:alias/x" } }),
        paths: ["requireSignature.kmsKeyArn"],
        says: /`requireSignature\.kmsKeyArn` is "arn:aws:kms:us-west-2:123456789012:alias\/x": expected a key ARN, arn:aws:kms:<region>:<account>:key\/<id>, or a public key, not an alias: whoever may kms:UpdateAlias could point it at another key/,
    },
    // Bake rendering
    {
        what: "toBakeFile: a repository with a tag",
        call: bake({ repositoryUrl: "127.0.0.1:5000/team/api:v1" }),
        paths: ["repositoryUrl"],
        says: /`repositoryUrl` is "127.0.0.1:5000\/team\/api:v1": expected a repository without tag or digest/,
    },
    {
        what: "toBakeFile: a secret id that is no variable name",
        call: bake({ secretIds: ["npm-token"] }),
        paths: ["secretIds[0]"],
        says: /`secretIds\[0\]` is "npm-token": expected a secret id that is also an environment variable name/,
    },
    {
        what: "toBakeFile: a build arg named with =",
        call: bake({ buildArgs: { "A=B": "c" } }),
        paths: ["buildArgs"],
        says: /`buildArgs` is "A=B": expected names that are not empty/,
    },
    // preflight
    {
        what: "preflight: a registry URL with a scheme",
        call: preflight({ registry: "https://127.0.0.1:5000" }),
        paths: ["registry"],
        says: /`registry` is "https:\/\/127.0.0.1:5000": expected a registry host/,
    },
    {
        what: "preflight: a repository with upper case",
        call: preflight({ repository: "Team/App" }),
        paths: ["repository"],
        says: /`repository` is "Team\/App"/,
    },
    // PromotedImage
    {
        what: "PromotedImage: registry and repository",
        call: promoted({ registry: { repositoryUrl: "127.0.0.1:5000/prod/app" }, repository: {} }),
        paths: ["registry"],
        says: /^PromotedImage "bad" has 1 invalid argument problem:\n {2}- `registry` and `repository` are both given: `registry` pushes to the repository it names, `repository` creates an ECR repository; give one or the other$/,
    },
    {
        what: "PromotedImage: registry and repositoryUrl",
        call: promoted({ registry: { repositoryUrl: "127.0.0.1:5000/prod/app" }, repositoryUrl: `${REGISTRY}/prod/app` }),
        paths: ["registry"],
        says: /^PromotedImage "bad" has 1 invalid argument problem:\n {2}- `registry` and `repositoryUrl` are both given: `registry` pushes to the repository it names, `repositoryUrl` pushes to an existing ECR repository; give one or the other$/,
    },
    {
        what: "PromotedImage: a registry URL with a scheme",
        call: promoted({ registry: { repositoryUrl: "https://ghcr.io/acme/prod" } }),
        paths: ["registry.repositoryUrl"],
        says: /^PromotedImage "bad" has 1 invalid argument problem:\n {2}- `registry\.repositoryUrl` is "https:\/\/ghcr\.io\/acme\/prod": expected <host>\[:port\]\/<path> without a scheme, e\.g\. "ghcr\.io\/acme\/api"$/,
    },
    {
        what: "PromotedImage: a registry URL with a tag",
        call: promoted({ registry: { repositoryUrl: "127.0.0.1:5000/prod/app:prod" } }),
        paths: ["registry.repositoryUrl"],
        says: /^PromotedImage "bad" has 1 invalid argument problem:\n {2}- `registry\.repositoryUrl` is "127\.0\.0\.1:5000\/prod\/app:prod": expected <host>\[:port\]\/<path> without a tag \(the component adds its own\), e\.g\. "ghcr\.io\/acme\/api"$/,
    },
    {
        what: "PromotedImage: a registry user name without a password",
        call: promoted({ registry: { repositoryUrl: "ghcr.io/acme/prod", username: "bot" } }),
        paths: ["registry.password"],
        says: /^PromotedImage "bad" has 1 invalid argument problem:\n {2}- `registry\.password` is undefined, but `registry\.username` is "bot": give both to log in, or neither for an anonymous push$/,
    },
    {
        what: "PromotedImage: a KMS alias as the key to verify with",
        call: promoted({ requireSignature: { kmsKeyArn: "arn:aws:kms:us-west-2:123456789012:alias/x" } }),
        paths: ["requireSignature.kmsKeyArn"],
        says: /`requireSignature\.kmsKeyArn` is "arn:aws:kms:us-west-2:123456789012:alias\/x": expected a key ARN, .*, not an alias: whoever may kms:UpdateAlias could point it at another key/,
    },
    {
        what: "preflight: a KMS alias as the key to verify with",
        call: preflight({ verifyKey: { kmsKeyArn: "arn:aws:kms:us-west-2:123456789012:alias/x" } }),
        paths: ["verifyKey.kmsKeyArn"],
        says: /`verifyKey\.kmsKeyArn` is "arn:aws:kms:us-west-2:123456789012:alias\/x": expected a key ARN, .*, not an alias: whoever may kms:UpdateAlias could point it at another key/,
    },
    {
        what: "preflight: a builder name with a space",
        call: preflight({ builder: "my builder" }),
        paths: ["builder"],
        says: /`builder` is "my builder": expected the name of a buildx builder/,
    },
    { what: "preflight: an empty check", call: preflight({ check: "" }), paths: ["check"], says: /`check` is "": expected a shell command/ },
    { what: "preflight: a duplicate platform", call: preflight({ platforms: ["arm64", "aarch64"] }), paths: ["platforms[1]"], says: /duplicates \[0\]/ },
];

/** The error a bad call throws, checked to be the clear kind and never anything else. */
function clearErrorOf(call: () => unknown): ErrorWithProblems {
    const thrown = errorOf(call);
    assert.ok(
        pulumi.InputPropertiesError.isInstance(thrown) || thrown instanceof PreflightError,
        `expected InputPropertiesError or PreflightError, got ${(thrown as Error)?.name}: ${(thrown as Error)?.message}`,
    );
    return thrown;
}

describe("bad input, across every entry point", () => {
    beforeEach(() => resetMocks());

    it(`has at least 40 cases (${cases.length})`, () => {
        assert.ok(cases.length >= 40, `only ${cases.length} cases`);
    });

    for (const c of cases) {
        it(`refuses ${c.what}`, async () => {
            const error = clearErrorOf(c.call);
            assert.match(error.message, c.says);
            assert.doesNotMatch(error.message, /TypeError|\n\s+at /, "the message must not be a stack trace");
            if (error.errors) {
                assert.deepStrictEqual(
                    error.errors.map((e) => e.propertyPath),
                    c.paths,
                );
            } else {
                for (const p of c.paths) {
                    assert.ok(error.message.includes(`\`${p}\``) || error.message.includes(p), `the message names ${p}`);
                }
            }
            // The one case that builds a MultiArchImage ("img") first may leave its children.
            const children = registrations.filter(
                (r) => !r.type.startsWith("multiarch:index:") && !(c.what.startsWith("VmDeployment: both") && r.name.startsWith("img")),
            );
            assert.deepStrictEqual(
                children.map((r) => `${r.type} ${r.name}`),
                [],
                "nothing may be created",
            );
        });
    }

    it("reports several problems of one component together", () => {
        const error = clearErrorOf(
            () =>
                new VmDeployment("bad", {
                    platformRefs: { "linux/amd64": AMD64_REF },
                    instanceType: "",
                    desiredCount: -1,
                    ports: [{ host: 0, container: 80 }],
                    amiId: "x",
                }),
        );
        assert.deepStrictEqual(
            error.errors!.map((e) => e.propertyPath),
            ["instanceType", "desiredCount", "ports[0].host", "amiId"],
        );
        assert.match(error.message, /^VmDeployment "bad" has 4 invalid argument problems:/);
    });

    it("fails at preview when the instance type's architecture is missing from the image", async () => {
        await resetMocks({ dryRun: true });
        const deployment = new VmDeployment("arm", { platformRefs: { "linux/amd64": AMD64_REF }, instanceType: "t4g.small" });
        const failure = await (deployment.platform as unknown as { promise(): Promise<string> }).promise().then(
            () => assert.fail("expected the platform to fail"),
            (e: Error) => e,
        );
        assert.ok(pulumi.InputPropertyError.isInstance(failure));
        assert.strictEqual(
            failure.message,
            '`instanceType` is "t4g.small", whose architecture is arm64 (linux/arm64), but `platformRefs` has linux/amd64 only: add a "linux/arm64" ref to `platformRefs`, or choose an instance type whose architecture is x86_64 (linux/amd64), e.g. "t3.small"',
        );
    });
});
