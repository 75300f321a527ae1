// Follows a VmDeployment's rollout to its end during `pulumi up`, and when it fails says
// which host, which digest and why, what the fleet runs now, and where to look.
//
// Why this exists: the aws provider starts the group's instance refresh inside the
// group's update and returns ("This resource does not wait for the instance refresh to
// complete", `instance_refresh` in the docs of @pulumi/aws's autoscaling.Group and of
// terraform-provider-aws's aws_autoscaling_group). `resourceGroupUpdate`
// (internal/service/autoscaling/group.go) calls UpdateAutoScalingGroup with the new
// launch template, then `startInstanceRefresh`, which cancels a refresh in progress and
// starts a new one, synchronously. So once the group's update returned, the newest
// refresh of the group is the one this update started.
//
// Everything goes through the AWS CLI v2 (`--output json`) on the machine that runs
// `pulumi`, with that machine's credentials; the JSON shapes are the API's:
// DescribeInstanceRefreshes (`InstanceRefreshes[]`, newest first: `InstanceRefreshId`,
// `Status`, `StatusReason`, `StartTime`, `PercentageComplete`), DescribeScalingActivities
// (`Activities[]`: `StatusCode`, `StatusMessage`, `Description`, `StartTime`),
// DescribeAutoScalingGroups (`AutoScalingGroups[]`: `LaunchTemplate`, `Instances[]` with
// `InstanceId`, `LifecycleState`, `LaunchTemplate.Version`) and EC2 DescribeInstances
// (`Reservations[].Instances[]`: `InstanceId`, `Tags[]`).
//
// The stack's `aws:profile` goes on each command line as `--profile`, never as AWS_PROFILE.
// The aws provider's `profile` wins over AWS_ACCESS_KEY_ID in the environment (its docs,
// "Authentication and Configuration": parameters in the provider configuration come
// before environment variables); the CLI's AWS_PROFILE does not, its `--profile` does:
// "Command line options – Overrides settings in any other location, such as the --region,
// --output, and --profile parameters", then "Environment variables" (AWS CLI v2 User
// Guide, "Configuring settings for the AWS CLI", "Configuration and credentials
// precedence"). An explicit profile takes the environment's credential provider out of
// the chain (botocore `create_credential_resolver`: "An explicitly provided profile will
// negate an EnvProvider"; boto/botocore#486, "Explicit profile overrides environment
// variables"). So with `--profile` the environment's AWS_* keys sign nothing, and they are
// still passed on: a profile with `credential_source = Environment` reads them on purpose.
//
// This module is serialised by value into a dynamic provider's closure, so it stays
// self-contained: Node builtins and the `rules/iamPolicy.ts` and `rules/awsNames.ts`
// constants; no Pulumi imports, no module-level Set or Map (Pulumi's closure serialiser
// carries neither).
import { execFile } from "child_process";
import { AWS_PROFILE_NAME_PATTERN } from "../rules/awsNames";
import { LAUNCH_FAILURE_TAG } from "../rules/iamPolicy";

/** One rollout to follow: a group, the launch template version it rolls to, and what that version runs. */
export interface RolloutSpec {
    /** Who asks, for messages: `VmDeployment "api"`. */
    context: string;
    /** The auto-scaling group's name. */
    groupName: string;
    /** The group's region. */
    region: string;
    /** The launch template the group launches from. */
    launchTemplateId: string;
    /** The launch template version this update rolls the hosts to, e.g. `"4"`. */
    launchTemplateVersion: string;
    /** The platform the hosts run, e.g. `linux/amd64`. */
    platform: string;
    /** The image that version runs, `<repository>@sha256:…`. */
    imageRef: string;
    /** How long to wait for the refresh to end. */
    timeoutSeconds: number;
    /** How long to wait between two looks at the refresh. */
    pollIntervalSeconds: number;
    /**
     * The named AWS profile the CLI uses (`--profile`): the stack's `aws:profile`, which the
     * stack's default AWS provider uses too. Absent: the environment's own credentials.
     */
    profile?: string;
}

/** What a followed rollout leaves in the stack's state. */
export interface RolloutRecord {
    /** The newest instance refresh of the group once the rollout ended; absent when the group never had one. */
    refreshId?: string;
    /** That refresh's last status. */
    refreshStatus?: string;
}

/** An instance refresh as DescribeInstanceRefreshes returns it (the fields read here). */
interface InstanceRefresh {
    InstanceRefreshId: string;
    Status: string;
    StatusReason?: string;
    StartTime?: string;
    EndTime?: string;
    PercentageComplete?: number;
}

/** A scaling activity as DescribeScalingActivities returns it (the fields read here). */
interface Activity {
    StatusCode: string;
    StatusMessage?: string;
    Description?: string;
    Cause?: string;
    StartTime?: string;
}

/** A group as DescribeAutoScalingGroups returns it (the fields read here). */
interface Group {
    LaunchTemplate?: { LaunchTemplateId?: string; Version?: string };
    Instances?: { InstanceId: string; LifecycleState?: string; HealthStatus?: string; LaunchTemplate?: { Version?: string } }[];
}

/** The statuses after which a refresh changes nothing more (InstanceRefresh.Status in the API reference). */
export const TERMINAL_REFRESH_STATUSES = ["Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"];

/** The argument that turns this wait off, named in every message that can stop an `up`. */
const OPT_OUT = "set `waitForRollout: false` on the VmDeployment to deploy without following rollouts";

/** Why the stack's `aws:profile` cannot go on the CLI's command line, or undefined when it can. */
export function profileProblem(profile: string): string | undefined {
    return AWS_PROFILE_NAME_PATTERN.test(profile)
        ? undefined
        : `the stack's \`aws:profile\` is ${JSON.stringify(profile)}: expected a profile name of letters, digits and \`._-\`, not starting with \`-\``;
}

/** `--region` and, with a profile, `--profile`: where and as whom every command runs, and every command a message suggests. */
function scope(spec: Pick<RolloutSpec, "region" | "profile">): string[] {
    return ["--region", spec.region, ...(spec.profile === undefined ? [] : ["--profile", spec.profile])];
}

/**
 * Runs one AWS CLI command with `--region`, the stack's `--profile` (if any) and
 * `--output json` and returns its parsed output. Throws a message that names the command,
 * what the CLI said and the opt-out.
 */
export function runAws(spec: Pick<RolloutSpec, "context" | "region" | "profile">, argv: string[]): Promise<unknown> {
    const problem = spec.profile === undefined ? undefined : profileProblem(spec.profile);
    if (problem !== undefined) {
        return Promise.reject(new Error(`${spec.context}: ${problem}`));
    }
    const full = [...argv, ...scope(spec), "--output", "json"];
    const command = `aws ${full.join(" ")}`;
    return new Promise((resolve, reject) => {
        // AWS_PAGER="": the CLI must print, not open a pager, when a terminal is attached.
        const env = { ...process.env, AWS_PAGER: "" };
        execFile("aws", full, { env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
            if (error) {
                const code = (error as NodeJS.ErrnoException).code;
                if (code === "ENOENT") {
                    reject(
                        new Error(
                            `${spec.context}: the AWS CLI (\`aws\`) is not on this machine's PATH, and following the rollout needs it (\`${command}\`): ` +
                                `install AWS CLI v2 where \`pulumi up\` runs, or ${OPT_OUT}`,
                        ),
                    );
                    return;
                }
                const said = String(stderr).trim() || error.message;
                reject(
                    new Error(
                        `${spec.context}: \`${command}\` failed${error.killed ? " (stopped after 120 s)" : ""}: ${said}\n` +
                            (spec.profile === undefined
                                ? `The CLI uses the credentials of the environment \`pulumi\` runs in (AWS_PROFILE, AWS_ACCESS_KEY_ID, …), not the stack's \`aws:\` config or an explicit provider's settings; `
                                : `The CLI uses the stack's \`aws:profile\` ${spec.profile} (\`--profile\`, over any AWS_ACCESS_KEY_ID or AWS_PROFILE of the environment), not the stack's other \`aws:\` config (assumeRole, keys) or an explicit provider's settings; `) +
                            `they need autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeInstanceRefreshes, autoscaling:DescribeScalingActivities and ec2:DescribeInstances. ` +
                            `Or ${OPT_OUT}.`,
                    ),
                );
                return;
            }
            try {
                resolve(JSON.parse(String(stdout) || "{}"));
            } catch {
                reject(new Error(`${spec.context}: \`${command}\` printed what is not JSON: ${String(stdout).slice(0, 200)}`));
            }
        });
    });
}

/** The group, or a failure saying that the CLI sees no such group here. */
async function describeGroup(spec: RolloutSpec): Promise<Group> {
    const out = (await runAws(spec, ["autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", spec.groupName])) as {
        AutoScalingGroups?: Group[];
    };
    const group = out.AutoScalingGroups?.[0];
    if (group === undefined) {
        throw new Error(
            `${spec.context}: the AWS CLI finds no auto-scaling group ${spec.groupName} in ${spec.region}, which this update just created or changed, ` +
                `so it cannot follow the rollout: its credentials point at another account than the stack's AWS provider ` +
                `(compare \`aws sts get-caller-identity${spec.profile === undefined ? "" : ` --profile ${spec.profile}`}\` with the stack's account; ` +
                `the CLI uses ${spec.profile === undefined ? "the environment's credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, …)" : `the stack's \`aws:profile\` ${spec.profile} (\`--profile\`)`}, not an explicit provider's settings). ` +
                `Point the CLI at the stack's account, or ${OPT_OUT}.`,
        );
    }
    return group;
}

/** The group's instance refreshes, newest first (DescribeInstanceRefreshes' order). */
async function describeRefreshes(spec: RolloutSpec, id?: string): Promise<InstanceRefresh[]> {
    const argv = ["autoscaling", "describe-instance-refreshes", "--auto-scaling-group-name", spec.groupName];
    const out = (await runAws(spec, id === undefined ? argv : [...argv, "--instance-refresh-ids", id])) as { InstanceRefreshes?: InstanceRefresh[] };
    return out.InstanceRefreshes ?? [];
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * On the stack's first `up`: records the group's newest refresh, if any, without
 * waiting (the group's `waitForCapacityTimeout` already held that `up` until the hosts
 * were in service).
 */
export async function recordRollout(spec: RolloutSpec): Promise<RolloutRecord> {
    await describeGroup(spec);
    const newest = (await describeRefreshes(spec))[0];
    return newest === undefined ? {} : { refreshId: newest.InstanceRefreshId, refreshStatus: newest.Status };
}

/**
 * On a later `up`: follows the refresh this update started (the newest one whose id is
 * not `previous.refreshId`) until it ends. Resolves when it succeeded, or when this
 * update started none; throws a message saying what failed, where and what to do.
 */
export async function followRollout(spec: RolloutSpec, previous: RolloutRecord): Promise<RolloutRecord> {
    await describeGroup(spec);
    const newest = (await describeRefreshes(spec))[0];
    if (newest === undefined || newest.InstanceRefreshId === previous.refreshId) {
        // Nothing rolled: the group's launch template did not change.
        return { refreshId: previous.refreshId, refreshStatus: previous.refreshStatus };
    }
    const deadline = Date.now() + spec.timeoutSeconds * 1000;
    let refresh = newest;
    while (!TERMINAL_REFRESH_STATUSES.includes(refresh.Status)) {
        if (Date.now() >= deadline) {
            throw new Error(await rolloutFailure(spec, refresh, true));
        }
        await sleep(Math.min(spec.pollIntervalSeconds * 1000, Math.max(0, deadline - Date.now())));
        refresh = (await describeRefreshes(spec, refresh.InstanceRefreshId))[0] ?? refresh;
    }
    if (refresh.Status !== "Successful") {
        throw new Error(await rolloutFailure(spec, refresh, false));
    }
    return { refreshId: refresh.InstanceRefreshId, refreshStatus: refresh.Status };
}

/** A host whose launch of this rollout failed, and why. */
interface FailedHost {
    instanceId?: string;
    reason: string;
}

/** The digest of `<repository>@sha256:…`. */
function digestOf(imageRef: string): string {
    return imageRef.slice(imageRef.indexOf("@") + 1);
}

/**
 * The hosts whose launch failed: those that tagged themselves with this digest and a
 * reason, then launches the group itself failed or cancelled since the refresh began
 * (a host that said nothing is abandoned when the hook's heartbeat runs out).
 */
async function failedHosts(spec: RolloutSpec, refresh: InstanceRefresh): Promise<FailedHost[]> {
    const digest = digestOf(spec.imageRef);
    const tagged = (await runAws(spec, [
        "ec2",
        "describe-instances",
        "--filters",
        `Name=tag:aws:autoscaling:groupName,Values=${spec.groupName}`,
        `Name=tag-key,Values=${LAUNCH_FAILURE_TAG}`,
    ])) as { Reservations?: { Instances?: { InstanceId: string; Tags?: { Key: string; Value: string }[] }[] }[] };
    const hosts: FailedHost[] = [];
    for (const instance of (tagged.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        const value = instance.Tags?.find((t) => t.Key === LAUNCH_FAILURE_TAG)?.Value ?? "";
        if (value.startsWith(`${digest} `)) {
            hosts.push({ instanceId: instance.InstanceId, reason: value.slice(digest.length + 1) });
        }
    }
    const activities = (await runAws(spec, [
        "autoscaling",
        "describe-scaling-activities",
        "--auto-scaling-group-name",
        spec.groupName,
        "--max-items",
        "100",
    ])) as { Activities?: Activity[] };
    const since = refresh.StartTime === undefined ? 0 : Date.parse(refresh.StartTime);
    for (const activity of activities.Activities ?? []) {
        const started = activity.StartTime === undefined ? since : Date.parse(activity.StartTime);
        if (!["Failed", "Cancelled"].includes(activity.StatusCode) || started < since) {
            continue;
        }
        const instanceId = /\bi-[0-9a-f]{8,17}\b/.exec(activity.Description ?? "")?.[0];
        if (instanceId !== undefined && hosts.some((h) => h.instanceId === instanceId)) {
            continue;
        }
        const said = activity.StatusMessage ?? activity.Description ?? activity.StatusCode;
        hosts.push({
            instanceId,
            reason:
                instanceId === undefined
                    ? `no host started: ${said}`
                    : `the host said nothing (no console line or tag reached AWS before its launch ended): ${said}`,
        });
    }
    return hosts;
}

/** The message of a rollout that failed, or (`timedOut`) that did not end in time. */
async function rolloutFailure(spec: RolloutSpec, refresh: InstanceRefresh, timedOut: boolean): Promise<string> {
    const id = refresh.InstanceRefreshId;
    const reason = refresh.StatusReason ? `: ${refresh.StatusReason.replace(/\.+$/, "")}` : "";
    const lines: string[] = [];
    if (timedOut) {
        lines.push(
            `${spec.context}: the rollout of ${spec.platform} ${spec.imageRef} to auto-scaling group ${spec.groupName} did not end within ${spec.timeoutSeconds} s: ` +
                `instance refresh ${id} is ${refresh.Status}, ${refresh.PercentageComplete ?? 0}% complete${reason}.`,
            `The refresh continues in AWS; this \`up\` stopped waiting for it. Run \`pulumi up\` again to wait for it again, or raise \`rolloutTimeoutSeconds\`.`,
        );
    } else {
        lines.push(
            `${spec.context}: the rollout of ${spec.platform} ${spec.imageRef} to auto-scaling group ${spec.groupName} failed: ` +
                `instance refresh ${id} ended ${refresh.Status}${reason}.`,
        );
    }
    const hosts = await failedHosts(spec, refresh);
    if (hosts.length > 0) {
        lines.push("Hosts whose launch failed:");
        for (const host of hosts) {
            lines.push(`  - ${host.instanceId ?? "(no instance)"} (${spec.platform}, ${digestOf(spec.imageRef)}): ${host.reason}`);
        }
    } else if (!timedOut) {
        lines.push(
            "No host of this digest reported a failed launch, and the group records no failed launch since the refresh began: its status reason says why it stopped.",
        );
    }
    lines.push(...(await fleetNow(spec, !timedOut)));
    const where = scope(spec).join(" ");
    lines.push("Where to look:");
    for (const host of hosts.filter((h) => h.instanceId !== undefined)) {
        lines.push(`  aws ec2 get-console-output --instance-id ${host.instanceId} --latest ${where}`);
    }
    lines.push(
        `  aws autoscaling describe-instance-refreshes --auto-scaling-group-name ${spec.groupName} --instance-refresh-ids ${id} ${where}`,
        `  aws autoscaling describe-scaling-activities --auto-scaling-group-name ${spec.groupName} ${where}`,
    );
    if (!timedOut) {
        lines.push(
            "What to do: fix the image (or its `healthCheck`, `environment`, `command`) and run `pulumi up`, which rolls out the new digest. " +
                "To retry this same version (say, after a registry outage), start a refresh and run `pulumi up`, which follows it: " +
                `aws autoscaling start-instance-refresh --auto-scaling-group-name ${spec.groupName} ${where} ` +
                `--preferences '{"MinHealthyPercentage":100,"MaxHealthyPercentage":200}'`,
        );
    }
    return lines.join("\n");
}

/** "1 host serves" / "2 hosts serve". */
function hostsServe(count: number): string {
    return count === 1 ? "1 host serves" : `${count} hosts serve`;
}

/**
 * What the group runs now: which hosts serve the previous version and which this one,
 * and what the group launches next. `failed`: this version's rollout failed.
 */
async function fleetNow(spec: RolloutSpec, failed: boolean): Promise<string[]> {
    const group = await describeGroup(spec);
    const instances = group.Instances ?? [];
    const serving = (onThisVersion: boolean) =>
        instances
            .filter((i) => i.LifecycleState === "InService" && (i.LaunchTemplate?.Version === spec.launchTemplateVersion) === onThisVersion)
            .map((i) => i.InstanceId);
    const previous = serving(false);
    const current = serving(true);
    const lines = [
        `The fleet now: ${hostsServe(previous.length)} the previous version${previous.length > 0 ? ` (${previous.join(", ")})` : ""}, ` +
            `${hostsServe(current.length)} this one${current.length > 0 ? ` (${current.join(", ")})` : ""}.`,
    ];
    const template = group.LaunchTemplate;
    if (template?.Version !== undefined) {
        const next =
            template.Version !== spec.launchTemplateVersion
                ? ""
                : failed
                  ? `, which runs ${spec.imageRef}: every host the group launches from now on (a replacement, a scale-out) boots this failing version until a rollout succeeds`
                  : `, which runs ${spec.imageRef}`;
        lines.push(`The group's launch template is ${template.LaunchTemplateId ?? spec.launchTemplateId} version ${template.Version}${next}.`);
    }
    return lines;
}
