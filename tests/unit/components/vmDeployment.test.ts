import * as assert from "assert";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { MultiArchImage } from "../../../sdk/components/multiArchImage";
import { VmDeployment, VmDeploymentArgs } from "../../../sdk/components/vmDeployment";
import {
    ACCOUNT,
    DEFAULT_SUBNET_IDS,
    DEFAULT_VPC_ID,
    REGION,
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
} from "../../mocks";
import { fixture } from "../../paths";
import { ErrorWithProblems, errorOf } from "../../helpers";

const CONTEXT = fixture("hello");
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
const KMS_KEY = "aws:kms/key:Key";
const KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy";
const GET_AMI = "aws:ec2/getAmi:getAmi";
const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
// The group's name, fixed up front: <project>-<stack>-<name> of the mocks' program.
const GROUP_NAME = "multiarch-dev-api";
const GROUP_ARN_PATTERN = `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/${GROUP_NAME}`;
/** What the mock's getAmi reports as each AMI's architecture. */
const AMI_ARCHITECTURES: Record<string, string> = { "ami-0123456789abcdef0": "x86_64", "ami-0aaaaaaaaaaaaaaa1": "arm64" };
/** This file's additions to the shared mocks: KMS keys and getAmi. */
const MOCKS = {
    resources: {
        [KMS_KEY]: ({ name, inputs }: pulumi.runtime.MockResourceArgs) => ({
            ...inputs,
            arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${name}-id`,
            keyId: `${name}-id`,
        }),
    },
    calls: {
        [GET_AMI]: (inputs: Record<string, { name: string; values: string[] }[]>) => {
            const id = inputs.filters[0].values[0];
            if (AMI_ARCHITECTURES[id] === undefined) {
                throw new Error(`InvalidAMIID.NotFound: ${id}`);
            }
            return { id, imageId: id, architecture: AMI_ARCHITECTURES[id] };
        },
    },
};
const ENVIRONMENT_ARN = `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/api-environment`;
// SSM decrypts a SecureString with the encryption context PARAMETER_ARN = the parameter's
// ARN, and calls KMS as ssm.<region>.amazonaws.com (Systems Manager User Guide, "AWS KMS
// encryption for AWS Systems Manager Parameter Store SecureString parameters": "Using the
// Parameter Store encryption context"; KMS Developer Guide, "kms:ViaService"): the hosts
// may decrypt only that way, never by calling KMS themselves.
const THROUGH_SSM = { StringEquals: { "kms:ViaService": `ssm.${REGION}.amazonaws.com`, "kms:EncryptionContext:PARAMETER_ARN": ENVIRONMENT_ARN } };
/** The statements every host policy ends with: complete its own launch, tag its own failure. */
const LAUNCH_STATEMENTS = [
    { Sid: "CompleteTheLaunch", Effect: "Allow", Action: "autoscaling:CompleteLifecycleAction", Resource: GROUP_ARN_PATTERN },
    {
        Sid: "TagTheFailedLaunch",
        Effect: "Allow",
        Action: "ec2:CreateTags",
        Resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`,
        Condition: {
            StringEquals: { "aws:ResourceTag/aws:autoscaling:groupName": GROUP_NAME },
            "ForAllValues:StringEquals": { "aws:TagKeys": ["multiarch:launch-failure"] },
        },
    },
];

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

function decode(base64: string): string {
    return Buffer.from(base64, "base64").toString("utf8");
}

describe("VmDeployment", () => {
    beforeEach(() => resetMocks(MOCKS));

    it("registers under the multiarch:index:VmDeployment token with its children", async () => {
        await deploy();
        assert.strictEqual(theOne("multiarch:index:VmDeployment", "api").custom, false);
        assert.deepStrictEqual(
            registrations
                .filter((r) => r.custom)
                .map((r) => `${r.type} ${r.name}`)
                .sort(),
            [
                `${GROUP} api-asg`,
                `${LAUNCH_TEMPLATE} api-launch-template`,
                `${PROFILE} api-profile`,
                `${ROLE} api-role`,
                `${ROLE_POLICY} api-host-policy`,
                `${DYNAMIC} api-rollout`,
            ],
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
        // EC2 resolves the public parameter at each launch: the template never embeds an
        // AMI id, so a new Amazon Linux AMI does not change it or roll the fleet.
        assert.deepStrictEqual(
            invocations.filter((i) => i.token === GET_PARAMETER || i.token === GET_AMI),
            [],
        );
        const template = theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs;
        assert.strictEqual(template.imageId, "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64");
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
        assert.strictEqual(
            theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs.imageId,
            "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        );
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
        // maxSize leaves room for a whole replacement fleet beside the old one.
        assert.deepStrictEqual([group.desiredCapacity, group.minSize, group.maxSize], [1, 1, 2]);
    });

    it("rolls the hosts with an instance refresh onto the launch template's latest version, launching before terminating, without autoRollback", async () => {
        const vm = await deploy({ desiredCount: 3, minSize: 2, maxSize: 7, subnetIds: ["subnet-1", "subnet-2"] });
        const group = theOne(GROUP, "api-asg").inputs;
        assert.deepStrictEqual(group.launchTemplate, { id: "api-launch-template-id", version: "1" });
        // autoRollback off: the provider sets the group's launch template to the new version
        // before it starts the refresh, so a rollback would relaunch the new version
        // (terraform-provider-aws group.go resourceGroupUpdate; issue #34189), and AWS does
        // not roll back a template whose image is an SSM parameter, the default here
        // (RefreshPreferences.AutoRollback). minHealthyPercentage 100 keeps the old hosts.
        assert.deepStrictEqual(group.instanceRefresh, {
            strategy: "Rolling",
            preferences: { minHealthyPercentage: 100, maxHealthyPercentage: 200, autoRollback: false },
        });
        assert.deepStrictEqual([group.desiredCapacity, group.minSize, group.maxSize], [3, 2, 7]);
        assert.strictEqual(group.name, GROUP_NAME);
        // Heartbeat: 600 s to install, log in, pull and start, plus the default check's 10 + 300 s.
        assert.deepStrictEqual(group.initialLifecycleHooks, [
            { name: "multiarch-launch", lifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING", defaultResult: "ABANDON", heartbeatTimeout: 910 },
        ]);
        assert.strictEqual(group.waitForCapacityTimeout, "21m");
        assert.deepStrictEqual(group.vpcZoneIdentifiers, ["subnet-1", "subnet-2"]);
        assert.deepStrictEqual(group.tags, [{ key: "Name", value: "api", propagateAtLaunch: true }]);
        assert.strictEqual(invocations.filter((i) => i.token === "aws:ec2/getVpc:getVpc").length, 0);
        assert.strictEqual(await promiseOf(vm.autoScalingGroupName), GROUP_NAME);
        assert.strictEqual(await promiseOf(vm.launchTemplateId), "api-launch-template-id");
    });

    describe("waiting for rollouts", () => {
        /** The one rollout wait VmDeployment "api" registered, with its inputs as the engine got them. */
        function rolloutWait() {
            const wait = theOne(DYNAMIC, "api-rollout");
            const { __provider, ...inputs } = wait.inputs;
            assert.strictEqual(typeof __provider, "string", "the serialised provider");
            return { wait, inputs };
        }

        it("follows each rollout after the group, with the group's name, region and launch template version, the platform and digest", async () => {
            await deploy();
            const { wait, inputs } = rolloutWait();
            assert.deepStrictEqual(inputs, {
                context: 'VmDeployment "api"',
                groupName: GROUP_NAME,
                region: REGION,
                launchTemplateId: "api-launch-template-id",
                launchTemplateVersion: "1",
                platform: "linux/amd64",
                imageRef: AMD64_REF,
                // Twice the default check's heartbeat (600 + 10 + 300 s) plus 600 s.
                timeoutSeconds: 2420,
                pollIntervalSeconds: 15,
            });
            assert.ok(wait.dependencies.includes(`urn:pulumi:dev::multiarch::multiarch:index:VmDeployment$${GROUP}::api-asg`), wait.dependencies.join("\n"));
            assert.strictEqual(wait.custom, true);
        });

        it("derives the default timeout from the health check's heartbeat, and takes one given", async () => {
            await deploy({ instanceType: "t4g.small", healthCheck: { gracePeriodSeconds: 30, timeoutSeconds: 60 } });
            // 600 + 30 + 60 = 690 s heartbeat: 2 × 690 + 600.
            assert.strictEqual(rolloutWait().inputs.timeoutSeconds, 1980);
            assert.strictEqual(rolloutWait().inputs.platform, "linux/arm64");
            assert.strictEqual(rolloutWait().inputs.imageRef, ARM64_REF);
            await resetMocks(MOCKS);
            await deploy({ rolloutTimeoutSeconds: 60 });
            assert.strictEqual(rolloutWait().inputs.timeoutSeconds, 60);
        });

        // The stack's default AWS provider reads `aws:profile`; the CLI that follows the
        // rollout must use the same account, so it gets the same profile. A provider the
        // program passes has settings a component cannot read: the environment's then.
        it("hands the stack's aws:profile to the CLI, unless the component is given its own provider", async () => {
            const config = pulumi.runtime.allConfig();
            try {
                pulumi.runtime.setConfig("aws:profile", "production");
                await deploy();
                assert.strictEqual(rolloutWait().inputs.profile, "production");
                await resetMocks(MOCKS);
                const provider = new aws.Provider("elsewhere", { region: "us-west-2" });
                const vm = new VmDeployment("api", { platformRefs: REFS }, { providers: [provider] });
                await settle(vm.autoScalingGroupName);
                assert.strictEqual("profile" in rolloutWait().inputs, false);
            } finally {
                pulumi.runtime.setAllConfig(config);
            }
            await resetMocks(MOCKS);
            await deploy();
            assert.strictEqual("profile" in rolloutWait().inputs, false);
        });

        it("refuses a stack aws:profile the CLI would read as an option, at preview", async () => {
            const config = pulumi.runtime.allConfig();
            try {
                pulumi.runtime.setConfig("aws:profile", "--debug");
                await resetMocks({ ...MOCKS, dryRun: true });
                const error = errorOf(() => new VmDeployment("api", { platformRefs: REFS }));
                assert.strictEqual(
                    error.message,
                    'VmDeployment "api": the stack\'s `aws:profile` is "--debug": expected a profile name of letters, digits and `._-`, not starting with `-`',
                );
                assert.deepStrictEqual(registered(DYNAMIC), []);
            } finally {
                pulumi.runtime.setAllConfig(config);
            }
        });

        it("waits for nothing with waitForRollout: false", async () => {
            await deploy({ waitForRollout: true });
            assert.strictEqual(registered(DYNAMIC).length, 1);
            await resetMocks(MOCKS);
            await deploy({ waitForRollout: false });
            assert.deepStrictEqual(registered(DYNAMIC), []);
            assert.strictEqual(registered(GROUP).length, 1);
        });
    });

    it("gives a changed digest a changed user data, so the launch template gets a new version", async () => {
        const first = await deploy({ platformRefs: { "linux/amd64": AMD64_REF } });
        const firstUserData = theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs.userData;
        await resetMocks(MOCKS);
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
                ...LAUNCH_STATEMENTS,
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
        assert.deepStrictEqual(statements.slice(2), [
            {
                Sid: "ReadTheEnvironment",
                Effect: "Allow",
                Action: "ssm:GetParameter",
                Resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/api-environment`,
            },
            {
                Sid: "DecryptTheEnvironment",
                Effect: "Allow",
                Action: "kms:Decrypt",
                Resource: `arn:aws:kms:${REGION}:${ACCOUNT}:key/api-environment-key-id`,
                Condition: THROUGH_SSM,
            },
            ...LAUNCH_STATEMENTS,
        ]);
    });

    it("encrypts the environment with a key of its own, whose policy lets the hosts' role decrypt through SSM and the account administer it", async () => {
        await deploy({ environment: { A: "1" } });
        const key = theOne(KMS_KEY, "api-environment-key").inputs;
        assert.strictEqual(key.enableKeyRotation, true);
        // The policy names the parameter, which is encrypted under the key: it is set after both.
        assert.strictEqual(key.policy, undefined);
        const keyPolicy = theOne(KMS_KEY_POLICY, "api-environment-key-policy");
        assert.strictEqual(keyPolicy.inputs.keyId, "api-environment-key-id");
        assert.deepStrictEqual(JSON.parse(keyPolicy.inputs.policy), {
            Version: "2012-10-17",
            Statement: [
                { Sid: "AccountAdministersTheKey", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "kms:*", Resource: "*" },
                {
                    Sid: "HostsDecryptTheEnvironment",
                    Effect: "Allow",
                    Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/api-role` },
                    Action: "kms:Decrypt",
                    Resource: "*",
                    Condition: THROUGH_SSM,
                },
            ],
        });
        for (const child of [`${KMS_KEY}::api-environment-key`, `${PARAMETER}::api-environment`]) {
            assert.ok(
                keyPolicy.dependencies.some((urn) => urn.endsWith(child)),
                `${child} in ${keyPolicy.dependencies.join("\n")}`,
            );
        }
        // Not the AWS managed aws/ssm, which any principal allowed ssm:GetParameter can use.
        assert.strictEqual(theOne(PARAMETER, "api-environment").inputs.keyId, `arn:aws:kms:${REGION}:${ACCOUNT}:key/api-environment-key-id`);
    });

    it("encrypts the environment with a given key, creates none, and lets the hosts decrypt with that key alone", async () => {
        const keyArn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
        await deploy({ environment: { A: "1" }, environmentKeyArn: keyArn });
        assert.deepStrictEqual(registered(KMS_KEY), []);
        assert.strictEqual(theOne(PARAMETER, "api-environment").inputs.keyId, keyArn);
        const statements = JSON.parse(theOne(ROLE_POLICY, "api-host-policy").inputs.policy).Statement;
        assert.deepStrictEqual(statements[3], {
            Sid: "DecryptTheEnvironment",
            Effect: "Allow",
            Action: "kms:Decrypt",
            Resource: keyArn,
            Condition: THROUGH_SSM,
        });
        assert.deepStrictEqual(registered(KMS_KEY_POLICY), []);
    });

    it("grants decrypt through the SSM of the parameter's own region and partition", async () => {
        const govArn = `arn:aws-us-gov:ssm:us-gov-west-1:${ACCOUNT}:parameter/api-environment`;
        await resetMocks({
            ...MOCKS,
            resources: {
                ...MOCKS.resources,
                [ROLE]: ({ name, inputs }) => ({ ...inputs, name, arn: `arn:aws-us-gov:iam::${ACCOUNT}:role/${name}` }),
                [PARAMETER]: ({ name, inputs }) => ({ ...inputs, name, arn: govArn, version: 1 }),
                [KMS_KEY]: ({ name, inputs }) => ({ ...inputs, arn: `arn:aws-us-gov:kms:us-gov-west-1:${ACCOUNT}:key/${name}-id`, keyId: `${name}-id` }),
            },
        });
        await deploy({ environment: { A: "1" } });
        const throughGovSsm = { StringEquals: { "kms:ViaService": "ssm.us-gov-west-1.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": govArn } };
        const statements = JSON.parse(theOne(KMS_KEY_POLICY, "api-environment-key-policy").inputs.policy).Statement;
        assert.deepStrictEqual(statements[0].Principal, { AWS: `arn:aws-us-gov:iam::${ACCOUNT}:root` });
        assert.deepStrictEqual(statements[1].Condition, throughGovSsm);
        const hostStatements = JSON.parse(theOne(ROLE_POLICY, "api-host-policy").inputs.policy).Statement;
        assert.deepStrictEqual(hostStatements[3], {
            Sid: "DecryptTheEnvironment",
            Effect: "Allow",
            Action: "kms:Decrypt",
            Resource: `arn:aws-us-gov:kms:us-gov-west-1:${ACCOUNT}:key/api-environment-key-id`,
            Condition: throughGovSsm,
        });
    });

    it("creates no parameter or key and grants no SSM read or KMS decrypt without an environment", async () => {
        await deploy();
        assert.deepStrictEqual(registered(PARAMETER), []);
        assert.deepStrictEqual(registered(KMS_KEY), []);
        assert.deepStrictEqual(
            JSON.parse(theOne(ROLE_POLICY, "api-host-policy").inputs.policy).Statement.map((st: { Sid: string }) => st.Sid),
            ["EcrLogin", "PullTheImage", "CompleteTheLaunch", "TagTheFailedLaunch"],
        );
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

    it("boots the AMI given, once EC2 says it is of the hosts' architecture", async () => {
        await deploy({ amiId: "ami-0123456789abcdef0" });
        assert.strictEqual(theOne(LAUNCH_TEMPLATE, "api-launch-template").inputs.imageId, "ami-0123456789abcdef0");
        assert.strictEqual(invocations.filter((i) => i.token === GET_PARAMETER).length, 0);
        assert.deepStrictEqual(
            invocations.filter((i) => i.token === GET_AMI).map((i) => i.inputs),
            [{ filters: [{ name: "image-id", values: ["ami-0123456789abcdef0"] }] }],
        );
    });

    it("fails at preview when the AMI given is not of the instance type's architecture, naming both", async () => {
        await resetMocks({ ...MOCKS, dryRun: true });
        const vm = new VmDeployment("api", { platformRefs: REFS, instanceType: "t3.small", amiId: "ami-0aaaaaaaaaaaaaaa1" });
        const error = await rejectionOf(vm.imageId);
        assert.ok(pulumi.InputPropertyError.isInstance(error), `expected InputPropertyError, got ${error}`);
        assert.strictEqual(error.propertyPath, "amiId");
        assert.strictEqual(
            error.reason,
            '`amiId` is "ami-0aaaaaaaaaaaaaaa1", whose architecture is arm64, but `instanceType` "t3.small" runs x86_64 (linux/amd64): ' +
                "choose an AMI for x86_64, or leave `amiId` out for Amazon Linux 2023",
        );
    });

    it("says what the hosts' check is in the boot script, and holds the launch long enough for it", async () => {
        const vm = await deploy({
            ports: [{ host: 8080, container: 80 }],
            healthCheck: { http: { port: 8080, path: "/healthz" }, gracePeriodSeconds: 5, timeoutSeconds: 60 },
        });
        const script = await promiseOf(vm.userData);
        assert.ok(script.includes("readonly HEALTH_URL='http://127.0.0.1:8080/healthz'\n"));
        assert.ok(script.includes("readonly HEALTH_GRACE_SECONDS='5'\n"));
        assert.ok(script.includes("readonly HEALTH_TIMEOUT_SECONDS='60'\n"));
        assert.ok(script.includes("readonly LIFECYCLE_HOOK='multiarch-launch'\n"));
        assert.ok(script.includes(`readonly AUTO_SCALING_GROUP='${GROUP_NAME}'\n`));
        assert.ok(script.includes(`readonly AUTO_SCALING_REGION='${REGION}'\n`));
        assert.strictEqual(theOne(GROUP, "api-asg").inputs.initialLifecycleHooks[0].heartbeatTimeout, 665);
    });

    it("asks the HTTP check's path as written: [], {}, quotes and $(…) reach curl, which globs nothing", async () => {
        const path = "/q?a[0]=1&b={a,b}&c='$(id)'";
        const vm = await deploy({ ports: [{ host: 8080, container: 80 }], healthCheck: { http: { port: 8080, path } } });
        const script = await promiseOf(vm.userData);
        assert.ok(script.includes(`readonly HEALTH_URL='http://127.0.0.1:8080/q?a[0]=1&b={a,b}&c='\\''$(id)'\\'''\n`), script);
        assert.ok(script.includes(' curl --fail --silent --globoff --path-as-is --max-time 5 --output /dev/null "$HEALTH_URL"\n'));
    });

    describe("the registry the hosts log in to", () => {
        it("logs in to the ECR registry its refs name, with the ECR token of the region in that host", async () => {
            const china = "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn";
            const vm = await deploy({ platformRefs: { "linux/amd64": `${china}/team/api@${fakeDigest("amd64")}` } });
            const script = await promiseOf(vm.userData);
            assert.ok(script.includes(`readonly REGISTRY='${china}'\n`));
            assert.ok(script.includes("readonly REGISTRY_REGION='cn-north-1'\n"));
        });

        it("renders no boot script for a ref whose host is not its region's ECR registry, naming the ref and the region", async () => {
            // ECR-shaped, but at the China partition's suffix for a commercial region.
            const ref = `123456789012.dkr.ecr.us-west-2.amazonaws.com.cn/team/api@${fakeDigest("amd64")}`;
            const vm = new VmDeployment("api", { platformRefs: { "linux/amd64": ref } });
            const error = await rejectionOf(vm.userData);
            assert.strictEqual(
                error.message,
                `imageRef "${ref}" is not in the ECR registry of registryRegion "us-west-2", <account>.dkr.ecr[-fips].us-west-2.amazonaws.com: ` +
                    "the host logs in with that region's ECR token (aws ecr get-login-password --region us-west-2), which goes to no other registry",
            );
        });
    });

    describe("ARNs follow the region's partition", () => {
        it("grants a GovCloud repository's pull with an arn:aws-us-gov: policy", async () => {
            const gov = "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/team/api";
            const vm = await deploy({ platformRefs: { "linux/amd64": `${gov}@${fakeDigest("amd64")}` } });
            assert.strictEqual(
                JSON.parse(theOne(ROLE_POLICY, "api-host-policy").inputs.policy).Statement[1].Resource,
                "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/team/api",
            );
            assert.ok((await promiseOf(vm.userData)).includes("readonly REGISTRY_REGION='us-gov-west-1'\n"));
        });

        it("gives a MultiArchImage pushing to an existing GovCloud repository an arn:aws-us-gov: ARN", async () => {
            const gov = "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/team/api";
            const image = new MultiArchImage("app", { context: CONTEXT, builderName: "shared", repositoryUrl: gov });
            assert.strictEqual(await promiseOf(image.repositoryArn), "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/team/api");
        });
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

    it("accepts platform refs given as a Promise, checked once it resolves", async () => {
        const vm = await deploy({ platformRefs: Promise.resolve({ "linux/amd64": AMD64_REF }), command: Promise.resolve(["serve"]) });
        assert.strictEqual(await promiseOf(vm.imageRef), AMD64_REF);
    });

    describe("architecture mismatch", () => {
        const message =
            '`instanceType` is "t4g.small", whose architecture is arm64 (linux/arm64), but the image was built for linux/amd64 only: ' +
            'add "linux/arm64" to the image\'s `platforms`, or choose an instance type whose architecture is x86_64 (linux/amd64), e.g. "t3.small"';

        it("fails at preview when an arm64 instance type meets an amd64-only image", async () => {
            await resetMocks({ ...MOCKS, dryRun: true });
            const image = new MultiArchImage("app", { context: CONTEXT, builderName: "shared", platforms: ["linux/amd64"] });
            const vm = new VmDeployment("api", { image, instanceType: "t4g.small" });
            const error = await rejectionOf(vm.platform);
            assert.ok(pulumi.InputPropertyError.isInstance(error), `expected InputPropertyError, got ${error}`);
            assert.strictEqual(error.propertyPath, "instanceType");
            assert.strictEqual(error.reason, message);
            await assert.rejects((vm.userData as unknown as { promise(): Promise<string> }).promise(), { reason: message });
        });

        it("names platformRefs when those lack the platform", async () => {
            await resetMocks({ ...MOCKS, dryRun: true });
            const vm = new VmDeployment("api", { platformRefs: pulumi.output({ "linux/amd64": AMD64_REF }), instanceType: "a1.medium" });
            const error = await rejectionOf(vm.platform);
            assert.strictEqual(
                (error as pulumi.InputPropertyError).reason,
                '`instanceType` is "a1.medium", whose architecture is arm64 (linux/arm64), but `platformRefs` has linux/amd64 only: ' +
                    'add a "linux/arm64" ref to `platformRefs`, or choose an instance type whose architecture is x86_64 (linux/amd64), e.g. "t3.small"',
            );
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
            [
                "a published port the host's sshd needs",
                { ports: [{ host: 22, container: 2222 }] },
                "ports[0].host",
                "`ports[0].host` is 22: the host itself serves that port (sshd, which Amazon Linux runs on the host): publish the container on another host port",
            ],
            [
                "a maxSize without room for a rollout",
                { desiredCount: 2, maxSize: 3 },
                "maxSize",
                "`maxSize` is 3: expected at least twice `desiredCount` (4): a rollout starts every replacement before it stops an old host",
            ],
            [
                "an HTTP check on a port not published",
                { ports: [{ host: 80, container: 8080 }], healthCheck: { http: { port: 8080 } } },
                "healthCheck.http.port",
                "`healthCheck.http.port` is 8080: expected a host port published in `ports` (80): the check runs on the host",
            ],
            [
                "an HTTP check with a path that is no path",
                { ports: [{ host: 80, container: 8080 }], healthCheck: { http: { port: 80, path: "health check" } } },
                "healthCheck.http.path",
                '`healthCheck.http.path` is "health check": expected a path starting with "/", without spaces, e.g. "/health"',
            ],
            ...(
                [
                    ["backticks", "/`touch pwned`"],
                    ["a fragment", "/health#top"],
                    ["a % that escapes nothing", "/health%zz"],
                    ["a line break", "/health\nHost: elsewhere"],
                ] as const
            ).map(([what, path]): [string, Partial<VmDeploymentArgs>, string, string] => [
                `an HTTP check path with ${what}`,
                { ports: [{ host: 80, container: 8080 }], healthCheck: { http: { port: 80, path } } },
                "healthCheck.http.path",
                `\`healthCheck.http.path\` is ${JSON.stringify(path)}: expected a path starting with "/", without spaces, e.g. "/health", and an optional "?query", ` +
                    `as an HTTP request target: letters, digits and -._~!$&'()*+,;=:@/?[]{}, any other character percent-encoded ("%20" for a space), no "#fragment", at most 1024 characters`,
            ]),
            [
                "a health check with both a command and http",
                { ports: [{ host: 80, container: 80 }], healthCheck: { command: ["true"], http: { port: 80 } } },
                "healthCheck",
                "`healthCheck` is {",
            ],
            [
                "an empty health command",
                { healthCheck: { command: [] } },
                "healthCheck.command",
                "`healthCheck.command` is []: expected a non-empty list of strings",
            ],
            [
                "a negative grace period",
                { healthCheck: { gracePeriodSeconds: -1 } },
                "healthCheck.gracePeriodSeconds",
                "`healthCheck.gracePeriodSeconds` is -1: expected whole seconds from 0 to 600",
            ],
            [
                "a health timeout too long for the lifecycle hook",
                { healthCheck: { timeoutSeconds: 7200 } },
                "healthCheck.timeoutSeconds",
                "`healthCheck.timeoutSeconds` is 7200: expected whole seconds from 1 to 1800",
            ],
            [
                "a KMS key that is no key ARN",
                { environment: { A: "1" }, environmentKeyArn: "alias/aws/ssm" },
                "environmentKeyArn",
                '`environmentKeyArn` is "alias/aws/ssm": expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id>',
            ],
            [
                "a structural image whose platform has no ref",
                {
                    platformRefs: undefined,
                    image: { platforms: ["linux/amd64", "linux/arm64"], platformRefs: { "linux/amd64": AMD64_REF }, repositoryArn: REPO_ARN },
                },
                "image.platformRefs",
                '`image.platforms` lists "linux/arm64" but `image.platformRefs` has no ref for it (it has linux/amd64)',
            ],
            [
                "a structural image whose ref is not in ECR",
                {
                    platformRefs: undefined,
                    image: { platforms: ["linux/amd64"], platformRefs: { "linux/amd64": `quay.io/team/api@${fakeDigest("q")}` }, repositoryArn: REPO_ARN },
                },
                "image",
                '`image` is in the repository "quay.io/team/api", outside ECR: the hosts authenticate to ECR only',
            ],
            [
                "a structural image whose ref is a tag",
                { platformRefs: undefined, image: { platforms: ["linux/amd64"], platformRefs: { "linux/amd64": `${REPO_URL}:v1` }, repositoryArn: REPO_ARN } },
                'image.platformRefs["linux/amd64"]',
                `\`image.platformRefs["linux/amd64"]\` is "${REPO_URL}:v1": expected an image pinned by digest`,
            ],
            [
                "a structural image whose refs are in another repository than its ARN",
                {
                    platformRefs: undefined,
                    image: {
                        platforms: ["linux/amd64"],
                        platformRefs: { "linux/amd64": AMD64_REF },
                        repositoryArn: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team/other`,
                    },
                },
                "image.repositoryArn",
                `\`image.repositoryArn\` is "arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team/other": expected the ARN of the repository \`image.platformRefs\` are in, ${REPO_ARN}`,
            ],
            [
                "a structural image whose refs are no object",
                {
                    platformRefs: undefined,
                    image: { platforms: ["linux/amd64"], platformRefs: "nope" as unknown as Record<string, string>, repositoryArn: REPO_ARN },
                },
                "image.platformRefs",
                '`image.platformRefs` is "nope": expected an object of platform',
            ],
            [
                "a waitForRollout that is no boolean",
                { waitForRollout: "yes" as unknown as boolean },
                "waitForRollout",
                '`waitForRollout` is "yes": expected true or false',
            ],
            [
                "a rolloutTimeoutSeconds below a minute",
                { rolloutTimeoutSeconds: 59 },
                "rolloutTimeoutSeconds",
                "`rolloutTimeoutSeconds` is 59: expected a whole number of seconds from 60 to 86400, or leave it out for twice the launch heartbeat plus 600",
            ],
            [
                "a rolloutTimeoutSeconds that is not whole",
                { rolloutTimeoutSeconds: 90.5 },
                "rolloutTimeoutSeconds",
                "`rolloutTimeoutSeconds` is 90.5: expected a whole number of seconds from 60 to 86400",
            ],
            [
                "a rolloutTimeoutSeconds over a day",
                { rolloutTimeoutSeconds: 86401 },
                "rolloutTimeoutSeconds",
                "`rolloutTimeoutSeconds` is 86401: expected a whole number of seconds from 60 to 86400",
            ],
            [
                "a rolloutTimeoutSeconds given as a string",
                { rolloutTimeoutSeconds: "600" as unknown as number },
                "rolloutTimeoutSeconds",
                '`rolloutTimeoutSeconds` is "600": expected a whole number of seconds from 60 to 86400',
            ],
            [
                "a rolloutTimeoutSeconds with waitForRollout: false",
                { waitForRollout: false, rolloutTimeoutSeconds: 600 },
                "rolloutTimeoutSeconds",
                "`rolloutTimeoutSeconds` is given with `waitForRollout: false`: nothing waits for a rollout; leave one of them out",
            ],
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

        it("fails with the usual error, never a TypeError, when a structural image's refs known later are not ECR refs by digest", async () => {
            const vm = new VmDeployment("bad", {
                image: {
                    platforms: ["linux/amd64"],
                    platformRefs: pulumi.output({ "linux/amd64": pulumi.output(`quay.io/team/api@${fakeDigest("q")}`) }),
                    repositoryArn: pulumi.output(REPO_ARN),
                },
            });
            const error = await rejectionOf(vm.imageRef);
            assert.ok(pulumi.InputPropertiesError.isInstance(error), `expected InputPropertiesError, got ${error}`);
            assert.match(error.message, /`image` is in the repository "quay\.io\/team\/api", outside ECR: the hosts authenticate to ECR only/);
        });

        it("refuses a MultiArchImage pushed to a registry other than ECR, naming the repository and why", async () => {
            const image = new MultiArchImage("app", { context: CONTEXT, builderName: "shared", registry: { repositoryUrl: "127.0.0.1:5000/team/api" } });
            const vm = new VmDeployment("api", { image });
            const error = await rejectionOf(vm.imageRef);
            assert.ok(pulumi.InputPropertiesError.isInstance(error), `expected InputPropertiesError, got ${error}`);
            const reason =
                '`image` is in the repository "127.0.0.1:5000/team/api", outside ECR: the hosts authenticate to ECR only (with their instance role\'s ECR token), ' +
                "so they could not pull it; push the image to ECR (a MultiArchImage without `registry`), or promote it into ECR with a PromotedImage";
            assert.deepStrictEqual((error as ErrorWithProblems).errors, [{ propertyPath: "image", reason }]);
            assert.ok(error.message.endsWith(`VmDeployment "api" has 1 invalid argument problem:\n  - ${reason}`), error.message);
        });

        it("fails when platformRefs from an Output are not pinned", async () => {
            const vm = new VmDeployment("bad", { platformRefs: pulumi.output({ amd64: `${REPO_URL}:latest` }) });
            const error = await rejectionOf(vm.imageRef);
            assert.ok(pulumi.InputPropertiesError.isInstance(error), `expected InputPropertiesError, got ${error}`);
            assert.match(error.message, /`platformRefs\["amd64"\]` is ".*:latest": expected an image pinned by digest/);
        });
    });
});
