// The npm package as a consumer gets it: `npm pack` (whose prepack builds), the
// tarball's file list, then an install of the tarball into a fresh project and a
// type-check of a program that uses the components. No Docker; the install reads the
// npm cache first (`--prefer-offline`), so after `npm ci` it needs no network.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../../paths";

const npm = process.platform === "win32" ? "npm.cmd" : "npm";

/** The version of a dependency installed in this repository, so the consumer builds with the same one. */
function installedVersion(name: string): string {
    return (JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
}

function run(command: string, args: string[], cwd: string): string {
    try {
        return execFileSync(command, args, {
            cwd,
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            env: { ...process.env, npm_config_update_notifier: "false" },
        });
    } catch (error) {
        const e = error as { stdout?: string; stderr?: string; message: string };
        throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${e.stdout ?? ""}${e.stderr ?? ""}\n${e.message}`);
    }
}

const CONSUMER_PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { BuildxBuilder, MultiArchImage, MultiArchImageArgs, VmDeployment } from "multiarch";

const builder = new BuildxBuilder("native", {
    nodes: [
        { name: "amd64", endpoint: "ssh://ci@x86-host", platforms: ["linux/amd64"] },
        { name: "arm64", endpoint: "ssh://ci@graviton-host", platforms: ["linux/arm64"] },
    ],
});
const args: MultiArchImageArgs = { context: "./app", tag: "v1", builderName: builder.name };
const image = new MultiArchImage("api", args);
const vm = new VmDeployment("api", { image, instanceType: "t3.small" });

export const digests: pulumi.Output<Record<string, string>> = image.platformDigests;
export const amd64: pulumi.Output<string> = image.refFor("linux/amd64");
export const imageRef: pulumi.Output<string> = vm.imageRef;
`;

describe("npm package (packs the tarball, installs it into a new project, type-checks a consumer; no Docker)", function () {
    this.timeout(300_000);

    let workdir: string;
    let files: string[];

    before(() => {
        workdir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-package-"));
        const packed = JSON.parse(run(npm, ["pack", "--json", "--pack-destination", workdir], ROOT)) as { filename: string; files: { path: string }[] }[];
        files = packed[0].files.map((f) => f.path).sort();
        fs.renameSync(path.join(workdir, packed[0].filename), path.join(workdir, "multiarch.tgz"));
    });

    after(() => {
        if (workdir) {
            fs.rmSync(workdir, { recursive: true, force: true });
        }
    });

    it("holds the compiled sdk (JS, declarations, source maps), package.json, README and LICENSE, nothing else", () => {
        const unexpected = files.filter(
            (f) =>
                !["package.json", "README.md", "LICENSE"].includes(f) &&
                !/^bin\/sdk\/(?:(?:cli|clients|components|rules)\/)?[A-Za-z0-9]+\.(js|d\.ts|js\.map)$/.test(f),
        );
        assert.deepStrictEqual(unexpected, []);
        for (const required of ["package.json", "README.md", "LICENSE", "bin/sdk/index.js", "bin/sdk/index.d.ts", "bin/sdk/index.js.map", "bin/sdk/cli.js"]) {
            assert.ok(files.includes(required), `${required} is missing from the tarball`);
        }
        // Every module ships whole: its code, its types and its map.
        const modules = new Set(files.filter((f) => f.startsWith("bin/sdk/")).map((f) => f.replace(/\.(js|d\.ts|js\.map)$/, "")));
        for (const module of modules) {
            for (const ext of [".js", ".d.ts", ".js.map"]) {
                assert.ok(files.includes(module + ext), `${module}${ext} is missing from the tarball`);
            }
        }
        assert.ok(!files.some((f) => /^(tests|examples|bench|scripts|docs|sdk)\//.test(f) || /fixtures/.test(f)), files.join("\n"));
    });

    // publint (https://publint.dev/rules) reads the tarball as a registry would serve it and
    // checks that `main`, `types` and `bin` point at files it holds, and that the package's
    // format is declared, so Node.js and TypeScript resolve the entry points as written.
    it("passes publint on the packed tarball: its entry points and types resolve, with no error, warning or suggestion", () => {
        const report = run(
            process.execPath,
            [path.join(ROOT, "node_modules", "publint", "src", "cli.js"), "run", path.join(workdir, "multiarch.tgz"), "--strict", "--pack", "false"],
            ROOT,
        );
        assert.match(report, /All good!/, report);
        assert.doesNotMatch(report, /Errors:|Warnings:|Suggestions:/, report);
    });

    it("installs from the tarball and type-checks a program that uses MultiArchImage, BuildxBuilder and VmDeployment", () => {
        const consumer = path.join(workdir, "consumer");
        fs.mkdirSync(consumer);
        fs.writeFileSync(path.join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, main: "index.ts" }, null, 2));
        fs.writeFileSync(
            path.join(consumer, "tsconfig.json"),
            JSON.stringify(
                {
                    compilerOptions: { target: "ES2022", module: "commonjs", moduleResolution: "node", strict: true, noEmit: true, types: ["node"] },
                    files: ["index.ts"],
                },
                null,
                2,
            ),
        );
        fs.writeFileSync(path.join(consumer, "index.ts"), CONSUMER_PROGRAM);
        run(
            npm,
            [
                "install",
                "--prefer-offline",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "../multiarch.tgz",
                `@pulumi/pulumi@${installedVersion("@pulumi/pulumi")}`,
                `typescript@${installedVersion("typescript")}`,
                `@types/node@${installedVersion("@types/node")}`,
            ],
            consumer,
        );
        const installed = JSON.parse(fs.readFileSync(path.join(consumer, "node_modules", "multiarch", "package.json"), "utf8")) as { version: string };
        assert.strictEqual(installed.version, (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version);
        assert.ok(!fs.existsSync(path.join(consumer, "node_modules", "multiarch", "sdk")), "the TypeScript sources were installed");

        run(process.execPath, [path.join(consumer, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], consumer);
    });

    it("fails the type-check when the consumer passes a wrong argument (the check is real)", () => {
        const consumer = path.join(workdir, "consumer");
        fs.writeFileSync(
            path.join(consumer, "index.ts"),
            `import { MultiArchImage } from "multiarch";\nnew MultiArchImage("api", { context: "./app", platforms: "linux/amd64" });\n`,
        );
        assert.throws(
            () => run(process.execPath, [path.join(consumer, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], consumer),
            /TS2322/,
        );
    });
});
