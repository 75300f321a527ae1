import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BuilderSpec, NodeSpec, imagetoolsCreateArgv } from "../../../sdk/clients/buildx";
import {
    conflictMessage,
    createBuilder,
    diffBuilder,
    diffOnThisMachine,
    inspectBuilder,
    removeBuilder,
    sharedNodesMessage,
    updateBuilder,
} from "../../../sdk/clients/builderLifecycle";
import { DEFAULT_BUILDKIT_IMAGE, runDocker } from "../../../sdk/clients/docker";
import { BuildxBuilder } from "../../../sdk/components/buildxBuilder";
import { HOST_NODE_PATH, writeHostScript } from "../../dynamicHost";
import { registered, resetMocks, settle } from "../../mocks";
import { BASE, contextWith } from "../components/buildInputs";
import { DockerCallOptions, REGISTRY, docker, inspectRaw, uniqueName, useBuildkitImage, useDockerStack } from "../stack";

// /var/run is a link to /run here: one engine, two endpoint spellings, so a second
// node can be appended without a second machine (buildx refuses duplicate endpoints).
const SECOND_ENDPOINT = "unix:///run/docker.sock";

// An image no registry holds, so a bootstrap that pulls it fails the same way everywhere.
const ABSENT_IMAGE = "127.0.0.1:5000/multiarch/absent:none";

/** A docker-container builder `name` of one node, `<name>0` on the current docker context, not bootstrapped; `overrides` replace any field. */
function spec(name: string, overrides: Partial<BuilderSpec> = {}): BuilderSpec {
    return {
        name,
        driver: "docker-container",
        nodes: [{ name: `${name}0`, platforms: [], driverOptions: {} }],
        bootstrap: false,
        use: false,
        ...overrides,
    };
}

/** `docker buildx create` by hand, as a person would: builder `name` of the docker-container driver, its first node `node`, then `flags`. */
function createByHand(name: string, node: string, flags: string[] = [], options: DockerCallOptions = {}): Promise<string> {
    return docker(["buildx", "create", "--name", name, "--driver", "docker-container", "--node", node, ...flags], options);
}

/**
 * A builder `name` of one node with driver options, two fixed platforms, buildkitd flags
 * and a buildkitd.toml, which it writes into `dir`.
 */
function withEveryDaemonSetting(name: string, dir: string): BuilderSpec {
    const config = path.join(dir, "buildkitd.toml");
    fs.writeFileSync(config, "[worker.oci]\n  max-parallelism = 4\n");
    return spec(name, {
        nodes: [
            { name: `${name}0`, platforms: ["linux/amd64", "linux/arm64"], driverOptions: { network: "host", "env.BUILDKIT_STEP_LOG_MAX_SIZE": "10485760" } },
        ],
        buildkitdFlags: "--debug --allow-insecure-entitlement network.host",
        buildkitdConfig: config,
    });
}

/**
 * Gives the enclosing `describe` builder names no other run uses (`<prefix>-<label>-…`),
 * and removes those builders after it.
 */
function useBuilderNames(prefix: string): (label: string) => string {
    const names: string[] = [];
    after(async () => {
        for (const name of names) {
            await removeBuilder(name);
        }
    });
    return (label) => {
        const name = uniqueName(`${prefix}-${label}`);
        names.push(name);
        return name;
    };
}

/**
 * Checks the error of a bootstrap whose `command` could not pull `ABSENT_IMAGE`: the
 * explanation, word for word, then what the daemon said.
 */
function explainsPullFailure(command: string): (error: Error & { stderr: string }) => true {
    return (error) => {
        assert.ok(
            error.stderr.includes(`Error response from daemon: failed to resolve reference "${ABSENT_IMAGE}": ${ABSENT_IMAGE}: not found`),
            `the daemon's own words, got:\n${error.stderr}`,
        );
        assert.strictEqual(
            error.message,
            `\`${command}\` failed: bootstrapping a docker-container builder starts a BuildKit container from the image ${ABSENT_IMAGE}, ` +
                "and the Docker daemon could not pull it (the registry is unreachable from this machine, or the image does not exist there). " +
                `Either make the image available (\`docker pull ${ABSENT_IMAGE}\` where the registry is reachable, then \`docker save\`/\`docker load\` it here), ` +
                'or mirror it to a registry you can reach and set `driverOptions: { image: "<mirror>/moby/buildkit:buildx-stable-1" }` ' +
                "(`--driver-opt image=<mirror>/moby/buildkit:buildx-stable-1`), or set `bootstrap: false` to create the builder without starting it. " +
                `The daemon said:\n${error.stderr.trim()}`,
        );
        return true;
    };
}

/** The names of the containers and volumes of this engine that hold `text` in their names. */
async function dockerObjectsNamed(text: string): Promise<{ containers: string[]; volumes: string[] }> {
    const names = async (args: string[]) =>
        (await docker(args))
            .split("\n")
            .filter((line) => line.includes(text))
            .sort();
    return {
        containers: await names(["ps", "--all", "--format", "{{.Names}}"]),
        volumes: await names(["volume", "ls", "--format", "{{.Name}}"]),
    };
}

describe("BuildxBuilder provider (needs scripts/docker-stack.sh)", function () {
    this.timeout(120000);
    useDockerStack();

    const builderName = useBuilderNames("mat");
    let dir: string;
    let seq = 0;

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-builder-"));
    });

    after(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("creates a docker-container builder with driver options, platforms, buildkitd flags and config", async () => {
        const name = builderName("opts");
        const builder = await createBuilder(withEveryDaemonSetting(name, dir));
        assert.strictEqual(builder.name, name);
        assert.strictEqual(builder.driver, "docker-container");
        assert.deepStrictEqual(builder.platforms, ["linux/amd64", "linux/arm64"]);
        assert.deepStrictEqual(builder.nodes[0].driverOptions, { network: "host", "env.BUILDKIT_STEP_LOG_MAX_SIZE": "10485760" });
        assert.deepStrictEqual(builder.nodes[0].buildkitdFlags.slice(0, 3), ["--debug", "--allow-insecure-entitlement", "network.host"]);
        assert.strictEqual(builder.nodes[0].status, "inactive");
        const listed = (await docker(["buildx", "ls", "--format", "json"]))
            .trim()
            .split("\n")
            .map((line) => JSON.parse(line))
            .find((b) => b.Name === name);
        assert.match(Buffer.from(listed.Nodes[0].Files["buildkitd.toml"], "base64").toString(), /max-parallelism = 4/);
    });

    it("appends a second node with its own endpoint and platform", async () => {
        const name = builderName("two");
        const builder = await createBuilder(
            spec(name, {
                nodes: [
                    { name: "amd", platforms: ["linux/amd64"], driverOptions: {} },
                    { name: "arm", endpoint: SECOND_ENDPOINT, platforms: ["linux/arm64"], driverOptions: { network: "host" } },
                ],
            }),
        );
        assert.deepStrictEqual(
            builder.nodes.map((n) => [n.name, n.endpoint, n.fixedPlatforms, n.driverOptions]),
            [
                ["amd", "unix:///var/run/docker.sock", ["linux/amd64"], {}],
                ["arm", SECOND_ENDPOINT, ["linux/arm64"], { network: "host" }],
            ],
        );
    });

    it("adopts an identical builder that already exists", async () => {
        const name = builderName("adopt");
        await createByHand(name, `${name}0`, ["--platform", "linux/arm64", "--driver-opt", "network=host"]);
        const builder = await createBuilder(spec(name, { nodes: [{ name: `${name}0`, platforms: ["linux/arm64"], driverOptions: { network: "host" } }] }));
        assert.strictEqual(builder.name, name);
        assert.deepStrictEqual(builder.nodes[0].fixedPlatforms, ["linux/arm64"]);
    });

    it("refuses a conflicting builder that already exists, saying how to resolve it", async () => {
        const name = builderName("conflict");
        await createByHand(name, `${name}0`, ["--platform", "linux/amd64"]);
        await assert.rejects(createBuilder(spec(name, { nodes: [{ name: `${name}0`, platforms: ["linux/arm64"], driverOptions: {} }] })), (error: Error) => {
            assert.match(error.message, new RegExp(`a buildx builder named "${name}" already exists`));
            assert.match(error.message, /has platforms \[linux\/amd64\], wanted \[linux\/arm64\]/);
            assert.match(error.message, new RegExp(`\`docker buildx rm ${name}\``));
            return true;
        });
        assert.ok(await inspectBuilder(name), "the conflicting builder must be left alone");
    });

    it("reads a builder removed behind its back as gone, and deleting it again is fine", async () => {
        const name = builderName("gone");
        await createBuilder(spec(name));
        assert.ok(await inspectBuilder(name));
        await docker(["buildx", "rm", name]);
        assert.strictEqual(await inspectBuilder(name), undefined);
        await removeBuilder(name);
    });

    it("deletes a builder", async () => {
        const name = builderName("delete");
        await createBuilder(spec(name));
        await removeBuilder(name);
        assert.strictEqual(await inspectBuilder(name), undefined);
        await assert.rejects(runDocker(["buildx", "inspect", name]), /no builder/);
    });

    it("tells the user why bootstrap fails when the BuildKit image cannot be pulled, and leaves nothing behind", async () => {
        const name = builderName("offline");
        const nodes = [{ name: `${name}0`, platforms: [], driverOptions: { image: ABSENT_IMAGE } }];
        await assert.rejects(
            createBuilder(spec(name, { bootstrap: true, nodes })),
            explainsPullFailure(`docker buildx create --name ${name} --driver docker-container --node ${name}0 --driver-opt image=${ABSENT_IMAGE} --bootstrap`),
        );
        assert.strictEqual(await inspectBuilder(name), undefined);
        assert.deepStrictEqual(await dockerObjectsNamed(name), { containers: [], volumes: [] });
    });

    it("names the mirror image when a multi-node bootstrap cannot pull it", async () => {
        const name = builderName("mirror");
        const nodes = [
            { name: `${name}-amd`, platforms: ["linux/amd64"], driverOptions: { image: ABSENT_IMAGE } },
            { name: `${name}-arm`, endpoint: SECOND_ENDPOINT, platforms: ["linux/arm64"], driverOptions: { image: ABSENT_IMAGE } },
        ];
        await assert.rejects(createBuilder(spec(name, { bootstrap: true, nodes })), explainsPullFailure(`docker buildx inspect --bootstrap -- ${name}`));
        assert.strictEqual(await inspectBuilder(name), undefined);
        assert.deepStrictEqual(await dockerObjectsNamed(name), { containers: [], volumes: [] });
    });

    it("diffs recorded inputs against the created builder's", async () => {
        const name = builderName("diff");
        const wanted = spec(name);
        await createBuilder(wanted);
        assert.deepStrictEqual(diffBuilder(wanted, wanted), { changes: false, replaces: [], deleteBeforeReplace: false });
        assert.deepStrictEqual(diffBuilder(wanted, { ...wanted, driver: "remote" }).replaces, ["driver"]);
    });

    it("runs create, read and delete from the serialised provider, as Pulumi's dynamic-provider host does", async () => {
        // The engine keeps the provider as the text Pulumi serialises from its closure and
        // the host loads it with require-from-string in a plain Node process: run exactly
        // that, with no ts-node, against the real docker CLI.
        await resetMocks();
        const name = builderName("host");
        const component = new BuildxBuilder("hosted", { name, bootstrap: false, driverOptions: { network: "host" } });
        await settle(component.name);
        const registration = registered("pulumi-nodejs:dynamic:Resource")[0];
        const providerText: string = registration.inputs.__provider;
        assert.strictEqual(typeof providerText, "string");
        const script = path.join(dir, "host.js");
        fs.writeFileSync(
            script,
            [
                'const requireFromString = require("require-from-string");',
                "const provider = requireFromString(process.env.PROVIDER_TEXT).handler();",
                "const inputs = JSON.parse(process.env.INPUTS);",
                "(async () => {",
                "  const created = await provider.create(inputs);",
                "  const read = await provider.read(created.id, created.outs);",
                "  await provider.delete(created.id, created.outs);",
                "  const gone = await provider.read(created.id, created.outs);",
                "  console.log(JSON.stringify({ created, read, gone }));",
                "})().catch((e) => { console.error(e && e.stack ? e.stack : e); process.exit(1); });",
            ].join("\n"),
        );
        const out = execFileSync(process.execPath, [script], {
            env: {
                ...process.env,
                NODE_PATH: HOST_NODE_PATH,
                PROVIDER_TEXT: providerText,
                INPUTS: JSON.stringify({ spec: registration.inputs.spec }),
            },
            encoding: "utf8",
            timeout: 60000,
        });
        const { created, read, gone } = JSON.parse(out);
        assert.strictEqual(created.id, name);
        assert.strictEqual(created.outs.name, name);
        assert.strictEqual(created.outs.driver, "docker-container");
        assert.strictEqual(created.outs.nodes[0].driverOptions.network, "host");
        assert.strictEqual(read.id, name);
        // A builder this machine lacks is not gone everywhere: read keeps the resource,
        // its nodes `absent`, and the next up here creates it again.
        assert.strictEqual(gone.id, name);
        assert.deepStrictEqual(
            gone.props.nodes.map((n: { status: string }) => n.status),
            ["absent"],
        );
        assert.strictEqual(await inspectBuilder(name), undefined);
    });

    // The dynamic-provider host as the engine runs it: a plain Node process that loads the
    // serialised provider text and calls one of its functions, on the machine (here: the
    // buildx store of DOCKER_CONFIG) that runs `pulumi`. Each call is its own process, as
    // each engine run is.
    function hostScript(): string {
        return writeHostScript(dir);
    }

    async function registeredProvider(name: string, args: Record<string, unknown> = {}): Promise<{ text: string; inputs: { spec: BuilderSpec } }> {
        await resetMocks();
        const component = new BuildxBuilder("hosted", { name, bootstrap: false, ...args });
        await settle(component.name);
        const registration = registered("pulumi-nodejs:dynamic:Resource")[0];
        return { text: registration.inputs.__provider, inputs: { spec: registration.inputs.spec } };
    }

    /** One call of the serialised provider on a machine whose buildx store is `dockerConfig`. */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the provider's results are JSON the test navigates
    function host(provider: { text: string }, dockerConfig: string, op: string, ...args: unknown[]): any {
        const out = execFileSync(process.execPath, [hostScript()], {
            env: {
                ...process.env,
                DOCKER_CONFIG: dockerConfig,
                NODE_PATH: HOST_NODE_PATH,
                PROVIDER_TEXT: provider.text,
                OP: op,
                ARGS: JSON.stringify(args),
            },
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            timeout: 60000,
        });
        return JSON.parse(out);
    }

    function machine(label: string): string {
        const config = path.join(dir, `machine-${label}-${seq++}`);
        fs.mkdirSync(config);
        return config;
    }

    async function existsOn(dockerConfig: string, name: string): Promise<boolean> {
        try {
            await docker(["buildx", "inspect", "--", name], { config: dockerConfig });
            return true;
        } catch {
            return false;
        }
    }

    async function rmOn(dockerConfig: string, name: string): Promise<void> {
        await docker(["buildx", "rm", name], { config: dockerConfig });
    }

    it("recreates the builder on a machine that lacks it, as the next up's diff, read and update run there", async () => {
        const name = builderName("machines");
        const provider = await registeredProvider(name, { driverOptions: { network: "host" } });
        const laptop = machine("laptop");
        const runner = machine("runner");
        try {
            // `up` on the laptop creates the builder there, and records that it did.
            const created = host(provider, laptop, "create", provider.inputs);
            assert.strictEqual(created.id, name);
            assert.strictEqual(created.outs.created, true);
            assert.ok(await existsOn(laptop, name));
            assert.ok(!(await existsOn(runner, name)));

            // `preview`/`up` on a fresh runner with the laptop's state: diff plans an update
            // (not a replace, so the name stays), and a refresh keeps the resource.
            const diff = host(provider, runner, "diff", name, created.outs, provider.inputs);
            assert.deepStrictEqual(diff, { changes: true, replaces: [], deleteBeforeReplace: false });
            const read = host(provider, runner, "read", name, created.outs);
            assert.strictEqual(read.id, name);
            assert.strictEqual(read.props.created, true);
            assert.deepStrictEqual(
                read.props.nodes.map((n: { status: string }) => n.status),
                ["absent"],
            );
            const updated = host(provider, runner, "update", name, read.props, provider.inputs);
            assert.strictEqual(updated.outs.name, name);
            assert.strictEqual(updated.outs.created, true);
            assert.strictEqual(updated.outs.nodes[0].driverOptions.network, "host");
            assert.ok(await existsOn(runner, name), "the runner now has the builder");
            assert.deepStrictEqual(host(provider, runner, "diff", name, updated.outs, provider.inputs), {
                changes: false,
                replaces: [],
                deleteBeforeReplace: false,
            });

            // Removed out of band on the laptop: its next up recreates it the same way.
            await rmOn(laptop, name);
            assert.strictEqual(host(provider, laptop, "diff", name, updated.outs, provider.inputs).changes, true);
            host(provider, laptop, "update", name, updated.outs, provider.inputs);
            assert.ok(await existsOn(laptop, name));

            // destroy removes the builder this stack created, on the machine that runs it.
            host(provider, runner, "delete", name, updated.outs);
            assert.ok(!(await existsOn(runner, name)));
            assert.ok(await existsOn(laptop, name));
            host(provider, laptop, "delete", name, updated.outs);
            assert.ok(!(await existsOn(laptop, name)));
        } finally {
            for (const config of [laptop, runner]) {
                if (await existsOn(config, name)) await rmOn(config, name);
            }
        }
    });

    it("adopts an existing builder and leaves it on delete, as it does a builder recorded before ownership was", async () => {
        const name = builderName("adopted");
        const provider = await registeredProvider(name);
        const config = machine("adopter");
        try {
            await createByHand(name, `${name}0`, [], { config });
            const adopted = host(provider, config, "create", provider.inputs);
            assert.strictEqual(adopted.outs.created, false);
            host(provider, config, "delete", name, adopted.outs);
            assert.ok(await existsOn(config, name), "an adopted builder stays after delete");

            // State written before `created` existed: read as adopted, never removed.
            const { created: _ignored, ...oldState } = adopted.outs;
            assert.strictEqual(oldState.created, undefined);
            host(provider, config, "delete", name, oldState);
            assert.ok(await existsOn(config, name), "a builder from old state stays after delete");

            // A replace that needs another builder of this name: delete leaves the adopted
            // one, and create says how to resolve the conflict instead of removing it.
            const other = await registeredProvider(name, { platforms: ["linux/arm64"] });
            assert.throws(
                () => host(other, config, "create", other.inputs),
                (error: Error & { stderr?: string }) =>
                    /already exists and differs/.test(String(error.stderr)) && /docker buildx rm/.test(String(error.stderr)),
            );
            assert.ok(await existsOn(config, name));
        } finally {
            if (await existsOn(config, name)) await rmOn(config, name);
        }
    });

    it("plans an update for a builder changed by hand on this machine, and the update makes this stack's own as declared but refuses an adopted one, as the host runs them", async () => {
        const name = builderName("drifted");
        const provider = await registeredProvider(name, { platforms: ["linux/arm64"] });
        const config = machine("drifted");
        const byHand = () => createByHand(name, `${name}0`, ["--platform", "linux/amd64"], { config });
        const unchanged = { changes: false, replaces: [], deleteBeforeReplace: false };
        try {
            const created = host(provider, config, "create", provider.inputs);
            assert.strictEqual(created.outs.created, true);
            assert.deepStrictEqual(host(provider, config, "diff", name, created.outs, provider.inputs), unchanged);

            // Made again by hand under the same name, for another platform: `up` plans an
            // update, which makes this stack's builder as declared; the next diff plans nothing.
            await rmOn(config, name);
            await byHand();
            assert.deepStrictEqual(host(provider, config, "diff", name, created.outs, provider.inputs), { ...unchanged, changes: true });
            const updated = host(provider, config, "update", name, created.outs, provider.inputs);
            assert.strictEqual(updated.outs.created, true);
            assert.deepStrictEqual(
                updated.outs.nodes.map((n: { platforms: string[] }) => n.platforms),
                [["linux/arm64"]],
            );
            assert.deepStrictEqual(host(provider, config, "diff", name, updated.outs, provider.inputs), unchanged);

            // An adopted builder that differs is left as it is, and the update says why.
            await rmOn(config, name);
            await byHand();
            const adopted = { ...updated.outs, created: false };
            assert.strictEqual(host(provider, config, "diff", name, adopted, provider.inputs).changes, true);
            assert.throws(
                () => host(provider, config, "update", name, adopted, provider.inputs),
                (error: Error & { stderr?: string }) => {
                    assert.strictEqual(String(error.stderr).trim(), conflictMessage(name, [`node ${name}0 has platforms [linux/amd64], wanted [linux/arm64]`]));
                    return true;
                },
            );
            assert.match(await docker(["buildx", "inspect", "--", name], { config }), /Platforms:\s+linux\/amd64\*/);
        } finally {
            if (await existsOn(config, name)) await rmOn(config, name);
        }
    });

    it("removes the builder its own create made when the second node cannot be appended", async () => {
        const name = builderName("append");
        // The current context is unix:///var/run/docker.sock: buildx refuses it again.
        await assert.rejects(
            createBuilder(
                spec(name, {
                    nodes: [
                        { name: "one", platforms: ["linux/amd64"], driverOptions: {} },
                        { name: "two", endpoint: "unix:///var/run/docker.sock", platforms: ["linux/arm64"], driverOptions: {} },
                    ],
                }),
            ),
            /duplicate endpoint/,
        );
        assert.strictEqual(await inspectBuilder(name), undefined);
    });

    it("keeps a driver option value out of the error when buildx repeats it", async () => {
        const name = builderName("secret");
        await assert.rejects(
            createBuilder(spec(name, { nodes: [{ name: `${name}0`, platforms: [], driverOptions: { memory: "user:s3cret-pass" } }] })),
            (error: Error & { argv: string[]; stderr: string }) => {
                assert.match(error.message, /--driver-opt memory=\*\*\*/);
                assert.match(error.message, /invalid size: '\*\*\*'/);
                assert.doesNotMatch(`${error.message}${error.argv.join(" ")}${error.stderr}`, /s3cret/);
                return true;
            },
        );
        assert.strictEqual(await inspectBuilder(name), undefined);
    });

    it("the real CLI takes every positional after `--`: create, append, inspect, rm, imagetools create", async () => {
        const name = builderName("dashdash");
        // createArgv/appendArgv put `--` before the endpoint; inspect and rm always have it.
        const builder = await createBuilder(
            spec(name, {
                nodes: [
                    { name: "one", endpoint: "unix:///var/run/docker.sock", platforms: ["linux/amd64"], driverOptions: {} },
                    { name: "two", endpoint: SECOND_ENDPOINT, platforms: ["linux/arm64"], driverOptions: {} },
                ],
            }),
        );
        assert.deepStrictEqual(
            builder.nodes.map((n) => n.endpoint),
            ["unix:///var/run/docker.sock", SECOND_ENDPOINT],
        );
        await removeBuilder(name);
        assert.strictEqual(await inspectBuilder(name), undefined);
        // `--dry-run` prints the index it would push, so nothing is written to the registry.
        const argv = imagetoolsCreateArgv(`${REGISTRY}/multiarch/busybox:dashdash`, [`${REGISTRY}/multiarch/busybox:latest`]);
        argv.splice(argv.indexOf("--"), 0, "--dry-run");
        const { stdout } = await runDocker(argv, { timeoutMs: 60000 });
        assert.ok(Array.isArray(JSON.parse(stdout).manifests));
    });
});

const PLATFORMS = ["linux/amd64", "linux/arm64"];

/** What `uname -m` prints on each platform (arm64 under QEMU). */
const MACHINES: [string, string][] = [
    ["linux/amd64", "x86_64"],
    ["linux/arm64", "aarch64"],
];

/** One build as `buildctl debug histories --format json` records it, the fields these tests read. */
interface BuildRecord {
    FrontendAttrs: Record<string, string>;
    Exporters?: { Attrs?: Record<string, string> }[];
    Result?: { Results?: Record<string, { digest: string }> };
}

/** The container a docker-container node runs in: buildx names it after the node alone, `buildx_buildkit_<node>`. */
function nodeContainer(node: string): string {
    return `buildx_buildkit_${node}`;
}

/** The ID and state of a container (`<id> running`), or "" when there is none of that name. */
async function containerState(name: string): Promise<string> {
    return (await docker(["ps", "--all", "--no-trunc", "--filter", `name=^/${name}$`, "--format", "{{.ID}} {{.State}}"])).trim();
}

/** The nodes of what `docker buildx inspect` printed: name, endpoint, status and the fixed platforms (marked `*`). */
function inspectedNodes(text: string): { name: string; endpoint?: string; status?: string; fixedPlatforms: string[] }[] {
    const field = (block: string, key: string) => new RegExp(`^${key}:\\s*(.*)$`, "m").exec(block)?.[1].trim();
    // The first `Name:` is the builder's; each one after it starts a node.
    return text
        .split(/^Name:/m)
        .slice(2)
        .map((block) => ({
            name: block.split("\n")[0].trim(),
            endpoint: field(block, "Endpoint"),
            status: field(block, "Status"),
            fixedPlatforms: (field(block, "Platforms") ?? "")
                .split(", ")
                .filter((p) => p.endsWith("*"))
                .map((p) => p.slice(0, -1)),
        }));
}

describe("docker-container builders that run BuildKit (needs scripts/docker-stack.sh and scripts/engine.sh's BuildKit image)", function () {
    // Two-platform builds, the arm64 one under QEMU.
    this.timeout(300000);
    useDockerStack();
    useBuildkitImage(DEFAULT_BUILDKIT_IMAGE);
    const builderName = useBuilderNames("mab");
    const pulled: string[] = [];
    let context: string;

    before(() => {
        context = contextWith({ Dockerfile: `FROM ${BASE}\nRUN uname -m > /arch\n` });
    });

    after(async () => {
        if (pulled.length > 0) {
            await docker(["image", "rm", "--force", ...pulled]).catch(() => undefined);
        }
        if (context) {
            fs.rmSync(context, { recursive: true, force: true });
        }
    });

    /** A node on this engine whose BuildKit shares the host's network, so it reaches the registries on 127.0.0.1. */
    function hostNetworkNode(name: string, platforms: string[] = [], endpoint?: string): NodeSpec {
        return { name, ...(endpoint ? { endpoint } : {}), platforms, driverOptions: { network: "host" } };
    }

    /**
     * A bootstrapped builder of two nodes on this machine, `<name>-amd64` and `<name>-arm64`,
     * one per platform. The node names hold the builder's, since their containers' names
     * hold only theirs.
     */
    function onePlatformPerNode(name: string): BuilderSpec {
        return spec(name, {
            bootstrap: true,
            nodes: [hostNetworkNode(`${name}-amd64`, ["linux/amd64"]), hostNetworkNode(`${name}-arm64`, ["linux/arm64"], SECOND_ENDPOINT)],
        });
    }

    /** Builds the context for both platforms on `builder` and pushes it as `<repository>:v1`; returns the repository. */
    async function buildAndPush(builder: string): Promise<string> {
        const repository = `${REGISTRY}/${uniqueName("builder")}/app`;
        await docker([
            "buildx",
            "build",
            "--builder",
            builder,
            "--progress",
            "plain",
            "--platform",
            PLATFORMS.join(","),
            "--provenance=false",
            "--push",
            "-t",
            `${repository}:v1`,
            context,
        ]);
        pulled.push(`${repository}:v1`);
        return repository;
    }

    /** What `uname -m` printed while `platform`'s image of `reference` was built. */
    async function builtOn(reference: string, platform: string): Promise<string> {
        return (await docker(["run", "--rm", "--pull", "always", "--platform", platform, reference, "cat", "/arch"])).trim();
    }

    /**
     * The builds of `repository` that one node's BuildKit recorded in its own build history
     * (`buildctl` inside the node's container): the platforms each was asked for and the
     * digest it pushed.
     */
    async function buildsOnNode(node: string, repository: string): Promise<{ platforms: string; pushed: string[] }[]> {
        const out = await docker(["exec", nodeContainer(node), "buildctl", "debug", "histories", "--format", "json"]);
        const records: BuildRecord[] = out
            .split("\n")
            .filter((line) => line.trim() !== "")
            .map((line) => JSON.parse(line).record);
        // An exporter's name is `<repository>:<tag>`, or the bare repository when buildx pushes by digest.
        const exportsTo = (record: BuildRecord) =>
            (record.Exporters ?? []).some((e) => (e.Attrs?.name ?? "").split(",").some((n) => n.replace(/:[^:/]*$/, "") === repository));
        return records.filter(exportsTo).map((record) => ({
            platforms: record.FrontendAttrs.platform,
            pushed: Object.values(record.Result?.Results ?? {}).map((r) => r.digest),
        }));
    }

    it("bootstraps a one-node builder on the host's network and builds both platforms on it, each running as its own architecture", async () => {
        const name = builderName("one");
        const node = `${name}0`;
        const builder = await createBuilder(spec(name, { bootstrap: true, nodes: [hostNetworkNode(node)] }));
        assert.strictEqual(builder.created, true);
        assert.deepStrictEqual(
            builder.nodes.map((n) => [n.name, n.status, n.driverOptions]),
            [[node, "running", { network: "host" }]],
        );
        for (const platform of PLATFORMS) {
            assert.ok(builder.platforms.includes(platform), `the running node builds ${platform}; it lists ${builder.platforms.join(", ")}`);
        }

        const repository = await buildAndPush(name);
        assert.deepStrictEqual(Object.keys((await inspectRaw(`${repository}:v1`)).platforms).sort(), PLATFORMS);
        // The node's BuildKit made it, in one build of both platforms.
        assert.deepStrictEqual(
            (await buildsOnNode(node, repository)).map((b) => b.platforms),
            [PLATFORMS.join(",")],
        );
        for (const [platform, machine] of MACHINES) {
            assert.strictEqual(await builtOn(`${repository}:v1`, platform), machine, platform);
        }
    });

    it("builds each platform on its own node of a builder with one node per platform", async () => {
        const name = builderName("two");
        const [amd64, arm64] = [`${name}-amd64`, `${name}-arm64`];
        await createBuilder(onePlatformPerNode(name));
        assert.deepStrictEqual(inspectedNodes(await docker(["buildx", "inspect", name])), [
            { name: amd64, endpoint: "unix:///var/run/docker.sock", status: "running", fixedPlatforms: ["linux/amd64"] },
            { name: arm64, endpoint: SECOND_ENDPOINT, status: "running", fixedPlatforms: ["linux/arm64"] },
        ]);

        const repository = await buildAndPush(name);
        const index = (await inspectRaw(`${repository}:v1`)).platforms;
        assert.deepStrictEqual(Object.keys(index).sort(), PLATFORMS);
        // Each node's BuildKit recorded one build, of its own platform, and pushed by digest
        // the manifest the joined index lists for that platform.
        for (const [node, platform] of [
            [amd64, "linux/amd64"],
            [arm64, "linux/arm64"],
        ]) {
            const builds = await buildsOnNode(node, repository);
            assert.deepStrictEqual(
                builds.map((b) => b.platforms),
                [platform],
                node,
            );
            assert.strictEqual(builds[0].pushed.length, 1, node);
            assert.deepStrictEqual((await inspectRaw(`${repository}@${builds[0].pushed[0]}`)).platforms, { [platform]: index[platform] }, node);
        }
        for (const [platform, machine] of MACHINES) {
            assert.strictEqual(await builtOn(`${repository}:v1`, platform), machine, platform);
        }
    });

    it("removes a running builder with its BuildKit containers and their state volumes", async () => {
        const name = builderName("rm");
        const nodes = [`${name}-amd64`, `${name}-arm64`];
        await createBuilder(onePlatformPerNode(name));
        assert.deepStrictEqual(await dockerObjectsNamed(name), {
            containers: nodes.map(nodeContainer),
            volumes: nodes.map((node) => `${nodeContainer(node)}_state`),
        });

        await removeBuilder(name);
        assert.strictEqual(await inspectBuilder(name), undefined);
        assert.deepStrictEqual(await dockerObjectsNamed(name), { containers: [], volumes: [] });
    });

    it("plans a change on a machine that lacks the builder, creates and starts it in the update, and plans none once it runs", async () => {
        const name = builderName("diff");
        const wanted = spec(name, { bootstrap: true, nodes: [hostNetworkNode(`${name}0`)] });
        const unchanged = { changes: false, replaces: [], deleteBeforeReplace: false, differencesHere: [] };
        assert.deepStrictEqual(await diffOnThisMachine(wanted, wanted), { ...unchanged, changes: true, missingHere: true });

        const builder = await updateBuilder(wanted, wanted, true);
        assert.strictEqual(builder.created, true);
        assert.deepStrictEqual(
            builder.nodes.map((n) => n.status),
            ["running"],
        );
        assert.deepStrictEqual(await diffOnThisMachine(wanted, wanted), { ...unchanged, missingHere: false });

        // Removed behind its back: the next `up` here plans the change again.
        await docker(["buildx", "rm", name]);
        assert.deepStrictEqual(await diffOnThisMachine(wanted, wanted), { ...unchanged, changes: true, missingHere: true });
    });

    it("starts an inactive builder when an update newly asks to bootstrap it", async () => {
        const name = builderName("start");
        const olds = spec(name, { nodes: [hostNetworkNode(`${name}0`)] });
        const news = { ...olds, bootstrap: true };
        assert.deepStrictEqual(
            (await createBuilder(olds)).nodes.map((n) => n.status),
            ["inactive"],
        );
        assert.deepStrictEqual(await diffOnThisMachine(olds, news), {
            changes: true,
            replaces: [],
            deleteBeforeReplace: false,
            missingHere: false,
            differencesHere: [],
        });

        const builder = await updateBuilder(olds, news, true);
        assert.strictEqual(builder.created, true);
        assert.deepStrictEqual(
            builder.nodes.map((n) => n.status),
            ["running"],
        );
    });
    it("plans an update when the running builder here was changed by hand, makes it as declared when this stack created it, and refuses it when adopted", async () => {
        const name = builderName("drift");
        const node = `${name}0`;
        const wanted = spec(name, { bootstrap: true, nodes: [hostNetworkNode(node, ["linux/arm64"])] });
        const byHand = () => createByHand(name, node, ["--platform", "linux/amd64", "--driver-opt", "network=host", "--bootstrap"]);
        const difference = `node ${node} has platforms [linux/amd64], wanted [linux/arm64]`;
        const unchanged = { changes: false, replaces: [], deleteBeforeReplace: false, missingHere: false, differencesHere: [] };
        await byHand();
        assert.deepStrictEqual(await diffOnThisMachine(wanted, wanted), { ...unchanged, changes: true, differencesHere: [difference] });

        // Adopted (or recorded before ownership was): left running as it is.
        for (const created of [false, undefined]) {
            await assert.rejects(updateBuilder(wanted, wanted, created), (error: Error) => {
                assert.strictEqual(error.message, conflictMessage(name, [difference]));
                return true;
            });
        }
        assert.deepStrictEqual(inspectedNodes(await docker(["buildx", "inspect", name])), [
            { name: node, endpoint: "unix:///var/run/docker.sock", status: "running", fixedPlatforms: ["linux/amd64"] },
        ]);

        // This stack's own: removed and made again as declared, running; the next diff plans nothing.
        const builder = await updateBuilder(wanted, wanted, true);
        assert.strictEqual(builder.created, true);
        assert.deepStrictEqual(
            builder.nodes.map((n) => [n.name, n.status, n.fixedPlatforms]),
            [[node, "running", ["linux/arm64"]]],
        );
        assert.deepStrictEqual(await diffOnThisMachine(wanted, wanted), unchanged);
    });

    it("plans nothing for builders it created as declared and started: one node per platform, and one with every daemon setting", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-builder-config-"));
        try {
            const everySetting = { ...withEveryDaemonSetting(builderName("settings"), dir), bootstrap: true };
            for (const wanted of [onePlatformPerNode(builderName("same")), everySetting]) {
                await createBuilder(wanted);
                assert.deepStrictEqual(await diffOnThisMachine(wanted, wanted), {
                    changes: false,
                    replaces: [],
                    deleteBeforeReplace: false,
                    missingHere: false,
                    differencesHere: [],
                });
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses a node named as another builder's node, before creating any node, and leaves that builder's running container alone", async () => {
        const owner = builderName("owner");
        const name = builderName("sharer");
        const node = `${owner}-n`;
        await createByHand(owner, node, ["--bootstrap"]);
        const running = await containerState(nodeContainer(node));
        assert.match(running, / running$/);

        const wanted = spec(name, {
            bootstrap: true,
            nodes: [hostNetworkNode(`${name}-amd64`, ["linux/amd64"]), hostNetworkNode(node, ["linux/arm64"], SECOND_ENDPOINT)],
        });
        await assert.rejects(createBuilder(wanted), (error: Error) => {
            assert.strictEqual(
                error.message,
                `cannot create the buildx builder "${name}": its nodes would share BuildKit containers with other builders on this machine:\n` +
                    `  - nodes[1] is named "${node}", and so is a node of the builder "${owner}": give nodes[1] a \`name\` no other builder uses, or leave its \`name\` out to get "${name}1"\n` +
                    "buildx names a docker-container node's BuildKit container after the node alone (`buildx_buildkit_<node>`), so two builders with a node of one name " +
                    "would run on one container, and removing either would delete it and its build cache.",
            );
            assert.strictEqual(error.message, sharedNodesMessage(wanted, [{ index: 1, name: node, builders: [owner] }]));
            return true;
        });
        assert.strictEqual(await inspectBuilder(name), undefined);
        assert.deepStrictEqual(await dockerObjectsNamed(name), { containers: [], volumes: [] });
        assert.strictEqual(await containerState(nodeContainer(node)), running);
        assert.deepStrictEqual(
            (await inspectBuilder(owner))?.nodes.map((n) => n.status),
            ["running"],
        );
    });

    it("removing a builder keeps a node's container that another builder lists, and that builder running with its state", async () => {
        const owner = builderName("kept");
        const partly = builderName("partly");
        const wholly = builderName("wholly");
        const node = `${owner}-n`;
        const own = `${partly}-own`;
        await createByHand(owner, node, ["--bootstrap"]);
        const running = await containerState(nodeContainer(node));
        // Builders buildx lets anyone make by hand: one with that node and one of its own, one with that node alone.
        await createByHand(partly, node);
        await docker(["buildx", "create", "--append", "--name", partly, "--node", own, "--", SECOND_ENDPOINT]);
        await docker(["buildx", "inspect", "--bootstrap", "--", partly]);
        await createByHand(wholly, node);
        assert.match(await containerState(nodeContainer(own)), / running$/);
        const ownerKept = async () => {
            assert.strictEqual(await containerState(nodeContainer(node)), running);
            assert.deepStrictEqual((await dockerObjectsNamed(node)).volumes, [`${nodeContainer(node)}_state`]);
            assert.deepStrictEqual(
                (await inspectBuilder(owner))?.nodes.map((n) => [n.name, n.status]),
                [[node, "running"]],
            );
        };

        await removeBuilder(partly);
        assert.strictEqual(await inspectBuilder(partly), undefined);
        assert.deepStrictEqual(await dockerObjectsNamed(own), { containers: [], volumes: [] });
        await ownerKept();

        await removeBuilder(wholly);
        assert.strictEqual(await inspectBuilder(wholly), undefined);
        await ownerKept();

        // The last builder that lists the node takes its container with it.
        await removeBuilder(owner);
        assert.deepStrictEqual(await dockerObjectsNamed(node), { containers: [], volumes: [] });
    });
});
