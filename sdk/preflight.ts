// `multiarch preflight`: before any `pulumi up`, prove that a Dockerfile builds for
// every platform and that each image really runs as its architecture. It builds the
// same plan MultiArchImage declares (rendered as a Bake file), one build per platform
// in parallel, pushes to a registry, joins the index, reads the per-platform digests
// back from the registry, and runs each platform's image by digest.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { inspectBuilder, isDockerCliError, runDocker } from "./buildx";
import { repositoryNameProblem } from "./ecr";
import { InputProblems, show } from "./errors";
import { BuildSpec, indexTag, normaliseBuildSpec, platformBuilds, toBakeFile } from "./plan";
import { unameMachine } from "./platform";
import { RegistryAuth, RegistryClient } from "./registry";

/** The local registry `scripts/docker-stack.sh` starts. */
export const DEFAULT_REGISTRY = "127.0.0.1:5000";
/** The engine's own builder, which every Docker engine has. */
export const DEFAULT_BUILDER = "default";

/** What to check, and where. */
export interface PreflightOptions {
    /** The build context directory. */
    context: string;
    /** The Dockerfile. Defaults to `<context>/Dockerfile`. */
    dockerfile?: string;
    /** Platforms to build. Defaults to `["linux/amd64", "linux/arm64"]`. */
    platforms?: string[];
    /** The registry to push to, `host[:port]`. Defaults to `127.0.0.1:5000`. */
    registry?: string;
    /** The repository in that registry. Defaults to `multiarch-preflight/<context folder>`. */
    repository?: string;
    /** The index tag; platforms are tagged `<tag>-<arch>`. Defaults to `"preflight"`. */
    tag?: string;
    /** The buildx builder. Defaults to the engine's default builder. */
    builder?: string;
    /** A shell command run in each image instead of comparing `uname -m`; it passes when it exits 0. */
    check?: string;
    /** Whether to read and write the per-platform registry caches. Defaults to `true`. */
    cache?: boolean;
    /** Build arguments. */
    buildArgs?: Record<string, string>;
    /** Dockerfile stage to build. */
    target?: string;
    /** Credentials for reading the registry back (pushes use the docker CLI's login). */
    registryAuth?: RegistryAuth;
    /** Where progress lines go. Defaults to nowhere. */
    log?: (line: string) => void;
}

/** One platform's outcome. */
export interface PlatformResult {
    platform: string;
    /** The manifest digest the build reported, when it built. */
    digest?: string;
    /** How long its build took. */
    buildSeconds?: number;
    /** What the check printed: `uname -m`, or the first line of `--check`. */
    seen?: string;
    ok: boolean;
    /** Why it failed, when it did. */
    reason?: string;
}

/** The outcome of a preflight. */
export interface PreflightResult {
    /** True when every platform built, pushed and ran as itself. */
    ok: boolean;
    /** The builder that built. */
    builder: string;
    /** The index, `<repo>:<tag>@sha256:…`, when every platform built. */
    indexRef?: string;
    platforms: PlatformResult[];
    /** Things the user should know that did not fail the run. */
    notes: string[];
}

/** A preflight that could not start: bad options, no daemon, unknown builder. */
export class PreflightError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PreflightError";
    }
}

/** Validates the options and returns the build plan, or throws every problem together. */
export function planPreflight(options: PreflightOptions): { spec: BuildSpec; repositoryUrl: string } {
    const problems = new InputProblems();
    const spec = normaliseBuildSpec({ ...options, tag: options.tag ?? "preflight" }, problems);
    const registry = options.registry ?? DEFAULT_REGISTRY;
    if (!/^(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/.test(registry)) {
        problems.invalid("registry", registry, 'expected a registry host with an optional port, e.g. "127.0.0.1:5000" or "123456789012.dkr.ecr.us-west-2.amazonaws.com"');
    }
    const repository = options.repository ?? `multiarch-preflight/${toComponent(path.basename(path.resolve(options.context ?? ".")))}`;
    const repositoryProblem = repositoryNameProblem(repository);
    if (repositoryProblem) {
        problems.invalid("repository", repository, repositoryProblem);
    }
    if (options.builder !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(options.builder)) {
        problems.invalid("builder", options.builder, "expected the name of a buildx builder (see `docker buildx ls`)");
    }
    if (options.check !== undefined && options.check.trim() === "") {
        problems.invalid("check", options.check, "expected a shell command that exits 0 when the image works, e.g. 'uname -m'");
    }
    if (problems.count > 0) {
        try {
            problems.throwIfAny("preflight", options.context ?? "");
        } catch (error) {
            throw new PreflightError((error as Error).message);
        }
    }
    return { spec: spec!, repositoryUrl: `${registry}/${repository}` };
}

function toComponent(name: string): string {
    const cleaned = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
    return cleaned.length >= 2 ? cleaned : "app";
}

/** Runs the preflight: build, push, join, read back, run and check every platform. */
export async function preflight(options: PreflightOptions): Promise<PreflightResult> {
    const log = options.log ?? (() => undefined);
    const { spec, repositoryUrl } = planPreflight(options);
    await requireDaemon();
    const notes: string[] = [];
    const builder = await chooseBuilder(options.builder, notes, log);

    const work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-preflight-"));
    try {
        const bakeFile = path.join(work, "docker-bake.json");
        const bake = toBakeFile({ ...spec, context: path.resolve(spec.context), dockerfile: path.resolve(spec.dockerfile) }, {
            repositoryUrl,
            buildArgs: options.buildArgs,
        });
        fs.writeFileSync(bakeFile, JSON.stringify(bake, null, 2));
        log(`building ${spec.platforms.join(", ")} with builder "${builder}", pushing to ${repositoryUrl}`);

        const builds = platformBuilds(spec, repositoryUrl);
        const results: PlatformResult[] = await Promise.all(
            builds.map((build) => buildPlatform(builder, bakeFile, work, build.arch, build.platform, log)),
        );

        let indexRef: string | undefined;
        if (results.every((r) => r.ok)) {
            indexRef = await joinAndVerify(spec, repositoryUrl, results, options.registryAuth, log);
        } else {
            notes.push("no index was pushed: a multi-platform tag must never name a partial set of platforms");
        }

        for (const result of results.filter((r) => r.ok)) {
            await checkPlatform(repositoryUrl, result, options.check, log);
        }
        return { ok: results.every((r) => r.ok), builder, indexRef, platforms: results, notes };
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

async function requireDaemon(): Promise<void> {
    try {
        await runDocker(["version", "--format", "{{.Server.Version}}"], { timeoutMs: 20000 });
    } catch (error) {
        throw new PreflightError(`${(error as Error).message}\nOn a fresh Debian machine, \`sudo bash scripts/docker-stack.sh\` installs and starts the engine.`);
    }
}

async function chooseBuilder(wanted: string | undefined, notes: string[], log: (line: string) => void): Promise<string> {
    if (wanted === undefined || wanted === DEFAULT_BUILDER) {
        return DEFAULT_BUILDER;
    }
    const inspected = await inspectBuilder(wanted);
    if (!inspected) {
        throw new PreflightError(`builder ${show(wanted)} does not exist (see \`docker buildx ls\`); create it with \`docker buildx create --name ${wanted} --driver docker-container\`, or leave out --builder to use the engine's default builder`);
    }
    if (inspected.driver !== "docker-container" || inspected.nodes.every((n) => n.status === "running")) {
        return wanted;
    }
    log(`bootstrapping builder "${wanted}" (${inspected.driver})`);
    try {
        await runDocker(["buildx", "inspect", "--bootstrap", wanted], { timeoutMs: 180000 });
        return wanted;
    } catch (error) {
        const reason = isDockerCliError(error) ? error.message.split("\n")[0] : String(error);
        const note = `builder "${wanted}" (docker-container) could not start, so the engine's default builder built instead: ${reason}`;
        notes.push(note);
        log(note);
        return DEFAULT_BUILDER;
    }
}

async function buildPlatform(
    builder: string,
    bakeFile: string,
    work: string,
    arch: string,
    platform: string,
    log: (line: string) => void,
): Promise<PlatformResult> {
    const metadataFile = path.join(work, `metadata-${arch}.json`);
    const argv = ["buildx", "bake", "--builder", builder, "-f", bakeFile, "--metadata-file", metadataFile, "--progress", "plain", arch];
    const started = process.hrtime.bigint();
    const { code, lines } = await streamDocker(argv, (line) => {
        if (/failed to configure registry cache importer: .*not found/.test(line)) {
            log(`[${arch}] no registry cache yet: building every step`);
        } else if (/^#\d+ (\[|ERROR|DONE \d)/.test(line) || /^ERROR/.test(line)) {
            log(`[${arch}] ${line}`);
        }
    });
    const buildSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) {
        return { platform, buildSeconds, ok: false, reason: `build failed: ${explainBuildFailure(lines)}` };
    }
    const metadata = JSON.parse(fs.readFileSync(metadataFile, "utf8"));
    const digest: string | undefined = metadata[arch]?.["containerimage.digest"];
    if (!digest) {
        return { platform, buildSeconds, ok: false, reason: `the build reported no image digest (metadata: ${JSON.stringify(metadata[arch] ?? {})})` };
    }
    log(`[${arch}] pushed ${digest} in ${buildSeconds.toFixed(1)}s`);
    return { platform, digest, buildSeconds, ok: true };
}

async function joinAndVerify(
    spec: BuildSpec,
    repositoryUrl: string,
    results: PlatformResult[],
    auth: RegistryAuth | undefined,
    log: (line: string) => void,
): Promise<string> {
    const tag = indexTag(spec, repositoryUrl);
    await runDocker(["buildx", "imagetools", "create", "--tag", tag, ...results.map((r) => `${repositoryUrl}@${r.digest}`)], { timeoutMs: 120000 });
    const index = await new RegistryClient({ auth }).resolveImage(tag);
    log(`joined ${tag} (${index.digest})`);
    for (const result of results) {
        const listed = index.platforms[result.platform];
        if (listed !== result.digest) {
            result.ok = false;
            result.reason = `the registry's index lists ${listed ?? "nothing"} for ${result.platform}, but the build pushed ${result.digest}`;
        }
    }
    const extra = Object.keys(index.platforms).filter((p) => !results.some((r) => r.platform === p));
    if (extra.length > 0) {
        throw new PreflightError(`the index ${tag} lists platforms that were not built: ${extra.join(", ")}`);
    }
    return `${tag}@${index.digest}`;
}

async function checkPlatform(repositoryUrl: string, result: PlatformResult, check: string | undefined, log: (line: string) => void): Promise<void> {
    const ref = `${repositoryUrl}@${result.digest}`;
    const argv = check === undefined
        ? ["run", "--rm", "--pull", "always", "--platform", result.platform, "--entrypoint", "uname", ref, "-m"]
        : ["run", "--rm", "--pull", "always", "--platform", result.platform, "--entrypoint", "sh", ref, "-c", check];
    try {
        const { stdout } = await runDocker(argv, { timeoutMs: 300000 });
        result.seen = stdout.trim().split("\n")[0] ?? "";
        if (check === undefined) {
            const expected = unameMachine(result.platform);
            if (result.seen !== expected) {
                result.ok = false;
                result.reason = `the ${result.platform} image ran as ${show(result.seen)}, expected ${show(expected)}: it was not built for its platform`;
            }
        }
    } catch (error) {
        result.ok = false;
        const message = isDockerCliError(error) ? error.stderr.trim().split("\n").slice(-1)[0] : String(error);
        result.reason = check === undefined
            ? `running \`uname -m\` in the image failed (${message}); if the image has no uname, pass --check with a command it can run`
            : `the check \`${check}\` failed: ${message}`;
    }
    log(`[${result.platform.split("/")[1]}] ran: ${result.seen ?? "-"} ${result.ok ? "ok" : "FAILED"}`);
}

/**
 * Names the step that failed in BuildKit's plain progress, with the last lines it
 * printed: `step [3/3] RUN make: make: *** no rule (ERROR: … exit code: 2)`.
 */
export function explainBuildFailure(lines: string[]): string {
    const failed = lines.map((l) => /^#(\d+) ERROR: (.*)$/.exec(l)).find((m) => m !== null);
    if (!failed) {
        const errors = lines.filter((l) => /ERROR|error:|failed/i.test(l)).slice(-3);
        return (errors.length > 0 ? errors : lines.slice(-3)).join(" | ");
    }
    const step = failed[1];
    const name = lines.map((l) => new RegExp(`^#${step} (\\[.*)$`).exec(l)).find((m) => m !== null)?.[1];
    const output = lines
        .map((l) => new RegExp(`^#${step} \\d+\\.\\d+ (.*)$`).exec(l)?.[1])
        .filter((l): l is string => l !== undefined)
        .slice(-3);
    const said = output.length > 0 ? `${output.join(" | ")} ` : "";
    return `step ${name ?? `#${step}`}: ${said}(${failed[2]})`;
}

function streamDocker(argv: string[], onLine: (line: string) => void): Promise<{ code: number; lines: string[] }> {
    return new Promise((resolve, reject) => {
        const child = spawn("docker", argv, { stdio: ["ignore", "pipe", "pipe"] });
        const lines: string[] = [];
        let pending = "";
        const take = (chunk: Buffer) => {
            pending += chunk.toString("utf8");
            const parts = pending.split("\n");
            pending = parts.pop() ?? "";
            for (const line of parts) {
                lines.push(line);
                if (lines.length > 2000) {
                    lines.shift();
                }
                onLine(line);
            }
        };
        child.stdout.on("data", take);
        child.stderr.on("data", take);
        child.on("error", (error) => reject(new PreflightError(`cannot run docker: ${error.message}`)));
        child.on("close", (code) => {
            if (pending) {
                lines.push(pending);
                onLine(pending);
            }
            resolve({ code: code ?? 1, lines });
        });
    });
}

/** The result as the table preflight ends with. */
export function formatTable(result: PreflightResult): string {
    const rows = [
        ["platform", "digest", "build", "arch seen", "verdict"],
        ...result.platforms.map((r) => [
            r.platform,
            r.digest ?? "-",
            r.buildSeconds === undefined ? "-" : `${r.buildSeconds.toFixed(1)}s`,
            r.seen ?? "-",
            r.ok ? "ok" : "FAIL",
        ]),
    ];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    const lines = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
    lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
    for (const r of result.platforms.filter((p) => !p.ok)) {
        lines.push(`${r.platform}: ${r.reason}`);
    }
    return lines.join("\n");
}
