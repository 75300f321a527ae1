// VmDeployment: EC2 hosts in an auto-scaling group that run one image pinned to the
// digest of the hosts' own architecture, read from the instance type, never its name.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { containerName, environmentVariableProblem, HealthCheck, healthCheckProblems, PortMapping, renderBootScript } from "../rules/bootScript";
import { repositoryArnFromUrl } from "../rules/ecr";
import { InputProblems, show } from "../rules/errors";
import { ENVIRONMENT_NAME_PATTERN } from "../rules/names";
import { KMS_KEY_ARN_PATTERN } from "../rules/awsNames";
import { parseImageReference } from "../rules/imageReference";
import { isKnown } from "../rules/inputs";
import { EC2_ASSUME_ROLE_POLICY, environmentKeyPolicy, hostPolicyDocument } from "../rules/iamPolicy";
import { requireSignedImage, requirementProblems, SignatureRequirement } from "./imageSignature";
import { RolloutWait } from "./rolloutWait";
import {
    hostPlatform,
    al2023AmiParameter,
    amiArchitectureProblem,
    autoScalingGroupName,
    LAUNCH_HOOK_NAME,
    launchHeartbeatSeconds,
    ROLLOUT_POLL_SECONDS,
    DEFAULT_INSTANCE_TYPE,
    ROLLOUT_TIMEOUT_RANGE,
    ROLLOUT_ALLOWANCE_SECONDS,
    defaultRolloutTimeoutSeconds,
} from "../rules/hosts";
import { PinnedRefs, pinImage, pinRefs } from "../rules/pinnedImage";
import { environmentParameterValue } from "../rules/environment";

export type { HealthCheck, HttpHealthCheck, PortMapping } from "../rules/bootScript";

/**
 * What VmDeployment needs of an image, as a `MultiArchImage` has it.
 *
 * A structural type rather than the class, so the argument stays expressible in a
 * Pulumi package schema (other languages pass these three fields).
 */
export interface DeployableImage {
    /**
     * The canonical platforms the image was built for, e.g. `["linux/amd64", "linux/arm64"]`.
     */
    platforms: string[];
    /**
     * Each platform's image by digest: `{ "linux/amd64": "<repositoryUrl>@sha256:…" }`.
     */
    platformRefs: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * The ARN of the ECR repository the images are in, for the hosts' pull policy.
     */
    repositoryArn: pulumi.Input<string>;
}

/** The arguments of a VmDeployment. */
export interface VmDeploymentArgs {
    /**
     * The image to run: a `MultiArchImage`.
     *
     * Each host runs the image's digest for the host's architecture. The image must be in
     * ECR, where the hosts log in (a MultiArchImage with `registry` elsewhere is refused:
     * promote it into ECR with a PromotedImage). Give either this or `platformRefs`, not
     * both.
     */
    image?: DeployableImage;
    /**
     * The images to run by platform, each pinned by digest, when the image is built elsewhere.
     *
     * For example `{ "linux/amd64": "<account>.dkr.ecr.<region>.amazonaws.com/app@sha256:…" }`,
     * such as another stack's `MultiArchImage.platformRefs`. All refs must be in one ECR
     * repository. Give either this or `image`, not both.
     */
    platformRefs?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * The EC2 instance type of the hosts.
     *
     * Its architecture, as EC2 reports it (`supportedArchitectures`), picks the image's
     * platform: `x86_64` runs `linux/amd64`, `arm64` (Graviton) runs `linux/arm64`. A
     * plain string, so the check runs at preview. Defaults to `"t3.micro"` (x86_64).
     * Equivalent to `aws ec2 run-instances --instance-type`.
     */
    instanceType?: string;
    /**
     * How many hosts run.
     *
     * Defaults to `1`. Equivalent to `aws autoscaling create-auto-scaling-group --desired-capacity`.
     */
    desiredCount?: number;
    /**
     * The fewest hosts the group keeps.
     *
     * Defaults to `desiredCount`. Equivalent to `aws autoscaling create-auto-scaling-group --min-size`.
     */
    minSize?: number;
    /**
     * The most hosts the group may run.
     *
     * At least twice `desiredCount`: a rollout starts every replacement host before it
     * stops an old one, so the group briefly runs both. Defaults to twice
     * `desiredCount`; the group has no scaling policy, so no more hosts run than
     * `desiredCount` outside a rollout. Equivalent to
     * `aws autoscaling create-auto-scaling-group --max-size`.
     */
    maxSize?: number;
    /**
     * The subnets the hosts run in.
     *
     * Defaults to the subnets of the region's default VPC. Equivalent to
     * `aws autoscaling create-auto-scaling-group --vpc-zone-identifier`.
     */
    subnetIds?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * The security groups of the hosts.
     *
     * Defaults to the VPC's default security group. Equivalent to
     * `aws ec2 run-instances --security-group-ids`.
     */
    securityGroupIds?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Ports published from the container on the host.
     *
     * Not a port the host itself serves (22, sshd's). Defaults to none. Equivalent to
     * `docker run --publish HOST:CONTAINER`.
     */
    ports?: PortMapping[];
    /**
     * What "the container answers" means: the check a new host must pass before it is
     * put in service.
     *
     * A new host runs its boot script while its launch is held by a lifecycle hook; the
     * script completes the launch (CONTINUE) only once the check passes, and abandons it
     * otherwise (pull failed, wrong architecture, container exited, check failed), which
     * terminates the host and fails the rollout. `{ command: [...] }` runs a command in
     * the container (`docker exec`, exit 0); `{ http: { port, path } }` asks
     * `http://127.0.0.1:<host port><path>` on the host (2xx or 3xx), the path as written
     * (an HTTP request target; see `HttpHealthCheck.path`).
     * `gracePeriodSeconds` and `timeoutSeconds` bound it. Defaults to: the container
     * runs after 10 seconds without having restarted, and the image's `HEALTHCHECK`, if
     * it has one, reports healthy within 300 seconds. Equivalent to `docker exec` or
     * `curl --fail --globoff --path-as-is`.
     */
    healthCheck?: HealthCheck;
    /**
     * The container's environment variables.
     *
     * Kept in an SSM SecureString parameter encrypted with a customer managed KMS key,
     * never in user data, so secret values stay secret. The key's policy lets the hosts'
     * role decrypt through SSM, for this parameter only (`kms:ViaService`,
     * `kms:EncryptionContext:PARAMETER_ARN`), and lets the account's IAM policies grant
     * the rest: a principal reads the value only with `ssm:GetParameter` on the
     * parameter and `kms:Decrypt` on the key (administrators). Values may hold quotes,
     * `$` and spaces; not line breaks. Defaults to none. Equivalent to
     * `docker run --env-file`.
     */
    environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * The KMS key that encrypts the environment parameter, instead of one the component creates.
     *
     * A key ARN, `arn:aws:kms:<region>:<account>:key/<id>`. Its key policy must let the
     * hosts' role (output `instanceRoleArn`) use `kms:Decrypt`, itself or through the
     * account's IAM policies; the hosts are granted `kms:Decrypt` on it alone, through SSM
     * for the parameter only. Defaults to a key `<name>-environment-key` created with
     * the parameter, rotated yearly. Equivalent to `aws ssm put-parameter --key-id`.
     */
    environmentKeyArn?: pulumi.Input<string>;
    /**
     * The container's command, replacing the image's `CMD`.
     *
     * It is part of the user data, which anyone allowed to describe launch templates can
     * read: pass secrets in `environment`. Defaults to the image's `CMD`. Equivalent to
     * the `COMMAND` arguments of `docker run`.
     */
    command?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * The AMI the hosts boot.
     *
     * It must be of the instance type's architecture (checked at preview) and have
     * `dnf`, `systemd`, `curl` and the AWS CLI. Pin it to decide when hosts move to a new
     * AMI: changing it rolls the fleet like a new digest. Defaults to
     * `resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-<arch>`,
     * which EC2 resolves at each launch: the launch template does not change when AWS
     * publishes an AMI, so no `up` rolls the fleet for it, and each host launched later
     * (a rollout, a replacement) boots the AMI current then. Equivalent to
     * `aws ec2 run-instances --image-id`.
     */
    amiId?: pulumi.Input<string>;
    /**
     * The EC2 key pair for SSH to the hosts.
     *
     * Defaults to none: the hosts need no login to receive a new image. Equivalent to
     * `aws ec2 run-instances --key-name`.
     */
    keyName?: pulumi.Input<string>;
    /**
     * Refuse to deploy a digest without a valid cosign signature by this key.
     *
     * During `pulumi up`, before the launch template is created or changed, the digest
     * the hosts would pin is verified (`cosign verify`, no transparency log); an unsigned
     * digest, a signature by another key or over another digest fails the update with a
     * message naming the digest and the key. Hosts need nothing new. Defaults to no check.
     * Equivalent to `cosign verify --key … --insecure-ignore-tlog=true <repo>@sha256:…`.
     */
    requireSignature?: SignatureRequirement;
    /**
     * Whether `pulumi up` waits for each rollout and fails when it fails.
     *
     * A new digest, environment or instance setting gives the launch template a new
     * version, and the aws provider starts an instance refresh that it does not wait for.
     * With this on, `up` follows that refresh to its end from the machine that runs
     * `pulumi`, with the AWS CLI v2 and that machine's credentials (read-only calls:
     * `autoscaling:DescribeAutoScalingGroups`, `autoscaling:DescribeInstanceRefreshes`,
     * `autoscaling:DescribeScalingActivities`, `ec2:DescribeInstances`), and fails when the
     * refresh does not succeed, naming each failed host with the digest and its reason,
     * what the fleet runs now, and the commands that show more. The first `up` waits for
     * its hosts through the group instead. A preview calls nothing. Defaults to `true`.
     * Equivalent to `aws autoscaling describe-instance-refreshes --auto-scaling-group-name
     * <name>` until the refresh ends.
     */
    waitForRollout?: boolean;
    /**
     * How long `pulumi up` waits for a rollout to end.
     *
     * Past it, `up` fails saying that the refresh continues in AWS; the next `up` waits for
     * it again. A whole number of seconds from 60 to 86400, only with `waitForRollout`.
     * Defaults to twice the launch heartbeat plus 600: the heartbeat (600 s plus the health
     * check's grace period and timeout, 910 s with the default check) is how long one
     * replacement may take before its launch is abandoned, Auto Scaling may launch another
     * in its place, and 600 s covers warm-up and stopping the old hosts; 2420 s with the
     * default check.
     */
    rolloutTimeoutSeconds?: number;
}

const INSTANCE_TYPE = /^[a-z0-9-]+\.[a-z0-9-]+$/;
const AMI_ID = /^ami-[0-9a-f]{8,17}$/;

// Host ports the host itself serves, with who: publishing one breaks the host or the container.
const HOST_PORTS: Record<number, string> = { 22: "sshd, which Amazon Linux runs on the host" };

/** Where the digests come from: a MultiArchImage (or its fields), or refs built elsewhere. */
type ImageChoice = { image: DeployableImage } | { platformRefs: pulumi.Input<Record<string, pulumi.Input<string>>> };

/** The hosts' size: the instance type and how many run. */
interface HostCounts {
    instanceType: string;
    desiredCount: number;
    minSize: number;
    maxSize: number;
}

/** The plain arguments, checked and with their defaults. */
interface Plan extends HostCounts {
    source: ImageChoice;
    ports: PortMapping[];
    healthCheck?: HealthCheck;
    /** Seconds `up` waits for a rollout, or undefined when it does not wait. */
    rolloutTimeoutSeconds?: number;
}

/**
 * EC2 hosts in an auto-scaling group that run one container image, each host pinned to
 * the digest of its own architecture. The instance type's architecture, as EC2 reports
 * it, picks the platform; a mismatch fails at preview. A changed digest rolls the hosts:
 * replacements start, pass their health check and go in service before old hosts stop,
 * a rollout whose replacements fail leaves the old hosts serving, and `pulumi up` waits
 * for the rollout and fails, naming the failed hosts and why, when it fails.
 */
export class VmDeployment extends pulumi.ComponentResource {
    /** The platform the hosts run, from the instance type's architecture, e.g. `linux/amd64`. */
    public readonly platform: pulumi.Output<string>;
    /** The image the hosts run, pinned: `<repositoryUrl>@sha256:…`. */
    public readonly imageRef: pulumi.Output<string>;
    /** The AMI the hosts boot: the `amiId` given, checked, or `resolve:ssm:<Amazon Linux 2023 parameter>`. */
    public readonly imageId: pulumi.Output<string>;
    /** The launch template's id. */
    public readonly launchTemplateId: pulumi.Output<string>;
    /** The auto-scaling group's name. */
    public readonly autoScalingGroupName: pulumi.Output<string>;
    /** The ARN of the hosts' IAM role. */
    public readonly instanceRoleArn: pulumi.Output<string>;
    /** The hosts' boot script (user data, before base64). It holds no environment values. */
    public readonly userData: pulumi.Output<string>;
    /** The hosts' IAM role. */
    public readonly role: aws.iam.Role;
    /** The instance profile that gives the hosts the role. */
    public readonly instanceProfile: aws.iam.InstanceProfile;
    /** The SecureString parameter holding the container's environment, when there is one. */
    public readonly environmentParameter?: aws.ssm.Parameter;
    /** The KMS key that encrypts the environment, when the component created it. */
    public readonly environmentKey?: aws.kms.Key;
    /** The hosts' launch template; each digest is a new version. */
    public readonly launchTemplate: aws.ec2.LaunchTemplate;
    /** The hosts' auto-scaling group. */
    public readonly autoScalingGroup: aws.autoscaling.Group;

    constructor(name: string, args: VmDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("multiarch:index:VmDeployment", name, {}, opts);
        args = args ?? {};
        const plan = validate(name, args);

        const source = imageSource(name, plan.source);
        this.platform = hostPlatformOf(plan, source, this);
        this.imageRef = pulumi.all([this.platform, source.refs]).apply(([platform, refs]) => refs[platform]);
        const signatureCheck = args.requireSignature === undefined ? undefined : requireSignedImage(name, this.imageRef, args.requireSignature, this);
        this.imageId = hostImageId(args.amiId, plan, this.platform, this);
        const subnetIds = args.subnetIds ?? defaultSubnetIds(this);

        this.role = new aws.iam.Role(
            `${name}-role`,
            {
                assumeRolePolicy: EC2_ASSUME_ROLE_POLICY,
                description: `Hosts of VmDeployment ${name}: pull its image, read its environment, complete their own launch`,
            },
            { parent: this },
        );
        const environment = args.environment === undefined ? undefined : environmentStore(name, args.environment, args.environmentKeyArn, this.role, this);
        this.environmentKey = environment?.key;
        this.environmentParameter = environment?.parameter;

        // The group's name is fixed up front, so that the hosts' policy and boot script
        // can name it before it exists (its ARN would be a cycle).
        const group = { name: autoScalingGroupName(pulumi.getProject(), pulumi.getStack(), name), region: aws.getRegionOutput({}, { parent: this }).region };
        const policy = hostPolicy(name, this.role, source.repositoryArn, environment, group, this);
        this.instanceProfile = new aws.iam.InstanceProfile(`${name}-profile`, { role: this.role.name }, { parent: this });

        this.userData = bootScript(name, plan, this.imageRef, this.platform, args.command, environment?.parameter, group);
        this.launchTemplate = launchTemplate(name, args, plan, this.imageId, this.instanceProfile, this.userData, signatureCheck, this);
        this.autoScalingGroup = autoScalingGroup(name, plan, group.name, subnetIds, this.launchTemplate, [policy, this.instanceProfile], this);
        if (plan.rolloutTimeoutSeconds !== undefined) {
            rolloutWait(name, plan.rolloutTimeoutSeconds, this.autoScalingGroup, group.region, stackAwsProfile(opts), this);
        }

        this.launchTemplateId = this.launchTemplate.id;
        this.autoScalingGroupName = this.autoScalingGroup.name;
        this.instanceRoleArn = this.role.arn;

        this.registerOutputs({
            platform: this.platform,
            imageRef: this.imageRef,
            imageId: this.imageId,
            launchTemplateId: this.launchTemplateId,
            autoScalingGroupName: this.autoScalingGroupName,
            instanceRoleArn: this.instanceRoleArn,
            userData: this.userData,
        });
    }
}

/** The image's platforms and refs, and the repository the hosts pull from. */
interface ImageSource {
    kind: "image" | "platformRefs";
    platforms: pulumi.Output<string[]>;
    refs: pulumi.Output<Record<string, string>>;
    repositoryArn: pulumi.Output<string>;
}

/** The group's fixed name and its region, known before the group exists. */
interface GroupName {
    name: string;
    region: pulumi.Output<string>;
}

/** Where the container's environment is kept: a SecureString parameter and the key that encrypts it. */
interface EnvironmentStore {
    parameter: aws.ssm.Parameter;
    keyArn: pulumi.Output<string>;
    /** The key, when the component created it. */
    key?: aws.kms.Key;
}

/**
 * The platform the hosts run, from the instance type's architecture as EC2 reports it.
 * Inside apply, so that it runs (and fails) at preview: getInstanceType is answered then.
 */
function hostPlatformOf(plan: Plan, source: ImageSource, parent: VmDeployment): pulumi.Output<string> {
    const instanceType = aws.ec2.getInstanceTypeOutput({ instanceType: plan.instanceType }, { parent });
    return pulumi.all([instanceType.supportedArchitectures, source.platforms]).apply(([architectures, platforms]) => {
        const chosen = hostPlatform(plan.instanceType, architectures, platforms, source.kind);
        if ("reason" in chosen) {
            throw new pulumi.InputPropertyError({ propertyPath: "instanceType", reason: chosen.reason });
        }
        return chosen.platform;
    });
}

/**
 * The AMI the hosts boot. By default EC2 resolves the public parameter at each launch, so
 * the launch template, and the fleet, stay as they are when AWS publishes an AMI. A given
 * AMI must be of the hosts' architecture: checked at preview, as the image is.
 */
function hostImageId(given: pulumi.Input<string> | undefined, plan: Plan, hostPlatform: pulumi.Output<string>, parent: VmDeployment): pulumi.Output<string> {
    if (given === undefined) {
        return hostPlatform.apply((platform) => `resolve:ssm:${al2023AmiParameter(platform)}`);
    }
    const amiId = pulumi.output(given);
    const ami = aws.ec2.getAmiOutput({ filters: [{ name: "image-id", values: [amiId] }] }, { parent });
    return pulumi.all([amiId, ami.architecture, hostPlatform]).apply(([id, architecture, platform]) => {
        const problem = amiArchitectureProblem(id, architecture, plan.instanceType, platform);
        if (problem !== undefined) {
            throw new pulumi.InputPropertyError({ propertyPath: "amiId", reason: problem });
        }
        return id;
    });
}

/**
 * The container's environment in a SecureString parameter: user data is readable by
 * anyone allowed ec2:DescribeLaunchTemplateVersions, so the environment lives where only
 * the hosts' role can read it, encrypted with the key given or one of its own.
 */
function environmentStore(
    name: string,
    environment: NonNullable<VmDeploymentArgs["environment"]>,
    givenKeyArn: pulumi.Input<string> | undefined,
    role: aws.iam.Role,
    parent: VmDeployment,
): EnvironmentStore {
    let key: aws.kms.Key | undefined;
    let keyArn: pulumi.Output<string>;
    if (givenKeyArn !== undefined) {
        keyArn = pulumi.output(givenKeyArn);
    } else {
        // With the AWS managed key aws/ssm, anyone in the account allowed
        // ssm:GetParameter could decrypt; this key's policy names who may. The policy
        // names the parameter, which is encrypted under the key, so it is a resource of
        // its own after both (KMS gives the key its default policy, the account's
        // statement alone, until then).
        key = new aws.kms.Key(
            `${name}-environment-key`,
            { description: `Encrypts the container environment of VmDeployment ${name}`, enableKeyRotation: true },
            { parent },
        );
        keyArn = key.arn;
    }
    const parameter = new aws.ssm.Parameter(
        `${name}-environment`,
        {
            type: "SecureString",
            keyId: keyArn,
            value: pulumi.secret(pulumi.output(environment).apply(environmentParameterValue)),
            description: `The container environment of VmDeployment ${name}, as a Docker env file`,
        },
        { parent },
    );
    if (key !== undefined) {
        new aws.kms.KeyPolicy(
            `${name}-environment-key-policy`,
            { keyId: key.id, policy: pulumi.all([role.arn, parameter.arn]).apply(([roleArn, parameterArn]) => environmentKeyPolicy(roleArn, parameterArn)) },
            { parent },
        );
    }
    return { parameter, keyArn, key };
}

/** The hosts' policy: pull the image, read the environment, complete their own launch. */
function hostPolicy(
    name: string,
    role: aws.iam.Role,
    repositoryArn: pulumi.Output<string>,
    environment: EnvironmentStore | undefined,
    group: GroupName,
    parent: VmDeployment,
): aws.iam.RolePolicy {
    return new aws.iam.RolePolicy(
        `${name}-host-policy`,
        {
            role: role.id,
            policy: pulumi
                .all([repositoryArn, environment?.parameter.arn, environment?.keyArn, role.arn, group.region])
                .apply(([imageRepositoryArn, environmentParameterArn, keyArn, roleArn, groupRegion]) =>
                    hostPolicyDocument({
                        repositoryArn: imageRepositoryArn,
                        environmentParameterArn,
                        environmentKeyArn: keyArn,
                        roleArn,
                        group: { name: group.name, region: groupRegion },
                    }),
                ),
        },
        { parent },
    );
}

/**
 * The hosts' boot script. The digest (and the environment's version) is in it, so a new
 * image is a new launch template version, which the group's instance refresh rolls out.
 */
function bootScript(
    name: string,
    plan: Plan,
    imageRef: pulumi.Output<string>,
    platform: pulumi.Output<string>,
    command: VmDeploymentArgs["command"],
    parameter: aws.ssm.Parameter | undefined,
    group: GroupName,
): pulumi.Output<string> {
    const environmentParameter = parameter
        ? pulumi.all([parameter.name, parameter.version, parameter.arn]).apply(([parameterName, version, arn]) => ({
              name: parameterName,
              version,
              region: arn.split(":")[3],
          }))
        : undefined;
    return pulumi
        .all([imageRef, platform, pulumi.output(command ?? []), environmentParameter, group.region])
        .apply(([pinnedRef, hostPlatform, containerCommand, environment, groupRegion]) =>
            renderBootScript({
                containerName: containerName(name),
                imageRef: pinnedRef,
                platform: hostPlatform,
                registryRegion: repositoryArnFromUrl(pinnedRef.slice(0, pinnedRef.indexOf("@")))!.split(":")[3],
                ports: plan.ports,
                command: containerCommand,
                environmentParameter: environment,
                healthCheck: plan.healthCheck,
                lifecycleHook: { name: LAUNCH_HOOK_NAME, groupName: group.name, region: groupRegion },
            }),
        );
}

/** The hosts' launch template; with `requireSignature`, no version names a digest before it verifies. */
function launchTemplate(
    name: string,
    args: VmDeploymentArgs,
    plan: Plan,
    imageId: pulumi.Output<string>,
    instanceProfile: aws.iam.InstanceProfile,
    userData: pulumi.Output<string>,
    signatureCheck: pulumi.Resource | undefined,
    parent: VmDeployment,
): aws.ec2.LaunchTemplate {
    return new aws.ec2.LaunchTemplate(
        `${name}-launch-template`,
        {
            description: `Hosts of VmDeployment ${name}`,
            imageId,
            instanceType: plan.instanceType,
            keyName: args.keyName,
            vpcSecurityGroupIds: args.securityGroupIds,
            iamInstanceProfile: { arn: instanceProfile.arn },
            // IMDSv2 only. A hop limit of 1 keeps the instance role's credentials from
            // containers (one hop further, on Docker's bridge): only the host needs them.
            metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
            blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "true", volumeType: "gp3", deleteOnTermination: "true" } }],
            userData: userData.apply((script) => Buffer.from(script, "utf8").toString("base64")),
            updateDefaultVersion: true,
        },
        { parent, dependsOn: signatureCheck ? [signatureCheck] : [] },
    );
}

/** The hosts' auto-scaling group, which rolls every new launch template version out. */
function autoScalingGroup(
    name: string,
    plan: Plan,
    groupName: string,
    subnetIds: pulumi.Input<pulumi.Input<string>[]>,
    template: aws.ec2.LaunchTemplate,
    // Hosts log in at boot: the role's policy must exist before the first one starts.
    dependsOn: pulumi.Resource[],
    parent: VmDeployment,
): aws.autoscaling.Group {
    const heartbeat = launchHeartbeatSeconds(plan.healthCheck);
    return new aws.autoscaling.Group(
        `${name}-asg`,
        {
            name: groupName,
            vpcZoneIdentifiers: subnetIds,
            desiredCapacity: plan.desiredCount,
            minSize: plan.minSize,
            maxSize: plan.maxSize,
            launchTemplate: { id: template.id, version: template.latestVersion.apply(String) },
            // A host is in service only once its boot script completes this hook
            // (CONTINUE) after the container answers; it abandons it otherwise, and a
            // host that says nothing is abandoned when the heartbeat runs out.
            initialLifecycleHooks: [
                {
                    name: LAUNCH_HOOK_NAME,
                    lifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING",
                    defaultResult: "ABANDON",
                    heartbeatTimeout: heartbeat,
                },
            ],
            // Launch before terminating, at every fleet size: replacements (up to the
            // whole fleet again) start and pass their check while every old host
            // serves, and an old host stops only once its replacement is in service,
            // so a refresh whose replacements fail leaves the old hosts serving.
            //
            // No autoRollback: it cannot return to the previous version here.
            // - The aws provider updates the group's launch template to the new version
            //   (UpdateAutoScalingGroup) before it starts the refresh with that same
            //   version as the desired configuration (`resourceGroupUpdate`,
            //   `expandStartInstanceRefreshInput` in terraform-provider-aws
            //   internal/service/autoscaling/group.go), and a rollback returns to "the
            //   configuration that you last saved on the Auto Scaling group before
            //   starting the instance refresh" (Auto Scaling user guide, "Undo changes
            //   with a manual or auto rollback"): the new version, which launches the
            //   failing hosts again (hashicorp/terraform-provider-aws#34189, open; the
            //   fix, #39007, was closed unmerged).
            // - "A rollback is not supported" when the launch template's ImageId is a
            //   Systems Manager parameter (RefreshPreferences.AutoRollback and
            //   RollbackInstanceRefresh in the Auto Scaling API reference), which is
            //   this component's default AMI (`resolve:ssm:…`).
            instanceRefresh: {
                strategy: "Rolling",
                preferences: { minHealthyPercentage: 100, maxHealthyPercentage: 200, autoRollback: false },
            },
            // The first `up` waits for the hosts to pass their checks, and fails if they do not.
            waitForCapacityTimeout: `${Math.ceil(heartbeat / 60) + 5}m`,
            tags: [{ key: "Name", value: name, propagateAtLaunch: true }],
        },
        { parent, dependsOn },
    );
}

/** The provider starts the refresh and does not wait for it: a later `up` waits here. */
/**
 * The named profile the stack's default AWS provider uses (`aws:profile`), for the AWS CLI
 * that follows rollouts; undefined when none is set or the program gives the component its
 * own provider, whose settings a component cannot read.
 */
function stackAwsProfile(opts: pulumi.ComponentResourceOptions | undefined): string | undefined {
    const providers = opts?.providers;
    const explicit =
        opts?.provider !== undefined || (Array.isArray(providers) ? providers.length > 0 : providers !== undefined && Object.keys(providers).length > 0);
    return explicit ? undefined : new pulumi.Config("aws").get("profile");
}

function rolloutWait(
    name: string,
    timeoutSeconds: number,
    group: aws.autoscaling.Group,
    region: pulumi.Output<string>,
    profile: string | undefined,
    parent: VmDeployment,
): RolloutWait {
    return new RolloutWait(
        `${name}-rollout`,
        {
            context: `VmDeployment "${name}"`,
            groupName: group.name,
            region,
            launchTemplateId: group.launchTemplate.apply((template) => template?.id ?? ""),
            launchTemplateVersion: group.launchTemplate.apply((template) => template?.version ?? ""),
            platform: parent.platform,
            imageRef: parent.imageRef,
            timeoutSeconds,
            pollIntervalSeconds: ROLLOUT_POLL_SECONDS,
            ...(profile === undefined ? {} : { profile }),
        },
        { parent, dependsOn: [group] },
    );
}

/** Where the digests come from: the image's platforms and refs, and its repository. */
function imageSource(name: string, choice: ImageChoice): ImageSource {
    let pinned: pulumi.Output<PinnedRefs>;
    let platforms: pulumi.Output<string[]>;
    if ("image" in choice) {
        const image = choice.image;
        // Checked once known, by the same function as plain values in validate().
        pinned = pulumi.all([image.platforms, image.platformRefs, image.repositoryArn]).apply(([imagePlatforms, refs, repositoryArn]) => {
            const problems = new InputProblems();
            return problems.valueOrThrow("VmDeployment", name, pinDeployableImage(imagePlatforms, refs, repositoryArn, problems));
        });
        // The listed platforms are known at preview, when the refs are not yet: the
        // architecture check runs on them then.
        platforms = pulumi.output(image.platforms);
    } else {
        pinned = pulumi.output(choice.platformRefs).apply((refs) => {
            const problems = new InputProblems();
            return problems.valueOrThrow("VmDeployment", name, pinRefs(refs, problems));
        });
        platforms = pinned.apply((p) => Object.keys(p.refs));
    }
    return {
        kind: "image" in choice ? "image" : "platformRefs",
        platforms,
        refs: pinned.apply((p) => p.refs),
        repositoryArn: pinned.apply((p) => p.repositoryArn),
    };
}

/** The subnets of the region's default VPC. */
function defaultSubnetIds(parent: pulumi.Resource): pulumi.Output<string[]> {
    const vpc = aws.ec2.getVpcOutput({ default: true }, { parent });
    return aws.ec2.getSubnetsOutput({ filters: [{ name: "vpc-id", values: [vpc.id] }] }, { parent }).ids;
}

/** Checks every plain argument and throws all problems together, before any child exists. */
function validate(name: string, args: VmDeploymentArgs): Plan {
    const problems = new InputProblems();
    const source = checkImageChoice(args, problems);
    const hosts = checkHostCounts(args, problems);
    const ports = checkPorts(args.ports ?? [], problems);
    checkEnvironment(args, problems);
    checkContainer(args, ports, problems);
    requirementProblems(args.requireSignature, problems);
    const rolloutTimeoutSeconds = checkRollout(args, problems);
    return problems.valueOrThrow("VmDeployment", name, source && { source, ...hosts, ports, healthCheck: args.healthCheck, rolloutTimeoutSeconds });
}

/** `image` or `platformRefs`, exactly one; plain refs are checked now, Output ones once known, by the same function. */
function checkImageChoice(args: VmDeploymentArgs, problems: InputProblems): ImageChoice | undefined {
    const image = args.image;
    if (image !== undefined && args.platformRefs !== undefined) {
        problems.add(
            "image",
            "`image` and `platformRefs` are both given: give `image` to run a MultiArchImage, or `platformRefs` to run images built elsewhere, not both",
        );
    } else if (image === undefined && args.platformRefs === undefined) {
        problems.add(
            "image",
            'neither `image` nor `platformRefs` is given: give `image` (a MultiArchImage) or `platformRefs` (platform → "<repository>@sha256:<digest>")',
        );
    } else if (
        image !== undefined &&
        (typeof image !== "object" ||
            image === null ||
            !Array.isArray(image.platforms) ||
            image.platformRefs === undefined ||
            image.repositoryArn === undefined)
    ) {
        problems.add(
            "image",
            `\`image\` is not a MultiArchImage: pass the MultiArchImage itself (or its \`platforms\`, \`platformRefs\` and \`repositoryArn\`), or its \`platformRefs\` as \`platformRefs\``,
        );
    } else if (image !== undefined) {
        const refs = image.platformRefs as unknown;
        const refValues = isKnown(refs) && typeof refs === "object" && refs !== null ? Object.values(refs) : [];
        if ([image.platforms, refs, image.repositoryArn, ...refValues].every(isKnown)) {
            pinDeployableImage(image.platforms, refs, image.repositoryArn, problems);
        }
    }
    if (args.platformRefs !== undefined && isKnown(args.platformRefs)) {
        pinRefs(args.platformRefs, problems);
    }
    if (image !== undefined) {
        return { image };
    }
    return args.platformRefs === undefined ? undefined : { platformRefs: args.platformRefs };
}

/**
 * `pinImage`, once an image outside ECR (a MultiArchImage with `registry`) is refused: the
 * hosts log in with their instance role's ECR token, so they could not pull it.
 */
function pinDeployableImage(platforms: unknown, refs: unknown, repositoryArn: unknown, problems: InputProblems): PinnedRefs | undefined {
    const outside = new Set<string>();
    for (const ref of Object.values(typeof refs === "object" && refs !== null ? refs : {})) {
        try {
            const { registry, repository } = parseImageReference(ref as string);
            if (repositoryArnFromUrl(`${registry}/${repository}`) === undefined) {
                outside.add(`${registry}/${repository}`);
            }
        } catch {
            // pinImage names a malformed ref.
        }
    }
    if (outside.size === 0) {
        return pinImage(platforms, refs, repositoryArn, problems);
    }
    problems.add(
        "image",
        `\`image\` is in ${outside.size === 1 ? "the repository" : "the repositories"} ${[...outside].map(show).join(", ")}, outside ECR: the hosts authenticate to ECR only (with their instance role's ECR token), so they could not pull it; push the image to ECR (a MultiArchImage without \`registry\`), or promote it into ECR with a PromotedImage`,
    );
    return undefined;
}

/** The instance type and the group's three sizes, with their defaults; the sizes must leave room for a rollout. */
function checkHostCounts(args: VmDeploymentArgs, problems: InputProblems): HostCounts {
    const instanceType = args.instanceType ?? DEFAULT_INSTANCE_TYPE;
    if (typeof instanceType !== "string" || !INSTANCE_TYPE.test(instanceType)) {
        problems.invalid("instanceType", instanceType, 'expected an EC2 instance type as a plain string, e.g. "t3.small" or "t4g.small"');
    }
    const counts: Record<"desiredCount" | "minSize" | "maxSize", number | undefined> = {
        desiredCount: args.desiredCount,
        minSize: args.minSize,
        maxSize: args.maxSize,
    };
    let countsValid = true;
    for (const [key, value] of Object.entries(counts)) {
        if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
            problems.invalid(key, value, "expected a whole number of hosts, 0 or more");
            countsValid = false;
        }
    }
    const desiredCount = args.desiredCount ?? 1;
    const minSize = args.minSize ?? desiredCount;
    const maxSize = args.maxSize ?? 2 * desiredCount;
    if (countsValid) {
        if (minSize > desiredCount) {
            problems.invalid("minSize", minSize, `expected at most \`desiredCount\` (${desiredCount}); raise \`desiredCount\` or lower \`minSize\``);
        }
        if (maxSize < desiredCount) {
            problems.invalid("maxSize", maxSize, `expected at least \`desiredCount\` (${desiredCount}); raise \`maxSize\` or lower \`desiredCount\``);
        } else if (maxSize < 2 * desiredCount) {
            problems.invalid(
                "maxSize",
                maxSize,
                `expected at least twice \`desiredCount\` (${2 * desiredCount}): a rollout starts every replacement before it stops an old host, so the group briefly runs both; leave \`maxSize\` out or raise it`,
            );
        }
    }
    return { instanceType, desiredCount, minSize, maxSize };
}

/** Each published port: whole numbers, not one the host serves, each host port once. */
function checkPorts(ports: PortMapping[], problems: InputProblems): PortMapping[] {
    if (!Array.isArray(ports)) {
        problems.invalid("ports", ports, "expected a list of { host, container } port numbers");
        return ports;
    }
    const hostPorts = new Map<number, number>();
    ports.forEach((port, i) => {
        for (const side of ["host", "container"] as const) {
            const value = port?.[side];
            if (!(Number.isInteger(value) && value >= 1 && value <= 65535)) {
                problems.invalid(`ports[${i}].${side}`, value, "expected a whole-number port from 1 to 65535");
            }
        }
        const earlier = hostPorts.get(port?.host);
        const owner = HOST_PORTS[port?.host];
        if (owner !== undefined) {
            problems.invalid(`ports[${i}].host`, port.host, `the host itself serves that port (${owner}): publish the container on another host port`);
        } else if (earlier !== undefined) {
            problems.invalid(`ports[${i}].host`, port.host, `duplicates ports[${earlier}].host: publish each host port once`);
        } else if (port !== undefined && port !== null) {
            hostPorts.set(port.host, i);
        }
    });
    return ports;
}

/** The environment's names and plain values, and the key that encrypts it. */
function checkEnvironment(args: VmDeploymentArgs, problems: InputProblems): void {
    const environment = args.environment;
    if (environment !== undefined && isKnown(environment)) {
        if (typeof environment !== "object" || environment === null || Array.isArray(environment)) {
            problems.invalid("environment", environment, "expected an object of variable name → value");
        } else {
            for (const [key, value] of Object.entries(environment)) {
                // Output values (secrets among them) are checked when known, never shown.
                const problem = environmentVariableProblem(key, typeof value === "string" ? value : undefined);
                if (problem !== undefined) {
                    problems.add(ENVIRONMENT_NAME_PATTERN.test(key) ? `environment.${key}` : "environment", problem);
                }
            }
        }
    }
    if (typeof args.environmentKeyArn === "string" && !KMS_KEY_ARN_PATTERN.test(args.environmentKeyArn)) {
        problems.invalid(
            "environmentKeyArn",
            args.environmentKeyArn,
            "expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id>, or leave it out for a key of its own",
        );
    }
    if (args.environmentKeyArn !== undefined && args.environment === undefined) {
        problems.add(
            "environmentKeyArn",
            "`environmentKeyArn` is given without `environment`: there is nothing to encrypt; leave it out or give `environment`",
        );
    }
}

/** What each host runs and boots: the command, the AMI, the health check, the key pair. */
function checkContainer(args: VmDeploymentArgs, ports: PortMapping[], problems: InputProblems): void {
    if (args.command !== undefined && isKnown(args.command) && !Array.isArray(args.command)) {
        problems.invalid("command", args.command, 'expected a list of arguments, e.g. ["node", "server.js"]');
    }
    if (typeof args.amiId === "string" && !AMI_ID.test(args.amiId)) {
        problems.invalid("amiId", args.amiId, "expected an AMI id, ami- followed by 8 or 17 hex digits, or leave it out for Amazon Linux 2023");
    }
    for (const problem of healthCheckProblems(args.healthCheck, Array.isArray(ports) ? ports : [])) {
        problems.add(problem.propertyPath, problem.reason);
    }
    if (typeof args.keyName === "string" && args.keyName.trim() === "") {
        problems.invalid("keyName", args.keyName, "expected the name of an EC2 key pair, or leave it out");
    }
}

/** How long `up` waits for a rollout, or undefined when it does not wait. */
function checkRollout(args: VmDeploymentArgs, problems: InputProblems): number | undefined {
    const waitForRollout = args.waitForRollout ?? true;
    if (typeof waitForRollout !== "boolean") {
        problems.invalid("waitForRollout", waitForRollout, "expected true or false");
    }
    const timeout = args.rolloutTimeoutSeconds;
    if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= ROLLOUT_TIMEOUT_RANGE.min && timeout <= ROLLOUT_TIMEOUT_RANGE.max)) {
        problems.invalid(
            "rolloutTimeoutSeconds",
            timeout,
            `expected a whole number of seconds from ${ROLLOUT_TIMEOUT_RANGE.min} to ${ROLLOUT_TIMEOUT_RANGE.max}, or leave it out for twice the launch heartbeat plus ${ROLLOUT_ALLOWANCE_SECONDS}`,
        );
    }
    if (timeout !== undefined && waitForRollout === false) {
        problems.add(
            "rolloutTimeoutSeconds",
            "`rolloutTimeoutSeconds` is given with `waitForRollout: false`: nothing waits for a rollout; leave one of them out",
        );
    }
    return waitForRollout === false ? undefined : (timeout ?? defaultRolloutTimeoutSeconds(args.healthCheck));
}
