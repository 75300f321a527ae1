// The real Pulumi engine for the real-engine suite: the CLI, the Node.js language host,
// the docker-build plugin and the BuildKit image that `scripts/engine.sh` builds from Go
// modules, on a local file backend. Each program runs in a project of its own that
// installs the packed tarball (`npm pack`), as a user's project installs the package: the
// closure serialiser captures a module inside node_modules differently from one in a
// checkout, so only an installed package shows what users get.
//
// A suite calls `useEngine()` in its `describe`: under CI=true a missing engine fails the
// suite; elsewhere the suite skips with one line that names the script.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineEvent, LocalWorkspace, OpType, Stack } from "@pulumi/pulumi/automation";
import { ROOT } from "../paths";
import * as assert from "assert";
import { AUTH_PASSWORD, AUTH_USER, docker, missingStackParts, registryGet, REGISTRY, TLS_REGISTRY } from "../integration/stack";

const SCRIPT = "scripts/engine.sh";

/**
 * The environment of a shell that evaluated `scripts/engine.sh --check`'s export lines
 * (bash evaluates them, so they mean what they mean for a user), or why there is none.
 */
export function engineEnvironment(): Promise<{ env: Record<string, string> } | { missing: string }> {
    return new Promise((resolve) => {
        const script = 'exports=$(bash "$0" --check) || exit 3; eval "$exports"; env -0';
        execFile("bash", ["-c", script, path.join(ROOT, SCRIPT)], { cwd: ROOT, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
            if (error) {
                const lines = String(stderr)
                    .trim()
                    .split("\n")
                    .filter((l) => l.startsWith("engine.sh"));
                resolve({ missing: lines.join("; ") || error.message });
                return;
            }
            const env = Object.fromEntries(
                String(stdout)
                    .split("\0")
                    .filter((entry) => entry.includes("="))
                    .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
            );
            resolve({ env });
        });
    });
}

let found: Promise<{ env: Record<string, string> } | { missing: string }> | undefined;
let engineEnv: Record<string, string> | undefined;

/** Requires the engine and the Docker stack for the enclosing `describe`. */
export function useEngine(): void {
    before(async function () {
        this.timeout(180_000);
        found ??= engineEnvironment();
        const [engine, stack] = await Promise.all([found, missingStackParts()]);
        const missing = [...("missing" in engine ? [engine.missing] : []), ...stack];
        if (missing.length === 0 && "env" in engine) {
            engineEnv = engine.env;
            // The Automation API runs `pulumi version` with this process's own PATH.
            process.env.PATH = engine.env.PATH;
            return;
        }
        const message = `needs the real engine and the Docker stack; missing: ${missing.join(", ")}. Run \`sudo scripts/docker-stack.sh\` and \`bash ${SCRIPT}\``;
        if (process.env.CI === "true") {
            throw new Error(message);
        }
        console.log(`    skipped: ${message}`);
        this.skip();
    });
}

let packed: Promise<string> | undefined;

/** The package as `npm pack` makes it (its prepack builds), once per test run. */
function packedTarball(): Promise<string> {
    packed ??= new Promise((resolve, reject) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-engine-pack-"));
        execFile("npm", ["pack", "--json", "--pack-destination", dir], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
            if (error) {
                reject(new Error(`npm pack failed: ${stderr}`));
                return;
            }
            resolve(path.join(dir, (JSON.parse(stdout) as { filename: string }[])[0].filename));
        });
    });
    return packed;
}

/** The version of a dependency installed in this checkout, so projects use the same one. */
function installedVersion(name: string): string {
    return (JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
}

/** What one engine operation did to each resource, by `type::name`. */
export interface Plan {
    /** The step each resource took (`create`, `same`, `update`, `replace`, `delete`, …). */
    ops: Record<string, OpType>;
    /** The properties each changed resource differs in. */
    diffs: Record<string, string[]>;
    /** The resources whose step was not `same`, sorted. */
    changed: string[];
    /** The engine's diagnostics (warnings and errors), each `type::name: message`. */
    diagnostics: string[];
}

/** Collects a Plan from the engine's events. */
function planRecorder(): { plan: Plan; onEvent: (event: EngineEvent) => void } {
    const plan: Plan = { ops: {}, diffs: {}, changed: [], diagnostics: [] };
    const key = (urn: string) => urn.split("::").slice(-2).join("::").replace(/^.*\$/, "");
    const onEvent = (event: EngineEvent) => {
        const step = event.resourcePreEvent?.metadata;
        if (step && step.type !== "pulumi:pulumi:Stack" && !step.type.startsWith("pulumi:providers:")) {
            const name = `${step.type}::${step.urn.split("::").pop()}`;
            plan.ops[name] = step.op;
            plan.diffs[name] = step.diffs ?? [];
            if (step.op !== "same" && !plan.changed.includes(name)) {
                plan.changed = [...plan.changed, name].sort();
            }
        }
        const diagnostic = event.diagnosticEvent;
        if (diagnostic && (diagnostic.severity === "warning" || diagnostic.severity === "error")) {
            plan.diagnostics.push(`${diagnostic.urn ? key(diagnostic.urn) : "stack"}: ${diagnostic.message.trim()}`);
        }
    };
    return { plan, onEvent };
}

/** A project directory that installs the packed package, and its stacks on a file backend. */
export class EngineProject {
    private constructor(
        /** The project's directory. */
        readonly dir: string,
        /** Where its stacks' state lives (`file://`). */
        readonly backend: string,
    ) {}

    /**
     * Writes `files` (path → text) into a new project named `name`, with a package.json
     * that depends on the packed package, and installs it.
     */
    static async create(name: string, files: Record<string, string>): Promise<EngineProject> {
        const tarball = await packedTarball();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), `multiarch-engine-${name}-`));
        const backend = fs.mkdtempSync(path.join(os.tmpdir(), `multiarch-engine-${name}-state-`));
        const project = new EngineProject(dir, backend);
        project.write({
            "Pulumi.yaml": `name: ${name}\nruntime: nodejs\n`,
            "package.json": JSON.stringify(
                {
                    name,
                    private: true,
                    main: "index.ts",
                    dependencies: {
                        multiarch: `file:${tarball}`,
                        "@pulumi/pulumi": installedVersion("@pulumi/pulumi"),
                        "@pulumi/docker-build": installedVersion("@pulumi/docker-build"),
                        typescript: installedVersion("typescript"),
                        "@types/node": installedVersion("@types/node"),
                    },
                },
                null,
                2,
            ),
            ...files,
        });
        await project.run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], 600_000);
        return project;
    }

    /** Writes files (path → text, or null to delete) into the project. */
    write(files: Record<string, string | null>): void {
        for (const [file, text] of Object.entries(files)) {
            const target = path.join(this.dir, file);
            if (text === null) {
                fs.rmSync(target, { force: true });
            } else {
                fs.mkdirSync(path.dirname(target), { recursive: true });
                fs.writeFileSync(target, text);
            }
        }
    }

    /** The engine's environment for this project's stacks, with `extra` over it. */
    env(extra: Record<string, string> = {}): Record<string, string> {
        if (!engineEnv) {
            throw new Error("useEngine() has not found the engine");
        }
        return {
            ...engineEnv,
            PULUMI_BACKEND_URL: `file://${this.backend}`,
            PULUMI_CONFIG_PASSPHRASE: "",
            // The programs' Node processes trust the system's CAs, the TLS registry's included.
            NODE_OPTIONS: [engineEnv.NODE_OPTIONS, "--use-openssl-ca"].filter(Boolean).join(" "),
            ...extra,
        };
    }

    /** Creates or selects stack `name` of this project (the program in `dir`), with `config`. */
    async stack(
        name: string,
        config: Record<string, { value: string; secret?: boolean }> = {},
        extraEnv: Record<string, string> = {},
        dir = this.dir,
    ): Promise<Stack> {
        const env = this.env(extraEnv);
        const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: dir }, { envVars: env });
        await stack.setAllConfig(config);
        return stack;
    }

    /** Runs a command in the project with the engine's environment; its stdout. */
    run(command: string, args: string[], timeoutMs = 300_000, extraEnv: Record<string, string> = {}): Promise<string> {
        return new Promise((resolve, reject) => {
            execFile(
                command,
                args,
                { cwd: this.dir, env: { ...process.env, ...(engineEnv ? this.env(extraEnv) : extraEnv) }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
                (error, stdout, stderr) => (error ? reject(new Error(`${command} ${args.join(" ")} failed: ${stderr}\n${stdout}`)) : resolve(String(stdout))),
            );
        });
    }

    /** Removes the project and its state. */
    remove(): void {
        if (process.env.MULTIARCH_KEEP_ENGINE_PROJECTS === "true") {
            console.log(`    kept ${this.dir} (state ${this.backend})`);
            return;
        }
        fs.rmSync(this.dir, { recursive: true, force: true });
        fs.rmSync(this.backend, { recursive: true, force: true });
    }
}

/** `pulumi preview` of `stack`, as the engine planned it. */
export async function preview(stack: Stack, options: { expectNoChanges?: boolean } = {}): Promise<Plan> {
    const { plan, onEvent } = planRecorder();
    await stack.preview({ onEvent, diff: false, expectNoChanges: options.expectNoChanges });
    return plan;
}

/** What an update did, as its summary counts it: `{ same: 7 }`, `{ create: 1, same: 6 }`. */
export type ResourceChanges = Record<string, number>;

/** `pulumi up` of `stack`: what the engine did, its summary and the stack's outputs. */
export async function up(stack: Stack): Promise<Plan & { summary: ResourceChanges; outputs: Record<string, unknown> }> {
    const { plan, onEvent } = planRecorder();
    const result = await stack.up({ onEvent });
    return {
        ...plan,
        summary: (result.summary.resourceChanges ?? {}) as ResourceChanges,
        outputs: Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, v.value])),
    };
}

/** `pulumi refresh` of `stack`: its summary (`{ same: N }` when the state matched). */
export async function refresh(stack: Stack): Promise<Plan & { summary: ResourceChanges }> {
    const { plan, onEvent } = planRecorder();
    const result = await stack.refresh({ onEvent });
    return { ...plan, summary: (result.summary.resourceChanges ?? {}) as ResourceChanges };
}

/** `pulumi destroy` of `stack`. */
export async function destroy(stack: Stack): Promise<Plan> {
    const { plan, onEvent } = planRecorder();
    await stack.destroy({ onEvent });
    return plan;
}

/**
 * The tags one of the stack's registries holds for `repository` (none when it has never
 * been pushed), read with the stack's credentials.
 */
export async function registryTags(repository: string): Promise<string[]> {
    const registry = [TLS_REGISTRY, REGISTRY].find((r) => repository.startsWith(`${r}/`));
    assert.ok(registry, `${repository} is in none of the stack's registries`);
    const response = await registryGet(registry, `/v2/${repository.slice(registry.length + 1)}/tags/list`, true);
    if (response.status === 404) {
        return [];
    }
    assert.strictEqual(response.status, 200, `GET tags/list of ${repository}: HTTP ${response.status}`);
    return ((JSON.parse(response.body) as { tags?: string[] | null }).tags ?? []).sort();
}

/** A cosign key pair made by `cosign generate-key-pair` in `dir`: the private key's text and the public key's path. */
export async function cosignKeyPair(project: EngineProject, dir: string, password: string): Promise<{ privateKey: string; publicKeyFile: string }> {
    await project.run("cosign", ["generate-key-pair", "--output-key-prefix", path.join(dir, "cosign")], 60_000, { COSIGN_PASSWORD: password });
    return { privateKey: fs.readFileSync(path.join(dir, "cosign.key"), "utf8"), publicKeyFile: path.join(dir, "cosign.pub") };
}

/** The stack configuration of a program that logs in to the TLS registry with the stack's credentials. */
export const TLS_REGISTRY_LOGIN = {
    registryUser: { value: AUTH_USER },
    registryPassword: { value: AUTH_PASSWORD, secret: true },
};

/**
 * What a suite leaves: the builder its stack made or named (from the stack's
 * `builderName` output, or `builder` when the suite stopped before one was recorded),
 * the project and its state, and the suite's own temporary directories.
 */
export async function tearDown(
    project: EngineProject | undefined,
    stack: Stack | undefined,
    options: { builder?: string; dirs?: (string | undefined)[] } = {},
): Promise<void> {
    const outputs = await stack?.outputs().catch(() => undefined);
    const builder = (outputs?.builderName?.value as string | undefined) ?? options.builder;
    if (builder) {
        await docker(["buildx", "rm", builder]).catch(() => undefined);
    }
    project?.remove();
    for (const dir of options.dirs ?? []) {
        if (dir) {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
}
