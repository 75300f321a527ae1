import * as assert from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MultiArchImage } from "../../sdk/multiArchImage";
import { al2023AmiParameter, environmentParameterValue, hostPlatform, VmDeployment, VmDeploymentArgs } from "../../sdk/vmDeployment";
import {
    ACCOUNT,
    DEFAULT_SUBNET_IDS,
    DEFAULT_VPC_ID,
    INSTANCE_TYPE_ARCHITECTURES,
    REGION,
    REGISTRY,
    fakeAmiId,
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
const REPO_URL = `${REGISTRY}/team/api`;
const REPO_ARN = `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team/api`;
const AMD64_REF = `${REPO_URL}@${fakeDigest("amd64")}`;
const ARM64_REF = `${REPO_URL}@${fakeDigest("arm64")}`;
const REFS = { "linux/amd64": AMD64_REF, "linux/arm64": ARM64_REF };

const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const PROFILE = "aws:iam/instanceProfile:InstanceProfile";
const PARAMETER = "aws:ssm/parameter:Parameter";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const GROUP = "aws:autoscaling/group:Group";
const GET_INSTANCE_TYPE = "aws:ec2/getInstanceType:getInstanceType";
const GET_PARAMETER = "aws:ssm/getParameter:getParameter";

async function deploy(args: VmDeploymentArgs = {}, name = "api"): Promise<VmDeployment> {
    const vm = new VmDeployment(name, { platformRefs: REFS, ...args });
    await settle(vm.userData, vm.launchTemplateId, vm.autoScalingGroupName, vm.instanceRoleArn);
    return vm;
}

/** The rejection of an output that an apply threw in. */
async function rejectionOf(output: pulumi.Output<unknown>): Promise<Error & { propertyPath?: string; reason?: string }> {
    try {
        await (output as unknown as { promise(): Promise<unknown> }).promise();
    } catch (e) {
        return e as Error;
    }
    throw new Error("expected the output to reject");
}

function errorOf(fn: () => unknown): Error & { errors?: { propertyPath: string; reason: string }[] } {
    try {
        fn();
    } catch (e) {
        return e as Error;
    }
    throw new Error("expected an error");
}

function decode(base64: string): string {
    return Buffer.from(base64, "base64").toString("utf8");
}

describe("VmDeployment", () => {
    beforeEach(() => resetMocks());

    it("registers under the multiarch:index:VmDeployment token with its children", async () => {
        await deploy();
        assert.strictEqual(theOne("multiarch:index:VmDeployment", "api").custom, false);
        assert.deepStrictEqual(
            registrations
                .filter((r) => r.custom)
                .map((r) => `${r.type} ${r.name}`)
                .sort(),
            [`${GROUP} api-asg`, `${LAUNCH_TEMPLATE} api-launch-template`, `${PROFILE} api-profile`, `${ROLE} api-role`, `${ROLE_POLICY} api-host-policy`],
        );
    });

    it("runs the amd64 digest on an x86_64 instance type, on Amazon Linux 2023 for x86_64", async () => {
        const vm = await deploy({ instanceType: "t3.small" });
        assert.strictEqual(await promiseOf(vm.platform), "linux/amd64");
        assert.strictEqual(await promiseOf(vm.imageRef), AMD64_REF);
        assert.deepStrictEqual(
            invocations.filter((i) => i.token === GET_INSTANCE_TYPE).map((i) => i.inputs),
            [{ instanceType: "t3.small" }],
        );
        const amiParameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
        assert.deepStrictEqual(
            invocations.filter((i) => i.token === GET_PARAMETER).map((i) => i.inputs.name),
            [amiParameter],
        );
        const template = theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs;
        assert.strictEqual(template.imageId, fakeAmiId(amiParameter));
        assert.strictEqual(template.instanceType, "t3.small");
        const script = decode(template.userData);
        assert.ok(script.includes(`readonly IMAGE_REF='${AMD64_REF}'\n`));
        assert.ok(script.includes("readonly PLATFORM='linux/amd64'\n"));
        assert.strictEqual(script, await promiseOf(vm.userData));
    });

    it("runs the arm64 digest on an arm64 (Graviton) instance type, on Amazon Linux 2023 for arm64", async () => {
        const vm = await deploy({ instanceType: "t4g.small" });
        assert.strictEqual(await promiseOf(vm.platform), "linux/arm64");
        assert.strictEqual(await promiseOf(vm.imageRef), ARM64_REF);
        const amiParameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";
        assert.strictEqual(theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs.imageId, fakeAmiId(amiParameter));
        assert.ok(decode(theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs.userData).includes(`readonly IMAGE_REF='${ARM64_REF}'\n`));
    });

    it("defaults to t3.micro, one host and the default VPC's subnets", async () => {
        const vm = await deploy();
        assert.strictEqual(await promiseOf(vm.platform), "linux/amd64");
        assert.strictEqual(theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs.instanceType, "t3.micro");
        const vpcCalls = invocations.filter((i) => i.token === "aws:ec2/getVpc:getVpc");
        assert.deepStrictEqual(
            vpcCalls.map((i) => i.inputs),
            [{ default: true }],
        );
        const subnetCalls = invocations.filter((i) => i.token === "aws:ec2/getSubnets:getSubnets");
        assert.deepStrictEqual(
            subnetCalls.map((i) => i.inputs),
            [{ filters: [{ name: "vpc-id", values: [DEFAULT_VPC_ID] }] }],
        );
        const group = theOne(GROUP, "api-asg").inputs;
        assert.deepStrictEqual(group.vpcZoneIdentifiers, DEFAULT_SUBNET_IDS);
        assert.deepStrictEqual([group.desiredCapacity, group.minSize, group.maxSize], [1, 1, 1]);
    });

    it("rolls the hosts with an instance refresh onto the launch template's latest version", async () => {
        const vm = await deploy({ desiredCount: 3, minSize: 2, maxSize: 5, subnetIds: ["subnet-1", "subnet-2"] });
        const group = theOne(GROUP, "api-asg").inputs;
        assert.deepStrictEqual(group.launchTemplate, { id: "api-launch-template-id", version: "1" });
        assert.deepStrictEqual(group.instanceRefresh, { strategy: "Rolling", preferences: { minHealthyPercentage: 50 } });
        assert.deepStrictEqual([group.desiredCapacity, group.minSize, group.maxSize], [3, 2, 5]);
        assert.deepStrictEqual(group.vpcZoneIdentifiers, ["subnet-1", "subnet-2"]);
        assert.deepStrictEqual(group.tags, [{ key: "Name", value: "api", propagateAtLaunch: true }]);
        assert.strictEqual(invocations.filter((i) => i.token === "aws:ec2/getVpc:getVpc").length, 0);
        assert.strictEqual(await promiseOf(vm.autoScalingGroupName), "api-asg");
        assert.strictEqual(await promiseOf(vm.launchTemplateId), "api-launch-template-id");
    });

    it("gives a changed digest a changed user data, so the launch template gets a new version", async () => {
        const first = await deploy({ platformRefs: { "linux/amd64": AMD64_REF } });
        const firstUserData = theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs.userData;
        await resetMocks();
        const rebuilt = `${REPO_URL}@${fakeDigest("amd64-rebuilt")}`;
        const second = await deploy({ platformRefs: { "linux/amd64": rebuilt } });
        const secondUserData = theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs.userData;
        assert.notStrictEqual(secondUserData, firstUserData);
        assert.strictEqual(decode(secondUserData), decode(firstUserData).replace(fakeDigest("amd64"), fakeDigest("amd64-rebuilt")), "only the digest changes");
        assert.notStrictEqual(await promiseOf(second.userData), await promiseOf(first.userData));
    });

    it("lets the hosts pull from the image's repository alone", async () => {
        const vm = await deploy();
        const role = theOne(ROLE, "api-role").inputs;
        assert.deepStrictEqual(JSON.parse(role.assumeRolePolicy), {
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
        });
        const policy = theOne(ROLE_POLICY, "api-host-policy").inputs;
        assert.strictEqual(policy.role, "api-role-id");
        assert.deepStrictEqual(JSON.parse(policy.policy), {
            Version: "2012-10-17",
            Statement: [
                { Sid: "EcrLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
                {
                    Sid: "PullTheImage",
                    Effect: "Allow",
                    Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    Resource: REPO_ARN,
                },
            ],
        });
        assert.deepStrictEqual(theOne(PROFILE, "api-profile").inputs.role, "api-role");
        assert.strictEqual(await promiseOf(vm.instanceRoleArn), `arn:aws:iam::${ACCOUNT}:role/api-role`);
    });

    it("requires IMDSv2, encrypts the root volume and gives the hosts the instance profile", async () => {
        await deploy({ keyName: "ops", securityGroupIds: ["sg-1"] });
        const template = theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs;
        assert.deepStrictEqual(template.metadataOptions, { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 });
        assert.deepStrictEqual(template.blockDeviceMappings, [
            { deviceName: "/dev/xvda", ebs: { encrypted: "true", volumeType: "gp3", deleteOnTermination: "true" } },
        ]);
        assert.deepStrictEqual(template.iamInstanceProfile, { arn: `arn:aws:iam::${ACCOUNT}:instance-profile/api-profile` });
        assert.strictEqual(template.keyName, "ops");
        assert.deepStrictEqual(template.vpcSecurityGroupIds, ["sg-1"]);
        assert.strictEqual(template.updateDefaultVersion, true);
    });

    it("runs a MultiArchImage's digest and pulls from its repository", async () => {
        const image = new MultiArchImage("app", { context: CONTEXT, builderName: "shared", repository: { name: "team/api" } });
        const vm = new VmDeployment("api", { image, instanceType: "c7g.large" });
        await settle(vm.userData, vm.launchTemplateId);
        assert.strictEqual(await promiseOf(vm.imageRef), `${REPO_URL}@${fakeDigest("app-arm64")}`);
        assert.strictEqual(JSON.parse(theOne(ROLE_POLICY, "api-host-policy").inputs.policy).Statement[1].Resource, REPO_ARN);
    });

    it("keeps the environment in a SecureString parameter, never in user data", async () => {
        const greeting = `say "hi" to $USER's \`friends\``;
        const vm = await deploy({ environment: { DB_PASSWORD: pulumi.secret("hunter2-not-in-user-data"), GREETING: greeting } });
        const parameter = theOne(PARAMETER, "api-environment").inputs;
        assert.strictEqual(parameter.type, "SecureString");
        assert.ok(isSecretInput(parameter.value), "the environment must reach the engine as a secret");
        assert.strictEqual(reveal(parameter.value), `DB_PASSWORD=hunter2-not-in-user-data\nGREETING=${greeting}\n`);

        assert.strictEqual(await pulumi.isSecret(vm.userData), false);
        const template = theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs;
        assert.ok(!isSecretInput(template.userData));
        const script = decode(template.userData);
        assert.ok(!script.includes("hunter2"), "a secret value is in the user data");
        assert.ok(!script.includes(greeting), "an environment value is in the user data");
        assert.ok(script.includes("readonly ENVIRONMENT_PARAMETER='api-environment'\n"));
        assert.ok(script.includes("readonly ENVIRONMENT_PARAMETER_VERSION='1'\n"));
        assert.ok(script.includes(`readonly ENVIRONMENT_REGION='${REGION}'\n`));

        const statements = JSON.parse(theOne(ROLE_POLICY, "api-host-policy").inputs.policy).Statement;
        assert.deepStrictEqual(statements[2], {
            Sid: "ReadTheEnvironment",
            Effect: "Allow",
            Action: "ssm:GetParameter",
            Resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/api-environment`,
        });
    });

    it("creates no parameter and grants no SSM read without an environment", async () => {
        await deploy();
        assert.deepStrictEqual(registered(PARAMETER), []);
        assert.strictEqual(JSON.parse(theOne(ROLE_POLICY, "api-host-policy").inputs.policy).Statement.length, 2);
    });

    it("renders ports and command into the boot script", async () => {
        const vm = await deploy({ ports: [{ host: 80, container: 8080 }], command: ["node", "server.js", "--greeting", "it's $5"] });
        const script = await promiseOf(vm.userData);
        assert.ok(script.includes("readonly PORTS=('80:8080')\n"));
        const encoded = ["node", "server.js", "--greeting", "it's $5"].map((a) => `'${Buffer.from(a).toString("base64")}'`).join(" ");
        assert.ok(script.includes(`readonly COMMAND_BASE64=(${encoded})\n`));
        assert.ok(script.includes("readonly CONTAINER='multiarch-api'\n"));
        assert.ok(script.includes(`readonly REGISTRY_REGION='${REGION}'\n`));
    });

    it("boots the AMI given without looking one up", async () => {
        await deploy({ amiId: "ami-0123456789abcdef0" });
        assert.strictEqual(theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs.imageId, "ami-0123456789abcdef0");
        assert.strictEqual(invocations.filter((i) => i.token === GET_PARAMETER).length, 0);
    });

    it("accepts platform refs by any platform spelling, with a tag that it drops", async () => {
        const vm = await deploy({ platformRefs: { x86_64: `${REPO_URL}:v1@${fakeDigest("amd64")}` } });
        assert.strictEqual(await promiseOf(vm.imageRef), AMD64_REF);
    });

    it("accepts platform refs whose values are Outputs, such as another stack's", async () => {
        const vm = await deploy({
            platformRefs: { "linux/amd64": pulumi.output(AMD64_REF), "linux/arm64": pulumi.output(ARM64_REF) },
            instanceType: "t4g.small",
        });
        assert.strictEqual(await promiseOf(vm.imageRef), ARM64_REF);
        assert.strictEqual(JSON.parse(theOne(ROLE_POLICY, "api-host-policy").inputs.policy).Statement[1].Resource, REPO_ARN);
    });

    describe("architecture mismatch", () => {
        const message =
            '`instanceType` is "t4g.small", whose architecture is arm64 (linux/arm64), but the image was built for linux/amd64 only: ' +
            'add "linux/arm64" to the image\'s `platforms`, or choose an instance type whose architecture is x86_64 (linux/amd64), e.g. "t3.small"';

        it("fails at preview when an arm64 instance type meets an amd64-only image", async () => {
            await resetMocks({ dryRun: true });
            const image = new MultiArchImage("app", { context: CONTEXT, builderName: "shared", platforms: ["linux/amd64"] });
            const vm = new VmDeployment("api", { image, instanceType: "t4g.small" });
            const error = await rejectionOf(vm.platform);
            assert.ok(pulumi.InputPropertyError.isInstance(error), `expected InputPropertyError, got ${error}`);
            assert.strictEqual(error.propertyPath, "instanceType");
            assert.strictEqual(error.reason, message);
            await assert.rejects((vm.userData as unknown as { promise(): Promise<string> }).promise(), { reason: message });
        });

        it("names platformRefs when those lack the platform", async () => {
            await resetMocks({ dryRun: true });
            const vm = new VmDeployment("api", { platformRefs: pulumi.output({ "linux/amd64": AMD64_REF }), instanceType: "a1.medium" });
            const error = await rejectionOf(vm.platform);
            assert.strictEqual(
                (error as pulumi.InputPropertyError).reason,
                '`instanceType` is "a1.medium", whose architecture is arm64 (linux/arm64), but `platformRefs` has linux/amd64 only: ' +
                    'add a "linux/arm64" ref to `platformRefs`, or choose an instance type whose architecture is x86_64 (linux/amd64), e.g. "t3.small"',
            );
        });

        const table: [string, string[], string | RegExp][] = [
            ["t3.micro", ["linux/amd64", "linux/arm64"], "linux/amd64"],
            ["t3.small", ["linux/arm64", "linux/amd64"], "linux/amd64"],
            ["g5.xlarge", ["linux/amd64", "linux/arm64"], "linux/amd64"],
            ["t2.micro", ["linux/amd64"], "linux/amd64"],
            ["t4g.small", ["linux/amd64", "linux/arm64"], "linux/arm64"],
            ["c7g.large", ["linux/arm64"], "linux/arm64"],
            ["a1.medium", ["linux/amd64", "linux/arm64"], "linux/arm64"],
            [
                "t3.small",
                ["linux/arm64"],
                /^`instanceType` is "t3.small", whose architecture is x86_64 \(linux\/amd64\), but the image was built for linux\/arm64 only: add "linux\/amd64" to the image's `platforms`, or choose an instance type whose architecture is arm64 \(linux\/arm64\), e.g. "t4g.small"$/,
            ],
            [
                "t4g.small",
                ["linux/s390x"],
                /^`instanceType` is "t4g.small", whose architecture is arm64 \(linux\/arm64\), but the image was built for linux\/s390x only: add "linux\/arm64" to the image's `platforms`$/,
            ],
            [
                "mac2.metal",
                ["linux/arm64"],
                /^`instanceType` is "mac2.metal", whose architecture is arm64_mac: VmDeployment runs Amazon Linux 2023, which has AMIs for x86_64 and arm64 only/,
            ],
        ];
        for (const [instanceType, platforms, expected] of table) {
            it(`${instanceType} (${INSTANCE_TYPE_ARCHITECTURES[instanceType].join(", ")}) with ${platforms.join(", ")} ${typeof expected === "string" ? `runs ${expected}` : "fails"}`, () => {
                const result = hostPlatform(instanceType, INSTANCE_TYPE_ARCHITECTURES[instanceType], platforms);
                if (typeof expected === "string") {
                    assert.deepStrictEqual(result, { platform: expected });
                } else {
                    assert.ok("reason" in result, `expected a reason, got ${JSON.stringify(result)}`);
                    assert.match(result.reason, expected);
                }
            });
        }

        it("looks up the Amazon Linux 2023 AMI of each host platform", () => {
            assert.strictEqual(al2023AmiParameter("linux/amd64"), "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64");
            assert.strictEqual(al2023AmiParameter("linux/arm64"), "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64");
        });
    });

    describe("bad input", () => {
        const otherRepo = `${REGISTRY}/team/other@${fakeDigest("x")}`;
        const cases: [string, VmDeploymentArgs, string, string][] = [
            [
                "both image and platformRefs",
                { platformRefs: REFS, image: {} as MultiArchImage },
                "image",
                "`image` and `platformRefs` are both given: give `image` to run a MultiArchImage, or `platformRefs` to run images built elsewhere, not both",
            ],
            [
                "neither image nor platformRefs",
                { platformRefs: undefined },
                "image",
                'neither `image` nor `platformRefs` is given: give `image` (a MultiArchImage) or `platformRefs` (platform → "<repository>@sha256:<digest>")',
            ],
            [
                "a platformRefs key that is no platform",
                { platformRefs: { "linux/amd65": AMD64_REF } },
                "platformRefs",
                '`platformRefs` has the key "linux/amd65": ',
            ],
            [
                "a platformRefs value pinned by tag",
                { platformRefs: { "linux/amd64": `${REPO_URL}:v1` } },
                'platformRefs["linux/amd64"]',
                `\`platformRefs["linux/amd64"]\` is "${REPO_URL}:v1": expected an image pinned by digest, <repository>@sha256:<64 hex>, not a tag`,
            ],
            [
                "a platformRefs value outside ECR",
                { platformRefs: { "linux/amd64": `quay.io/team/api@${fakeDigest("q")}` } },
                'platformRefs["linux/amd64"]',
                `\`platformRefs["linux/amd64"]\` is "quay.io/team/api@${fakeDigest("q")}": expected an image in ECR, <account>.dkr.ecr.<region>.amazonaws.com/<name>@sha256:<64 hex>`,
            ],
            [
                "platformRefs in two repositories",
                { platformRefs: { "linux/amd64": AMD64_REF, "linux/arm64": otherRepo } },
                "platformRefs",
                `\`platformRefs\` names 2 repositories (${REPO_URL}, ${REGISTRY}/team/other): the hosts may pull from one repository only; push every platform to one`,
            ],
            [
                "empty platformRefs",
                { platformRefs: {} },
                "platformRefs",
                '`platformRefs` is {}: expected at least one platform → "<repository>@sha256:<digest>"',
            ],
            [
                "an instance type that is no string",
                { instanceType: 3 as unknown as string },
                "instanceType",
                '`instanceType` is 3: expected an EC2 instance type as a plain string, e.g. "t3.small" or "t4g.small"',
            ],
            [
                "an empty instance type",
                { instanceType: "" },
                "instanceType",
                '`instanceType` is "": expected an EC2 instance type as a plain string, e.g. "t3.small" or "t4g.small"',
            ],
            ["a fractional count", { desiredCount: 1.5 }, "desiredCount", "`desiredCount` is 1.5: expected a whole number of hosts, 0 or more"],
            ["a negative count", { maxSize: -1 }, "maxSize", "`maxSize` is -1: expected a whole number of hosts, 0 or more"],
            [
                "minSize above desiredCount",
                { minSize: 2 },
                "minSize",
                "`minSize` is 2: expected at most `desiredCount` (1); raise `desiredCount` or lower `minSize`",
            ],
            [
                "maxSize below desiredCount",
                { desiredCount: 3, maxSize: 2 },
                "maxSize",
                "`maxSize` is 2: expected at least `desiredCount` (3); raise `maxSize` or lower `desiredCount`",
            ],
            [
                "a port out of range",
                { ports: [{ host: 70000, container: 80 }] },
                "ports[0].host",
                "`ports[0].host` is 70000: expected a whole-number port from 1 to 65535",
            ],
            [
                "a duplicate host port",
                {
                    ports: [
                        { host: 80, container: 80 },
                        { host: 80, container: 8080 },
                    ],
                },
                "ports[1].host",
                "`ports[1].host` is 80: duplicates ports[0].host: publish each host port once",
            ],
            [
                "a bad environment name",
                { environment: { "MY-VAR": "x" } },
                "environment",
                '`environment` has the key "MY-VAR": expected a variable name of letters, digits and "_", not starting with a digit',
            ],
            [
                "a multi-line environment value",
                { environment: { NOTE: "a\nb" } },
                "environment.NOTE",
                "`environment.NOTE` contains a line break or NUL character, which a Docker env file cannot carry: encode the value (e.g. base64) and decode it in the container",
            ],
            [
                "a malformed AMI id",
                { amiId: "ami-xyz" },
                "amiId",
                '`amiId` is "ami-xyz": expected an AMI id, ami- followed by 8 or 17 hex digits, or leave it out for Amazon Linux 2023',
            ],
            ["an empty key name", { keyName: "" }, "keyName", '`keyName` is "": expected the name of an EC2 key pair, or leave it out'],
        ];
        for (const [what, args, property, reason] of cases) {
            it(`fails on ${what}, before any child exists`, () => {
                const error = errorOf(() => new VmDeployment("bad", { platformRefs: REFS, ...args }));
                assert.ok(pulumi.InputPropertiesError.isInstance(error), `expected InputPropertiesError, got ${error}`);
                assert.deepStrictEqual(
                    error.errors!.map((e) => e.propertyPath),
                    [property],
                );
                assert.ok(error.errors![0].reason.startsWith(reason), `${error.errors![0].reason}\ndoes not start with\n${reason}`);
                assert.match(error.message, /^VmDeployment "bad" has 1 invalid argument problem:/);
                assert.deepStrictEqual(
                    registrations.filter((r) => r.type !== "multiarch:index:VmDeployment"),
                    [],
                );
            });
        }

        it("reports every problem together", () => {
            const error = errorOf(
                () =>
                    new VmDeployment("bad", {
                        platformRefs: { "linux/amd64": "nope" },
                        instanceType: "",
                        desiredCount: -1,
                        ports: [{ host: 0, container: 0 }],
                        amiId: "x",
                    }),
            );
            assert.deepStrictEqual(
                error.errors!.map((e) => e.propertyPath),
                ['platformRefs["linux/amd64"]', "instanceType", "desiredCount", "ports[0].host", "ports[0].container", "amiId"],
            );
            assert.match(error.message, /has 6 invalid argument problems/);
        });

        it("fails, without showing the value, when an environment value known only later cannot go into an env file", () => {
            // What the parameter's value goes through once secret and other Output values are known.
            const error = errorOf(() => environmentParameterValue({ GOOD: "x", TOKEN: "line1\nsecret-line2" }));
            assert.ok(pulumi.InputPropertyError.isInstance(error), `expected InputPropertyError, got ${error}`);
            assert.strictEqual((error as pulumi.InputPropertyError).propertyPath, "environment.TOKEN");
            assert.ok(!error.message.includes("secret-line2"));
        });

        it("fails when the environment is larger than an SSM parameter holds", () => {
            const error = errorOf(() => environmentParameterValue({ BIG: "x".repeat(5000) }));
            assert.strictEqual((error as pulumi.InputPropertyError).propertyPath, "environment");
            assert.match((error as pulumi.InputPropertyError).reason, /^`environment` takes 5005 bytes as an env file, over the 4096 an SSM parameter holds/);
        });

        it("stores an empty environment as a comment line, since SSM refuses an empty value", () => {
            assert.strictEqual(environmentParameterValue({}), "# no variables\n");
        });

        it("fails when platformRefs from an Output are not pinned", async () => {
            const vm = new VmDeployment("bad", { platformRefs: pulumi.output({ amd64: `${REPO_URL}:latest` }) });
            const error = await rejectionOf(vm.imageRef);
            assert.ok(pulumi.InputPropertiesError.isInstance(error), `expected InputPropertiesError, got ${error}`);
            assert.match(error.message, /`platformRefs\["amd64"\]` is ".*:latest": expected an image pinned by digest/);
        });
    });
});
