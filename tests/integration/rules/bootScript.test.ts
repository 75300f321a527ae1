// The boot script's login-pull-check-run-answer part, run for real by bash against the
// local registry with basic auth (standing in for ECR) and the local dockerd. The rule
// renders a script for the region's ECR registry only (the host's ECR token goes to no
// other), so each script is rendered for the ECR ref of the digest, and its two registry
// values then name the local registry instead. Not
// exercised here: dnf and `systemctl` (MULTIARCH_SKIP_INSTALL, MULTIARCH_NO_SYSTEMD),
// the instance metadata (MULTIARCH_INSTANCE_ID) and AWS itself: a stand-in `aws` on
// PATH records each call (complete-lifecycle-action, create-tags) and answers
// `ecr get-login-password` with the test registry's password; the knobs replace
// `aws ssm get-parameter` with an env file rendered by the same code that fills the SSM
// parameter. What Auto Scaling does with CONTINUE or ABANDON is AWS's, and untested
// here. The systemd unit is written, and its ExecStart command is run for real,
// without systemd.
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ARCHITECTURE_MISMATCH_EXIT_CODE, BootScriptOptions, environmentFile, renderBootScript } from "../../../sdk/rules/bootScript";
import { LAUNCH_FAILURE_TAG } from "../../../sdk/rules/iamPolicy";
import { RegistryClient } from "../../../sdk/clients/registryClient";
import { AUTH_PASSWORD, AUTH_REGISTRY, AUTH_USER, docker, loginToAuthRegistry, uniqueName, useDockerStack } from "../stack";
import { EXAMPLE_APP } from "../../paths";
import { freePort } from "../../helpers";

// Quotes, `$`, backticks, a backslash and spaces: a shell that interpolated them would change them.
const GREETING = `say "hi" to $USER's \`friends\` & $(id) \\n  `;
const ARGUMENT = `it's "quoted" $HOME ; echo injected`;
// The container's command: the app's hello, then a web server that serves back the
// environment value and an argument, so the test can read them through the published port.
const COMMAND = [
    "sh",
    "-c",
    'sh /app/hello.sh && mkdir -p /www && printf %s "$GREETING" >/www/index.html && printf %s "$1" >/www/arg.txt && exec httpd -f -p 8080 -h /www',
    "serve",
    ARGUMENT,
];

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
    /** The stand-in `aws` command's calls, each its argv. */
    aws: string[][];
}

const INSTANCE_ID = "i-0123456789abcdef0";
const HOOK = { name: "multiarch-launch", groupName: "multiarch-test-api", region: "us-west-2" };
// The ECR registry the scripts are rendered for; the local registry stands in for it.
const ECR_REGISTRY = "123456789012.dkr.ecr.us-west-2.amazonaws.com";

/** A rendered value line replaced, once: it must be there exactly once. */
function replaceLine(script: string, line: string, replacement: string): string {
    assert.strictEqual(script.split(`\n${line}\n`).length, 2, `expected one line ${line}`);
    return script.replace(`\n${line}\n`, () => `\n${replacement}\n`);
}

// The health check's path: curl's glob syntax ([0] is a malformed range, {a,b} two
// requests), quotes and a command substitution, each of which must reach the server as
// written. busybox httpd runs the recorder for every path under /cgi-bin/probe.
const PROBE_PATH = "/cgi-bin/probe/{a,b}/[0]?a[0]=1&b={a,b}&c='$(touch${IFS}pwned)'";
// The recorder: each request's target as received (REQUEST_URI is busybox's raw target)
// with the container's uptime; 503 for the first two, so the check fails twice, then 200.
const RECORDER = [
    "#!/bin/sh",
    'printf "%s %s\\n" "$(cut -d " " -f 1 /proc/uptime)" "$REQUEST_URI" >>/www/requests.txt',
    'if [ "$(wc -l </www/requests.txt)" -le 2 ]; then printf "Status: 503 Service Unavailable\\r\\n\\r\\n"; else printf "Content-Type: text/plain\\r\\n\\r\\nok\\n"; fi',
    "",
].join("\n");
const RECORDER_COMMAND = [
    "sh",
    "-c",
    'mkdir -p /www/cgi-bin && printf %s "$1" >/www/cgi-bin/probe && chmod +x /www/cgi-bin/probe && exec httpd -f -p 8080 -h /www',
    "record",
    RECORDER,
];

/** The call that completes this host's launch with a result. */
function completion(result: "CONTINUE" | "ABANDON"): string[] {
    return [
        "autoscaling",
        "complete-lifecycle-action",
        "--region",
        HOOK.region,
        "--auto-scaling-group-name",
        HOOK.groupName,
        "--lifecycle-hook-name",
        HOOK.name,
        "--instance-id",
        INSTANCE_ID,
        "--lifecycle-action-result",
        result,
    ];
}

async function fetchText(url: string, timeoutMs = 20000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
            if (response.ok) {
                return await response.text();
            }
        } catch (error) {
            if (Date.now() > deadline) {
                throw new Error(`${url} did not answer within ${timeoutMs} ms: ${error}`);
            }
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

async function containersNamed(name: string): Promise<string[]> {
    const out = await docker(["ps", "--all", "--filter", `name=^/${name}$`, "--format", "{{.ID}} {{.State}}"]);
    return out.split("\n").filter((line) => line !== "");
}

describe("boot script (needs scripts/docker-stack.sh)", function () {
    this.timeout(300000);
    useDockerStack();

    const repository = `${AUTH_REGISTRY}/boot-test/${uniqueName("app")}`;
    const tag = `${repository}:v1`;
    const containers: string[] = [];
    let work: string;
    let digests: Record<string, string>;
    let indexDigest: string;
    let hostPort: number;
    let standIn: string;
    let foreground: ChildProcess | undefined;

    before(async function () {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-boot-"));
        // The push uses its own Docker config; the script logs in with another, empty one.
        const pushConfig = path.join(work, "push-docker-config");
        fs.mkdirSync(pushConfig);
        const env = { ...process.env, DOCKER_CONFIG: pushConfig };
        await loginToAuthRegistry({ env });
        await docker(
            ["buildx", "build", "--builder", "default", "--platform", "linux/amd64,linux/arm64", "--provenance=false", "--push", "-t", tag, EXAMPLE_APP],
            {
                env,
            },
        );
        const client = new RegistryClient({ auth: { registry: AUTH_REGISTRY, username: AUTH_USER, password: AUTH_PASSWORD } });
        digests = await client.platformDigests(tag);
        indexDigest = (await client.getManifest(tag)).digest;
        assert.deepStrictEqual(Object.keys(digests).sort(), ["linux/amd64", "linux/arm64"]);
        // The docker driver keeps what it pushed: remove it, so the script's pull must
        // log in and fetch from the registry.
        await docker(["image", "rm", tag]).catch(() => undefined);
        hostPort = await freePort();
        // The stand-in for the AWS CLI: records its arguments; answers the ECR login.
        standIn = path.join(work, "stand-in");
        fs.mkdirSync(standIn);
        fs.writeFileSync(
            path.join(standIn, "aws"),
            [
                "#!/bin/bash",
                'printf "%s\\0" "$@" "=end=" >>"$STAND_IN_AWS_LOG"',
                `if [[ $1 == ecr && $2 == get-login-password ]]; then printf %s '${AUTH_PASSWORD}'; fi`,
            ].join("\n"),
            { mode: 0o755 },
        );
    });

    after(async function () {
        foreground?.kill();
        for (const name of containers) {
            await docker(["rm", "--force", name]).catch(() => undefined);
        }
        for (const digest of Object.values(digests ?? {})) {
            await docker(["image", "rm", `${repository}@${digest}`]).catch(() => undefined);
        }
        if (work !== undefined) {
            fs.rmSync(work, { recursive: true, force: true });
        }
        // The registry is shared between runs: delete what this run pushed.
        const authorization = `Basic ${Buffer.from(`${AUTH_USER}:${AUTH_PASSWORD}`).toString("base64")}`;
        for (const digest of [indexDigest, ...Object.values(digests ?? {})].filter((d) => d !== undefined)) {
            const url = `http://${AUTH_REGISTRY}/v2/${repository.slice(AUTH_REGISTRY.length + 1)}/manifests/${digest}`;
            await fetch(url, { method: "DELETE", headers: { Authorization: authorization }, signal: AbortSignal.timeout(10000) }).catch(() => undefined);
        }
    });

    /**
     * Renders the script for one platform's digest and runs it as the host would, with
     * the test knobs, the stand-in `aws` first on PATH, the launch hook and a check that
     * the container answers on its published port. `ecrLogin`: no password knob, so the
     * script logs in with `aws ecr get-login-password` as on EC2.
     */
    function runScript(
        platform: string,
        name: string,
        command: "boot" | "container" = "boot",
        overrides: Partial<BootScriptOptions> = {},
        ecrLogin = false,
    ): Promise<Run> & { child: ChildProcess } {
        const dir = path.join(work, name);
        fs.mkdirSync(dir, { recursive: true });
        const imageRef = `${repository}@${digests[platform]}`;
        const ecrRef = `${ECR_REGISTRY}${repository.slice(AUTH_REGISTRY.length)}@${digests[platform]}`;
        const options: BootScriptOptions = {
            containerName: name,
            imageRef: ecrRef,
            platform,
            registryRegion: "us-west-2",
            ports: [{ host: hostPort, container: 8080 }],
            command: COMMAND,
            healthCheck: { http: { port: hostPort, path: "/" }, gracePeriodSeconds: 1, timeoutSeconds: 20 },
            lifecycleHook: HOOK,
            ...overrides,
        };
        const script = path.join(dir, "user-data.sh");
        const rendered = replaceLine(renderBootScript(options), `readonly IMAGE_REF='${ecrRef}'`, `readonly IMAGE_REF='${imageRef}'`);
        fs.writeFileSync(script, replaceLine(rendered, `readonly REGISTRY='${ECR_REGISTRY}'`, `readonly REGISTRY='${AUTH_REGISTRY}'`));
        fs.writeFileSync(path.join(dir, "environment.in"), environmentFile({ GREETING }));
        fs.mkdirSync(path.join(dir, "docker-config"), { recursive: true });
        const awsLog = path.join(dir, "aws.log");
        fs.rmSync(awsLog, { force: true });
        const target = command === "boot" ? script : path.join(dir, "state", "boot.sh");
        const env: NodeJS.ProcessEnv = {
            PATH: `${standIn}:${process.env.PATH}`,
            DOCKER_CONFIG: path.join(dir, "docker-config"),
            STAND_IN_AWS_LOG: awsLog,
            MULTIARCH_INSTANCE_ID: INSTANCE_ID,
            MULTIARCH_SKIP_INSTALL: "1",
            MULTIARCH_NO_SYSTEMD: "1",
            MULTIARCH_REGISTRY_USER: AUTH_USER,
            MULTIARCH_ENVIRONMENT_FILE: path.join(dir, "environment.in"),
            MULTIARCH_STATE_DIR: path.join(dir, "state"),
            MULTIARCH_UNIT_DIR: path.join(dir, "units"),
            MULTIARCH_CONSOLE: "/dev/null",
        };
        if (!ecrLogin) {
            env.MULTIARCH_REGISTRY_PASSWORD = AUTH_PASSWORD;
        }
        // In its own directory: a value the shell ran by mistake would leave its files there.
        const child = spawn("bash", [target, command], { env, cwd: dir });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        const calls = () =>
            fs.existsSync(awsLog)
                ? fs
                      .readFileSync(awsLog, "utf8")
                      .split("=end=\0")
                      .slice(0, -1)
                      .map((record) => record.split("\0").slice(0, -1))
                : [];
        const done = new Promise<Run>((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr, aws: calls() })));
        return Object.assign(done, { child });
    }

    it("pulls the amd64 digest with the registry's credentials, checks it and runs it with ports, environment and command intact", async () => {
        const name = uniqueName("multiarch-boot-amd64");
        containers.push(name);
        const run = await runScript("linux/amd64", name);
        assert.strictEqual(run.status, 0, run.stderr);
        const ref = `${repository}@${digests["linux/amd64"]}`;
        assert.ok(run.stderr.includes(`multiarch: ${ref} is amd64, as this host (x86_64) is\n`), run.stderr);
        // The container answered its HTTP check, and only then was the launch completed.
        assert.ok(run.stderr.includes(`multiarch: ${name} answers: GET http://127.0.0.1:${hostPort}/ answers 2xx or 3xx\n`), run.stderr);
        assert.deepStrictEqual(run.aws, [completion("CONTINUE")]);
        assert.deepStrictEqual(
            JSON.parse(fs.readFileSync(path.join(work, name, "docker-config", "config.json"), "utf8")).auths[AUTH_REGISTRY] !== undefined,
            true,
            "the script logged in to the registry",
        );

        assert.strictEqual(await fetchText(`http://127.0.0.1:${hostPort}/`), GREETING);
        assert.strictEqual(await fetchText(`http://127.0.0.1:${hostPort}/arg.txt`), ARGUMENT);
        assert.match(await docker(["logs", name]), /^hello from x86_64$/m);
        assert.strictEqual(await docker(["inspect", "--format", "{{.Config.Image}} {{.HostConfig.RestartPolicy.Name}}", name]), `${ref} unless-stopped\n`);
        const states = await containersNamed(name);
        assert.strictEqual(states.length, 1);
        assert.match(states[0], / running$/);
    });

    it("replaces its container cleanly when run again", async () => {
        const name = containers[0];
        const [before] = await containersNamed(name);
        // This time "answers" is a command run in the container.
        const run = await runScript("linux/amd64", name, "boot", {
            healthCheck: { command: ["test", "-s", "/www/index.html"], gracePeriodSeconds: 1, timeoutSeconds: 20 },
        });
        assert.strictEqual(run.status, 0, run.stderr);
        assert.ok(run.stderr.includes(`multiarch: ${name} answers: its health command exits 0\n`), run.stderr);
        assert.deepStrictEqual(run.aws, [completion("CONTINUE")]);
        const after = await containersNamed(name);
        assert.strictEqual(after.length, 1);
        assert.notStrictEqual(after[0].split(" ")[0], before.split(" ")[0], "expected a new container");
        assert.strictEqual(await fetchText(`http://127.0.0.1:${hostPort}/`), GREETING);
    });

    it("runs the container as the systemd unit's ExecStart would", async () => {
        const name = containers[0];
        const unit = fs.readFileSync(path.join(work, name, "units", `${name}.service`), "utf8");
        const execStart = /^ExecStart=(.*)$/m.exec(unit)![1];
        assert.strictEqual(execStart, `/bin/bash ${path.join(work, name, "state", "boot.sh")} container`);
        await docker(["rm", "--force", name]);

        const run = runScript("linux/amd64", name, "container");
        foreground = run.child;
        assert.strictEqual(await fetchText(`http://127.0.0.1:${hostPort}/`), GREETING);
        assert.strictEqual(await fetchText(`http://127.0.0.1:${hostPort}/arg.txt`), ARGUMENT);
        await docker(["stop", "--time", "1", name]);
        const result = await run;
        foreground = undefined;
        assert.match(result.stdout, /^hello from x86_64$/m);
        assert.deepStrictEqual(await containersNamed(name), [], "docker run --rm removes the container when it stops");
    });

    it("pulls the pinned digest again, with a fresh ECR login, when the host lost its image", async () => {
        const name = containers[0];
        const ref = `${repository}@${digests["linux/amd64"]}`;
        await docker(["image", "rm", "--force", ref]);
        await assert.rejects(docker(["image", "inspect", ref]), "the image is gone from the host");
        // Nor is there a login left: the registry refuses an anonymous pull.
        fs.rmSync(path.join(work, name, "docker-config", "config.json"), { force: true });

        const run = runScript("linux/amd64", name, "container", {}, true);
        foreground = run.child;
        assert.strictEqual(await fetchText(`http://127.0.0.1:${hostPort}/`), GREETING);
        await docker(["stop", "--time", "1", name]);
        const result = await run;
        foreground = undefined;
        assert.ok(result.stderr.includes(`multiarch: ${ref} is not on this host: logging in to ${AUTH_REGISTRY} again and pulling it\n`), result.stderr);
        assert.ok(result.stderr.includes(`multiarch: ${ref} is amd64, as this host (x86_64) is\n`), result.stderr);
        assert.deepStrictEqual(result.aws, [["ecr", "get-login-password", "--region", "us-west-2"]], "a fresh token from the host's role");
        assert.strictEqual(await docker(["image", "inspect", "--format", "{{.Architecture}}", ref]), "amd64\n");
    });

    it("abandons the launch, saying which host, digest and why, when the container exits", async () => {
        const name = uniqueName("multiarch-boot-exits");
        containers.push(name);
        const run = await runScript("linux/amd64", name, "boot", { command: ["sh", "-c", "exit 3"], healthCheck: { gracePeriodSeconds: 3 } });
        const ref = `${repository}@${digests["linux/amd64"]}`;
        assert.strictEqual(run.status, 1, run.stderr);
        // Docker restarts it (unless-stopped) or has not yet: either way it never ran steadily.
        const line = new RegExp(
            `^multiarch: launch failed on ${INSTANCE_ID} \\(linux/amd64\\): ${ref.replace(/[.]/g, "\\.")}: the container (is exited \\(exit code 3\\)|is restarting \\(exit code 3\\)|exited and was restarted [1-9][0-9]* times)`,
            "m",
        );
        assert.match(run.stderr, line);
        assert.strictEqual(run.aws.length, 2, JSON.stringify(run.aws));
        assert.deepStrictEqual(run.aws[0].slice(0, 6), ["ec2", "create-tags", "--region", "us-west-2", "--resources", INSTANCE_ID]);
        assert.match(run.aws[0][7], new RegExp(`^Key=${LAUNCH_FAILURE_TAG},Value=${digests["linux/amd64"]} the container (is|exited)`));
        assert.deepStrictEqual(run.aws[1], completion("ABANDON"));
    });

    it("abandons the launch when the container runs but does not answer its check in time", async () => {
        const name = uniqueName("multiarch-boot-silent");
        containers.push(name);
        const port = await freePort();
        const run = await runScript("linux/amd64", name, "boot", {
            ports: [{ host: port, container: 8080 }],
            healthCheck: { http: { port, path: "/missing" }, gracePeriodSeconds: 1, timeoutSeconds: 4 },
        });
        assert.strictEqual(run.status, 1, run.stderr);
        assert.ok(run.stderr.includes(`: the check did not pass within 4s: GET http://127.0.0.1:${port}/missing answers 2xx or 3xx\n`), run.stderr);
        assert.deepStrictEqual(run.aws[1], completion("ABANDON"));
        // The container itself ran: it is the check that failed.
        assert.match((await containersNamed(name))[0], / running$/);
    });

    it("asks the health check's path as written, one request per try, with [], {}, quotes and $(…) intact", async () => {
        const name = uniqueName("multiarch-boot-path");
        containers.push(name);
        const port = await freePort();
        const run = await runScript("linux/amd64", name, "boot", {
            ports: [{ host: port, container: 8080 }],
            command: RECORDER_COMMAND,
            healthCheck: { http: { port, path: PROBE_PATH }, gracePeriodSeconds: 1, timeoutSeconds: 30 },
        });
        assert.strictEqual(run.status, 0, run.stderr);
        assert.ok(run.stderr.includes(`multiarch: ${name} answers: GET http://127.0.0.1:${port}${PROBE_PATH} answers 2xx or 3xx\n`), run.stderr);
        assert.deepStrictEqual(run.aws, [completion("CONTINUE")]);
        const requests = (await docker(["exec", name, "cat", "/www/requests.txt"]))
            .split("\n")
            .filter((line) => line !== "")
            .map((line) => ({ uptime: Number(line.slice(0, line.indexOf(" "))), target: line.slice(line.indexOf(" ") + 1) }));
        // Two tries answered 503 and the third 200: three requests, each the path as written.
        assert.deepStrictEqual(
            requests.map((r) => r.target),
            [PROBE_PATH, PROBE_PATH, PROBE_PATH],
        );
        // A try is one request: the tries are the script's 2 seconds apart.
        for (let i = 1; i < requests.length; i++) {
            assert.ok(requests[i].uptime - requests[i - 1].uptime >= 1.5, JSON.stringify(requests));
        }
        assert.strictEqual(fs.existsSync(path.join(work, name, "pwned")), false);
    });

    it("refuses the arm64 digest on this x86_64 host without starting a container", async function () {
        if (os.arch() !== "x64") {
            this.skip();
        }
        const name = uniqueName("multiarch-boot-arm64");
        containers.push(name);
        const run = await runScript("linux/arm64", name);
        const ref = `${repository}@${digests["linux/arm64"]}`;
        assert.strictEqual(run.status, ARCHITECTURE_MISMATCH_EXIT_CODE, run.stderr);
        assert.ok(
            run.stderr.includes(`multiarch: refusing to run ${ref}: image is arm64 (aarch64) but this host is x86_64 — deploy the linux/amd64 digest\n`),
            run.stderr,
        );
        assert.deepStrictEqual(await containersNamed(name), []);
        assert.strictEqual(fs.existsSync(path.join(work, name, "units")), false, "no unit is written for a refused image");
        assert.ok(
            run.stderr.includes(
                `multiarch: launch failed on ${INSTANCE_ID} (linux/arm64): ${ref}: image is arm64 (aarch64) but this host is x86_64 — deploy the linux/amd64 digest\n`,
            ),
            run.stderr,
        );
        assert.deepStrictEqual(run.aws[1], completion("ABANDON"));
        // It was pulled (the check read the pulled image), just not run.
        assert.strictEqual(await docker(["image", "inspect", "--format", "{{.Architecture}}", ref]), "arm64\n");
    });
});
