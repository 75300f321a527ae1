// What VmDeployment's hosts are: the platforms Amazon Linux runs, an instance type's
// platform, AMI checks, the group's name, and how long a launch and a rollout may take.
import { createHash } from "crypto";
import { HealthCheck, DEFAULT_HEALTH_GRACE_SECONDS, DEFAULT_HEALTH_TIMEOUT_SECONDS } from "./bootScript";
import { show } from "./errors";
import { platformForEc2Architecture } from "./platform";

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

/** The name of the hosts' launch lifecycle hook. */
export const LAUNCH_HOOK_NAME = "multiarch-launch";

/** Seconds a launch may take besides the health check: install Docker, log in, pull, start. */
export const LAUNCH_ALLOWANCE_SECONDS = 600;

/** Seconds a rollout may take besides two launch heartbeats: warm-up and stopping the old hosts. */
export const ROLLOUT_ALLOWANCE_SECONDS = 600;

// How often `up` looks at a refresh it follows: a refresh takes minutes, each look is four read calls at most.
export const ROLLOUT_POLL_SECONDS = 15;

export const ROLLOUT_TIMEOUT_RANGE = { min: 60, max: 86400 };

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

/**
 * Why an AMI cannot boot hosts of a platform, from the architecture EC2 reports for it,
 * or undefined when it can.
 */
export function amiArchitectureProblem(amiId: string, amiArchitecture: string, instanceType: string, platform: string): string | undefined {
    if (platformForEc2Architecture(amiArchitecture) === platform) {
        return undefined;
    }
    return (
        `\`amiId\` is ${show(amiId)}, whose architecture is ${amiArchitecture}, but \`instanceType\` ${show(instanceType)} runs ` +
        `${EC2_ARCHITECTURE[platform] ?? platform} (${platform}): choose an AMI for ${EC2_ARCHITECTURE[platform] ?? platform}, ` +
        `or leave \`amiId\` out for Amazon Linux 2023`
    );
}

/** The auto-scaling group's name, fixed before it exists: `<project>-<stack>-<name>`, made safe. */
export function autoScalingGroupName(project: string, stack: string, name: string): string {
    const safe = [project, stack, name].map((part) => part.replace(/[^A-Za-z0-9_.-]+/g, "-")).join("-");
    if (safe.length <= 255) {
        return safe;
    }
    // Too long: keep the readable start and a hash of the whole, so two names never meet.
    const hash = createHash("sha256").update(`${project}\0${stack}\0${name}`).digest("hex").slice(0, 12);
    return `${safe.slice(0, 242)}-${hash}`;
}

/** The seconds a host's launch may be held before the hook abandons it on its own. */
export function launchHeartbeatSeconds(check: HealthCheck | undefined): number {
    return LAUNCH_ALLOWANCE_SECONDS + (check?.gracePeriodSeconds ?? DEFAULT_HEALTH_GRACE_SECONDS) + (check?.timeoutSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS);
}

/** How long `pulumi up` waits for a rollout by default: two launch heartbeats and an allowance. */
export function defaultRolloutTimeoutSeconds(check: HealthCheck | undefined): number {
    return 2 * launchHeartbeatSeconds(check) + ROLLOUT_ALLOWANCE_SECONDS;
}
