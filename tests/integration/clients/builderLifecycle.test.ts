import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BuilderSpec, imagetoolsCreateArgv } from "../../../sdk/clients/buildx";
import { createBuilder, diffBuilder, inspectBuilder, removeBuilder } from "../../../sdk/clients/builderLifecycle";
import { runDocker } from "../../../sdk/clients/docker";
import { BuildxBuilder } from "../../../sdk/components/buildxBuilder";
import { HOST_NODE_PATH, writeHostScript } from "../../dynamicHost";
import { registered, resetMocks, settle } from "../../mocks";
import { REGISTRY, docker, useDockerStack } from "../stack";

// /var/run is a link to /run here: one engine, two endpoint spellings, so a second
// node can be appended without a second machine (buildx refuses duplicate endpoints).
const SECOND_ENDPOINT = "unix:///run/docker.sock";

describe("BuildxBuilder provider (needs scripts/docker-stack.sh)", function () {
    this.timeout(120000);
    useDockerStack();

    const created: string[] = [];
    let dir: string;
    let seq = 0;

    function uniqueName(label: string): string {
        const name = `mat-${label}-${process.pid}-${Date.now().toString(36)}-${seq++}`;
        created.push(name);
        return name;
    }

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

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-builder-"));
    });

    after(async () => {
        for (const name of created) {
            await removeBuilder(name);
        }
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("creates a docker-container builder with driver options, platforms, buildkitd flags and config", async () => {
        const config = path.join(dir, "buildkitd.toml");
        fs.writeFileSync(config, "[worker.oci]\n  max-parallelism = 4\n");
        const name = uniqueName("opts");
        const builder = await createBuilder(
            spec(name, {
                nodes: [
                    {
                        name: `${name}0`,
                        platforms: ["linux/amd64", "linux/arm64"],
                        driverOptions: { network: "host", "env.BUILDKIT_STEP_LOG_MAX_SIZE": "10485760" },
                    },
                ],
                buildkitdFlags: "--debug --allow-insecure-entitlement network.host",
                buildkitdConfig: config,
            }),
        );
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
        const name = uniqueName("two");
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
        const name = uniqueName("adopt");
        await docker([
            "buildx",
            "create",
            "--name",
            name,
            "--driver",
            "docker-container",
            "--node",
            `${name}0`,
            "--platform",
            "linux/arm64",
            "--driver-opt",
            "network=host",
        ]);
        const builder = await createBuilder(spec(name, { nodes: [{ name: `${name}0`, platforms: ["linux/arm64"], driverOptions: { network: "host" } }] }));
        assert.strictEqual(builder.name, name);
        assert.deepStrictEqual(builder.nodes[0].fixedPlatforms, ["linux/arm64"]);
    });

    it("refuses a conflicting builder that already exists, saying how to resolve it", async () => {
        const name = uniqueName("conflict");
        await docker(["buildx", "create", "--name", name, "--driver", "docker-container", "--node", `${name}0`, "--platform", "linux/amd64"]);
        await assert.rejects(createBuilder(spec(name, { nodes: [{ name: `${name}0`, platforms: ["linux/arm64"], driverOptions: {} }] })), (error: Error) => {
            assert.match(error.message, new RegExp(`a buildx builder named "${name}" already exists`));
            assert.match(error.message, /has platforms \[linux\/amd64\], wanted \[linux\/arm64\]/);
            assert.match(error.message, new RegExp(`\`docker buildx rm ${name}\``));
            return true;
        });
        assert.ok(await inspectBuilder(name), "the conflicting builder must be left alone");
    });

    it("reads a builder removed behind its back as gone, and deleting it again is fine", async () => {
        const name = uniqueName("gone");
        await createBuilder(spec(name));
        assert.ok(await inspectBuilder(name));
        await docker(["buildx", "rm", name]);
        assert.strictEqual(await inspectBuilder(name), undefined);
        await removeBuilder(name);
    });

    it("deletes a builder", async () => {
        const name = uniqueName("delete");
        await createBuilder(spec(name));
        await removeBuilder(name);
        assert.strictEqual(await inspectBuilder(name), undefined);
        await assert.rejects(runDocker(["buildx", "inspect", name]), /no builder/);
    });

    it("tells the user why bootstrap fails when moby/buildkit cannot be pulled, and leaves nothing behind", async () => {
        const name = uniqueName("offline");
        await assert.rejects(createBuilder(spec(name, { bootstrap: true })), (error: Error) => {
            assert.match(error.message, /docker-container builder starts a BuildKit container from the image moby\/buildkit:buildx-stable-1/);
            assert.match(error.message, /could not pull it/);
            assert.match(error.message, /--driver-opt image=<mirror>\/moby\/buildkit:buildx-stable-1/);
            assert.match(error.message, /bootstrap: false/);
            return true;
        });
        assert.strictEqual(await inspectBuilder(name), undefined);
    });

    it("names the mirror image when a multi-node bootstrap cannot pull it", async () => {
        const name = uniqueName("mirror");
        const image = "127.0.0.1:5000/moby/buildkit:buildx-stable-1";
        await assert.rejects(
            createBuilder(
                spec(name, {
                    bootstrap: true,
                    nodes: [
                        { name: "amd", platforms: ["linux/amd64"], driverOptions: { image } },
                        { name: "arm", endpoint: SECOND_ENDPOINT, platforms: ["linux/arm64"], driverOptions: { image } },
                    ],
                }),
            ),
            new RegExp(`from the image ${image.replace(/[./]/g, "\\$&")}.*does not exist there`, "s"),
        );
        assert.strictEqual(await inspectBuilder(name), undefined);
    });

    it("diffs recorded inputs against the created builder's", async () => {
        const name = uniqueName("diff");
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
        const name = uniqueName("host");
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
        const name = uniqueName("machines");
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
        const name = uniqueName("adopted");
        const provider = await registeredProvider(name);
        const config = machine("adopter");
        try {
            await docker(["buildx", "create", "--name", name, "--driver", "docker-container", "--node", `${name}0`], { config });
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

    it("removes the builder its own create made when the second node cannot be appended", async () => {
        const name = uniqueName("append");
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
        const name = uniqueName("secret");
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
        const name = uniqueName("dashdash");
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
