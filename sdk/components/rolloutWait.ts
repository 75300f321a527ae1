// A VmDeployment's rollout as a Pulumi resource: created after the auto-scaling group, it
// follows the instance refresh the group's update started until it ends, and fails the
// update, saying which host, which digest and why, when the refresh does not succeed.
// A dynamic resource over `rollout.ts`, so no provider plugin is needed; the AWS CLI v2
// must be on the PATH of the machine that runs `pulumi up`.
import * as pulumi from "@pulumi/pulumi";
import * as rollout from "../clients/rollout";

/** What the resource records: its inputs and the refresh it saw last. */
type RolloutState = rollout.RolloutSpec & rollout.RolloutRecord;

// A change of any of these is a rollout to follow; the timeout and poll interval are not.
const ROLLOUT_KEYS: (keyof rollout.RolloutSpec)[] = ["groupName", "region", "launchTemplateId", "launchTemplateVersion", "platform", "imageRef"];

// Serialised into the program's state and run by the dynamic-provider host: it captures
// only the `rollout` module (serialised by value) and ROLLOUT_KEYS.
/** @internal The provider that follows rollouts, exported so tests run it against a stand-in AWS CLI. */
export const rolloutProvider: pulumi.dynamic.ResourceProvider = {
    // The first `up`: the group's `waitForCapacityTimeout` already held it until the hosts
    // were in service, so only the newest refresh is recorded, as the one already seen.
    async create(inputs: rollout.RolloutSpec) {
        return { id: inputs.groupName, outs: { ...inputs, ...(await rollout.recordRollout(inputs)) } };
    },
    async read(id: string, props: RolloutState) {
        return { id, props };
    },
    async diff(_id: string, olds: RolloutState, news: rollout.RolloutSpec) {
        // A key still unknown in a preview (a new launch template version, a digest being
        // built) arrives as the placeholder string, which differs from every recorded
        // value: an update, with nothing called on it that could throw. A rollout wait is
        // never replaced, and an unknown timeout or context changes nothing.
        const changes = ROLLOUT_KEYS.some((key) => olds[key] !== news[key]);
        return { changes, replaces: [], deleteBeforeReplace: false };
    },
    // A later `up`. A failed update keeps the previous state (the engine records no new
    // state when Update fails: `UpdateStep.Apply`, pkg/resource/deploy/step.go), so the
    // next `up` looks at the same refresh again, or at a newer one, until one succeeds.
    async update(_id: string, olds: RolloutState, news: rollout.RolloutSpec) {
        // Another group (renamed or replaced) was created, and waited for, by this update.
        const sameGroup = olds.groupName === news.groupName && olds.region === news.region;
        const record = sameGroup ? await rollout.followRollout(news, olds) : await rollout.recordRollout(news);
        return { outs: { ...news, ...record } };
    },
    // Following a rollout leaves nothing in AWS.
    async delete() {
        return;
    },
};

/** The inputs of a RolloutWait. */
export interface RolloutWaitArgs {
    /** Who asks, for messages: `VmDeployment "api"`. */
    context: string;
    /** The auto-scaling group's name. */
    groupName: pulumi.Input<string>;
    /** The group's region. */
    region: pulumi.Input<string>;
    /** The launch template the group launches from. */
    launchTemplateId: pulumi.Input<string>;
    /** The launch template version the group was updated to. */
    launchTemplateVersion: pulumi.Input<string>;
    /** The platform the hosts run. */
    platform: pulumi.Input<string>;
    /** The image that version runs, `<repository>@sha256:…`. */
    imageRef: pulumi.Input<string>;
    /** How long to wait for a refresh to end. */
    timeoutSeconds: number;
    /** How long to wait between two looks at the refresh. */
    pollIntervalSeconds: number;
    /** The AWS profile the CLI uses (`--profile`), letters, digits and `._-`, not starting with `-`; absent: the environment's credentials. */
    profile?: string;
}

/**
 * A followed rollout: on each `pulumi up` that changes the group's launch template, it
 * waits for the instance refresh that update started and fails when the refresh does not
 * succeed. Creating it waits for nothing; deleting it deletes nothing.
 */
export class RolloutWait extends pulumi.dynamic.Resource {
    /** The newest instance refresh of the group when the last rollout ended. */
    declare readonly refreshId: pulumi.Output<string | undefined>;
    /** That refresh's status. */
    declare readonly refreshStatus: pulumi.Output<string | undefined>;

    constructor(name: string, args: RolloutWaitArgs, opts?: pulumi.CustomResourceOptions) {
        // Refused here, at preview, as well as by the client before it runs the CLI.
        const problem = args.profile === undefined ? undefined : rollout.profileProblem(args.profile);
        if (problem !== undefined) {
            throw new pulumi.InputPropertyError({ propertyPath: "aws:profile", reason: `${args.context}: ${problem}` });
        }
        super(rolloutProvider, name, { ...args, refreshId: undefined, refreshStatus: undefined }, opts);
    }
}
