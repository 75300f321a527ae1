// `multiarch preflight` on the real engine: it builds every platform, pushes, joins the
// index, reads it back and runs each image as its platform.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fixtureContext } from "../../../bench/fixture";
import { main } from "../../../sdk/cli/main";
import { preflight } from "../../../sdk/cli/preflight";
import { PreflightError } from "../../../sdk/rules/preflightError";
import { RegistryClient } from "../../../sdk/clients/registryClient";
import { RegistryError } from "../../../sdk/rules/registryError";
import { InputProblems } from "../../../sdk/rules/errors";
import { normaliseBuildSpec } from "../../../sdk/rules/buildPlan";
import { toBakeFile } from "../../../sdk/rules/bake";
import { CONTEXT_DOCKERFILE, SECRET_DOCKERFILE, SECRET_VALUE, SSH_DOCKERFILE, contextWith, startAgent } from "../components/buildInputs";
import { REGISTRY, docker, uniqueName, useDockerStack, withEnv } from "../stack";
import { EXAMPLE_APP, fixture } from "../../paths";

/** A fixture context with the app's per-platform busybox binaries beside its Dockerfile. */
function contextWithBusybox(name: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `multiarch-${name}-`));
    fs.copyFileSync(fixture(name, "Dockerfile"), path.join(dir, "Dockerfile"));
    fs.cpSync(path.join(EXAMPLE_APP, "busybox"), path.join(dir, "busybox"), { recursive: true });
    return dir;
}

describe("multiarch preflight (needs scripts/docker-stack.sh)", function () {
    this.timeout(600000);
    useDockerStack();

    const registry = new RegistryClient();
    const made: string[] = [];
    after(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

    it("builds, pushes and runs each platform of the example app as itself", async () => {
        const repository = `multiarch-test/${uniqueName("app")}`;
        const lines: string[] = [];
        const result = await preflight({ context: EXAMPLE_APP, repository, log: (l) => lines.push(l) });
        assert.strictEqual(result.ok, true, JSON.stringify(result, null, 2));
        assert.strictEqual(result.builder, "default");
        assert.deepStrictEqual(
            result.platforms.map((p) => [p.platform, p.seen, p.ok]),
            [
                ["linux/amd64", "x86_64", true],
                ["linux/arm64", "aarch64", true],
            ],
        );
        const index = await registry.resolveImage(`${REGISTRY}/${repository}:preflight`);
        assert.deepStrictEqual(index.platforms, {
            "linux/amd64": result.platforms[0].digest,
            "linux/arm64": result.platforms[1].digest,
        });
        assert.strictEqual(result.indexRef, `${REGISTRY}/${repository}:preflight@${index.digest}`);
        assert.ok(
            lines.some((l) => l.startsWith("[arm64] pushed sha256:")),
            "progress names each platform's push",
        );
        for (const p of result.platforms) {
            assert.ok(p.buildSeconds! > 0 && p.buildSeconds! < 600, `build seconds of ${p.platform}: ${p.buildSeconds}`);
        }
    });

    it("fails the platform whose image runs as another architecture", async () => {
        const context = contextWithBusybox("wrong-arch");
        made.push(context);
        const result = await preflight({ context, repository: `multiarch-test/${uniqueName("wrong")}` });
        assert.strictEqual(result.ok, false);
        const [amd64, arm64] = result.platforms;
        assert.deepStrictEqual([amd64.seen, amd64.ok], ["x86_64", true]);
        assert.deepStrictEqual([arm64.seen, arm64.ok], ["x86_64", false]);
        assert.strictEqual(arm64.reason, 'the linux/arm64 image ran as "x86_64", expected "aarch64": it was not built for its platform');
    });

    it("names the platform that fails to build and pushes no index", async () => {
        const context = contextWithBusybox("fails-on-arm64");
        made.push(context);
        const repository = `multiarch-test/${uniqueName("fails")}`;
        const result = await preflight({ context, repository, cache: false });
        assert.strictEqual(result.ok, false);
        assert.strictEqual(result.platforms[0].ok, true);
        assert.strictEqual(result.platforms[0].seen, "x86_64");
        assert.strictEqual(result.platforms[1].ok, false);
        assert.match(result.platforms[1].reason!, /^build failed: .*this step needs x86_64, not aarch64/);
        assert.strictEqual(result.indexRef, undefined);
        assert.match(result.notes.join("\n"), /no index was pushed/);
        await assert.rejects(registry.resolveImage(`${REGISTRY}/${repository}:preflight`), (e: RegistryError) => e.kind === "not-found");
    });

    it("runs the user's --check in each image instead of uname -m", async () => {
        const result = await preflight({
            context: EXAMPLE_APP,
            repository: `multiarch-test/${uniqueName("check")}`,
            check: 'test -f /app/hello.sh && echo "app present on $(uname -m)"',
        });
        assert.strictEqual(result.ok, true, JSON.stringify(result.platforms));
        assert.deepStrictEqual(
            result.platforms.map((p) => p.seen),
            ["app present on x86_64", "app present on aarch64"],
        );
        const failing = await preflight({ context: EXAMPLE_APP, repository: `multiarch-test/${uniqueName("check")}`, check: "test -f /missing" });
        assert.strictEqual(failing.ok, false);
        assert.match(failing.platforms[0].reason!, /^the check `test -f \/missing` failed/);
    });

    it("falls back to the default builder when a docker-container builder cannot start, and says so", async () => {
        const builder = uniqueName("preflight-offline");
        await docker([
            "buildx",
            "create",
            "--name",
            builder,
            "--driver",
            "docker-container",
            "--driver-opt",
            `image=${REGISTRY}/multiarch-test/no-such-buildkit:1`,
        ]);
        try {
            const result = await preflight({
                context: EXAMPLE_APP,
                repository: `multiarch-test/${uniqueName("fallback")}`,
                builder,
                platforms: ["linux/amd64"],
            });
            assert.strictEqual(result.builder, "default");
            assert.strictEqual(result.ok, true);
            assert.match(
                result.notes[0],
                new RegExp(`^builder "${builder}" \\(docker-container\\) could not start, so the engine's default builder built instead`),
            );
        } finally {
            await docker(["buildx", "rm", "--force", builder]).catch(() => undefined);
        }
    });

    it("warns when arm64 spends most of its build in emulated RUN steps, and not once the step cross-compiles", async () => {
        // A compute step of a few seconds under QEMU (bench/fixtures/compress, small size).
        // `cache: false` leaves out the registry cache, not BuildKit's own: a LINES value
        // no earlier run used keeps the step from being a cache hit on a machine that ran
        // this test before (a cached step takes 0 s and nothing is emulated).
        const buildArgs = { LINES: String(1_000_000 + crypto.randomInt(100_000)) };
        const emulated = fixtureContext("emulated");
        const cross = fixtureContext("cross");
        made.push(emulated, cross);
        const slow = await preflight({ context: emulated, repository: `multiarch-test/${uniqueName("emulated")}`, cache: false, buildArgs, check: "true" });
        assert.strictEqual(slow.ok, true, JSON.stringify(slow.platforms));
        const warnings = slow.notes.filter((n) => /emulated RUN steps/.test(n));
        assert.strictEqual(warnings.length, 1, slow.notes.join("\n"));
        assert.match(
            warnings[0],
            /^linux\/arm64: \d+\.\ds of the \d+\.\ds build \((5[1-9]|[6-9]\d|100)%\) ran in emulated RUN steps \(\[\d\/\d\] RUN .*bzip2 -9/,
        );
        assert.match(warnings[0], /`FROM --platform=\$BUILDPLATFORM`.*BuildxBuilder `nodes`/);

        const fast = await preflight({ context: cross, repository: `multiarch-test/${uniqueName("cross")}`, cache: false, buildArgs, check: "true" });
        assert.strictEqual(fast.ok, true, JSON.stringify(fast.platforms));
        assert.deepStrictEqual(fast.notes, []);
    });

    it("refuses a builder that does not exist", async () => {
        await assert.rejects(preflight({ context: EXAMPLE_APP, builder: "no-such-builder-here" }), (e: Error) => {
            assert.ok(e instanceof PreflightError);
            assert.match(e.message, /^builder "no-such-builder-here" does not exist \(see `docker buildx ls`\)/);
            return true;
        });
    });

    it("says the daemon is down and how to start it", async () => {
        const saved = process.env.DOCKER_HOST;
        process.env.DOCKER_HOST = "unix:///nonexistent/docker.sock";
        try {
            await assert.rejects(preflight({ context: EXAMPLE_APP }), (e: Error) => {
                assert.ok(e instanceof PreflightError);
                assert.match(e.message, /the Docker daemon is not running or not reachable/);
                assert.match(e.message, /scripts\/docker-stack\.sh/);
                return true;
            });
        } finally {
            if (saved === undefined) {
                delete process.env.DOCKER_HOST;
            } else {
                process.env.DOCKER_HOST = saved;
            }
        }
    });

    it("ends the command line with the table and exit code 0, or 1 when a platform fails", async () => {
        const out: string[] = [];
        const code = await main(["preflight", EXAMPLE_APP, "--repository", `multiarch-test/${uniqueName("cli")}`], (l) => out.push(l));
        assert.strictEqual(code, 0, out.join("\n"));
        const text = out.join("\n");
        assert.match(text, /^platform +digest +build +arch seen +verdict$/m);
        assert.match(text, /^linux\/amd64 +sha256:[0-9a-f]{64} +\d+\.\ds +x86_64 +ok$/m);
        assert.match(text, /^linux\/arm64 +sha256:[0-9a-f]{64} +\d+\.\ds +aarch64 +ok$/m);
        assert.match(text, /preflight passed: 2 platforms build and run as themselves/);

        const context = contextWithBusybox("wrong-arch");
        made.push(context);
        const failed: string[] = [];
        assert.strictEqual(await main(["preflight", context, "--repository", `multiarch-test/${uniqueName("cli")}`], (l) => failed.push(l)), 1);
        assert.match(failed.join("\n"), /^linux\/arm64 +sha256:[0-9a-f]{64} +\d+\.\ds +x86_64 +FAIL$/m);
    });
});

describe("multiarch preflight with build inputs (needs scripts/docker-stack.sh)", function () {
    this.timeout(600000);
    useDockerStack();

    const made: string[] = [];
    after(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
    const SECRET = SECRET_VALUE;
    const HASH = crypto.createHash("sha256").update(SECRET).digest("hex");

    it("mounts a --secret read from the environment, and never prints its value", async () => {
        const context = contextWith({ Dockerfile: SECRET_DOCKERFILE });
        made.push(context);
        const out: string[] = [];
        const code = await withEnv({ PF_PASSWORD: SECRET }, () =>
            main(
                [
                    "preflight",
                    context,
                    "--repository",
                    `multiarch-test/${uniqueName("pf-secret")}`,
                    "--secret",
                    "id=password,env=PF_PASSWORD",
                    "--no-cache",
                    "--check",
                    "echo $(uname -m) $(cat /secret.sha256)",
                ],
                (l) => out.push(l),
                (l) => out.push(l),
            ),
        );
        const text = out.join("\n");
        assert.strictEqual(code, 0, text);
        assert.match(text, new RegExp(`^linux/amd64 +sha256:[0-9a-f]{64} +\\d+\\.\\ds +x86_64 ${HASH} +ok$`, "m"));
        assert.match(text, new RegExp(`^linux/arm64 +sha256:[0-9a-f]{64} +\\d+\\.\\ds +aarch64 ${HASH} +ok$`, "m"));
        assert.ok(!text.includes(SECRET), "the secret's value must not appear in the output");
    });

    it("mounts a --secret read from a file", async () => {
        const context = contextWith({ Dockerfile: SECRET_DOCKERFILE });
        const secretDir = contextWith({ password: SECRET });
        made.push(context, secretDir);
        const result = await preflight({
            context,
            repository: `multiarch-test/${uniqueName("pf-secret-file")}`,
            secrets: [{ id: "password", src: path.join(secretDir, "password") }],
            cache: false,
            check: "echo $(uname -m) $(cat /secret.sha256)",
        });
        assert.strictEqual(result.ok, true, JSON.stringify(result.platforms));
        assert.deepStrictEqual(
            result.platforms.map((p) => p.seen),
            [`x86_64 ${HASH}`, `aarch64 ${HASH}`],
        );
    });

    it("copies from a --build-context", async () => {
        const context = contextWith({ Dockerfile: CONTEXT_DOCKERFILE });
        const extra = contextWith({ "extra.txt": "from the named context" });
        made.push(context, extra);
        const out: string[] = [];
        const code = await main(
            [
                "preflight",
                context,
                "--repository",
                `multiarch-test/${uniqueName("pf-context")}`,
                "--build-context",
                `extra=${extra}`,
                "--check",
                "echo $(uname -m) $(cat /extra.txt)",
            ],
            (l) => out.push(l),
            (l) => out.push(l),
        );
        assert.strictEqual(code, 0, out.join("\n"));
        assert.match(out.join("\n"), /^linux\/arm64 +sha256:[0-9a-f]{64} +\d+\.\ds +aarch64 from the named context +ok$/m);
    });

    it("forwards an --ssh agent", async () => {
        const context = contextWith({ Dockerfile: SSH_DOCKERFILE });
        made.push(context);
        const agent = startAgent();
        try {
            const result = await withEnv({ SSH_AUTH_SOCK: agent.socket }, () =>
                preflight({
                    context,
                    repository: `multiarch-test/${uniqueName("pf-ssh")}`,
                    ssh: [{ id: "default" }],
                    cache: false,
                    check: "echo $(uname -m) $(cat /ssh.txt)",
                }),
            );
            assert.strictEqual(result.ok, true, JSON.stringify(result.platforms));
            assert.match(result.platforms[0].seen!, /^x86_64 agent at \//);
            assert.match(result.platforms[1].seen!, /^aarch64 agent at \//);
        } finally {
            agent.stop();
        }
    });

    it("passes --add-host, --network and --pull to the build", async () => {
        const context = contextWith({
            Dockerfile: `FROM ${REGISTRY}/multiarch/busybox:latest\nRUN grep -q "10.9.8.7[[:space:]]*db.internal" /etc/hosts && ! ip route 2>/dev/null | grep -q default && echo ok > /inputs.txt\n`,
        });
        made.push(context);
        const out: string[] = [];
        const code = await main(
            [
                "preflight",
                context,
                "--platforms",
                "linux/amd64",
                "--repository",
                `multiarch-test/${uniqueName("pf-net")}`,
                "--add-host",
                "db.internal:10.9.8.7",
                "--network",
                "none",
                "--pull",
                "--no-cache",
                "--check",
                "cat /inputs.txt",
            ],
            (l) => out.push(l),
            (l) => out.push(l),
        );
        assert.strictEqual(code, 0, out.join("\n"));
        assert.match(out.join("\n"), /^linux\/amd64 +sha256:[0-9a-f]{64} +\d+\.\ds +ok +ok$/m);
    });

    it("rehearses a stack's Bake file, retargeted to the local registry, with its secret, context and ${…} build arg", async () => {
        const context = contextWith({
            Dockerfile: `${SECRET_DOCKERFILE}COPY --from=extra extra.txt /extra.txt\nARG VALUE\nRUN echo "$VALUE" > /value.txt\n`,
        });
        const extra = contextWith({ "extra.txt": "extra" });
        made.push(context, extra);
        // What MultiArchImage.bakeFile holds for a stack that pushes to ECR.
        const ecr = "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/api";
        const spec = normaliseBuildSpec(
            { context, contexts: { extra }, tag: "v1", noCache: true, cacheTo: [{ inline: {} }, { gha: { scope: "api" } }] },
            new InputProblems(),
        )!;
        const plan = path.join(contextWith({}), "plan.json");
        made.push(path.dirname(plan));
        const value = "${HOME} %{ x } $$";
        fs.writeFileSync(plan, JSON.stringify(toBakeFile(spec, { repositoryUrl: ecr, secretIds: ["PF_PASSWORD"], buildArgs: { VALUE: value } }), null, 2));
        fs.writeFileSync(path.join(context, "Dockerfile"), fs.readFileSync(path.join(context, "Dockerfile"), "utf8").replace(/password/g, "PF_PASSWORD"));
        const repository = `multiarch-test/${uniqueName("pf-bake")}`;
        const out: string[] = [];
        const code = await withEnv({ PF_PASSWORD: SECRET }, () =>
            main(
                [
                    "preflight",
                    "--bake-file",
                    plan,
                    "--repository",
                    repository,
                    "--check",
                    "echo $(uname -m) $(cat /secret.sha256) $(cat /extra.txt) $(cat /value.txt)",
                ],
                (l) => out.push(l),
                (l) => out.push(l),
            ),
        );
        const text = out.join("\n");
        assert.strictEqual(code, 0, text);
        assert.match(text, new RegExp(`^linux/amd64 +sha256:[0-9a-f]{64} +\\d+\\.\\ds +x86_64 ${HASH} extra \\$\\{HOME\\} %\\{ x \\} \\$\\$ +ok$`, "m"));
        assert.match(text, new RegExp(`^linux/arm64 .* aarch64 ${HASH} extra`, "m"));
        assert.match(text, /the rehearsal leaves out the cache type=gha/);
        assert.ok(!text.includes(SECRET));
        assert.ok(!text.includes(ecr), "nothing is pushed to the stack's repository");
        const index = await new RegistryClient().resolveImage(`${REGISTRY}/${repository}:preflight`);
        assert.deepStrictEqual(Object.keys(index.platforms).sort(), ["linux/amd64", "linux/arm64"]);
        const cache = await new RegistryClient().getManifest(`${REGISTRY}/${repository}:cache-arm64`);
        assert.strictEqual(cache.mediaType, "application/vnd.oci.image.manifest.v1+json", "the plan's own registry cache moves to the rehearsal repository");
    });
});
