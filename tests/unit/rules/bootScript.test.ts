import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    ARCHITECTURE_MISMATCH_EXIT_CODE,
    BootScriptOptions,
    containerName,
    environmentFile,
    environmentVariableProblem,
    healthCheckProblems,
    renderBootScript,
} from "../../../sdk/rules/bootScript";

const DIGEST = `sha256:${"a".repeat(64)}`;
const REPO = "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/api";
const REF = `${REPO}@${DIGEST}`;
const BASE: BootScriptOptions = { containerName: "multiarch-api", imageRef: REF, platform: "linux/amd64", registryRegion: "us-west-2" };
const FULL: BootScriptOptions = {
    ...BASE,
    ports: [
        { host: 80, container: 8080 },
        { host: 443, container: 8443 },
    ],
    command: ["sh", "-c", `echo "it's $HOME" \`id\` \\n`, "", "trailing newline\n"],
    environmentParameter: { name: "/multiarch/api/environment", version: 7, region: "eu-west-1" },
    healthCheck: { command: ["pg_isready", "-h", "it's here"], gracePeriodSeconds: 0, timeoutSeconds: 2 },
    lifecycleHook: { name: "multiarch-launch", groupName: "shop-prod-api", region: "eu-west-1" },
};

function valueLine(script: string, name: string): string {
    const line = script.split("\n").find((l) => l.startsWith(`readonly ${name}=`));
    assert.ok(line, `no readonly ${name}= line`);
    return line!;
}

describe("boot script", () => {
    describe("rendering", () => {
        it("renders each value single-quoted and the command base64-encoded", () => {
            const script = renderBootScript(FULL);
            assert.ok(script.startsWith("#!/bin/bash\n"));
            assert.match(script, /^set -euo pipefail$/m);
            assert.strictEqual(valueLine(script, "CONTAINER"), "readonly CONTAINER='multiarch-api'");
            assert.strictEqual(valueLine(script, "IMAGE_REF"), `readonly IMAGE_REF='${REF}'`);
            assert.strictEqual(valueLine(script, "PLATFORM"), "readonly PLATFORM='linux/amd64'");
            assert.strictEqual(valueLine(script, "REGISTRY"), "readonly REGISTRY='123456789012.dkr.ecr.us-west-2.amazonaws.com'");
            assert.strictEqual(valueLine(script, "REGISTRY_REGION"), "readonly REGISTRY_REGION='us-west-2'");
            assert.strictEqual(valueLine(script, "PORTS"), "readonly PORTS=('80:8080' '443:8443')");
            const encoded = FULL.command!.map((a) => `'${Buffer.from(a).toString("base64")}'`).join(" ");
            assert.strictEqual(valueLine(script, "COMMAND_BASE64"), `readonly COMMAND_BASE64=(${encoded})`);
            assert.strictEqual(valueLine(script, "ENVIRONMENT_PARAMETER"), "readonly ENVIRONMENT_PARAMETER='/multiarch/api/environment'");
            assert.strictEqual(valueLine(script, "ENVIRONMENT_PARAMETER_VERSION"), "readonly ENVIRONMENT_PARAMETER_VERSION='7'");
            assert.strictEqual(valueLine(script, "ENVIRONMENT_REGION"), "readonly ENVIRONMENT_REGION='eu-west-1'");
            const check = FULL.healthCheck!.command!.map((a) => `'${Buffer.from(a).toString("base64")}'`).join(" ");
            assert.strictEqual(valueLine(script, "HEALTH_COMMAND_BASE64"), `readonly HEALTH_COMMAND_BASE64=(${check})`);
            assert.strictEqual(valueLine(script, "HEALTH_URL"), "readonly HEALTH_URL=''");
            assert.strictEqual(valueLine(script, "HEALTH_GRACE_SECONDS"), "readonly HEALTH_GRACE_SECONDS='0'");
            assert.strictEqual(valueLine(script, "HEALTH_TIMEOUT_SECONDS"), "readonly HEALTH_TIMEOUT_SECONDS='2'");
            assert.strictEqual(valueLine(script, "LIFECYCLE_HOOK"), "readonly LIFECYCLE_HOOK='multiarch-launch'");
            assert.strictEqual(valueLine(script, "AUTO_SCALING_GROUP"), "readonly AUTO_SCALING_GROUP='shop-prod-api'");
            assert.strictEqual(valueLine(script, "AUTO_SCALING_REGION"), "readonly AUTO_SCALING_REGION='eu-west-1'");
        });

        it("renders an HTTP check as a URL on the host, and the default check's times", () => {
            const script = renderBootScript({ ...BASE, ports: [{ host: 80, container: 8080 }], healthCheck: { http: { port: 80, path: "/health?deep=1" } } });
            assert.strictEqual(valueLine(script, "HEALTH_URL"), "readonly HEALTH_URL='http://127.0.0.1:80/health?deep=1'");
            assert.strictEqual(valueLine(script, "HEALTH_COMMAND_BASE64"), "readonly HEALTH_COMMAND_BASE64=()");
            assert.strictEqual(valueLine(renderBootScript(BASE), "HEALTH_GRACE_SECONDS"), "readonly HEALTH_GRACE_SECONDS='10'");
            assert.strictEqual(valueLine(renderBootScript(BASE), "HEALTH_TIMEOUT_SECONDS"), "readonly HEALTH_TIMEOUT_SECONDS='300'");
            assert.strictEqual(valueLine(renderBootScript(BASE), "LIFECYCLE_HOOK"), "readonly LIFECYCLE_HOOK=''");
        });

        it("renders empty lists and no parameter when there are no ports, command or environment", () => {
            const script = renderBootScript(BASE);
            assert.strictEqual(valueLine(script, "PORTS"), "readonly PORTS=()");
            assert.strictEqual(valueLine(script, "COMMAND_BASE64"), "readonly COMMAND_BASE64=()");
            assert.strictEqual(valueLine(script, "ENVIRONMENT_PARAMETER"), "readonly ENVIRONMENT_PARAMETER=''");
        });

        it("logs in with the instance's role, pulls by digest only and never runs a tag", () => {
            const script = renderBootScript(BASE);
            assert.match(script, /aws ecr get-login-password --region "\$REGISTRY_REGION"/);
            assert.match(script, /docker login --username "\$\{MULTIARCH_REGISTRY_USER:-AWS\}" --password-stdin "\$REGISTRY"/);
            assert.match(script, /docker pull --quiet "\$IMAGE_REF"/);
            assert.match(script, /--pull never/);
            assert.match(script, /dnf install -y docker/);
            assert.match(script, /systemctl enable --now docker/);
            assert.match(script, /aws ssm get-parameter --region "\$ENVIRONMENT_REGION" --name "\$name" --with-decryption/);
        });

        const bad: [string, Partial<BootScriptOptions>, RegExp][] = [
            ["a tag instead of a digest", { imageRef: `${REPO}:v1` }, /must pin a digest and carry no tag/],
            ["a tag beside the digest", { imageRef: `${REPO}:v1@${DIGEST}` }, /must pin a digest and carry no tag/],
            ["an unsafe container name", { containerName: "api; rm -rf /" }, /containerName "api; rm -rf \/" must be/],
            ["a bad region", { registryRegion: "us-west-2'; id; '" }, /registryRegion .* is not an AWS region/],
            ["a port out of range", { ports: [{ host: 0, container: 80 }] }, /must have whole-number ports from 1 to 65535/],
            [
                "a bad parameter name",
                { environmentParameter: { name: "a'b", version: 1, region: "us-west-2" } },
                /environmentParameter .* must have an SSM parameter name/,
            ],
            ["a command over the user data limit", { command: ["x".repeat(13000)] }, /over EC2's user data limit of 16384/],
            [
                "an unsafe group name",
                { lifecycleHook: { name: "multiarch-launch", groupName: "a'; id; '", region: "us-west-2" } },
                /lifecycleHook .* must have a hook name, a group name/,
            ],
            [
                "an HTTP check on a port not published",
                { healthCheck: { http: { port: 80 } } },
                /`healthCheck.http.port` is 80: expected a host port published in `ports`/,
            ],
        ];
        for (const [what, options, message] of bad) {
            it(`refuses ${what}`, () => {
                assert.throws(() => renderBootScript({ ...BASE, ...options }), message);
            });
        }

        it("passes bash -n", () => {
            for (const options of [BASE, FULL]) {
                execFileSync("bash", ["-n"], { input: renderBootScript(options) });
            }
        });

        it("is shellcheck-clean", function () {
            if (spawnSync("shellcheck", ["--version"]).status !== 0) {
                if (process.env.CI === "true") {
                    throw new Error("shellcheck is not installed: apt-get install -y shellcheck");
                }
                console.log("    skipped: shellcheck is not installed (apt-get install -y shellcheck)");
                this.skip();
            }
            for (const options of [BASE, FULL]) {
                const result = spawnSync("shellcheck", ["--shell=bash", "-"], { input: renderBootScript(options), encoding: "utf8" });
                assert.strictEqual(result.status, 0, result.stdout);
            }
        });
    });

    describe("the registry it logs in to", () => {
        // With the host's ECR token of the region: only to that region's ECR registry.
        const accepted: [string, string][] = [
            ["123456789012.dkr.ecr.us-west-2.amazonaws.com/team/api", "us-west-2"],
            ["123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com/api", "us-gov-east-1"],
            ["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/api", "cn-north-1"],
            ["123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov/api", "us-iso-east-1"],
        ];
        for (const [repository, region] of accepted) {
            it(`logs in to ${repository.split("/")[0]} with the ECR token of ${region}, the region its host names`, () => {
                const script = renderBootScript({ ...BASE, imageRef: `${repository}@${DIGEST}`, registryRegion: region });
                assert.strictEqual(valueLine(script, "REGISTRY"), `readonly REGISTRY='${repository.split("/")[0]}'`);
                assert.strictEqual(valueLine(script, "REGISTRY_REGION"), `readonly REGISTRY_REGION='${region}'`);
            });
        }

        const refused: [string, string, string, string][] = [
            ["Docker Hub", "docker.io/library/nginx", "us-west-2", "amazonaws.com"],
            ["Docker Hub, implied", "nginx", "us-west-2", "amazonaws.com"],
            ["GHCR", "ghcr.io/team/api", "us-west-2", "amazonaws.com"],
            ["a registry on loopback", "127.0.0.1:5001/team/api", "us-west-2", "amazonaws.com"],
            ["ECR of another region", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api", "us-west-2", "amazonaws.com"],
            ["ECR of another partition's suffix", "123456789012.dkr.ecr.us-west-2.amazonaws.com.cn/team/api", "us-west-2", "amazonaws.com"],
            ["a China region at the commercial suffix", "123456789012.dkr.ecr.cn-north-1.amazonaws.com/team/api", "cn-north-1", "amazonaws.com.cn"],
            ["a host that only starts like ECR's", "123456789012.dkr.ecr.us-west-2.amazonaws.com.example.net/team/api", "us-west-2", "amazonaws.com"],
        ];
        for (const [what, repository, region, suffix] of refused) {
            it(`refuses ${what} (${repository}) with the ECR token of ${region}, naming the ref and the region`, () => {
                const imageRef = `${repository}@${DIGEST}`;
                assert.throws(
                    () => renderBootScript({ ...BASE, imageRef, registryRegion: region }),
                    (e: Error) =>
                        e.message ===
                        `imageRef ${JSON.stringify(imageRef)} is not in the ECR registry of registryRegion ${JSON.stringify(region)}, <account>.dkr.ecr[-fips].${region}.${suffix}: ` +
                            `the host logs in with that region's ECR token (aws ecr get-login-password --region ${region}), which goes to no other registry`,
                );
            });
        }
    });

    describe("the HTTP health check's path", () => {
        const PORTS = [{ host: 80, container: 8080 }];
        const urlOf = (requestPath: string) =>
            valueLine(renderBootScript({ ...BASE, ports: PORTS, healthCheck: { http: { port: 80, path: requestPath } } }), "HEALTH_URL");

        it("asks it as written: curl neither expands [] and {} nor removes dot segments", () => {
            assert.match(renderBootScript(BASE), /^ {8}curl --fail --silent --globoff --path-as-is --max-time 5 --output \/dev\/null "\$HEALTH_URL"$/m);
        });

        // Each one reaches bash as one word, unchanged, and nothing in it runs.
        const accepted = [
            "/",
            "/health?deep=1",
            "/q?a[0]=1&b={a,b}&c=[1-100000]",
            "/it's/'quoted'?q='",
            "/$(touch${IFS}pwned)?a=$(touch${IFS}pwned)&b=${HOME}",
            "/a%20b%2Fc?x=%25&y=%7e",
            "/a/../b/./c//d",
            "/!$&'()*+,;=:@-._~?/?!$&'()*+,;=:@-._~",
            `/${"a".repeat(1023)}`,
        ];
        for (const requestPath of accepted) {
            it(`renders ${JSON.stringify(requestPath.length > 60 ? `${requestPath.slice(0, 8)}…(${requestPath.length})` : requestPath)} as one quoted word bash reads back unchanged`, () => {
                const line = urlOf(requestPath);
                const dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-health-path-"));
                try {
                    const read = spawnSync("bash", ["-c", `${line}\nprintf %s "$HEALTH_URL"`], { cwd: dir, encoding: "utf8" });
                    assert.strictEqual(read.status, 0, read.stderr);
                    assert.strictEqual(read.stdout, `http://127.0.0.1:80${requestPath}`);
                    assert.deepStrictEqual(fs.readdirSync(dir), [], "nothing in the path ran");
                } finally {
                    fs.rmSync(dir, { recursive: true, force: true });
                }
            });
        }

        // What an HTTP request target cannot hold unencoded, and what breaks a shell word.
        const refused: [string, unknown][] = [
            ["a path with a space", "/health check"],
            ["a path with a newline", "/health\nX-Injected: 1"],
            ["a path with a carriage return", "/health\r"],
            ["a path with a tab", "/a\tb"],
            ["a path with a NUL", "/a\u0000b"],
            ["a path with a fragment", "/health#top"],
            ["a path with backticks", "/`touch pwned`"],
            ["a path with a double quote", '/a"b'],
            ["a path with a backslash", "/a\\b"],
            ["a path with angle brackets", "/<script>"],
            ["a path with a pipe", "/a|b"],
            ["a path with a caret", "/a^b"],
            ["a path with a lone %", "/100%"],
            ["a path with % and no two hex digits", "/a%zz"],
            ["a path ending in % and one digit", "/a%2"],
            ["a path with a character outside ASCII", "/café"],
            ["a path without a leading /", "health"],
            ["an empty path", ""],
            ["a full URL", "http://example.com/health"],
            ["a path over 1024 characters", `/${"a".repeat(1024)}`],
            ["a number", 8080],
        ];
        for (const [what, requestPath] of refused) {
            it(`refuses ${what}, naming \`healthCheck.http.path\` and what is allowed`, () => {
                const reason =
                    `\`healthCheck.http.path\` is ${JSON.stringify(requestPath)}: expected a path starting with "/", without spaces, e.g. "/health", and an optional "?query", ` +
                    `as an HTTP request target: letters, digits and -._~!$&'()*+,;=:@/?[]{}, any other character percent-encoded ("%20" for a space), no "#fragment", at most 1024 characters`;
                const check = { http: { port: 80, path: requestPath as string } };
                assert.deepStrictEqual(healthCheckProblems(check, PORTS), [{ propertyPath: "healthCheck.http.path", reason }]);
                assert.throws(
                    () => renderBootScript({ ...BASE, ports: PORTS, healthCheck: check }),
                    (e: Error) => e.message.endsWith(`: ${reason}`),
                );
            });
        }
    });

    describe("environment file", () => {
        it("writes KEY=value lines with values verbatim", () => {
            assert.strictEqual(
                environmentFile({ GREETING: `say "hi" to $USER's 'friends' \\ ok`, EMPTY: "", PADDED: "  spaced  " }),
                `GREETING=say "hi" to $USER's 'friends' \\ ok\nEMPTY=\nPADDED=  spaced  \n`,
            );
        });

        const cases: [string, unknown, string | undefined][] = [
            ["GOOD_NAME", "value", undefined],
            ["_x1", "", undefined],
            ["1BAD", "v", '`environment` has the key "1BAD": expected a variable name of letters, digits and "_", not starting with a digit'],
            ["HAS-DASH", "v", '`environment` has the key "HAS-DASH": expected a variable name of letters, digits and "_", not starting with a digit'],
            [
                "MULTI",
                "line1\nline2",
                "`environment.MULTI` contains a line break or NUL character, which a Docker env file cannot carry: encode the value (e.g. base64) and decode it in the container",
            ],
            [
                "CR",
                "x\r",
                "`environment.CR` contains a line break or NUL character, which a Docker env file cannot carry: encode the value (e.g. base64) and decode it in the container",
            ],
            ["NUM", 5, "`environment.NUM` is not a string: give every value as a string"],
        ];
        for (const [key, value, problem] of cases) {
            it(`${problem === undefined ? "accepts" : "refuses"} ${JSON.stringify(key)} = ${JSON.stringify(value)}`, () => {
                assert.strictEqual(environmentVariableProblem(key, value), problem);
            });
        }

        it("never repeats a refused value", () => {
            assert.throws(
                () => environmentFile({ TOKEN: "s3cret\nvalue" }),
                (e: Error) => !e.message.includes("s3cret"),
            );
        });
    });

    describe("container name", () => {
        const cases: [string, string][] = [
            ["api", "multiarch-api"],
            ["My App", "multiarch-my-app"],
            ["x86/fleet", "multiarch-x86-fleet"],
            ["---", "multiarch-app"],
            ["a".repeat(80), `multiarch-${"a".repeat(53)}`],
        ];
        for (const [name, expected] of cases) {
            it(`names deployment ${JSON.stringify(name)} ${expected}`, () => {
                assert.strictEqual(containerName(name), expected);
            });
        }
    });

    // The script itself, run by bash with `docker` and `uname` replaced by stubs that
    // record their arguments: the arguments and the architecture check, without Docker.
    describe("run with stub docker and uname", () => {
        let dir: string;
        beforeEach(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-boot-unit-"));
            const bin = path.join(dir, "bin");
            fs.mkdirSync(bin);
            fs.writeFileSync(
                path.join(bin, "docker"),
                [
                    "#!/bin/bash",
                    'printf "%s\\0" "$@" "=end=" >>"$STUB_LOG"',
                    'if [[ $1 == login ]]; then cat >"$STUB_DIR/password"; fi',
                    'if [[ $1 == image && $2 == inspect ]]; then echo "$STUB_IMAGE_ARCH"; fi',
                    'if [[ $1 == inspect ]]; then echo "$STUB_CONTAINER_STATE"; fi',
                    'if [[ $1 == exec ]]; then exit "$STUB_EXEC_STATUS"; fi',
                    "exit 0",
                ].join("\n"),
                { mode: 0o755 },
            );
            fs.writeFileSync(path.join(bin, "aws"), ["#!/bin/bash", 'printf "%s\\0" "$@" "=end=" >>"$STUB_AWS_LOG"'].join("\n"), { mode: 0o755 });
            fs.writeFileSync(path.join(bin, "uname"), '#!/bin/bash\necho "$STUB_MACHINE"\n', { mode: 0o755 });
            fs.writeFileSync(path.join(dir, "boot.sh"), renderBootScript(FULL));
        });
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

        function run(command: string, imageArch: string, machine: string, containerState = "running none 0 0", execStatus = 0, script = "boot.sh") {
            const result = spawnSync("bash", [path.join(dir, script), command], {
                encoding: "utf8",
                env: {
                    PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
                    STUB_LOG: path.join(dir, "docker.log"),
                    STUB_DIR: dir,
                    STUB_IMAGE_ARCH: imageArch,
                    STUB_MACHINE: machine,
                    STUB_CONTAINER_STATE: containerState,
                    STUB_EXEC_STATUS: String(execStatus),
                    STUB_AWS_LOG: path.join(dir, "aws.log"),
                    MULTIARCH_INSTANCE_ID: "i-0123456789abcdef0",
                    MULTIARCH_SKIP_INSTALL: "1",
                    MULTIARCH_NO_SYSTEMD: "1",
                    MULTIARCH_REGISTRY_USER: "user",
                    MULTIARCH_REGISTRY_PASSWORD: "pa$$ 'word'",
                    MULTIARCH_STATE_DIR: path.join(dir, "state"),
                    MULTIARCH_UNIT_DIR: path.join(dir, "units"),
                    MULTIARCH_ENVIRONMENT_FILE: path.join(dir, "env.in"),
                    MULTIARCH_CONSOLE: "/dev/null",
                },
            });
            const records = (file: string) =>
                fs.existsSync(path.join(dir, file))
                    ? fs
                          .readFileSync(path.join(dir, file), "utf8")
                          .split("=end=\0")
                          .slice(0, -1)
                          .map((record) => record.split("\0").slice(0, -1))
                    : [];
            return { ...result, calls: records("docker.log"), awsCalls: records("aws.log") };
        }

        it("passes each command argument, port and the env file to docker run, verbatim", () => {
            const { status, stderr, calls } = run("container", "amd64", "x86_64");
            assert.strictEqual(status, 0, stderr);
            assert.deepStrictEqual(calls, [
                // The image is on the host (the stub says so): no login, no pull.
                ["image", "inspect", REF],
                [
                    "run",
                    "--rm",
                    "--name",
                    "multiarch-api",
                    "--pull",
                    "never",
                    "--env-file",
                    path.join(dir, "state", "environment"),
                    "--publish",
                    "80:8080",
                    "--publish",
                    "443:8443",
                    REF,
                    ...FULL.command!,
                ],
            ]);
        });

        const complete = (result: string) => [
            "autoscaling",
            "complete-lifecycle-action",
            "--region",
            "eu-west-1",
            "--auto-scaling-group-name",
            "shop-prod-api",
            "--lifecycle-hook-name",
            "multiarch-launch",
            "--instance-id",
            "i-0123456789abcdef0",
            "--lifecycle-action-result",
            result,
        ];

        it("logs in, pulls, checks, starts the container, runs its health command and completes the launch with CONTINUE", () => {
            fs.writeFileSync(path.join(dir, "env.in"), "A=1\n");
            const { status, stderr, calls, awsCalls } = run("boot", "arm64", "aarch64");
            assert.strictEqual(status, 0, stderr);
            assert.deepStrictEqual(
                calls.map((c) => c.slice(0, 2)),
                [
                    ["login", "--username"],
                    ["pull", "--quiet"],
                    ["image", "inspect"],
                    ["rm", "--force"],
                    ["run", "--detach"],
                    ["inspect", "--format"],
                    ["exec", "multiarch-api"],
                ],
            );
            assert.deepStrictEqual(calls[6], ["exec", "multiarch-api", ...FULL.healthCheck!.command!]);
            assert.deepStrictEqual(awsCalls, [complete("CONTINUE")]);
            assert.match(stderr, /multiarch: launch completed: multiarch-api serves /);
            assert.deepStrictEqual(calls[0], ["login", "--username", "user", "--password-stdin", "123456789012.dkr.ecr.us-west-2.amazonaws.com"]);
            assert.strictEqual(fs.readFileSync(path.join(dir, "password"), "utf8"), "pa$$ 'word'");
            assert.strictEqual(fs.readFileSync(path.join(dir, "state", "environment"), "utf8"), "A=1\n");
            assert.strictEqual(fs.statSync(path.join(dir, "state", "environment")).mode & 0o777, 0o600);
            assert.match(stderr, new RegExp(`multiarch: ${REF.replace(/[.]/g, "\\.")} is arm64, as this host \\(aarch64\\) is`));
            const unit = fs.readFileSync(path.join(dir, "units", "multiarch-api.service"), "utf8");
            assert.match(unit, new RegExp(`^ExecStart=/bin/bash ${path.join(dir, "state", "boot.sh")} container$`, "m"));
            assert.match(unit, /^Restart=always$/m);
            assert.match(unit, /^ExecStartPre=-\/usr\/bin\/docker rm --force multiarch-api$/m);
        });

        const mismatches: [string, string, string][] = [
            ["arm64", "x86_64", "image is arm64 (aarch64) but this host is x86_64 — deploy the linux/amd64 digest"],
            ["amd64", "aarch64", "image is amd64 (x86_64) but this host is aarch64 — deploy the linux/arm64 digest"],
        ];
        for (const [imageArch, machine, reason] of mismatches) {
            it(`refuses an ${imageArch} image on an ${machine} host without starting anything, and abandons the launch saying why`, () => {
                const { status, stderr, calls, awsCalls } = run("boot", imageArch, machine);
                assert.strictEqual(status, ARCHITECTURE_MISMATCH_EXIT_CODE);
                assert.ok(stderr.includes(`multiarch: refusing to run ${REF}: ${reason}\n`), stderr);
                assert.ok(stderr.includes(`multiarch: launch failed on i-0123456789abcdef0 (linux/amd64): ${REF}: ${reason}\n`), stderr);
                // Byte by byte (LC_ALL=C): the em dash's three bytes are three spaces.
                const tag = Buffer.from(`${DIGEST} ${reason}`)
                    .toString("latin1")
                    .replace(/[^A-Za-z0-9 _.:/+@-]/g, " ");
                assert.deepStrictEqual(awsCalls, [
                    [
                        "ec2",
                        "create-tags",
                        "--region",
                        "eu-west-1",
                        "--resources",
                        "i-0123456789abcdef0",
                        "--tags",
                        `Key=multiarch:launch-failure,Value=${tag}`,
                    ],
                    complete("ABANDON"),
                ]);
                assert.deepStrictEqual(
                    calls.map((c) => c[0]),
                    ["login", "pull", "image"],
                );
                assert.strictEqual(fs.existsSync(path.join(dir, "state", "environment")), false);
                assert.strictEqual(fs.existsSync(path.join(dir, "units")), false);
            });
        }

        it("abandons the launch when the container has exited", () => {
            fs.writeFileSync(path.join(dir, "env.in"), "");
            const { status, stderr, awsCalls } = run("boot", "amd64", "x86_64", "exited none 3 0");
            assert.strictEqual(status, 1);
            assert.ok(
                stderr.includes(
                    `multiarch: launch failed on i-0123456789abcdef0 (linux/amd64): ${REF}: the container is exited (exit code 3), not running — see journalctl -u multiarch-api.service\n`,
                ),
                stderr,
            );
            assert.deepStrictEqual(awsCalls[1], complete("ABANDON"));
        });

        it("abandons the launch when the container restarted", () => {
            fs.writeFileSync(path.join(dir, "env.in"), "");
            const { status, stderr, awsCalls } = run("boot", "amd64", "x86_64", "running none 0 2");
            assert.strictEqual(status, 1);
            assert.ok(stderr.includes(`${REF}: the container exited and was restarted 2 times — see journalctl -u multiarch-api.service\n`), stderr);
            assert.deepStrictEqual(awsCalls[1], complete("ABANDON"));
        });

        // The default check: the container runs, and docker's health status, when the
        // image has a HEALTHCHECK, is healthy.
        const defaults: [string, number, string | undefined][] = [
            ["running none 0 0", 0, undefined],
            ["running healthy 0 0", 0, undefined],
            ["running unhealthy 0 0", 1, "the image's HEALTHCHECK reports unhealthy — see docker inspect multiarch-api"],
            ["running starting 0 0", 1, "the check did not pass within 2s: it runs, and the image's HEALTHCHECK, if any, reports healthy"],
        ];
        for (const [state, expected, reason] of defaults) {
            it(`${expected === 0 ? "completes" : "abandons"} the launch with the default check when docker says "${state}"`, () => {
                fs.writeFileSync(path.join(dir, "env.in"), "");
                const { healthCheck, ...rest } = FULL;
                void healthCheck;
                fs.writeFileSync(path.join(dir, "default.sh"), renderBootScript({ ...rest, healthCheck: { gracePeriodSeconds: 0, timeoutSeconds: 2 } }));
                const { status, stderr, awsCalls } = run("boot", "amd64", "x86_64", state, 0, "default.sh");
                assert.strictEqual(status, expected, stderr);
                if (reason === undefined) {
                    assert.deepStrictEqual(awsCalls, [complete("CONTINUE")]);
                } else {
                    assert.ok(stderr.includes(`${REF}: ${reason}\n`), stderr);
                    assert.deepStrictEqual(awsCalls[1], complete("ABANDON"));
                }
            });
        }

        it("abandons the launch when the health command never passes", () => {
            fs.writeFileSync(path.join(dir, "env.in"), "");
            const { status, stderr, awsCalls } = run("boot", "amd64", "x86_64", "running none 0 0", 1);
            assert.strictEqual(status, 1);
            assert.ok(stderr.includes(`${REF}: the check did not pass within 2s: its health command exits 0\n`), stderr);
            assert.deepStrictEqual(awsCalls[1], complete("ABANDON"));
        });
    });
});
