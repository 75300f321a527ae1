// VmDeployment's rollout wait, run for real: the provider text Pulumi serialises from a
// VmDeployment's closure, loaded with require-from-string in a plain Node process (one
// per call) as the dynamic-provider host loads it, against a stand-in `aws` command on
// PATH that answers from a scenario file and records its argv. Auto Scaling itself
// cannot run here; the answers have the JSON shapes of the AWS CLI v2
// (DescribeInstanceRefreshes, DescribeScalingActivities, DescribeAutoScalingGroups,
// DescribeInstances in the API reference; the aws-cli examples for the first three).
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { VmDeployment } from "../../../sdk/components/vmDeployment";
import { HOST_NODE_PATH, writeHostScript } from "../../dynamicHost";
import { ACCOUNT, REGION, REGISTRY, fakeDigest, registered, resetMocks, settle } from "../../mocks";

const GROUP_NAME = "multiarch-dev-api";
const DIGEST = fakeDigest("amd64-v2");
const IMAGE_REF = `${REGISTRY}/team/api@${DIGEST}`;
const STARTED = "2024-05-01T10:00:00Z";

/** The inputs VmDeployment "api" gives its rollout wait, with a fast poll for tests. */
const SPEC = {
    context: 'VmDeployment "api"',
    groupName: GROUP_NAME,
    region: REGION,
    launchTemplateId: "lt-0123456789abcdef0",
    launchTemplateVersion: "4",
    platform: "linux/amd64",
    imageRef: IMAGE_REF,
    timeoutSeconds: 30,
    pollIntervalSeconds: 0.05,
};
/** The state the previous `up` left: the version before, and the refresh seen then. */
const OLDS = {
    ...SPEC,
    launchTemplateVersion: "3",
    imageRef: `${REGISTRY}/team/api@${fakeDigest("amd64-v1")}`,
    refreshId: "r-old",
    refreshStatus: "Successful",
};

/** One answer of the stand-in: JSON on stdout, or an exit status and stderr. */
type Answer = { json: unknown } | { exit: number; stderr: string };
/** Answers by `<service> <command>`, in order; the last repeats. */
type Scenario = Record<string, Answer[]>;

/** A group whose old hosts run version 3 and whose launch template is now version 4. */
const GROUP = {
    AutoScalingGroups: [
        {
            AutoScalingGroupName: GROUP_NAME,
            LaunchTemplate: { LaunchTemplateId: "lt-0123456789abcdef0", LaunchTemplateName: "api-launch-template", Version: "4" },
            Instances: [
                { InstanceId: "i-0old00000000000a1", LifecycleState: "InService", HealthStatus: "Healthy", LaunchTemplate: { Version: "3" } },
                { InstanceId: "i-0old00000000000a2", LifecycleState: "InService", HealthStatus: "Healthy", LaunchTemplate: { Version: "3" } },
            ],
        },
    ],
};

function refresh(id: string, status: string, extra: Record<string, unknown> = {}) {
    return {
        InstanceRefreshId: id,
        AutoScalingGroupName: GROUP_NAME,
        Status: status,
        StartTime: STARTED,
        PercentageComplete: 0,
        InstancesToUpdate: 2,
        ...extra,
    };
}

function refreshes(...list: ReturnType<typeof refresh>[]): Answer {
    return { json: { InstanceRefreshes: list } };
}

describe("VmDeployment's rollout wait, run as the dynamic-provider host runs it", function () {
    this.timeout(60000);
    let dir: string;
    let providerText: string;
    let seq = 0;
    let hostScript: string;

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-rollout-"));
        // The stand-in for the AWS CLI: records argv, answers from the scenario file.
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(
            path.join(dir, "bin", "aws"),
            [
                `#!${process.execPath}`,
                'const fs = require("fs");',
                "const argv = process.argv.slice(2);",
                'fs.appendFileSync(process.env.STAND_IN_AWS_LOG, JSON.stringify(argv) + "\\n");',
                'fs.appendFileSync(process.env.STAND_IN_AWS_LOG + ".profile", (process.env.AWS_PROFILE ?? "(none)") + "\\n");',
                'fs.appendFileSync(process.env.STAND_IN_AWS_LOG + ".keys", (process.env.AWS_ACCESS_KEY_ID ?? "(none)") + "\\n");',
                "const scenario = JSON.parse(fs.readFileSync(process.env.STAND_IN_AWS_SCENARIO, 'utf8'));",
                'const key = argv[0] + " " + argv[1];',
                'const counts = process.env.STAND_IN_AWS_SCENARIO + ".counts";',
                "const seen = fs.existsSync(counts) ? JSON.parse(fs.readFileSync(counts, 'utf8')) : {};",
                "const answers = scenario[key];",
                'if (!answers) { process.stderr.write("stand-in aws: no answer for " + key); process.exit(252); }',
                "const answer = answers[Math.min(seen[key] || 0, answers.length - 1)];",
                "seen[key] = (seen[key] || 0) + 1;",
                "fs.writeFileSync(counts, JSON.stringify(seen));",
                'if ("exit" in answer) { process.stderr.write(answer.stderr); process.exit(answer.exit); }',
                "process.stdout.write(JSON.stringify(answer.json, null, 4));",
            ].join("\n"),
            { mode: 0o755 },
        );
        fs.mkdirSync(path.join(dir, "empty"));
        hostScript = writeHostScript(dir);
        await resetMocks();
        const vm = new VmDeployment("api", { platformRefs: { "linux/amd64": IMAGE_REF } });
        await settle(vm.autoScalingGroupName, vm.userData);
        providerText = registered("pulumi-nodejs:dynamic:Resource").find((r) => r.name === "api-rollout")!.inputs.__provider;
        assert.strictEqual(typeof providerText, "string");
    });

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** One call of the serialised provider with the stand-in `aws` (or none, `cli: false`) on PATH, and `env` besides. */
    function host(scenario: Scenario, op: string, args: unknown[], options: { cli?: boolean; env?: Record<string, string> } = {}) {
        const run = path.join(dir, `run-${seq++}`);
        fs.mkdirSync(run);
        const scenarioFile = path.join(run, "scenario.json");
        const log = path.join(run, "aws.log");
        fs.writeFileSync(scenarioFile, JSON.stringify(scenario));
        fs.writeFileSync(log, "");
        const result = spawnSync(process.execPath, [hostScript], {
            env: {
                PATH: options.cli === false ? path.join(dir, "empty") : path.join(dir, "bin"),
                HOME: run,
                NODE_PATH: HOST_NODE_PATH,
                PROVIDER_TEXT: providerText,
                OP: op,
                ARGS: JSON.stringify(args),
                STAND_IN_AWS_LOG: log,
                STAND_IN_AWS_SCENARIO: scenarioFile,
                ...options.env,
            },
            encoding: "utf8",
            timeout: 30000,
        });
        const calls: string[][] = fs
            .readFileSync(log, "utf8")
            .split("\n")
            .filter((line) => line !== "")
            .map((line) => JSON.parse(line));
        const perCall = (suffix: string) =>
            fs.existsSync(`${log}.${suffix}`)
                ? fs
                      .readFileSync(`${log}.${suffix}`, "utf8")
                      .split("\n")
                      .filter((line) => line !== "")
                : [];
        return {
            /** Each call's AWS_PROFILE, and its AWS_ACCESS_KEY_ID. */
            profiles: perCall("profile"),
            accessKeys: perCall("keys"),
            ok: result.status === 0,
            // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the provider's results are JSON the test navigates
            value: result.status === 0 ? (JSON.parse(result.stdout) as any) : undefined,
            error: result.stderr,
            calls,
        };
    }

    const GROUP_CALL = ["autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", GROUP_NAME, "--region", REGION, "--output", "json"];
    const LIST_CALL = ["autoscaling", "describe-instance-refreshes", "--auto-scaling-group-name", GROUP_NAME, "--region", REGION, "--output", "json"];
    const pollCall = (id: string) => [
        "autoscaling",
        "describe-instance-refreshes",
        "--auto-scaling-group-name",
        GROUP_NAME,
        "--instance-refresh-ids",
        id,
        "--region",
        REGION,
        "--output",
        "json",
    ];

    // In a preview that changes the app, the new launch template version and the digest
    // are unknown: the host hands each over as the placeholder.
    it("plans an update, calling no AWS, when a followed key is unknown in a preview, and nothing for an unknown timeout", () => {
        const unknown = pulumi.runtime.unknownValue;
        const diff = (news: object) => host({}, "diff", ["multiarch-dev-api", { ...SPEC, refreshId: "r-old", refreshStatus: "Successful" }, news]);
        for (const news of [
            { ...SPEC, launchTemplateVersion: unknown, imageRef: unknown },
            { ...SPEC, imageRef: unknown },
        ]) {
            const run = diff(news);
            assert.ok(run.ok, run.error);
            assert.deepStrictEqual(run.value, { changes: true, replaces: [], deleteBeforeReplace: false });
            assert.deepStrictEqual(run.calls, []);
        }
        assert.deepStrictEqual(diff({ ...SPEC, timeoutSeconds: unknown }).value, { changes: false, replaces: [], deleteBeforeReplace: false });
    });

    it("waits for the refresh this update started until it succeeds, and records it", () => {
        const run = host(
            {
                "autoscaling describe-auto-scaling-groups": [{ json: GROUP }],
                "autoscaling describe-instance-refreshes": [
                    refreshes(refresh("r-new", "Pending"), refresh("r-old", "Successful")),
                    refreshes(refresh("r-new", "InProgress", { StatusReason: "Waiting for instances to warm up before continuing." })),
                    refreshes(refresh("r-new", "InProgress", { PercentageComplete: 50 })),
                    refreshes(refresh("r-new", "Successful", { PercentageComplete: 100 })),
                ],
            },
            "update",
            ["multiarch-dev-api", OLDS, SPEC],
        );
        assert.ok(run.ok, run.error);
        assert.deepStrictEqual(run.value.outs, { ...SPEC, refreshId: "r-new", refreshStatus: "Successful" });
        assert.deepStrictEqual(run.calls, [GROUP_CALL, LIST_CALL, pollCall("r-new"), pollCall("r-new"), pollCall("r-new")]);
    });

    it("fails a refresh that failed, naming the tagged host and the silent one, the digest, the reasons, the fleet and where to look", () => {
        const statusReason = "Failed to launch healthy instances: 1 instance(s) abandoned by a lifecycle hook.";
        const run = host(
            {
                "autoscaling describe-auto-scaling-groups": [{ json: GROUP }],
                "autoscaling describe-instance-refreshes": [
                    refreshes(refresh("r-new", "Failed", { StatusReason: statusReason }), refresh("r-old", "Successful")),
                ],
                "ec2 describe-instances": [
                    {
                        json: {
                            Reservations: [
                                {
                                    Instances: [
                                        {
                                            InstanceId: "i-0aaaaaaaaaaaaaaa1",
                                            State: { Name: "terminated" },
                                            Tags: [
                                                { Key: "aws:autoscaling:groupName", Value: GROUP_NAME },
                                                {
                                                    Key: "multiarch:launch-failure",
                                                    Value: `${DIGEST} the container exited (status 1): Error: listen EADDRINUSE`,
                                                },
                                            ],
                                        },
                                    ],
                                },
                                {
                                    Instances: [
                                        {
                                            InstanceId: "i-0cccccccccccccc03",
                                            Tags: [{ Key: "multiarch:launch-failure", Value: `${fakeDigest("amd64-v0")} an older rollout's failure` }],
                                        },
                                    ],
                                },
                            ],
                        },
                    },
                ],
                "autoscaling describe-scaling-activities": [
                    {
                        json: {
                            Activities: [
                                {
                                    ActivityId: "a-2",
                                    Description: "Launching a new EC2 instance: i-0bbbbbbbbbbbbbbb2",
                                    StatusCode: "Cancelled",
                                    StatusMessage:
                                        "Instance failed to complete user's Lifecycle Action: Lifecycle Action with token 95c60857-3c0a-4a67-8518-6dc18797e421 was abandoned: Heartbeat Timeout",
                                    StartTime: "2024-05-01T10:01:00Z",
                                    Progress: 100,
                                },
                                {
                                    ActivityId: "a-1",
                                    Description: "Launching a new EC2 instance: i-0aaaaaaaaaaaaaaa1",
                                    StatusCode: "Cancelled",
                                    StatusMessage:
                                        "Instance failed to complete user's Lifecycle Action: Lifecycle Action with token 0fc62a4b-153b-4dba-9bf4-9f233e72a697 was abandoned: Lifecycle Action Completed with ABANDON Result",
                                    StartTime: "2024-05-01T10:00:30Z",
                                    Progress: 100,
                                },
                                {
                                    ActivityId: "a-0",
                                    Description: "Launching a new EC2 instance: i-0ddddddddddddddd4",
                                    StatusCode: "Failed",
                                    StatusMessage: "before this refresh",
                                    StartTime: "2024-04-01T10:00:00Z",
                                },
                                {
                                    ActivityId: "a-3",
                                    Description: "Launching a new EC2 instance: i-0eeeeeeeeeeeeeee5",
                                    StatusCode: "Successful",
                                    StartTime: "2024-05-01T10:02:00Z",
                                },
                            ],
                        },
                    },
                ],
            },
            "update",
            ["multiarch-dev-api", OLDS, SPEC],
        );
        assert.ok(!run.ok, "the update fails");
        const message = run.error;
        for (const expected of [
            `VmDeployment "api": the rollout of linux/amd64 ${IMAGE_REF} to auto-scaling group ${GROUP_NAME} failed: instance refresh r-new ended Failed: ${statusReason}`,
            `  - i-0aaaaaaaaaaaaaaa1 (linux/amd64, ${DIGEST}): the container exited (status 1): Error: listen EADDRINUSE`,
            `  - i-0bbbbbbbbbbbbbbb2 (linux/amd64, ${DIGEST}): the host said nothing (no console line or tag reached AWS before its launch ended): Instance failed to complete user's Lifecycle Action: Lifecycle Action with token 95c60857-3c0a-4a67-8518-6dc18797e421 was abandoned: Heartbeat Timeout`,
            "The fleet now: 2 hosts serve the previous version (i-0old00000000000a1, i-0old00000000000a2), 0 hosts serve this one.",
            `The group's launch template is lt-0123456789abcdef0 version 4, which runs ${IMAGE_REF}: every host the group launches from now on (a replacement, a scale-out) boots this failing version until a rollout succeeds.`,
            `  aws ec2 get-console-output --instance-id i-0aaaaaaaaaaaaaaa1 --latest --region ${REGION}`,
            `  aws ec2 get-console-output --instance-id i-0bbbbbbbbbbbbbbb2 --latest --region ${REGION}`,
            `  aws autoscaling describe-instance-refreshes --auto-scaling-group-name ${GROUP_NAME} --instance-refresh-ids r-new --region ${REGION}`,
            `  aws autoscaling describe-scaling-activities --auto-scaling-group-name ${GROUP_NAME} --region ${REGION}`,
            "What to do: fix the image",
            `aws autoscaling start-instance-refresh --auto-scaling-group-name ${GROUP_NAME} --region ${REGION} --preferences '{"MinHealthyPercentage":100,"MaxHealthyPercentage":200}'`,
        ]) {
            assert.ok(message.includes(expected), `missing:\n${expected}\nin:\n${message}`);
        }
        // Another digest's failure and failures before this refresh are not this rollout's.
        assert.ok(!message.includes("i-0cccccccccccccc03"), message);
        assert.ok(!message.includes("i-0ddddddddddddddd4"), message);
        assert.ok(!message.includes("i-0eeeeeeeeeeeeeee5"), message);
        // The tagged host once only, though the group also recorded its abandoned launch.
        assert.strictEqual(message.split("  - i-0aaaaaaaaaaaaaaa1").length, 2, message);
        assert.deepStrictEqual(run.calls[2], [
            "ec2",
            "describe-instances",
            "--filters",
            `Name=tag:aws:autoscaling:groupName,Values=${GROUP_NAME}`,
            "Name=tag-key,Values=multiarch:launch-failure",
            "--region",
            REGION,
            "--output",
            "json",
        ]);
    });

    for (const status of ["Cancelled", "RollbackSuccessful", "RollbackFailed"]) {
        it(`fails a refresh that ended ${status}`, () => {
            const run = host(
                {
                    "autoscaling describe-auto-scaling-groups": [{ json: GROUP }],
                    "autoscaling describe-instance-refreshes": [refreshes(refresh("r-new", status, { StatusReason: "stopped" }))],
                    "ec2 describe-instances": [{ json: { Reservations: [] } }],
                    "autoscaling describe-scaling-activities": [{ json: { Activities: [] } }],
                },
                "update",
                ["multiarch-dev-api", OLDS, SPEC],
            );
            assert.ok(!run.ok);
            assert.match(run.error, new RegExp(`instance refresh r-new ended ${status}: stopped\\.`));
            assert.match(run.error, /No host of this digest reported a failed launch/);
        });
    }

    it("succeeds at once when this update started no refresh", () => {
        const unchanged = host(
            {
                "autoscaling describe-auto-scaling-groups": [{ json: GROUP }],
                "autoscaling describe-instance-refreshes": [refreshes(refresh("r-old", "Successful"))],
            },
            "update",
            ["multiarch-dev-api", OLDS, SPEC],
        );
        assert.ok(unchanged.ok, unchanged.error);
        assert.deepStrictEqual(unchanged.value.outs, { ...SPEC, refreshId: "r-old", refreshStatus: "Successful" });
        assert.deepStrictEqual(unchanged.calls, [GROUP_CALL, LIST_CALL]);

        const never = host(
            { "autoscaling describe-auto-scaling-groups": [{ json: GROUP }], "autoscaling describe-instance-refreshes": [refreshes()] },
            "update",
            ["multiarch-dev-api", { ...OLDS, refreshId: undefined, refreshStatus: undefined }, SPEC],
        );
        assert.ok(never.ok, never.error);
        assert.deepStrictEqual(never.value.outs, SPEC);
    });

    it("fails, saying so, when the CLI sees no such group", () => {
        const run = host({ "autoscaling describe-auto-scaling-groups": [{ json: { AutoScalingGroups: [] } }] }, "update", ["multiarch-dev-api", OLDS, SPEC]);
        assert.ok(!run.ok);
        assert.match(run.error, new RegExp(`the AWS CLI finds no auto-scaling group ${GROUP_NAME} in ${REGION}`));
        assert.match(run.error, /another account than the stack's AWS provider/);
        assert.match(run.error, /aws sts get-caller-identity/);
        assert.match(run.error, /set `waitForRollout: false`/);
        assert.deepStrictEqual(run.calls, [GROUP_CALL]);
        // The first `up` too: never a silent success.
        const created = host({ "autoscaling describe-auto-scaling-groups": [{ json: { AutoScalingGroups: [] } }] }, "create", [SPEC]);
        assert.ok(!created.ok);
        assert.match(created.error, /finds no auto-scaling group/);
    });

    // The aws provider's `aws:profile` wins over AWS_ACCESS_KEY_ID in the environment; the
    // CLI's AWS_PROFILE does not, its `--profile` does: "Command line options – Overrides
    // settings in any other location, such as the --region, --output, and --profile
    // parameters", before "Environment variables" (AWS CLI v2 User Guide, "Configuring
    // settings for the AWS CLI", "Configuration and credentials precedence"; botocore drops
    // its environment credential provider for an explicit profile, boto/botocore#486). So
    // with keys of another account in the environment, the profile must be on argv.
    it("runs every call with --profile <the stack's aws:profile> on argv, over keys in the environment, and without one otherwise", () => {
        const scenario: Scenario = {
            "autoscaling describe-auto-scaling-groups": [{ json: GROUP }],
            "autoscaling describe-instance-refreshes": [refreshes(refresh("r-new", "Successful"), refresh("r-old", "Successful"))],
        };
        const otherAccount = { AWS_ACCESS_KEY_ID: "AKIAOTHERACCOUNT0001", AWS_SECRET_ACCESS_KEY: "other-account-secret" };
        const withProfile = host(scenario, "update", ["multiarch-dev-api", OLDS, { ...SPEC, profile: "prod" }], { env: otherAccount });
        assert.ok(withProfile.ok, withProfile.error);
        const scoped = (call: string[]) => [...call.slice(0, -2), "--profile", "prod", ...call.slice(-2)];
        assert.deepStrictEqual(withProfile.calls, [scoped(GROUP_CALL), scoped(LIST_CALL)]);
        // Not AWS_PROFILE, which the environment's keys would override; the keys pass on
        // untouched, for a profile that reads them itself (`credential_source = Environment`).
        assert.deepStrictEqual(withProfile.profiles, ["(none)", "(none)"]);
        assert.deepStrictEqual(withProfile.accessKeys, ["AKIAOTHERACCOUNT0001", "AKIAOTHERACCOUNT0001"]);

        const without = host(scenario, "update", ["multiarch-dev-api", OLDS, SPEC], { env: otherAccount });
        assert.ok(without.ok, without.error);
        assert.deepStrictEqual(without.calls, [GROUP_CALL, LIST_CALL]);
        assert.deepStrictEqual(without.profiles, ["(none)", "(none)"]);

        // The profile the CLI used is the one the messages name, and the commands they suggest carry it.
        const lost = host({ "autoscaling describe-auto-scaling-groups": [{ json: { AutoScalingGroups: [] } }] }, "update", [
            "multiarch-dev-api",
            OLDS,
            { ...SPEC, profile: "prod" },
        ]);
        assert.ok(!lost.ok);
        assert.match(lost.error, /aws sts get-caller-identity --profile prod/);
        assert.match(lost.error, /the stack's `aws:profile` prod \(`--profile`\)/);
        const failed = host(
            {
                "autoscaling describe-auto-scaling-groups": [{ json: GROUP }],
                "autoscaling describe-instance-refreshes": [refreshes(refresh("r-new", "Failed", { StatusReason: "stopped" }))],
                "ec2 describe-instances": [{ json: { Reservations: [] } }],
                "autoscaling describe-scaling-activities": [{ json: { Activities: [] } }],
            },
            "update",
            ["multiarch-dev-api", OLDS, { ...SPEC, profile: "prod" }],
        );
        assert.ok(!failed.ok);
        assert.ok(
            failed.error.includes(`  aws autoscaling describe-scaling-activities --auto-scaling-group-name ${GROUP_NAME} --region ${REGION} --profile prod\n`),
            failed.error,
        );
        assert.ok(
            failed.calls.every((call) => call.join(" ").includes(" --profile prod ")),
            JSON.stringify(failed.calls),
        );
    });

    it("refuses a profile name the CLI could read as an option, running nothing", () => {
        for (const profile of ["--debug", "-p", "prod account", "prod;x", ""]) {
            const run = host({ "autoscaling describe-auto-scaling-groups": [{ json: GROUP }] }, "update", ["multiarch-dev-api", OLDS, { ...SPEC, profile }]);
            assert.ok(!run.ok, profile);
            assert.ok(
                run.error.includes(
                    `VmDeployment "api": the stack's \`aws:profile\` is ${JSON.stringify(profile)}: expected a profile name of letters, digits and \`._-\`, not starting with \`-\``,
                ),
                run.error,
            );
            assert.deepStrictEqual(run.calls, []);
        }
        assert.ok(
            host({ "autoscaling describe-auto-scaling-groups": [{ json: GROUP }], "autoscaling describe-instance-refreshes": [refreshes()] }, "update", [
                "multiarch-dev-api",
                OLDS,
                { ...SPEC, profile: "prod_eu-west.1" },
            ]).ok,
        );
    });

    it("fails, naming the opt-out, when the AWS CLI is missing", () => {
        const run = host({}, "update", ["multiarch-dev-api", OLDS, SPEC], { cli: false });
        assert.ok(!run.ok);
        assert.match(run.error, /^VmDeployment "api": the AWS CLI \(`aws`\) is not on this machine's PATH/);
        assert.ok(run.error.includes(`\`aws ${GROUP_CALL.join(" ")}\``), run.error);
        assert.match(run.error, /install AWS CLI v2 where `pulumi up` runs, or set `waitForRollout: false`/);
    });

    it("fails, naming the command, what the CLI said and the opt-out, when AWS refuses", () => {
        const denied =
            "An error occurred (AccessDenied) when calling the DescribeAutoScalingGroups operation: User: arn:aws:iam::" +
            ACCOUNT +
            ":user/ci is not authorized to perform: autoscaling:DescribeAutoScalingGroups";
        const run = host({ "autoscaling describe-auto-scaling-groups": [{ exit: 254, stderr: `\n${denied}\n` }] }, "update", ["multiarch-dev-api", OLDS, SPEC]);
        assert.ok(!run.ok);
        assert.ok(run.error.startsWith(`VmDeployment "api": \`aws ${GROUP_CALL.join(" ")}\` failed: ${denied}\n`), run.error);
        assert.match(run.error, /not the stack's `aws:` config/);
        assert.match(run.error, /autoscaling:DescribeInstanceRefreshes/);
        assert.match(run.error, /set `waitForRollout: false`/);
    });

    it("stops waiting at the timeout, saying the refresh continues in AWS", () => {
        const started = Date.now();
        const run = host(
            {
                "autoscaling describe-auto-scaling-groups": [{ json: GROUP }],
                "autoscaling describe-instance-refreshes": [
                    refreshes(refresh("r-new", "InProgress", { PercentageComplete: 50, StatusReason: "Waiting for instances to warm up before continuing." })),
                ],
                "ec2 describe-instances": [{ json: { Reservations: [] } }],
                "autoscaling describe-scaling-activities": [{ json: { Activities: [] } }],
            },
            "update",
            ["multiarch-dev-api", OLDS, { ...SPEC, timeoutSeconds: 0.5, pollIntervalSeconds: 0.1 }],
        );
        assert.ok(!run.ok);
        assert.match(
            run.error,
            new RegExp(
                `the rollout of linux/amd64 .* did not end within 0\\.5 s: instance refresh r-new is InProgress, 50% complete: Waiting for instances to warm up before continuing\\.`,
            ),
        );
        assert.match(run.error, /The refresh continues in AWS; this `up` stopped waiting for it\. Run `pulumi up` again to wait for it again/);
        assert.ok(!run.error.includes("What to do: fix the image"), run.error);
        assert.ok(run.calls.filter((c) => c.includes("--instance-refresh-ids")).length >= 2, "it polled");
        assert.ok(Date.now() - started < 20000);
    });

    it("waits for nothing on create, recording the newest refresh", () => {
        const run = host(
            {
                "autoscaling describe-auto-scaling-groups": [{ json: GROUP }],
                "autoscaling describe-instance-refreshes": [refreshes(refresh("r-first", "InProgress"))],
            },
            "create",
            [SPEC],
        );
        assert.ok(run.ok, run.error);
        assert.deepStrictEqual(run.value, { id: GROUP_NAME, outs: { ...SPEC, refreshId: "r-first", refreshStatus: "InProgress" } });
        assert.deepStrictEqual(run.calls, [GROUP_CALL, LIST_CALL]);
    });

    it("records, without waiting, the refreshes of a group this update replaced", () => {
        const renamed = { ...SPEC, groupName: "multiarch-dev-api2" };
        const run = host(
            {
                "autoscaling describe-auto-scaling-groups": [{ json: GROUP }],
                "autoscaling describe-instance-refreshes": [refreshes()],
            },
            "update",
            ["multiarch-dev-api", OLDS, renamed],
        );
        assert.ok(run.ok, run.error);
        assert.deepStrictEqual(run.value.outs, renamed);
        assert.strictEqual(run.calls.length, 2);
    });

    it("plans a wait when the group's launch template version, group or image changes, not for the timeout", () => {
        const diff = (news: object) => host({}, "diff", ["multiarch-dev-api", OLDS, news]).value;
        assert.deepStrictEqual(diff(SPEC), { changes: true, replaces: [], deleteBeforeReplace: false });
        const same = { ...OLDS, refreshId: undefined, refreshStatus: undefined };
        assert.strictEqual(diff({ ...same, timeoutSeconds: 99, pollIntervalSeconds: 1 }).changes, false);
        assert.strictEqual(diff({ ...same, groupName: "other" }).changes, true);
        assert.strictEqual(diff({ ...same, launchTemplateId: "lt-0ffffffffffffffff" }).changes, true);
    });
});
