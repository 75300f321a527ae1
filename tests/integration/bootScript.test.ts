// The boot script's login-pull-check-run part, run for real by bash against the local
// registry with basic auth (standing in for ECR) and the local dockerd. Not exercised
// here: dnf and `systemctl` (MULTIARCH_SKIP_INSTALL, MULTIARCH_NO_SYSTEMD), and the
// AWS CLI (`aws ecr get-login-password`, `aws ssm get-parameter`), which the knobs
// replace with the test registry's password and an env file rendered by the same code
// that fills the SSM parameter. The systemd unit is written, and its ExecStart command
// is run for real, without systemd.
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { ARCHITECTURE_MISMATCH_EXIT_CODE, BootScriptOptions, environmentFile, renderBootScript } from "../../sdk/bootScript";
import { RegistryClient } from "../../sdk/registry";
import { AUTH_PASSWORD, AUTH_REGISTRY, AUTH_USER, docker, uniqueName, useDockerStack } from "./stack";

const APP = path.join(__dirname, "..", "..", "examples", "app");
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
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
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
    let foreground: ChildProcess | undefined;

    before(async function () {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-boot-"));
        // The push uses its own Docker config; the script logs in with another, empty one.
        const pushConfig = path.join(work, "push-docker-config");
        fs.mkdirSync(pushConfig);
        const env = { ...process.env, DOCKER_CONFIG: pushConfig };
        await docker(["login", "--username", AUTH_USER, "--password-stdin", AUTH_REGISTRY], { env, input: AUTH_PASSWORD });
        await docker(["buildx", "build", "--builder", "default", "--platform", "linux/amd64,linux/arm64", "--provenance=false", "--push", "-t", tag, APP], {
            env,
        });
        const client = new RegistryClient({ auth: { registry: AUTH_REGISTRY, username: AUTH_USER, password: AUTH_PASSWORD } });
        digests = await client.platformDigests(tag);
        indexDigest = (await client.getManifest(tag)).digest;
        assert.deepStrictEqual(Object.keys(digests).sort(), ["linux/amd64", "linux/arm64"]);
        // The docker driver keeps what it pushed: remove it, so the script's pull must
        // log in and fetch from the registry.
        await docker(["image", "rm", tag]).catch(() => undefined);
        hostPort = await freePort();
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

    /** Renders the script for one platform's digest and runs it as the host would, with the test knobs. */
    function runScript(platform: string, name: string, command: "boot" | "container" = "boot"): Promise<Run> & { child: ChildProcess } {
        const dir = path.join(work, name);
        fs.mkdirSync(dir, { recursive: true });
        const options: BootScriptOptions = {
            containerName: name,
            imageRef: `${repository}@${digests[platform]}`,
            platform,
            registryRegion: "us-west-2",
            ports: [{ host: hostPort, container: 8080 }],
            command: COMMAND,
        };
        const script = path.join(dir, "user-data.sh");
        fs.writeFileSync(script, renderBootScript(options));
        fs.writeFileSync(path.join(dir, "environment.in"), environmentFile({ GREETING }));
        fs.mkdirSync(path.join(dir, "docker-config"), { recursive: true });
        const target = command === "boot" ? script : path.join(dir, "state", "boot.sh");
        const child = spawn("bash", [target, command], {
            env: {
                PATH: process.env.PATH,
                DOCKER_CONFIG: path.join(dir, "docker-config"),
                MULTIARCH_SKIP_INSTALL: "1",
                MULTIARCH_NO_SYSTEMD: "1",
                MULTIARCH_REGISTRY_USER: AUTH_USER,
                MULTIARCH_REGISTRY_PASSWORD: AUTH_PASSWORD,
                MULTIARCH_ENVIRONMENT_FILE: path.join(dir, "environment.in"),
                MULTIARCH_STATE_DIR: path.join(dir, "state"),
                MULTIARCH_UNIT_DIR: path.join(dir, "units"),
                MULTIARCH_CONSOLE: "/dev/null",
            },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        const done = new Promise<Run>((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
        return Object.assign(done, { child });
    }

    it("pulls the amd64 digest with the registry's credentials, checks it and runs it with ports, environment and command intact", async () => {
        const name = uniqueName("multiarch-boot-amd64");
        containers.push(name);
        const run = await runScript("linux/amd64", name);
        assert.strictEqual(run.status, 0, run.stderr);
        const ref = `${repository}@${digests["linux/amd64"]}`;
        assert.ok(run.stderr.includes(`multiarch: ${ref} is amd64, as this host (x86_64) is\n`), run.stderr);
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
        const run = await runScript("linux/amd64", name);
        assert.strictEqual(run.status, 0, run.stderr);
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
        // It was pulled (the check read the pulled image), just not run.
        assert.strictEqual(await docker(["image", "inspect", "--format", "{{.Architecture}}", ref]), "arm64\n");
    });
});
