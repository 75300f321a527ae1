import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BuilderDriver, BuildxBuilder, BuildxBuilderArgs, secretOutputs } from "../../../sdk/components/buildxBuilder";
import {
    BuilderSpec,
    appendArgv,
    createArgv,
    defaultBuilderName,
    inspectArgv,
    nameProblem,
    parseInspect,
    rmArgv,
    splitFlags,
} from "../../../sdk/clients/buildx";
import {
    ListedBuilder,
    builderDifferences,
    conflictMessage,
    createBuilder,
    diffBuilder,
    otherBuildersOfNode,
    parseBuilderList,
    releaseBuilder,
    removeBuilder,
    diffOnThisMachine,
    sharedNodes,
    sharedNodesMessage,
    updateBuilder,
} from "../../../sdk/clients/builderLifecycle";
import { DockerCliError, dockerCliError, DockerRunner, explainDockerFailure, displayArgv } from "../../../sdk/clients/docker";
import { isSecretInput, promiseOf, registrations, resetMocks, settle, theOne } from "../../mocks";
import { hostResult } from "../../dynamicHost";

const DYNAMIC = "pulumi-nodejs:dynamic:Resource";

/** `docker buildx ls --format json`, the argv of the node-sharing check. */
const LS = ["buildx", "ls", "--format", "json"];

// Captured from buildx 0.13.1 (Debian trixie's docker-buildx) with dockerd 26.1.
const INSPECT_TWO_NODES = `Name:          fx-a
Driver:        docker-container
Last Activity: 2026-11-28 20:57:30 +0000 UTC

Nodes:
Name:                  fx-a0
Endpoint:              unix:///var/run/docker.sock
Driver Options:        network="host" image="127.0.0.1:5000/moby/buildkit:buildx-stable-1"
Status:                inactive
BuildKit daemon flags: --debug --allow-insecure-entitlement=network.host
Platforms:             linux/amd64*

Name:                  fx-a1
Endpoint:              unix:///run/docker.sock
Status:                inactive
BuildKit daemon flags: --allow-insecure-entitlement=network.host
Platforms:             linux/arm64*, linux/arm/v7*
`;

const INSPECT_PLAIN = `Name:          fx-b
Driver:        docker-container
Last Activity: 2026-11-28 20:57:31 +0000 UTC

Nodes:
Name:                  fx-b0
Endpoint:              unix:///var/run/docker.sock
Status:                inactive
BuildKit daemon flags: --allow-insecure-entitlement=network.host
`;

const INSPECT_RUNNING_DEFAULT = `Name:          default
Driver:        docker
Last Activity: 2026-11-28 20:57:31 +0000 UTC

Nodes:
Name:             default
Endpoint:         default
Status:           running
BuildKit version: v0.0.0+unknown
Platforms:        linux/amd64, linux/amd64/v2, linux/amd64/v3, linux/amd64/v4, linux/arm64
Labels:
 org.mobyproject.buildkit.worker.containerd.namespace: moby
 org.mobyproject.buildkit.worker.executor:             containerd
 org.mobyproject.buildkit.worker.network:              host
`;

const INSPECT_DRIVER_OPTIONS = `Name:          cap-a
Driver:        docker-container
Last Activity: 2026-11-28 20:55:27 +0000 UTC

Nodes:
Name:                  cap-a0
Endpoint:              unix:///var/run/docker.sock
Driver Options:        env.FOO="a,b" network="host"
Status:                inactive
BuildKit daemon flags: --debug --allow-insecure-entitlement network.host --allow-insecure-entitlement=network.host
Platforms:             linux/amd64*, linux/386*
`;

// A node whose endpoint went away: buildx prints `Error:` and neither its flags nor its platforms.
const INSPECT_UNREACHABLE = `Name:          fx-err
Driver:        docker-container
Last Activity: 2026-12-04 19:13:56 +0000 UTC

Nodes:
Name:           fx-err0
Endpoint:       unix:///tmp/mprobe-cap/e.sock
Driver Options: network="host"
Error:          Cannot connect to the Docker daemon at unix:///tmp/mprobe-cap/e.sock. Is the docker daemon running?
`;

// \`docker buildx ls --format json\` of buildx 0.13.1: each builder printed once per node and once more.
const LS_JSON = [
    '{"Name":"fx-err","Driver":"docker-container","LastActivity":"2026-12-04T19:13:56Z","Dynamic":false,"Nodes":[{"Name":"fx-err0","Endpoint":"unix:///tmp/mprobe-cap/e.sock","Flags":["--debug","--allow-insecure-entitlement=network.host"],"DriverOpts":{"network":"host"},"Status":"error","Err":"Cannot connect to the Docker daemon at unix:///tmp/mprobe-cap/e.sock. Is the docker daemon running?","Platforms":["linux/arm64"]}]}',
    '{"Name":"fx-err","Driver":"docker-container","LastActivity":"2026-12-04T19:13:56Z","Dynamic":false,"Nodes":[{"Name":"fx-err0","Endpoint":"unix:///tmp/mprobe-cap/e.sock","Flags":["--debug","--allow-insecure-entitlement=network.host"],"DriverOpts":{"network":"host"},"Status":"error","Err":"Cannot connect to the Docker daemon at unix:///tmp/mprobe-cap/e.sock. Is the docker daemon running?","Platforms":["linux/arm64"]}]}',
    '{"Name":"fx-k","Driver":"remote","LastActivity":"2026-12-04T19:13:57Z","Dynamic":false,"Nodes":[{"Name":"fx-shared","Endpoint":"tcp://127.0.0.1:1","Status":"inactive"}]}',
    '{"Name":"fx-k","Driver":"remote","LastActivity":"2026-12-04T19:13:57Z","Dynamic":false,"Nodes":[{"Name":"fx-shared","Endpoint":"tcp://127.0.0.1:1","Status":"inactive"}]}',
    ...Array(3).fill(
        '{"Name":"fx-two","Driver":"docker-container","LastActivity":"2026-12-04T19:13:57Z","Dynamic":false,"Nodes":[{"Name":"fx-shared","Endpoint":"unix:///var/run/docker.sock","Flags":["--allow-insecure-entitlement=network.host"],"Status":"inactive","Platforms":["linux/amd64"]},{"Name":"fx-two1","Endpoint":"unix:///run/docker.sock","Flags":["--allow-insecure-entitlement=network.host"],"Status":"inactive"}]}',
    ),
    '{"Name":"default","Driver":"docker","LastActivity":"0001-01-01T00:00:00Z","Dynamic":false,"Nodes":[{"Name":"default","Endpoint":"default","Status":"running","Version":"v0.0.0+unknown","IDs":["j1xfet6kcwz4daman10ehaf93"],"Platforms":["linux/amd64","linux/arm64"]}]}',
    // With DOCKER_HOST on a dead socket: the context's own builder cannot be read.
    '{"Name":"default","Driver":"","LastActivity":"2026-12-04T19:05:25Z","Dynamic":false,"Nodes":[{"Name":"","Endpoint":""}],"Err":"Cannot connect to the Docker daemon at unix:///tmp/nosock. Is the docker daemon running?"}',
].join("\n");

// stderr of the real CLIs: docker 28 without the buildx plugin, without a daemon, and
// buildx 0.13.1 bootstrapping offline and from a registry without the image.
const STDERR = {
    noBuildx: "docker: unknown command: docker buildx\n\nRun 'docker --help' for more information\n",
    noBuildxOld: "docker: 'buildx' is not a docker command.\nSee 'docker --help'\n",
    noBuildxFlag: "unknown flag: --name\n\nUsage:  docker [OPTIONS] COMMAND [ARG...]\n\nRun 'docker --help' for more information\n",
    noDaemon: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
    offlineBootstrap: `#1 [internal] booting buildkit
#1 pulling image moby/buildkit:buildx-stable-1 0.0s done
#1 ERROR: Error response from daemon: failed to resolve reference "docker.io/moby/buildkit:buildx-stable-1": failed to do request: Head "https://registry-1.docker.io/v2/moby/buildkit/manifests/buildx-stable-1": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host
------
 > [internal] booting buildkit:
------
ERROR: Error response from daemon: failed to resolve reference "docker.io/moby/buildkit:buildx-stable-1": failed to do request: Head "https://registry-1.docker.io/v2/moby/buildkit/manifests/buildx-stable-1": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host
`,
    mirrorMissing: `#1 [internal] booting buildkit
#1 pulling image 127.0.0.1:5000/moby/buildkit:buildx-stable-1 0.0s done
#1 ERROR: Error response from daemon: failed to resolve reference "127.0.0.1:5000/moby/buildkit:buildx-stable-1": 127.0.0.1:5000/moby/buildkit:buildx-stable-1: not found
------
 > [internal] booting buildkit:
------
ERROR: Error response from daemon: failed to resolve reference "127.0.0.1:5000/moby/buildkit:buildx-stable-1": 127.0.0.1:5000/moby/buildkit:buildx-stable-1: not found
`,
    noSuchBuilder: 'ERROR: no builder "nope" found\n',
    rmNoSuchBuilder: 'failed to remove nope: no builder "nope" found\nERROR: failed to remove one or more builders\n',
    duplicateEndpoint: "ERROR: invalid duplicate endpoint unix:///var/run/docker.sock\n",
};

function spec(overrides: Partial<BuilderSpec> = {}): BuilderSpec {
    return {
        name: "multi-arch-builder",
        driver: "docker-container",
        nodes: [{ name: "multi-arch-builder0", platforms: [], driverOptions: {} }],
        bootstrap: false,
        use: false,
        ...overrides,
    };
}

const TWO_NATIVE_NODES: BuilderSpec = spec({
    nodes: [
        { name: "amd", platforms: ["linux/amd64"], driverOptions: {} },
        { name: "arm", endpoint: "ssh://ubuntu@arm-host", platforms: ["linux/arm64"], driverOptions: { network: "host" } },
    ],
    bootstrap: true,
});

/** A stand-in for the docker CLI: answers by the argv's first words and records every call. */
function fakeDocker(answers: Record<string, string | Error | ((argv: string[]) => string)>): { run: DockerRunner; calls: string[][] } {
    const calls: string[][] = [];
    const run: DockerRunner = async (argv) => {
        calls.push(argv);
        const key = Object.keys(answers).find((k) => argv.join(" ").startsWith(k));
        const answer = key === undefined ? "" : answers[key];
        if (answer instanceof Error) {
            throw answer;
        }
        return { stdout: typeof answer === "function" ? answer(argv) : answer, stderr: "" };
    };
    return { run, calls };
}

function cliError(argv: string, stderr: string): DockerCliError {
    return dockerCliError(explainDockerFailure(argv.split(" "), { code: 1, stderr }), argv.split(" "), stderr);
}

/** A stand-in CLI on a machine without the builder until `buildx create` makes it; inspect throws `missing()` till then. */
function dockerWhereCreateMakesTheBuilder(missing: () => DockerCliError): ReturnType<typeof fakeDocker> {
    let exists = false;
    return fakeDocker({
        "buildx inspect": () => {
            if (!exists) throw missing();
            return INSPECT_PLAIN;
        },
        "buildx create": () => {
            exists = true;
            return "";
        },
    });
}

async function problemsOf(args: BuildxBuilderArgs, name = "b"): Promise<string> {
    await resetMocks();
    try {
        new BuildxBuilder(name, args);
    } catch (error) {
        assert.ok(error instanceof pulumi.InputPropertiesError, `expected InputPropertiesError, got ${error}`);
        return (error as Error).message;
    }
    assert.fail("expected the arguments to be refused");
}

describe("BuildxBuilder", () => {
    describe("argv", () => {
        const cases: [string, string[], string[]][] = [
            [
                "creates a plain docker-container builder",
                createArgv(spec()),
                ["buildx", "create", "--name", "multi-arch-builder", "--driver", "docker-container", "--node", "multi-arch-builder0"],
            ],
            [
                "passes driver options sorted, CSV-quoting values with commas",
                createArgv(spec({ nodes: [{ name: "n0", platforms: [], driverOptions: { network: "host", "env.FOO": "a,b", image: "m/buildkit:1" } }] })),
                [
                    "buildx",
                    "create",
                    "--name",
                    "multi-arch-builder",
                    "--driver",
                    "docker-container",
                    "--node",
                    "n0",
                    "--driver-opt",
                    '"env.FOO=a,b"',
                    "--driver-opt",
                    "image=m/buildkit:1",
                    "--driver-opt",
                    "network=host",
                ],
            ],
            [
                "fixes platforms with one --platform",
                createArgv(spec({ nodes: [{ name: "n0", platforms: ["linux/amd64", "linux/arm64"], driverOptions: {} }] })),
                ["buildx", "create", "--name", "multi-arch-builder", "--driver", "docker-container", "--node", "n0", "--platform", "linux/amd64,linux/arm64"],
            ],
            [
                "passes buildkitd flags and config",
                createArgv(spec({ buildkitdFlags: "--debug --allow-insecure-entitlement network.host", buildkitdConfig: "/etc/bk.toml" })),
                [
                    "buildx",
                    "create",
                    "--name",
                    "multi-arch-builder",
                    "--driver",
                    "docker-container",
                    "--node",
                    "multi-arch-builder0",
                    "--buildkitd-flags",
                    "--debug --allow-insecure-entitlement network.host",
                    "--buildkitd-config",
                    "/etc/bk.toml",
                ],
            ],
            [
                "bootstraps and uses a one-node builder in the create",
                createArgv(spec({ bootstrap: true, use: true })),
                ["buildx", "create", "--name", "multi-arch-builder", "--driver", "docker-container", "--node", "multi-arch-builder0", "--bootstrap", "--use"],
            ],
            [
                "puts the endpoint last, after `--`, as the positional argument",
                createArgv(spec({ driver: "remote", nodes: [{ name: "r0", endpoint: "tcp://buildkitd:1234", platforms: [], driverOptions: {} }] })),
                ["buildx", "create", "--name", "multi-arch-builder", "--driver", "remote", "--node", "r0", "--", "tcp://buildkitd:1234"],
            ],
            [
                "leaves --bootstrap out of the create of a multi-node builder",
                createArgv(TWO_NATIVE_NODES),
                ["buildx", "create", "--name", "multi-arch-builder", "--driver", "docker-container", "--node", "amd", "--platform", "linux/amd64"],
            ],
            [
                "appends a further node with its endpoint, platforms and driver options",
                appendArgv(TWO_NATIVE_NODES, TWO_NATIVE_NODES.nodes[1]),
                [
                    "buildx",
                    "create",
                    "--append",
                    "--name",
                    "multi-arch-builder",
                    "--node",
                    "arm",
                    "--platform",
                    "linux/arm64",
                    "--driver-opt",
                    "network=host",
                    "--",
                    "ssh://ubuntu@arm-host",
                ],
            ],
            [
                "gives appended nodes the builder's buildkitd flags and config too",
                appendArgv(spec({ buildkitdFlags: "--debug", buildkitdConfig: "bk.toml" }), {
                    name: "n1",
                    endpoint: "tcp://b:1234",
                    platforms: [],
                    driverOptions: {},
                }),
                [
                    "buildx",
                    "create",
                    "--append",
                    "--name",
                    "multi-arch-builder",
                    "--node",
                    "n1",
                    "--buildkitd-flags",
                    "--debug",
                    "--buildkitd-config",
                    "bk.toml",
                    "--",
                    "tcp://b:1234",
                ],
            ],
            ["inspects", inspectArgv("b"), ["buildx", "inspect", "--", "b"]],
            ["inspects with --bootstrap", inspectArgv("b", true), ["buildx", "inspect", "--bootstrap", "--", "b"]],
            ["removes", rmArgv("b"), ["buildx", "rm", "--", "b"]],
        ];
        for (const [behaviour, actual, expected] of cases) {
            it(behaviour, () => assert.deepStrictEqual(actual, expected));
        }
    });

    describe("names", () => {
        // [project, resource, stack, name]: the hash is the first 8 hex digits of the
        // SHA-256 of JSON.stringify([project, resource, stack]).
        const defaults: [string, string, string, string][] = [
            ["multiarch", "api-builder", "dev", "multiarch-api-builder-dev-4d57b2a6"],
            ["shop", "API Builder", "Prod_EU", "shop-api-builder-prod_eu-7500f117"],
            ["9lives", "1st/builder", "dev", "lives-1st-builder-dev-141ea4ee"],
            ["---", "---", "123", "builder-9e27c283"],
        ];
        for (const [project, resource, stack, expected] of defaults) {
            it(`derives "${expected}" from project "${project}", resource "${resource}" and stack "${stack}"`, () => {
                const name = defaultBuilderName(resource, stack, project);
                assert.strictEqual(name, expected);
                assert.strictEqual(nameProblem(name), undefined);
            });
        }
        it("gives two projects with the same resource and stack names different builders", () => {
            assert.notStrictEqual(defaultBuilderName("builder", "prod", "shop"), defaultBuilderName("builder", "prod", "blog"));
            // Project names may contain `-`: the readable parts alone would read alike.
            assert.notStrictEqual(defaultBuilderName("c", "prod", "a-b"), defaultBuilderName("b-c", "prod", "a"));
            assert.notStrictEqual(defaultBuilderName("b", "prod", "API"), defaultBuilderName("b", "prod", "api"));
        });
        it("keeps a long default name within 49 characters, so node names fit Kubernetes' 63", () => {
            const name = defaultBuilderName("x".repeat(200), "production-eu-west-1", "a-very-long-project-name");
            assert.strictEqual(name, "a-very-long-project-name-xxxxxxxxxxxxxxx-2eb1cd7f");
            assert.ok(name.length <= 49);
            assert.strictEqual(nameProblem(name), undefined);
        });
        const refused: [string, RegExp][] = [
            ["9x", /start with a letter|a letter followed/],
            ["has space", /a letter followed by/],
            ["Upper", /lower case.*"upper"/],
            ["default", /reserved/],
            ["", /a letter followed by/],
        ];
        for (const [name, reason] of refused) {
            it(`refuses the name ${JSON.stringify(name)} as buildx would`, () => assert.match(nameProblem(name) ?? "", reason));
        }
        it("accepts what buildx's name pattern accepts", () => {
            for (const name of ["a", "multi-arch-builder", "b.1_x-2"]) {
                assert.strictEqual(nameProblem(name), undefined);
            }
        });
    });

    describe("parsing buildx 0.13.1 output", () => {
        it("reads a two-node builder from `buildx inspect`", () => {
            assert.deepStrictEqual(parseInspect(INSPECT_TWO_NODES), {
                name: "fx-a",
                driver: "docker-container",
                platforms: ["linux/amd64", "linux/arm64", "linux/arm/v7"],
                nodes: [
                    {
                        name: "fx-a0",
                        endpoint: "unix:///var/run/docker.sock",
                        platforms: ["linux/amd64"],
                        fixedPlatforms: ["linux/amd64"],
                        driverOptions: { network: "host", image: "127.0.0.1:5000/moby/buildkit:buildx-stable-1" },
                        buildkitdFlags: ["--debug", "--allow-insecure-entitlement=network.host"],
                        status: "inactive",
                    },
                    {
                        name: "fx-a1",
                        endpoint: "unix:///run/docker.sock",
                        platforms: ["linux/arm64", "linux/arm/v7"],
                        fixedPlatforms: ["linux/arm64", "linux/arm/v7"],
                        driverOptions: {},
                        buildkitdFlags: ["--allow-insecure-entitlement=network.host"],
                        status: "inactive",
                    },
                ],
            });
        });
        it("reads a builder without fixed platforms", () => {
            const builder = parseInspect(INSPECT_PLAIN);
            assert.deepStrictEqual(builder.platforms, []);
            assert.deepStrictEqual(
                builder.nodes.map((n) => [n.name, n.fixedPlatforms, n.status]),
                [["fx-b0", [], "inactive"]],
            );
        });
        it("reads a running node's detected platforms as not fixed and skips its labels", () => {
            const builder = parseInspect(INSPECT_RUNNING_DEFAULT);
            assert.strictEqual(builder.driver, "docker");
            assert.deepStrictEqual(builder.nodes.length, 1);
            assert.deepStrictEqual(builder.nodes[0].platforms, ["linux/amd64", "linux/amd64/v2", "linux/amd64/v3", "linux/amd64/v4", "linux/arm64"]);
            assert.deepStrictEqual(builder.nodes[0].fixedPlatforms, []);
            assert.strictEqual(builder.nodes[0].status, "running");
        });
        it("reads quoted driver options with commas", () => {
            assert.deepStrictEqual(parseInspect(INSPECT_DRIVER_OPTIONS).nodes[0].driverOptions, { "env.FOO": "a,b", network: "host" });
        });
        it("refuses text without a builder name", () => {
            assert.throws(() => parseInspect("nothing here"), /cannot read the output of `docker buildx inspect`/);
        });
        const flags: [string, string[]][] = [
            ["--debug", ["--debug"]],
            ['--debug --allow-insecure-entitlement "network.host"', ["--debug", "--allow-insecure-entitlement", "network.host"]],
            ["--oci-worker-gc=false  --x 'a b'", ["--oci-worker-gc=false", "--x", "a b"]],
            ["", []],
        ];
        for (const [text, words] of flags) {
            it(`splits buildkitd flags ${JSON.stringify(text)} as buildx does`, () => assert.deepStrictEqual(splitFlags(text), words));
        }
    });

    describe("CLI failures", () => {
        const create = ["buildx", "create", "--name", "b", "--driver", "docker-container", "--bootstrap"];
        const cases: [string, Parameters<typeof explainDockerFailure>[1], RegExp[]][] = [
            [
                "says to install the docker CLI when it is missing",
                { code: "ENOENT", stderr: "" },
                [/docker CLI was not found on PATH/, /Install the docker CLI/],
            ],
            ["says to install buildx when docker 28 lacks it", { code: 1, stderr: STDERR.noBuildx }, [/no buildx plugin/, /docker-buildx/, /Docker Desktop/]],
            ["says to install buildx when an older docker lacks it", { code: 1, stderr: STDERR.noBuildxOld }, [/no buildx plugin/]],
            [
                "says to install buildx when the CLI rejects buildx's flags and buildx is missing",
                { code: 125, stderr: STDERR.noBuildxFlag, buildxVersion: null },
                [/no buildx plugin/],
            ],
            [
                "says an old buildx does not know a flag",
                { code: 1, stderr: "unknown flag: --buildkitd-config", buildxVersion: "github.com/docker/buildx v0.10.0\n" },
                [/v0\.10\.0/, /--buildkitd-config/, /0\.13 or later/],
            ],
            [
                "says the daemon is down and how to start it",
                { code: 1, stderr: STDERR.noDaemon },
                [/Docker daemon is not running/, /systemctl start docker/, /Docker Desktop/],
            ],
            [
                "says moby/buildkit cannot be pulled offline, and what to do",
                { code: 1, stderr: STDERR.offlineBootstrap },
                [
                    /docker-container builder/,
                    /moby\/buildkit:buildx-stable-1/,
                    /could not pull it/,
                    /registry is unreachable/,
                    /--driver-opt image=<mirror>\/moby\/buildkit:buildx-stable-1/,
                    /bootstrap: false/,
                    /no such host/,
                ],
            ],
            ["says the timeout", { code: null as unknown as number, stderr: "", timedOutMs: 60000 }, [/did not finish within 60s/]],
            [
                "passes other errors through with the command",
                { code: 1, stderr: STDERR.duplicateEndpoint },
                [/`docker buildx create --name b/, /exit code 1/, /invalid duplicate endpoint/],
            ],
        ];
        for (const [behaviour, failure, patterns] of cases) {
            it(behaviour, () => {
                const message = explainDockerFailure(create, failure);
                for (const pattern of patterns) {
                    assert.match(message, pattern);
                }
            });
        }
        it("names the mirror image when bootstrap cannot pull it", () => {
            const message = explainDockerFailure(
                ["buildx", "inspect", "--bootstrap", "--", "b"],
                { code: 1, stderr: STDERR.mirrorMissing },
                "127.0.0.1:5000/moby/buildkit:buildx-stable-1",
            );
            assert.match(message, /from the image 127\.0\.0\.1:5000\/moby\/buildkit:buildx-stable-1/);
            assert.match(message, /does not exist there/);
        });
        it("does not blame the BuildKit image when no bootstrap was asked for", () => {
            assert.doesNotMatch(explainDockerFailure(["buildx", "create", "--name", "b"], { code: 1, stderr: STDERR.offlineBootstrap }), /could not pull/);
        });
    });

    describe("lifecycle (docker CLI stood in for)", () => {
        it("creates the first node, appends the others, then bootstraps once", async () => {
            let created = false;
            const docker = fakeDocker({
                "buildx inspect --bootstrap": "",
                "buildx inspect": () => {
                    if (!created) throw cliError("buildx inspect multi-arch-builder", STDERR.noSuchBuilder);
                    return INSPECT_TWO_NODES.replace(/fx-a/g, "multi-arch-builder");
                },
                "buildx create": () => {
                    created = true;
                    return "";
                },
            });
            await createBuilder(TWO_NATIVE_NODES, docker.run);
            assert.deepStrictEqual(docker.calls, [
                ["buildx", "inspect", "--", "multi-arch-builder"],
                LS,
                createArgv(TWO_NATIVE_NODES),
                appendArgv(TWO_NATIVE_NODES, TWO_NATIVE_NODES.nodes[1]),
                ["buildx", "inspect", "--bootstrap", "--", "multi-arch-builder"],
                ["buildx", "inspect", "--", "multi-arch-builder"],
            ]);
        });
        it("removes a half-created builder when a step fails", async () => {
            let created = false;
            const docker = fakeDocker({
                "buildx inspect": () => {
                    if (!created) throw cliError("buildx inspect b", STDERR.noSuchBuilder);
                    return "";
                },
                "buildx create --append": cliError("buildx create --append", STDERR.duplicateEndpoint),
                "buildx create": () => {
                    created = true;
                    return "";
                },
            });
            await assert.rejects(createBuilder(TWO_NATIVE_NODES, docker.run), /invalid duplicate endpoint/);
            assert.deepStrictEqual(docker.calls[docker.calls.length - 1], ["buildx", "rm", "--", "multi-arch-builder"]);
        });
        it("adopts an existing builder that matches, ignoring the flag buildx adds itself", async () => {
            const wanted = spec({
                name: "cap-a",
                nodes: [{ name: "cap-a0", platforms: ["linux/386", "linux/amd64"], driverOptions: { network: "host", "env.FOO": "a,b" } }],
                buildkitdFlags: '--debug --allow-insecure-entitlement "network.host"',
            });
            const docker = fakeDocker({ "buildx inspect": INSPECT_DRIVER_OPTIONS });
            const builder = await createBuilder(wanted, docker.run);
            assert.strictEqual(builder.name, "cap-a");
            assert.deepStrictEqual(docker.calls, [
                ["buildx", "inspect", "--", "cap-a"],
                ["buildx", "inspect", "--", "cap-a"],
            ]);
        });
        it("bootstraps and uses an adopted builder when asked", async () => {
            const docker = fakeDocker({ "buildx inspect": INSPECT_PLAIN });
            await createBuilder(spec({ name: "fx-b", nodes: [{ name: "fx-b0", platforms: [], driverOptions: {} }], bootstrap: true, use: true }), docker.run);
            assert.deepStrictEqual(docker.calls.slice(1, 3), [
                ["buildx", "use", "--", "fx-b"],
                ["buildx", "inspect", "--bootstrap", "--", "fx-b"],
            ]);
        });
        it("refuses an existing builder that differs, naming it, each difference and the fix", async () => {
            const docker = fakeDocker({ "buildx inspect": INSPECT_TWO_NODES });
            const wanted = spec({
                name: "fx-a",
                nodes: [
                    { name: "fx-a0", platforms: ["linux/amd64", "linux/arm64"], driverOptions: {} },
                    { name: "fx-a1", endpoint: "ssh://arm", platforms: ["linux/arm64", "linux/arm/v7"], driverOptions: {} },
                ],
            });
            await assert.rejects(createBuilder(wanted, docker.run), (error: Error) => {
                assert.match(error.message, /a buildx builder named "fx-a" already exists/);
                assert.match(error.message, /node fx-a0 has platforms \[linux\/amd64\], wanted \[linux\/amd64, linux\/arm64\]/);
                assert.match(error.message, /node fx-a0 has other driver options: image is set but not wanted, network is set but not wanted/);
                assert.match(error.message, /node fx-a0 has buildkitd flags "--debug", wanted ""/);
                assert.match(error.message, /node fx-a1 runs on "unix:\/\/\/run\/docker.sock", wanted "ssh:\/\/arm"/);
                assert.match(error.message, /`docker buildx rm fx-a`/);
                assert.match(error.message, /another `name`/);
                return true;
            });
        });
        it("reports a different driver and node list", () => {
            const differences = builderDifferences(spec({ name: "default" }), parseInspect(INSPECT_RUNNING_DEFAULT));
            assert.deepStrictEqual(differences, ['driver is "docker", wanted "docker-container"', "nodes are [default], wanted [multi-arch-builder0]"]);
        });
        it("tolerates removing a builder that is already gone", async () => {
            const docker = fakeDocker({ "buildx rm": cliError("buildx rm nope", STDERR.rmNoSuchBuilder) });
            await removeBuilder("nope", docker.run);
        });
        it("does not swallow other failures of rm", async () => {
            const docker = fakeDocker({ "buildx rm": cliError("buildx rm b", STDERR.noDaemon) });
            await assert.rejects(removeBuilder("b", docker.run), /Docker daemon is not running/);
        });
    });

    describe("ownership and other machines (docker CLI stood in for)", () => {
        const missing = (name: string) => cliError(`buildx inspect -- ${name}`, STDERR.noSuchBuilder);

        it("records a builder it created as created, and one it adopted as not", async () => {
            const docker = dockerWhereCreateMakesTheBuilder(() => missing("fx-b"));
            const wanted = spec({ name: "fx-b", nodes: [{ name: "fx-b0", platforms: [], driverOptions: {} }] });
            assert.strictEqual((await createBuilder(wanted, docker.run)).created, true);
            assert.strictEqual((await createBuilder(wanted, docker.run)).created, false);
        });
        it("leaves an adopted builder in place when its bootstrap fails", async () => {
            const docker = fakeDocker({
                "buildx inspect --bootstrap": cliError("buildx inspect --bootstrap -- fx-b", STDERR.offlineBootstrap),
                "buildx inspect": INSPECT_PLAIN,
            });
            const wanted = spec({ name: "fx-b", nodes: [{ name: "fx-b0", platforms: [], driverOptions: {} }], bootstrap: true });
            await assert.rejects(createBuilder(wanted, docker.run), /could not pull it/);
            assert.deepStrictEqual(
                docker.calls.filter((argv) => argv[1] === "rm" || argv[1] === "create"),
                [],
            );
        });
        it("does not remove a builder someone else created between its inspect and its create", async () => {
            const docker = fakeDocker({
                "buildx inspect": missing("multi-arch-builder"),
                "buildx create": cliError("buildx create --name multi-arch-builder", "ERROR: node multi-arch-builder0 not found, did you mean to append?\n"),
            });
            await assert.rejects(createBuilder(spec(), docker.run), /did you mean to append/);
            assert.deepStrictEqual(
                docker.calls.filter((argv) => argv[1] === "rm"),
                [],
            );
        });
        it("removes the builder its own create made when node 2 of 3 cannot be appended", async () => {
            let exists = false;
            const three = spec({
                nodes: [
                    { name: "a", platforms: ["linux/amd64"], driverOptions: {} },
                    { name: "b", endpoint: "ssh://b", platforms: ["linux/arm64"], driverOptions: {} },
                    { name: "c", endpoint: "ssh://c", platforms: ["linux/arm/v7"], driverOptions: {} },
                ],
            });
            const docker = fakeDocker({
                "buildx inspect": () => {
                    if (!exists) throw missing("multi-arch-builder");
                    return "";
                },
                "buildx create --append": cliError("buildx create --append", STDERR.duplicateEndpoint),
                "buildx create": () => {
                    exists = true;
                    return "";
                },
            });
            await assert.rejects(createBuilder(three, docker.run), /invalid duplicate endpoint/);
            assert.deepStrictEqual(docker.calls.slice(1), [
                LS,
                createArgv(three),
                appendArgv(three, three.nodes[1]),
                LS,
                ["buildx", "rm", "--", "multi-arch-builder"],
            ]);
        });
        it("removes only a builder state records as created; adopted and old state are left", async () => {
            for (const [created, removed] of [
                [true, true],
                [false, false],
                [undefined, false],
            ] as const) {
                const docker = fakeDocker({});
                assert.strictEqual(await releaseBuilder("b", created, docker.run), removed);
                assert.deepStrictEqual(docker.calls, removed ? [LS, ["buildx", "rm", "--", "b"]] : []);
            }
        });
        it("plans an update when this machine lacks the builder state knows", async () => {
            const docker = fakeDocker({ "buildx inspect": missing("multi-arch-builder") });
            assert.deepStrictEqual(await diffOnThisMachine(spec(), spec(), docker.run), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
                missingHere: true,
                differencesHere: [],
            });
        });
        it("plans nothing when this machine has the builder as declared and nothing changed", async () => {
            const docker = fakeDocker({ "buildx inspect": INSPECT_PLAIN.replace(/fx-b/g, "multi-arch-builder") });
            assert.deepStrictEqual(await diffOnThisMachine(spec(), spec(), docker.run), {
                changes: false,
                replaces: [],
                deleteBeforeReplace: false,
                missingHere: false,
                differencesHere: [],
            });
        });
        it("does not look for the builder when the change replaces it anyway", async () => {
            const docker = fakeDocker({});
            assert.strictEqual((await diffOnThisMachine(spec(), spec({ driver: "remote" }), docker.run)).deleteBeforeReplace, true);
            assert.deepStrictEqual(docker.calls, []);
        });
        it("does not look for a builder whose spec is still unknown in a preview", async () => {
            const docker = fakeDocker({});
            const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9" as unknown as BuilderSpec;
            assert.strictEqual((await diffOnThisMachine(spec(), unknown, docker.run)).changes, true);
            assert.deepStrictEqual(docker.calls, []);
        });
        it("creates the builder in an update on a machine that lacks it, and records it as created", async () => {
            const docker = dockerWhereCreateMakesTheBuilder(() => missing("fx-b"));
            const wanted = spec({ name: "fx-b", nodes: [{ name: "fx-b0", platforms: [], driverOptions: {} }] });
            const builder = await updateBuilder(wanted, wanted, false, docker.run);
            assert.strictEqual(builder.created, true);
            assert.deepStrictEqual(
                docker.calls.find((argv) => argv[1] === "create"),
                createArgv(wanted),
            );
        });
        it("keeps what state recorded when the update finds the builder here", async () => {
            const docker = fakeDocker({ "buildx inspect": INSPECT_PLAIN });
            const wanted = spec({ name: "fx-b", nodes: [{ name: "fx-b0", platforms: [], driverOptions: {} }] });
            assert.strictEqual((await updateBuilder(wanted, { ...wanted, use: true }, true, docker.run)).created, true);
            assert.strictEqual((await updateBuilder(wanted, wanted, undefined, docker.run)).created, false);
            assert.ok(!docker.calls.some((argv) => argv[1] === "create"));
        });
    });

    describe("node containers two builders would share (docker CLI stood in for)", () => {
        const missing = cliError("buildx inspect -- fx-new", STDERR.noSuchBuilder);
        const listed = (builders: [string, string, string[]][]) =>
            builders.map(([name, driver, nodes]) => JSON.stringify({ Name: name, Driver: driver, Nodes: nodes.map((n) => ({ Name: n })) })).join("\n");

        it("reads each builder and its node names once from buildx 0.13.1's `ls --format json`", () => {
            assert.deepStrictEqual(parseBuilderList(LS_JSON), [
                { name: "fx-err", driver: "docker-container", nodes: ["fx-err0"] },
                { name: "fx-k", driver: "remote", nodes: ["fx-shared"] },
                { name: "fx-two", driver: "docker-container", nodes: ["fx-shared", "fx-two1"] },
                { name: "default", driver: "", nodes: [] },
            ]);
            assert.deepStrictEqual(parseBuilderList(""), []);
        });
        it("refuses output it cannot read without quoting it: it holds driver option values", () => {
            const secret = '{"Name":"b","Nodes":[{"DriverOpts":{"env.HTTPS_PROXY":"http://u:s3cret@p"}}]';
            assert.throws(
                () => parseBuilderList(`${LS_JSON}\n${secret}`),
                (error: Error) => error.message === "cannot read the output of `docker buildx ls --format json`: line 10 is not JSON",
            );
            assert.throws(() => parseBuilderList('{"Nodes":[]}'), /line 1 names no builder/);
        });

        const owners: [string, string, string, ListedBuilder[], string[]][] = [
            ["counts another docker-container builder that lists the node", "fx-shared", "fx-new", parseBuilderList(LS_JSON), ["fx-two"]],
            ["does not count the builder asking", "n", "b", [{ name: "b", driver: "docker-container", nodes: ["n"] }], []],
            [
                "does not count a builder of a driver that runs no container",
                "fx-shared",
                "fx-new",
                parseBuilderList(LS_JSON).filter((b) => b.name !== "fx-two"),
                [],
            ],
            ["does not count a node of another name", "fx-two2", "fx-new", parseBuilderList(LS_JSON), []],
            [
                "counts every other builder that lists the node",
                "n",
                "c",
                [
                    { name: "a", driver: "docker-container", nodes: ["x", "n"] },
                    { name: "b", driver: "docker-container", nodes: ["n"] },
                    { name: "c", driver: "docker-container", nodes: ["n"] },
                ],
                ["a", "b"],
            ],
        ];
        for (const [behaviour, node, builder, list, expected] of owners) {
            it(behaviour, () => assert.deepStrictEqual(otherBuildersOfNode(node, builder, list), expected));
        }

        // fx-new0 is the default name of node 0; fx-shared is fx-two's node too.
        const withShared = spec({
            name: "fx-new",
            nodes: [
                { name: "fx-new0", platforms: [], driverOptions: {} },
                { name: "fx-shared", endpoint: "ssh://arm", platforms: [], driverOptions: {} },
            ],
        });

        it("finds the nodes of a docker-container spec that another builder lists, and none for other drivers", () => {
            assert.deepStrictEqual(sharedNodes(withShared, parseBuilderList(LS_JSON)), [{ index: 1, name: "fx-shared", builders: ["fx-two"] }]);
            assert.deepStrictEqual(sharedNodes({ ...withShared, driver: "remote" }, parseBuilderList(LS_JSON)), []);
        });
        it("says which node, whose builder, why and what to do, offering the default name only where it is not the one taken", () => {
            assert.strictEqual(
                sharedNodesMessage(withShared, [
                    { index: 0, name: "fx-new0", builders: ["x"] },
                    { index: 1, name: "fx-shared", builders: ["fx-two", "z"] },
                ]),
                'cannot create the buildx builder "fx-new": its nodes would share BuildKit containers with other builders on this machine:\n' +
                    '  - nodes[0] is named "fx-new0", and so is a node of the builder "x": give nodes[0] a `name` no other builder uses\n' +
                    '  - nodes[1] is named "fx-shared", and so is a node of the builders "fx-two", "z": give nodes[1] a `name` no other builder uses, or leave its `name` out to get "fx-new1"\n' +
                    "buildx names a docker-container node's BuildKit container after the node alone (`buildx_buildkit_<node>`), so two builders with a node of one name " +
                    "would run on one container, and removing either would delete it and its build cache.",
            );
        });
        it("refuses to create a builder with a node another builder lists, before any create or append", async () => {
            const wanted = spec({ name: "fx-new", nodes: [{ name: "fx-new0", platforms: [], driverOptions: {} }, TWO_NATIVE_NODES.nodes[1]] });
            const docker = fakeDocker({ "buildx inspect": missing, "buildx ls": listed([["fx-other", "docker-container", ["arm"]]]) });
            await assert.rejects(createBuilder(wanted, docker.run), (error: Error) => {
                assert.strictEqual(error.message, sharedNodesMessage(wanted, [{ index: 1, name: "arm", builders: ["fx-other"] }]));
                return true;
            });
            assert.deepStrictEqual(docker.calls, [["buildx", "inspect", "--", "fx-new"], LS]);
        });
        it("does not list builders for a driver that runs no container", async () => {
            const remote = spec({ name: "fx-new", driver: "remote", nodes: [{ name: "fx-new0", endpoint: "tcp://b:1", platforms: [], driverOptions: {} }] });
            const docker = dockerWhereCreateMakesTheBuilder(() => missing);
            await createBuilder(remote, docker.run);
            assert.ok(!docker.calls.some((argv) => argv[1] === "ls"));
        });

        const removals: [string, [string, string, string[]][], string[][]][] = [
            ["removes a builder whose nodes no other builder lists with its containers", [["b", "docker-container", ["b0", "b1"]]], [rmArgv("b")]],
            [
                "takes a node another builder lists out of the builder first, so `rm` leaves its container",
                [
                    ["b", "docker-container", ["b0", "n"]],
                    ["a", "docker-container", ["n"]],
                ],
                [["buildx", "create", "--leave", "--name", "b", "--node", "n"], rmArgv("b")],
            ],
            [
                "keeps every container when another builder lists each node",
                [
                    ["b", "docker-container", ["n"]],
                    ["a", "docker-container", ["n"]],
                ],
                [["buildx", "rm", "--keep-daemon", "--", "b"]],
            ],
            [
                "ignores a node of that name in a builder of a driver that runs no container",
                [
                    ["b", "docker-container", ["n"]],
                    ["r", "remote", ["n"]],
                ],
                [rmArgv("b")],
            ],
            [
                "removes a builder of another driver plainly",
                [
                    ["b", "kubernetes", ["n"]],
                    ["a", "docker-container", ["n"]],
                ],
                [rmArgv("b")],
            ],
            ["runs `rm` for a builder the list lacks, so a builder that is already gone is fine", [], [rmArgv("b")]],
        ];
        for (const [behaviour, builders, calls] of removals) {
            it(behaviour, async () => {
                const docker = fakeDocker({ "buildx ls": listed(builders) });
                await removeBuilder("b", docker.run);
                assert.deepStrictEqual(docker.calls, [LS, ...calls]);
            });
        }
    });

    describe("a builder changed here behind the stack's back (docker CLI stood in for)", () => {
        // fx-b as created with `--platform linux/arm64`; INSPECT_PLAIN is fx-b with no platforms.
        const wanted = spec({ name: "fx-b", nodes: [{ name: "fx-b0", platforms: ["linux/arm64"], driverOptions: {} }] });
        const difference = "node fx-b0 has platforms [], wanted [linux/arm64]";

        it("plans an update when the builder here differs from the declared one, naming how", async () => {
            const docker = fakeDocker({ "buildx inspect": INSPECT_PLAIN });
            assert.deepStrictEqual(await diffOnThisMachine(wanted, wanted, docker.run), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
                missingHere: false,
                differencesHere: [difference],
            });
        });
        it("compares no platforms or flags of a node buildx cannot reach, which it does not print", () => {
            const unreachable = parseInspect(INSPECT_UNREACHABLE);
            const declared = spec({
                name: "fx-err",
                nodes: [{ name: "fx-err0", endpoint: "unix:///tmp/mprobe-cap/e.sock", platforms: ["linux/arm64"], driverOptions: { network: "host" } }],
                buildkitdFlags: "--debug",
            });
            assert.deepStrictEqual(builderDifferences(declared, unreachable), []);
            assert.deepStrictEqual(builderDifferences({ ...declared, nodes: [{ ...declared.nodes[0], driverOptions: {} }] }, unreachable), [
                "node fx-err0 has other driver options: network is set but not wanted",
            ]);
        });
        it("creates this stack's own builder again as declared", async () => {
            let removed = false;
            const docker = fakeDocker({
                "buildx inspect": () => {
                    if (removed) throw cliError("buildx inspect -- fx-b", STDERR.noSuchBuilder);
                    return INSPECT_PLAIN;
                },
                "buildx rm": () => {
                    removed = true;
                    return "";
                },
                "buildx create": () => {
                    removed = false;
                    return "";
                },
            });
            await updateBuilder(wanted, wanted, true, docker.run);
            assert.deepStrictEqual(
                docker.calls.filter((argv) => argv[1] === "rm" || argv[1] === "create"),
                [rmArgv("fx-b"), createArgv(wanted)],
            );
        });
        it("keeps its own builder when the one declared could not be created, its node being another builder's", async () => {
            const docker = fakeDocker({
                "buildx inspect": INSPECT_PLAIN,
                "buildx ls": JSON.stringify({ Name: "fx-other", Driver: "docker-container", Nodes: [{ Name: "fx-b0" }] }),
            });
            await assert.rejects(updateBuilder(wanted, wanted, true, docker.run), /its nodes would share BuildKit containers/);
            assert.ok(!docker.calls.some((argv) => argv[1] === "rm" || argv[1] === "create"));
        });
        it("refuses an adopted builder that differs, and one recorded before ownership was, leaving it as it is", async () => {
            for (const created of [false, undefined]) {
                const docker = fakeDocker({ "buildx inspect": INSPECT_PLAIN });
                await assert.rejects(updateBuilder(wanted, wanted, created, docker.run), (error: Error) => {
                    assert.strictEqual(error.message, conflictMessage("fx-b", [difference]));
                    return true;
                });
                assert.deepStrictEqual(docker.calls, [inspectArgv("fx-b")]);
            }
        });
    });

    describe("the provider, run as the dynamic-provider host runs it (docker CLI stood in for)", function () {
        this.timeout(60000);
        const UNKNOWN = pulumi.runtime.unknownValue;
        const NAME = "multiarch-ci-dev-b3db7e87";
        let dir: string;
        let providerText: string;
        let news: { name: string; spec: BuilderSpec };
        let seq = 0;

        before(async () => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-builder-provider-"));
            // Answers every call as `buildx inspect` of the builder, and records its argv.
            fs.mkdirSync(path.join(dir, "bin"));
            fs.writeFileSync(
                path.join(dir, "bin", "docker"),
                [
                    `#!${process.execPath}`,
                    'require("fs").appendFileSync(process.env.STAND_IN_DOCKER_LOG, JSON.stringify(process.argv.slice(2)) + "\\n");',
                    "process.stdout.write(process.env.STAND_IN_INSPECT);",
                ].join("\n"),
                { mode: 0o755 },
            );
            await resetMocks();
            const builder = new BuildxBuilder("ci", {});
            await settle(builder.name);
            const inputs = theOne(DYNAMIC, "ci-buildx").inputs;
            providerText = inputs.__provider;
            news = { name: inputs.name, spec: inputs.spec };
        });

        after(() => fs.rmSync(dir, { recursive: true, force: true }));

        /** Calls `op` in the host with the stand-in docker alone on PATH; returns the result and the docker calls. */
        async function host(op: string, args: unknown[]): Promise<{ result: unknown; calls: string[][] }> {
            const log = path.join(dir, `docker-${seq++}.log`);
            fs.writeFileSync(log, "");
            const env = { PATH: path.join(dir, "bin"), HOME: dir, STAND_IN_DOCKER_LOG: log, STAND_IN_INSPECT: INSPECT_PLAIN.replaceAll("fx-b", NAME) };
            const result = await hostResult(dir, providerText, op, args, env);
            const calls = fs
                .readFileSync(log, "utf8")
                .split("\n")
                .filter((line) => line !== "")
                .map((line) => JSON.parse(line));
            return { result, calls };
        }

        /** The state `create` records for the builder, but without `name`, as a stack written before `name` was an input may hold it. */
        const state = () => ({
            spec: news.spec,
            driver: "docker-container",
            platforms: [],
            nodes: [{ name: `${NAME}0`, endpoint: "unix:///var/run/docker.sock", platforms: [], driverOptions: {}, status: "inactive" }],
            created: true,
        });

        it("leaves the name out of a new builder's checked inputs, so the preview that creates it keeps the name unknown", async () => {
            assert.deepStrictEqual((await host("check", [{}, news])).result, { inputs: { spec: news.spec } });
            assert.deepStrictEqual((await host("check", [{ spec: news.spec }, news])).result, { inputs: news });
        });

        it("shows no change, and no replace, for state written before `name` was an input, with the same spec", async () => {
            const { result, calls } = await host("diff", [NAME, state(), news]);
            assert.deepStrictEqual(result, { changes: false, replaces: [], deleteBeforeReplace: false });
            assert.deepStrictEqual(calls, [inspectArgv(NAME)]);
        });

        it("plans an update while the spec is unknown in a preview, and a replace only for a known new name", async () => {
            for (const olds of [{ ...state(), name: NAME }, state()]) {
                const same = await host("diff", [NAME, olds, { name: NAME, spec: UNKNOWN }]);
                assert.deepStrictEqual(same.result, { changes: true, replaces: [], deleteBeforeReplace: false });
                assert.deepStrictEqual(same.calls, []);
                const renamed = await host("diff", [NAME, olds, { name: "renamed-builder", spec: UNKNOWN }]);
                assert.deepStrictEqual(renamed.result, { changes: true, replaces: ["name"], deleteBeforeReplace: false });
            }
        });
    });

    describe("positional arguments", () => {
        it("refuses an endpoint that starts with `-` before anything runs", async () => {
            const message = await problemsOf({ driver: "remote", nodes: [{ endpoint: "tcp://a:1234" }, { endpoint: "-H" }, { endpoint: "--help" }] });
            assert.match(message, /`nodes\[1\]\.endpoint` is "-H": expected a value that does not start with `-`: the docker CLI would read it as a flag/);
            assert.match(message, /`nodes\[2\]\.endpoint` is "--help": expected a value that does not start with `-`/);
            assert.doesNotMatch(message, /nodes\[0\]/);
        });
        it("refuses a builder or node name that starts with `-`", async () => {
            const message = await problemsOf({ name: "--rm", nodes: [{ name: "-x" }] });
            assert.match(message, /`name` is "--rm": expected a letter followed by/);
            assert.match(message, /`nodes\[0\]\.name` is "-x": expected a letter followed by/);
        });
        it("puts every positional argument after `--`", () => {
            const remote = spec({ driver: "remote", nodes: [{ name: "r0", endpoint: "tcp://b:1", platforms: [], driverOptions: {} }] });
            for (const argv of [createArgv(remote), appendArgv(remote, remote.nodes[0]), inspectArgv("b"), inspectArgv("b", true), rmArgv("b")]) {
                assert.strictEqual(argv[argv.length - 2], "--", argv.join(" "));
            }
        });
    });

    describe("secret driver options", () => {
        const PROXY = "http://user:s3cret-pass@proxy.example.com:3128";

        it("hides every driver option value but the image in a failed command", () => {
            const argv = createArgv(
                spec({ nodes: [{ name: "n0", platforms: [], driverOptions: { "env.HTTPS_PROXY": PROXY, image: "m/buildkit:1", network: "host" } }] }),
            );
            const stderr = `ERROR: failed to dial ${PROXY}: connection refused\n`;
            const message = explainDockerFailure(argv, { code: 1, stderr });
            assert.doesNotMatch(message, /s3cret/);
            assert.match(message, /--driver-opt env\.HTTPS_PROXY=\*\*\* --driver-opt image=m\/buildkit:1 --driver-opt network=\*\*\*/);
            assert.match(message, /failed to dial \*\*\*: connection refused/);
            assert.deepStrictEqual(displayArgv(["buildx", "create", "--driver-opt", `"env.NO_PROXY=a,b"`]), [
                "buildx",
                "create",
                "--driver-opt",
                "env.NO_PROXY=***",
            ]);
        });
        it("names only the keys of driver options that differ from an existing builder's", async () => {
            const docker = fakeDocker({ "buildx inspect": INSPECT_DRIVER_OPTIONS });
            const wanted = spec({ name: "cap-a", nodes: [{ name: "cap-a0", platforms: ["linux/386", "linux/amd64"], driverOptions: { "env.FOO": PROXY } }] });
            await assert.rejects(createBuilder(wanted, docker.run), (error: Error) => {
                assert.match(error.message, /node cap-a0 has other driver options: env\.FOO has another value, network is set but not wanted/);
                assert.doesNotMatch(error.message, /s3cret|a,b|="host"/);
                return true;
            });
        });
        it("keeps driver option values out of argument errors", async () => {
            const message = await problemsOf({ driverOptions: { "env.HTTPS_PROXY": PROXY, "bad key": PROXY }, nodes: [{ driverOptions: { "x=y": PROXY } }] });
            assert.match(message, /`driverOptions` is \{"env\.HTTPS_PROXY":"\*\*\*","bad key":"\*\*\*"\}: key "bad key" is not usable/);
            assert.match(message, /`nodes\[0\]\.driverOptions` is \{"x=y":"\*\*\*"\}/);
            assert.doesNotMatch(message, /s3cret/);
        });
        it("makes the outputs that carry driver options secret when the options may be", () => {
            assert.deepStrictEqual(secretOutputs({ driverOptions: { network: "host" }, buildkitdFlags: "--debug" }), []);
            assert.deepStrictEqual(secretOutputs({ driverOptions: pulumi.secret({ "env.HTTPS_PROXY": PROXY }) }), ["spec", "nodes"]);
            assert.deepStrictEqual(secretOutputs({ driverOptions: { "env.HTTPS_PROXY": pulumi.secret(PROXY) } }), ["spec", "nodes"]);
            assert.deepStrictEqual(secretOutputs({ buildkitdFlags: pulumi.secret("--debug") }), ["spec"]);
        });
        it("registers the dynamic builder with those secret outputs, and its spec input secret", async () => {
            await resetMocks();
            const seen: Record<string, pulumi.ResourceOptions> = {};
            const builder = new BuildxBuilder(
                "proxied",
                { driverOptions: { "env.HTTPS_PROXY": pulumi.secret(PROXY) } },
                { transformations: [(args) => ((seen[args.type] = args.opts), undefined)] },
            );
            await settle(builder.name);
            assert.deepStrictEqual((seen["pulumi-nodejs:dynamic:Resource"] as pulumi.CustomResourceOptions).additionalSecretOutputs, ["spec", "nodes"]);
            assert.ok(isSecretInput(theOne("pulumi-nodejs:dynamic:Resource", "proxied-buildx").inputs.spec));
        });
    });

    describe("diff", () => {
        const base = spec({ nodes: [{ name: "n0", platforms: ["linux/amd64"], driverOptions: { network: "host" } }], buildkitdFlags: "--debug" });
        const cases: [string, Partial<BuilderSpec>, { changes: boolean; replaces: string[]; deleteBeforeReplace: boolean }][] = [
            ["sees no change in equal inputs", {}, { changes: false, replaces: [], deleteBeforeReplace: false }],
            ["replaces on a new name, creating before deleting", { name: "other" }, { changes: true, replaces: ["name"], deleteBeforeReplace: false }],
            ["replaces on a new driver, deleting first", { driver: "remote" }, { changes: true, replaces: ["driver"], deleteBeforeReplace: true }],
            [
                "replaces on new platforms",
                { nodes: [{ name: "n0", platforms: ["linux/arm64"], driverOptions: { network: "host" } }] },
                { changes: true, replaces: ["nodes"], deleteBeforeReplace: true },
            ],
            [
                "replaces on new driver options",
                { nodes: [{ name: "n0", platforms: ["linux/amd64"], driverOptions: {} }] },
                { changes: true, replaces: ["nodes"], deleteBeforeReplace: true },
            ],
            [
                "replaces on an added node",
                { nodes: [...base.nodes, { name: "n1", endpoint: "ssh://arm", platforms: [], driverOptions: {} }] },
                { changes: true, replaces: ["nodes"], deleteBeforeReplace: true },
            ],
            [
                "replaces on new buildkitd flags",
                { buildkitdFlags: "--debug --trace" },
                { changes: true, replaces: ["buildkitdFlags"], deleteBeforeReplace: true },
            ],
            ["replaces on a new buildkitd config", { buildkitdConfig: "bk.toml" }, { changes: true, replaces: ["buildkitdConfig"], deleteBeforeReplace: true }],
            ["updates `use` in place", { use: true }, { changes: true, replaces: [], deleteBeforeReplace: false }],
            ["updates `bootstrap` in place", { bootstrap: true }, { changes: true, replaces: [], deleteBeforeReplace: false }],
        ];
        for (const [behaviour, change, expected] of cases) {
            it(behaviour, () => assert.deepStrictEqual(diffBuilder(base, { ...base, ...change }), expected));
        }
        it("ignores the order of driver option keys", () => {
            const reordered = { ...base, nodes: [{ name: "n0", platforms: ["linux/amd64"], driverOptions: { b: "2", a: "1" } }] };
            assert.strictEqual(diffBuilder({ ...reordered, nodes: [{ ...reordered.nodes[0], driverOptions: { a: "1", b: "2" } }] }, reordered).changes, false);
        });
    });

    describe("validation", () => {
        it("refuses the docker driver, saying why", async () => {
            const message = await problemsOf({ driver: "docker" as BuilderDriver });
            assert.match(
                message,
                /`driver` is "docker": docker-build cannot build with the `docker` driver; expected one of "docker-container", "kubernetes", "remote"/,
            );
        });
        it("refuses an unknown driver", async () => {
            assert.match(
                await problemsOf({ driver: "podman" as BuilderDriver }),
                /`driver` is "podman": expected one of "docker-container", "kubernetes", "remote"/,
            );
        });
        it("refuses a name buildx would refuse", async () => {
            assert.match(await problemsOf({ name: "9 lives" }), /`name` is "9 lives": expected a letter followed by letters, digits/);
        });
        it("refuses a malformed platform, with its index", async () => {
            assert.match(await problemsOf({ platforms: ["amd64", "linux/amd65"] }), /`platforms\[1\]` is "linux\/amd65": expected os\/arch/);
        });
        it("needs an endpoint on every node of a remote builder", async () => {
            const message = await problemsOf({ driver: "remote", nodes: [{ endpoint: "tcp://a:1234" }, {}] });
            assert.match(message, /`nodes\[1\]\.endpoint` is undefined: the remote driver needs the BuildKit address of every node/);
            assert.doesNotMatch(message, /nodes\[0\]/);
        });
        it("needs an endpoint for a one-node remote builder", async () => {
            assert.match(await problemsOf({ driver: "remote" }), /`endpoint` is undefined: the remote driver needs/);
        });
        it("refuses endpoints with the kubernetes driver", async () => {
            assert.match(
                await problemsOf({ driver: "kubernetes", nodes: [{ endpoint: "x" }] }),
                /`nodes\[0\]\.endpoint` is "x": expected no endpoint with the kubernetes driver/,
            );
        });
        it("refuses two nodes on one endpoint, as buildx does", async () => {
            assert.match(
                await problemsOf({ nodes: [{}, { platforms: ["arm64"] }] }),
                /`nodes\[1\]\.endpoint` is undefined: nodes\[0\] already runs on the current docker context/,
            );
        });
        it("refuses a platform on two nodes", async () => {
            const message = await problemsOf({ nodes: [{ platforms: ["amd64"] }, { endpoint: "ssh://b", platforms: ["x86_64", "arm64"] }] });
            assert.match(message, /`nodes\[1\]\.platforms` is \["x86_64","arm64"\]: linux\/amd64 is also on nodes\[0\]/);
        });
        it("refuses builder-wide platforms together with nodes", async () => {
            assert.match(
                await problemsOf({ platforms: ["amd64"], nodes: [{}] }),
                /`platforms` is \["amd64"\]: expected no builder-wide platforms when `nodes` is given/,
            );
        });
        it("refuses an empty node list", async () => {
            assert.match(await problemsOf({ nodes: [] }), /`nodes` is \[\]: expected at least one node/);
        });
        it("refuses duplicate and malformed node names", async () => {
            const message = await problemsOf({ nodes: [{ name: "a" }, { name: "a", endpoint: "ssh://b" }, { name: "-x", endpoint: "ssh://c" }] });
            assert.match(message, /`nodes\[1\]\.name` is "a": duplicates nodes\[0\]\.name/);
            assert.match(message, /`nodes\[2\]\.name` is "-x": expected a letter followed by/);
        });
        it("refuses driver option keys buildx cannot parse", async () => {
            assert.match(await problemsOf({ driverOptions: { "a=b": "c" } }), /`driverOptions` is \{"a=b":"\*\*\*"\}: key "a=b" is not usable/);
        });
        it("refuses non-boolean bootstrap and use", async () => {
            const message = await problemsOf({ bootstrap: "yes" as unknown as boolean, use: 1 as unknown as boolean });
            assert.match(message, /`bootstrap` is "yes": expected true or false/);
            assert.match(message, /`use` is 1: expected true or false/);
        });
        it("reports every problem together, before any child exists", async () => {
            const message = await problemsOf({ name: "Bad", driver: "docker" as BuilderDriver, platforms: ["sparc"] }, "api");
            assert.match(message, /^BuildxBuilder "api" has 3 invalid argument problems:/);
            assert.match(message, /`name` is "Bad"/);
            assert.match(message, /`driver` is "docker"/);
            assert.match(message, /`platforms\[0\]` is "sparc"/);
            assert.deepStrictEqual(
                registrations.filter((r) => r.type !== "multiarch:index:BuildxBuilder"),
                [],
            );
        });
    });

    describe("resources", () => {
        it("registers the component and a dynamic builder with the defaults", async () => {
            await resetMocks();
            const builder = new BuildxBuilder("ci", {});
            await settle(builder.name);
            assert.strictEqual(theOne("multiarch:index:BuildxBuilder", "ci").custom, false);
            const child = theOne(DYNAMIC, "ci-buildx");
            assert.deepStrictEqual(child.inputs.spec, {
                name: "multiarch-ci-dev-b3db7e87",
                driver: "docker-container",
                nodes: [{ name: "multiarch-ci-dev-b3db7e870", platforms: [], driverOptions: {} }],
                bootstrap: true,
                use: false,
            });
            assert.match(child.inputs.__provider, /exports\.handler/);
            assert.strictEqual(await promiseOf(builder.name), "multiarch-ci-dev-b3db7e87");
            assert.strictEqual(await promiseOf(builder.driver), "docker-container");
        });

        it("appends one node per extra native platform", async () => {
            await resetMocks();
            const builder = new BuildxBuilder("native", {
                name: "multi-arch-builder",
                driverOptions: { network: "host" },
                nodes: [
                    { name: "amd", platforms: ["x86_64"] },
                    { name: "arm", endpoint: "ssh://ubuntu@arm-host", platforms: ["aarch64"], driverOptions: { network: "bridge" } },
                ],
                buildkitdFlags: "--debug",
                buildkitdConfig: "/etc/buildkitd.toml",
                bootstrap: false,
                use: true,
            });
            await settle(builder.nodes);
            assert.deepStrictEqual(theOne(DYNAMIC, "native-buildx").inputs.spec, {
                name: "multi-arch-builder",
                driver: "docker-container",
                nodes: [
                    { name: "amd", platforms: ["linux/amd64"], driverOptions: { network: "host" } },
                    { name: "arm", endpoint: "ssh://ubuntu@arm-host", platforms: ["linux/arm64"], driverOptions: { network: "bridge" } },
                ],
                buildkitdFlags: "--debug",
                buildkitdConfig: "/etc/buildkitd.toml",
                bootstrap: false,
                use: true,
            });
            assert.deepStrictEqual(await promiseOf(builder.platforms), ["linux/amd64", "linux/arm64"]);
            assert.deepStrictEqual(
                (await promiseOf(builder.nodes)).map((n) => [n.name, n.endpoint, n.platforms]),
                [
                    ["amd", "unix:///var/run/docker.sock", ["linux/amd64"]],
                    ["arm", "ssh://ubuntu@arm-host", ["linux/arm64"]],
                ],
            );
        });

        it("takes driver options and buildkitd settings from outputs", async () => {
            await resetMocks();
            const builder = new BuildxBuilder("late", {
                driverOptions: pulumi.output({ image: pulumi.output("mirror.example.com/moby/buildkit:buildx-stable-1") }),
                buildkitdFlags: Promise.resolve("--debug"),
                driver: BuilderDriver.Remote,
                nodes: [{ endpoint: "tcp://buildkitd:1234" }],
            });
            await settle(builder.name);
            assert.deepStrictEqual(theOne(DYNAMIC, "late-buildx").inputs.spec, {
                name: "multiarch-late-dev-e68d7a9f",
                driver: "remote",
                nodes: [
                    {
                        name: "multiarch-late-dev-e68d7a9f0",
                        endpoint: "tcp://buildkitd:1234",
                        platforms: [],
                        driverOptions: { image: "mirror.example.com/moby/buildkit:buildx-stable-1" },
                    },
                ],
                buildkitdFlags: "--debug",
                bootstrap: true,
                use: false,
            });
        });

        it("registers the builder's name as an input too: the name its spec and its output have always had", async () => {
            await resetMocks();
            const given = new BuildxBuilder("named", { name: "multi-arch-builder" });
            const derived = new BuildxBuilder("ci", {});
            await settle(given.name, derived.name);
            for (const [builder, resource, name] of [
                [given, "named-buildx", "multi-arch-builder"],
                [derived, "ci-buildx", defaultBuilderName("ci", "dev", "multiarch")],
            ] as const) {
                const inputs = theOne(DYNAMIC, resource).inputs;
                assert.strictEqual(inputs.name, name);
                assert.strictEqual(inputs.spec.name, name);
                assert.strictEqual(await promiseOf(builder.name), name);
            }
            assert.strictEqual(theOne(DYNAMIC, "ci-buildx").inputs.name, "multiarch-ci-dev-b3db7e87");
        });

        // The dynamic-provider host answers a preview's update with the inputs as outputs.
        it("keeps the builder's name known in a preview that updates the builder", async () => {
            await resetMocks({ dryRun: true, resources: { [DYNAMIC]: ({ inputs }) => ({ ...inputs }) } });
            const builder = new BuildxBuilder("runner", { driverOptions: pulumi.output({ network: "host" }) });
            assert.strictEqual(await (builder.name as unknown as { isKnown: Promise<boolean> }).isKnown, true);
            assert.strictEqual(await promiseOf(builder.name), defaultBuilderName("runner", "dev", "multiarch"));
        });

        it("registers its outputs", async () => {
            await resetMocks();
            const builder = new BuildxBuilder("out", { platforms: ["arm64"] });
            const outputs = await promiseOf(pulumi.all([builder.name, builder.driver, builder.platforms, builder.nodes]));
            assert.deepStrictEqual(outputs, [
                "multiarch-out-dev-94ec0994",
                "docker-container",
                ["linux/arm64"],
                [
                    {
                        name: "multiarch-out-dev-94ec09940",
                        endpoint: "unix:///var/run/docker.sock",
                        platforms: ["linux/arm64"],
                        driverOptions: {},
                        status: "inactive",
                    },
                ],
            ]);
        });
    });
});
