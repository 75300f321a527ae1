// Real builds for the benchmark and the registry-cache test: the component's plan
// rendered as a Bake file and built one process per platform (as `multiarch preflight`
// does), a single multi-platform build with one cache ref for comparison, and a
// "fresh runner" reset. Every build's plain progress is parsed into steps, so a result
// says which steps ran and which came from a cache.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputProblems } from "../sdk/rules/errors";
import { BuildSpec, normaliseBuildSpec } from "../sdk/rules/buildPlan";
import { toBakeFile } from "../sdk/rules/bake";
import { CACHE_TO_OPTIONS } from "../sdk/rules/buildPlan";
import { runDocker } from "../sdk/clients/docker";
import { streamDocker } from "../sdk/clients/docker";
import { BuildStep, parseBuildSteps } from "../sdk/cli/buildProgress";

/** The platforms every benchmark build covers. */
export const PLATFORMS = ["linux/amd64", "linux/arm64"];

/** One build process's outcome. */
export interface BuildRun {
    /** Wall-clock seconds of the process. */
    seconds: number;
    /** Its steps, from the plain progress. */
    steps: BuildStep[];
    /** Every progress line, for failures. */
    lines: string[];
}

/**
 * The Dockerfile steps of a build: BuildKit's own `[internal]` steps left out, and so is
 * `FROM`, which resolves (and when needed fetches) the base image rather than running,
 * and shows `DONE` even when every step after it came from a cache.
 */
export function dockerfileSteps(steps: BuildStep[]): BuildStep[] {
    return steps.filter((s) => s.instruction !== undefined && s.instruction !== "FROM");
}

/** The Dockerfile steps that ran instead of coming from a cache, by name. */
export function executedSteps(steps: BuildStep[]): string[] {
    return dockerfileSteps(steps)
        .filter((s) => !s.cached)
        .map((s) => s.name);
}

/** Runs the docker CLI (no shell) and returns its stdout; fails saying why. */
export async function docker(args: string[], timeoutMs = 600_000): Promise<string> {
    return (await runDocker(args, { timeoutMs })).stdout;
}

/** Runs one build with `--progress plain` and parses its steps; throws when it fails. */
export async function runBuild(args: string[]): Promise<BuildRun> {
    const started = process.hrtime.bigint();
    const { code, lines } = await streamDocker([...args, "--progress", "plain"]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) {
        throw new Error(`docker ${args.join(" ")} exited ${code}:\n${lines.slice(-15).join("\n")}`);
    }
    return { seconds, steps: parseBuildSteps(lines), lines };
}

/** The component's plan for a context: default settings (per-platform caches on). */
export function componentSpec(context: string, tag = "bench"): BuildSpec {
    const problems = new InputProblems();
    const spec = normaliseBuildSpec({ context, platforms: PLATFORMS, tag }, problems);
    problems.throwIfAny("bench", context);
    return spec!;
}

/** The per-platform builds of one run, started together, and the wall time of all. */
export interface PerPlatformRun {
    /** Wall-clock seconds from the first start to the last finish. */
    wallSeconds: number;
    /** Each platform's build, by architecture. */
    platforms: Record<string, BuildRun>;
}

/**
 * Builds and pushes the component's plan for `context` (its Bake file: one target per
 * platform, cache `<repo>:cache-<arch>`), one `docker buildx bake` per platform, all
 * started at once as `multiarch preflight` and docker-build's per-platform images do.
 */
export async function bakePerPlatform(context: string, repositoryUrl: string, buildArgs?: Record<string, string>): Promise<PerPlatformRun> {
    const spec = componentSpec(context);
    const bake = toBakeFile(spec, { repositoryUrl, buildArgs });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-bench-bake-"));
    const file = path.join(dir, "docker-bake.json");
    fs.writeFileSync(file, JSON.stringify(bake, null, 2));
    try {
        const started = process.hrtime.bigint();
        const arches = Object.keys(bake.target);
        const runs = await Promise.all(arches.map((arch) => runBuild(["buildx", "bake", "--builder", "default", "-f", file, arch])));
        const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
        return { wallSeconds, platforms: Object.fromEntries(arches.map((arch, i) => [arch, runs[i]])) };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The single cache ref a one-build multi-platform setup uses. */
export function singleCacheRef(repositoryUrl: string): string {
    return `${repositoryUrl}:cache`;
}

/**
 * The comparison: one multi-platform build of both platforms with a single registry
 * cache ref (the same export options as the component's), pushed as `<repo>:single`.
 */
export function buildSingleRef(context: string, repositoryUrl: string, buildArgs: Record<string, string> = {}): Promise<BuildRun> {
    const ref = singleCacheRef(repositoryUrl);
    const options = `mode=${CACHE_TO_OPTIONS.mode},image-manifest=${CACHE_TO_OPTIONS.imageManifest},oci-mediatypes=${CACHE_TO_OPTIONS.ociMediaTypes}`;
    return runBuild([
        "buildx",
        "build",
        "--builder",
        "default",
        "--platform",
        PLATFORMS.join(","),
        "--provenance=false",
        "--cache-from",
        `type=registry,ref=${ref}`,
        "--cache-to",
        `type=registry,ref=${ref},${options}`,
        ...Object.entries(buildArgs).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
        "--tag",
        `${repositoryUrl}:single`,
        "--push",
        context,
    ]);
}

/**
 * Which of one platform's steps a fresh runner would re-execute from the single ref:
 * that platform built alone with `--cache-from` the single ref and nothing pushed.
 * A multi-platform build's progress does not name the platform of every step, so this
 * is how the single ref's content is attributed per platform.
 */
export function probeSingleRef(context: string, repositoryUrl: string, platform: string, buildArgs: Record<string, string> = {}): Promise<BuildRun> {
    return runBuild([
        "buildx",
        "build",
        "--builder",
        "default",
        "--platform",
        platform,
        "--provenance=false",
        "--cache-from",
        `type=registry,ref=${singleCacheRef(repositoryUrl)}`,
        ...Object.entries(buildArgs).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
        "--output",
        "type=cacheonly",
        context,
    ]);
}

/**
 * Makes this engine a fresh runner for `repositoryUrl`: the builder's whole local cache
 * goes (`docker buildx prune -af`), and so do the images the pushes left in the
 * containerd image store (the `docker` driver stores pushed images locally too), so
 * only the registry can supply layers. On a shared engine this also clears other
 * builds' caches: they get slower, not wrong.
 */
export async function freshRunner(repositoryUrl: string): Promise<void> {
    await forgetImages(repositoryUrl);
    await docker(["buildx", "prune", "--builder", "default", "--all", "--force"]);
}

/** Removes the images of `repositoryUrl` that builds left in the local image store. */
export async function forgetImages(repositoryUrl: string): Promise<void> {
    const images = (await docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repositoryUrl]))
        .split("\n")
        .filter((l) => l && !l.endsWith(":<none>"));
    if (images.length > 0) {
        await docker(["image", "rm", "--force", ...images]);
    }
}
