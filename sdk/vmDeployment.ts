// VmDeployment: EC2 hosts in an auto-scaling group that run one image pinned to the
// digest of the hosts' own architecture, read from the instance type, never its name.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { containerName, ENVIRONMENT_NAME_PATTERN, environmentFile, environmentVariableProblem, PortMapping, renderBootScript } from "./bootScript";
import { parseRepositoryUrl } from "./ecr";
import { InputProblems, show } from "./errors";
import { EC2_ASSUME_ROLE_POLICY, hostPolicyDocument } from "./iamPolicy";
import { requireSignedImage, requirementProblems, SignatureRequirement } from "./imageSignature";
import { parsePlatform, platformForEc2Architecture } from "./platform";
import { parseImageReference } from "./registry";

export { PortMapping } from "./bootScript";

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
     * Each host runs the image's digest for the host's architecture. Give either this
     * or `platformRefs`, not both.
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
     * Defaults to `desiredCount`: the group has no scaling policy, and a rolling
     * refresh replaces hosts within the group's size. Equivalent to
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
     * Defaults to none. Equivalent to `docker run --publish HOST:CONTAINER`.
     */
    ports?: PortMapping[];
    /**
     * The container's environment variables.
     *
     * Kept in an SSM SecureString parameter that only the hosts' role may read, never in
     * user data, so secret values stay secret. Values may hold quotes, `$` and spaces;
     * not line breaks. Defaults to none. Equivalent to `docker run --env-file`.
     */
    environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
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
     * It must be of the instance type's architecture and have `dnf`, `systemd` and the
     * AWS CLI. Defaults to the latest Amazon Linux 2023 AMI for the architecture, read
     * from its public SSM parameter. Equivalent to `aws ec2 run-instances --image-id`.
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
}

/** The instance type used when none is given: x86_64. */
export const DEFAULT_INSTANCE_TYPE = "t3.micro";

/** The platforms VmDeployment can host: those Amazon Linux 2023 has AMIs for. */
export const HOST_PLATFORMS = ["linux/amd64", "linux/arm64"];

const AL2023_AMI_PARAMETERS: Record<string, string> = {
    "linux/amd64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    "linux/arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
};

// An instance type suggested in messages for each host platform.
const EXAMPLE_INSTANCE_TYPES: Record<string, string> = { "linux/amd64": "t3.small", "linux/arm64": "t4g.small" };
const EC2_ARCHITECTURE: Record<string, string> = { "linux/amd64": "x86_64", "linux/arm64": "arm64" };

const INSTANCE_TYPE = /^[a-z0-9-]+\.[a-z0-9-]+$/;
const AMI_ID = /^ami-[0-9a-f]{8,17}$/;
// SSM Standard parameters hold at most 4 KB.
const MAX_ENVIRONMENT_BYTES = 4096;

/** The platform hosts of an instance type run, or why they can run none of the image's. */
export type HostPlatform = HostPlatformFound | HostPlatformMissing;

/** The image has a platform the instance type runs natively. */
export interface HostPlatformFound {
    /** The canonical platform, e.g. `linux/arm64`. */
    platform: string;
}

/** The image has no platform the instance type runs. */
export interface HostPlatformMissing {
    /** What is wrong and what to change, naming `instanceType`. */
    reason: string;
}

/** The public SSM parameter naming the latest Amazon Linux 2023 AMI of a platform. */
export function al2023AmiParameter(platform: string): string {
    const name = AL2023_AMI_PARAMETERS[platform];
    if (name === undefined) {
        throw new Error(`no Amazon Linux 2023 AMI for ${platform}: expected one of ${HOST_PLATFORMS.join(", ")}`);
    }
    return name;
}

/**
 * The platform whose digest hosts of an instance type run, from the architectures EC2
 * reports for it and the platforms the image has, or why there is none: a message that
 * names the instance type, its architectures and the image's platforms, and says what
 * to change. `source` says where the platforms came from.
 */
export function hostPlatform(
    instanceType: string,
    architectures: string[],
    imagePlatforms: string[],
    source: "image" | "platformRefs" = "image",
): HostPlatform {
    const hostable = architectures.map((a) => platformForEc2Architecture(a)).filter((p): p is string => p !== undefined && HOST_PLATFORMS.includes(p));
    const noun = architectures.length === 1 ? "architecture is" : "architectures are";
    const head = `\`instanceType\` is ${show(instanceType)}, whose ${noun} ${architectures.join(", ") || "unknown"}`;
    if (hostable.length === 0) {
        return {
            reason: `${head}: VmDeployment runs Amazon Linux 2023, which has AMIs for x86_64 and arm64 only; choose an instance type of one of those, e.g. "t3.small" or "t4g.small"`,
        };
    }
    const match = hostable.find((p) => imagePlatforms.includes(p));
    if (match !== undefined) {
        return { platform: match };
    }
    const want = hostable[0];
    const have = imagePlatforms.length === 0 ? "none" : imagePlatforms.join(", ");
    const fix =
        source === "image"
            ? `but the image was built for ${have} only: add "${want}" to the image's \`platforms\``
            : `but \`platformRefs\` has ${have} only: add a "${want}" ref to \`platformRefs\``;
    const other = HOST_PLATFORMS.find((p) => imagePlatforms.includes(p));
    const alternative =
        other === undefined
            ? ""
            : `, or choose an instance type whose architecture is ${EC2_ARCHITECTURE[other]} (${other}), e.g. ${show(EXAMPLE_INSTANCE_TYPES[other])}`;
    return { reason: `${head} (${hostable.join(", ")}), ${fix}${alternative}` };
}

/** Platform refs checked and made canonical, and the one repository they are in. */
interface PinnedRefs {
    /** Canonical platform → `<repositoryUrl>@sha256:…` (a tag, if any, dropped). */
    refs: Record<string, string>;
    /** The ECR repository's ARN. */
    repositoryArn: string;
}

/** The ARN of the ECR repository at a repository URL, or undefined when it is not ECR. */
export function repositoryArnOf(repositoryUrl: string): string | undefined {
    const parsed = parseRepositoryUrl(repositoryUrl);
    if (parsed === undefined) {
        return undefined;
    }
    const partition = parsed.registry.endsWith(".cn") ? "aws-cn" : "aws";
    return `arn:${partition}:ecr:${parsed.region}:${parsed.registryId}:repository/${parsed.name}`;
}

/** Checks platform refs: platforms, `<ECR repository>@sha256:…` values, one repository. */
function pinRefs(value: unknown, problems: InputProblems): PinnedRefs | undefined {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        problems.invalid("platformRefs", value, 'expected an object of platform → "<repository>@sha256:<digest>"');
        return undefined;
    }
    const refs: Record<string, string> = {};
    const repositories = new Set<string>();
    const before = problems.count;
    for (const [key, ref] of Object.entries(value as Record<string, unknown>)) {
        const parsed = parsePlatform(key);
        if ("error" in parsed) {
            problems.add(`platformRefs`, `\`platformRefs\` has the key ${show(key)}: ${parsed.error}`);
            continue;
        }
        if (refs[parsed.platform] !== undefined) {
            problems.add("platformRefs", `\`platformRefs\` has ${parsed.platform} twice (${show(key)}): give each platform once`);
            continue;
        }
        const path = `platformRefs[${show(key)}]`;
        if (!pulumi.Output.isInstance(ref) && typeof ref !== "string") {
            problems.invalid(path, ref, "expected a string, <repository>@sha256:<digest>");
            continue;
        }
        if (typeof ref !== "string") {
            continue;
        }
        let reference;
        try {
            reference = parseImageReference(ref);
        } catch (e) {
            problems.invalid(path, ref, (e as Error).message);
            continue;
        }
        const repositoryUrl = `${reference.registry}/${reference.repository}`;
        if (reference.digest === undefined) {
            problems.invalid(path, ref, "expected an image pinned by digest, <repository>@sha256:<64 hex>, not a tag");
            continue;
        }
        if (parseRepositoryUrl(repositoryUrl) === undefined) {
            problems.invalid(path, ref, "expected an image in ECR, <account>.dkr.ecr.<region>.amazonaws.com/<name>@sha256:<64 hex>");
            continue;
        }
        repositories.add(repositoryUrl);
        refs[parsed.platform] = `${repositoryUrl}@${reference.digest}`;
    }
    if (repositories.size > 1) {
        problems.add(
            "platformRefs",
            `\`platformRefs\` names ${repositories.size} repositories (${[...repositories].join(", ")}): the hosts may pull from one repository only; push every platform to one`,
        );
    }
    if (Object.keys(value as object).length === 0) {
        problems.invalid("platformRefs", value, 'expected at least one platform → "<repository>@sha256:<digest>"');
    }
    // Output values are checked once known, by the same function inside apply.
    if (problems.count > before || repositories.size === 0) {
        return undefined;
    }
    return { refs, repositoryArn: repositoryArnOf([...repositories][0])! };
}

/** The plain arguments, checked and with their defaults. */
interface Plan {
    instanceType: string;
    desiredCount: number;
    minSize: number;
    maxSize: number;
    ports: PortMapping[];
}

/**
 * EC2 hosts in an auto-scaling group that run one container image, each host pinned to
 * the digest of its own architecture. The instance type's architecture, as EC2 reports
 * it, picks the platform; a mismatch fails at preview. A changed digest rolls the hosts.
 */
export class VmDeployment extends pulumi.ComponentResource {
    /** The platform the hosts run, from the instance type's architecture, e.g. `linux/amd64`. */
    public readonly platform: pulumi.Output<string>;
    /** The image the hosts run, pinned: `<repositoryUrl>@sha256:…`. */
    public readonly imageRef: pulumi.Output<string>;
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
    /** The hosts' launch template; each digest is a new version. */
    public readonly launchTemplate: aws.ec2.LaunchTemplate;
    /** The hosts' auto-scaling group. */
    public readonly autoScalingGroup: aws.autoscaling.Group;

    constructor(name: string, args: VmDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("multiarch:index:VmDeployment", name, {}, opts);
        args = args ?? {};
        const plan = validate(name, args);

        const source = imageSource(name, args);
        const instanceType = aws.ec2.getInstanceTypeOutput({ instanceType: plan.instanceType }, { parent: this });
        // Inside apply, so that it runs (and fails) at preview: getInstanceType is answered then.
        this.platform = pulumi.all([instanceType.supportedArchitectures, source.platforms]).apply(([architectures, platforms]) => {
            const chosen = hostPlatform(plan.instanceType, architectures, platforms, source.kind);
            if ("reason" in chosen) {
                throw new pulumi.InputPropertyError({ propertyPath: "instanceType", reason: chosen.reason });
            }
            return chosen.platform;
        });
        this.imageRef = pulumi.all([this.platform, source.refs]).apply(([platform, refs]) => refs[platform]);
        const signatureCheck = args.requireSignature === undefined ? undefined : requireSignedImage(name, this.imageRef, args.requireSignature, this);

        const amiId = args.amiId ?? aws.ssm.getParameterOutput({ name: this.platform.apply(al2023AmiParameter) }, { parent: this }).insecureValue;
        const subnetIds = args.subnetIds ?? defaultSubnetIds(this);

        if (args.environment !== undefined) {
            // User data is readable by anyone allowed ec2:DescribeLaunchTemplateVersions,
            // so the environment lives in a SecureString only the hosts' role can read.
            this.environmentParameter = new aws.ssm.Parameter(
                `${name}-environment`,
                {
                    type: "SecureString",
                    value: pulumi.secret(pulumi.output(args.environment).apply(environmentParameterValue)),
                    description: `The container environment of VmDeployment ${name}, as a Docker env file`,
                },
                { parent: this },
            );
        }
        const parameter = this.environmentParameter;

        this.role = new aws.iam.Role(
            `${name}-role`,
            { assumeRolePolicy: EC2_ASSUME_ROLE_POLICY, description: `Hosts of VmDeployment ${name}: pull its image, read its environment` },
            { parent: this },
        );
        const policy = new aws.iam.RolePolicy(
            `${name}-host-policy`,
            {
                role: this.role.id,
                policy: pulumi
                    .all([source.repositoryArn, parameter?.arn])
                    .apply(([repositoryArn, environmentParameterArn]) => hostPolicyDocument({ repositoryArn, environmentParameterArn })),
            },
            { parent: this },
        );
        this.instanceProfile = new aws.iam.InstanceProfile(`${name}-profile`, { role: this.role.name }, { parent: this });

        const environmentParameter = parameter
            ? pulumi.all([parameter.name, parameter.version, parameter.arn]).apply(([parameterName, version, arn]) => ({
                  name: parameterName,
                  version,
                  region: arn.split(":")[3],
              }))
            : undefined;
        // The digest (and the environment's version) is in the script, so a new image is
        // a new launch template version, which the group's instance refresh rolls out.
        this.userData = pulumi
            .all([this.imageRef, this.platform, pulumi.output(args.command ?? []), environmentParameter])
            .apply(([imageRef, platform, command, environment]) =>
                renderBootScript({
                    containerName: containerName(name),
                    imageRef,
                    platform,
                    registryRegion: parseRepositoryUrl(imageRef.slice(0, imageRef.indexOf("@")))!.region,
                    ports: plan.ports,
                    command,
                    environmentParameter: environment,
                }),
            );

        this.launchTemplate = new aws.ec2.LaunchTemplate(
            `${name}-launch-template`,
            {
                description: `Hosts of VmDeployment ${name}`,
                imageId: amiId,
                instanceType: plan.instanceType,
                keyName: args.keyName,
                vpcSecurityGroupIds: args.securityGroupIds,
                iamInstanceProfile: { arn: this.instanceProfile.arn },
                // IMDSv2 only. A hop limit of 1 keeps the instance role's credentials from
                // containers (one hop further, on Docker's bridge): only the host needs them.
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
                blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "true", volumeType: "gp3", deleteOnTermination: "true" } }],
                userData: this.userData.apply((script) => Buffer.from(script, "utf8").toString("base64")),
                updateDefaultVersion: true,
            },
            // With `requireSignature`, no launch template names a digest before it verifies.
            { parent: this, dependsOn: signatureCheck ? [signatureCheck] : [] },
        );

        this.autoScalingGroup = new aws.autoscaling.Group(
            `${name}-asg`,
            {
                vpcZoneIdentifiers: subnetIds,
                desiredCapacity: plan.desiredCount,
                minSize: plan.minSize,
                maxSize: plan.maxSize,
                launchTemplate: { id: this.launchTemplate.id, version: this.launchTemplate.latestVersion.apply(String) },
                instanceRefresh: { strategy: "Rolling", preferences: { minHealthyPercentage: 50 } },
                tags: [{ key: "Name", value: name, propagateAtLaunch: true }],
            },
            // Hosts log in at boot: the role's policy must exist before the first one starts.
            { parent: this, dependsOn: [policy, this.instanceProfile] },
        );

        this.launchTemplateId = this.launchTemplate.id;
        this.autoScalingGroupName = this.autoScalingGroup.name;
        this.instanceRoleArn = this.role.arn;

        this.registerOutputs({
            platform: this.platform,
            imageRef: this.imageRef,
            launchTemplateId: this.launchTemplateId,
            autoScalingGroupName: this.autoScalingGroupName,
            instanceRoleArn: this.instanceRoleArn,
            userData: this.userData,
        });
    }
}

/** Where the digests come from: the image's platforms and refs, and its repository. */
function imageSource(
    name: string,
    args: VmDeploymentArgs,
): {
    kind: "image" | "platformRefs";
    platforms: pulumi.Output<string[]>;
    refs: pulumi.Output<Record<string, string>>;
    repositoryArn: pulumi.Output<string>;
} {
    if (args.image !== undefined) {
        const image = args.image;
        return {
            kind: "image",
            platforms: pulumi.output(image.platforms),
            refs: pulumi.output(image.platformRefs),
            repositoryArn: pulumi.output(image.repositoryArn),
        };
    }
    const pinned = pulumi.output(args.platformRefs!).apply((refs) => {
        const problems = new InputProblems();
        const result = pinRefs(refs, problems);
        problems.throwIfAny("VmDeployment", name);
        return result!;
    });
    return {
        kind: "platformRefs",
        platforms: pinned.apply((p) => Object.keys(p.refs)),
        refs: pinned.apply((p) => p.refs),
        repositoryArn: pinned.apply((p) => p.repositoryArn),
    };
}

/**
 * The environment as the env file the SSM parameter holds. Throws an
 * `InputPropertyError` for what an env file cannot carry, never showing the value.
 */
export function environmentParameterValue(environment: Record<string, string>): string {
    const entries = Object.entries(environment ?? {});
    for (const [key, value] of entries) {
        const problem = environmentVariableProblem(key, value);
        if (problem !== undefined) {
            throw new pulumi.InputPropertyError({ propertyPath: `environment.${key}`, reason: problem });
        }
    }
    // SSM refuses an empty value; Docker skips comment lines.
    const file = entries.length === 0 ? "# no variables\n" : environmentFile(environment);
    if (Buffer.byteLength(file, "utf8") > MAX_ENVIRONMENT_BYTES) {
        throw new pulumi.InputPropertyError({
            propertyPath: "environment",
            reason: `\`environment\` takes ${Buffer.byteLength(file, "utf8")} bytes as an env file, over the ${MAX_ENVIRONMENT_BYTES} an SSM parameter holds: keep large values in S3 or Secrets Manager and pass their names`,
        });
    }
    return file;
}

/** The subnets of the region's default VPC. */
function defaultSubnetIds(parent: pulumi.Resource): pulumi.Output<string[]> {
    const vpc = aws.ec2.getVpcOutput({ default: true }, { parent });
    return aws.ec2.getSubnetsOutput({ filters: [{ name: "vpc-id", values: [vpc.id] }] }, { parent }).ids;
}

/** Checks every plain argument and throws all problems together, before any child exists. */
function validate(name: string, args: VmDeploymentArgs): Plan {
    const problems = new InputProblems();

    if (args.image !== undefined && args.platformRefs !== undefined) {
        problems.add(
            "image",
            "`image` and `platformRefs` are both given: give `image` to run a MultiArchImage, or `platformRefs` to run images built elsewhere, not both",
        );
    } else if (args.image === undefined && args.platformRefs === undefined) {
        problems.add(
            "image",
            'neither `image` nor `platformRefs` is given: give `image` (a MultiArchImage) or `platformRefs` (platform → "<repository>@sha256:<digest>")',
        );
    } else if (
        args.image !== undefined &&
        (!Array.isArray(args.image.platforms) || args.image.platformRefs === undefined || args.image.repositoryArn === undefined)
    ) {
        problems.add(
            "image",
            `\`image\` is not a MultiArchImage: pass the MultiArchImage itself (or its \`platforms\`, \`platformRefs\` and \`repositoryArn\`), or its \`platformRefs\` as \`platformRefs\``,
        );
    }
    if (args.platformRefs !== undefined && !pulumi.Output.isInstance(args.platformRefs)) {
        pinRefs(args.platformRefs, problems);
    }

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
    const maxSize = args.maxSize ?? desiredCount;
    if (countsValid) {
        if (minSize > desiredCount) {
            problems.invalid("minSize", minSize, `expected at most \`desiredCount\` (${desiredCount}); raise \`desiredCount\` or lower \`minSize\``);
        }
        if (maxSize < desiredCount) {
            problems.invalid("maxSize", maxSize, `expected at least \`desiredCount\` (${desiredCount}); raise \`maxSize\` or lower \`desiredCount\``);
        }
    }

    const ports = args.ports ?? [];
    if (!Array.isArray(ports)) {
        problems.invalid("ports", ports, "expected a list of { host, container } port numbers");
    } else {
        const hostPorts = new Map<number, number>();
        ports.forEach((port, i) => {
            for (const side of ["host", "container"] as const) {
                const value = port?.[side];
                if (!(Number.isInteger(value) && value >= 1 && value <= 65535)) {
                    problems.invalid(`ports[${i}].${side}`, value, "expected a whole-number port from 1 to 65535");
                }
            }
            const earlier = hostPorts.get(port?.host);
            if (earlier !== undefined) {
                problems.invalid(`ports[${i}].host`, port.host, `duplicates ports[${earlier}].host: publish each host port once`);
            } else if (port !== undefined && port !== null) {
                hostPorts.set(port.host, i);
            }
        });
    }

    const environment = args.environment;
    if (environment !== undefined && !pulumi.Output.isInstance(environment)) {
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

    if (args.command !== undefined && !pulumi.Output.isInstance(args.command) && !Array.isArray(args.command)) {
        problems.invalid("command", args.command, 'expected a list of arguments, e.g. ["node", "server.js"]');
    }
    if (typeof args.amiId === "string" && !AMI_ID.test(args.amiId)) {
        problems.invalid("amiId", args.amiId, "expected an AMI id, ami- followed by 8 or 17 hex digits, or leave it out for Amazon Linux 2023");
    }
    if (typeof args.keyName === "string" && args.keyName.trim() === "") {
        problems.invalid("keyName", args.keyName, "expected the name of an EC2 key pair, or leave it out");
    }

    requirementProblems(args.requireSignature, problems);

    problems.throwIfAny("VmDeployment", name);
    return { instanceType, desiredCount, minSize, maxSize, ports };
}
