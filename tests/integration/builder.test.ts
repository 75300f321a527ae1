import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BuilderSpec, createBuilder, diffBuilder, inspectBuilder, removeBuilder, runDocker } from "../../sdk/buildx";
import { BuildxBuilder } from "../../sdk/builder";
import { registered, resetMocks, settle } from "../mocks";
import { useDockerStack } from "./stack";

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
        const listed = execFileSync("docker", ["buildx", "ls", "--format", "json"], { encoding: "utf8" })
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
        execFileSync(
            "docker",
            [
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
            ],
            { stdio: "pipe" },
        );
        const builder = await createBuilder(spec(name, { nodes: [{ name: `${name}0`, platforms: ["linux/arm64"], driverOptions: { network: "host" } }] }));
        assert.strictEqual(builder.name, name);
        assert.deepStrictEqual(builder.nodes[0].fixedPlatforms, ["linux/arm64"]);
    });

    it("refuses a conflicting builder that already exists, saying how to resolve it", async () => {
        const name = uniqueName("conflict");
        execFileSync("docker", ["buildx", "create", "--name", name, "--driver", "docker-container", "--node", `${name}0`, "--platform", "linux/amd64"], {
            stdio: "pipe",
        });
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
        execFileSync("docker", ["buildx", "rm", name], { stdio: "pipe" });
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
                NODE_PATH: path.join(__dirname, "..", "..", "node_modules"),
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
        assert.deepStrictEqual(gone, {});
        assert.strictEqual(await inspectBuilder(name), undefined);
    });
});
