// `multiarch preflight`: before any `pulumi up`, prove that a Dockerfile builds for
// every platform and that each image really runs as its architecture. It builds the
// same plan MultiArchImage declares (rendered as a Bake file), one build per platform
// in parallel, pushes to a registry, joins the index, reads the per-platform digests
// back from the registry, and runs each platform's image by digest. It also warns when
// a platform's build spends most of its time in `RUN` steps under QEMU emulation.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { imagetoolsCreateArgv, inspectArgv, positionalProblem } from "../clients/buildx";
import { inspectBuilder } from "../clients/builderLifecycle";
import { isDockerCliError, runDocker, streamDocker } from "../clients/docker";
import { kmsKeyArnProblem } from "../rules/awsNames";
import { repositoryNameProblem } from "../rules/ecr";
import { slug } from "../rules/names";
import { InputProblems, show } from "../rules/errors";
import { PreflightError } from "../rules/preflightError";
import { NetworkMode, SshArgs, normaliseBuildSpec, platformCacheRef } from "../rules/buildPlan";
import { BakeFile, BakeSecret, BakeTarget, mapStrings, toBakeFile, unescapeBake } from "../rules/bake";
import { unameMachine } from "../rules/platform";
import { RegistryAuth, RegistryClient } from "../clients/registryClient";
import { parseImageReference } from "../rules/imageReference";
import { SignResult, SigningKey, VerificationKey, signAndVerify } from "../clients/cosign";
import { BuildStep, parseBuildSteps, explainBuildFailure } from "./buildProgress";
import { canonical, dockerfileStages } from "./dockerfile";
import { emulationNote, emulatedRunSeconds } from "./emulation";

/** The local registry `scripts/docker-stack.sh` starts. */
export const DEFAULT_REGISTRY = "127.0.0.1:5000";

/** The engine's own builder, which every Docker engine has. */
export const DEFAULT_BUILDER = "default";

/** What to check, and where. */
export interface PreflightOptions {
    /** The build context directory; required unless `bakeFile` is given. */
    context?: string;
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
    /** Build secrets by reference (`--secret id=…,env=…` / `id=…,src=…`); values never appear in output. */
    secrets?: BakeSecret[];
    /** SSH agent sockets or keys (`--ssh default`, `--ssh id=path`). */
    ssh?: SshArgs[];
    /** Named build contexts, name → location (`--build-context name=location`). */
    contexts?: Record<string, string>;
    /** The network mode of `RUN` steps (`--network`). */
    network?: NetworkMode;
    /** Extra `/etc/hosts` entries, `host:ip` (`--add-host`). */
    addHosts?: string[];
    /** Always pull base images (`--pull`). */
    pull?: boolean;
    /**
     * A Bake file as `MultiArchImage.bakeFile` writes it: preflight builds exactly its
     * targets, retargeted to `registry`/`repository`/`tag`, instead of a context and options.
     */
    bakeFile?: string;

    /** Credentials for reading `registry` back, sent to that registry only (pushes use the docker CLI's login). */
    registryAuth?: RegistryAuth;
    /** Sign every platform's digest and the index with this key, as MultiArchImage's `signing` does. */
    signingKey?: SigningKey;
    /**
     * Verify every platform's digest and the index with this key (after signing, when both
     * are given): a public key, or a KMS key by its key ARN, never an alias (whoever may
     * `kms:UpdateAlias` could point it at another key).
     */
    verifyKey?: VerificationKey;
    /** Where progress lines go. Defaults to nowhere. */
    log?: (line: string) => void;
}

/** One platform's outcome. */
export interface PlatformResult {
    /** The canonical platform, e.g. `linux/arm64`. */
    platform: string;
    /** The manifest digest the build reported, when it built. */
    digest?: string;
    /** How long its build took. */
    buildSeconds?: number;
    /** The build's steps as its plain progress reported them. */
    steps?: BuildStep[];
    /** What the check printed: `uname -m`, or the first line of `--check`. */
    seen?: string;
    /** Whether it built, pushed, was listed in the index and ran as its platform. */
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
    /** Each platform's outcome, in the order built. */
    platforms: PlatformResult[];
    /** Things the user should know that did not fail the run. */
    notes: string[];
    /** What signing did, with `signingKey`. */
    signing?: SignResult;
}

/** One platform's build of a preflight. */
export interface PlannedBuild {
    /** The canonical platform. */
    platform: string;
    /** Its architecture, the Bake target's name. */
    arch: string;
    /** The Bake target as Bake reads it (unescaped), with absolute paths and the preflight's tag and caches. */
    target: BakeTarget;
}

/** What a preflight builds and where it pushes. */
export interface PreflightPlan {
    /** The repository it pushes to, `<registry>/<repository>`. */
    repositoryUrl: string;
    /** The index tag; each platform is tagged `<tag>-<arch>`. */
    tag: string;
    /** One build per platform, in order. */
    builds: PlannedBuild[];
    /** What the plan left out of a Bake file, and why. */
    notes: string[];
}

// The options that describe a build, which a Bake file replaces.
const BUILD_OPTIONS = ["context", "dockerfile", "platforms", "buildArgs", "target", "secrets", "ssh", "contexts", "network", "addHosts", "pull"] as const;

// The registry the preflight pushes to, as given: its repository URL is `<registry>/<repository>`.
function registryOfPreflight(options: PreflightOptions): string {
    return options.registry ?? DEFAULT_REGISTRY;
}

/** Validates the options and returns the build plan, or throws every problem together. */
export function planPreflight(options: PreflightOptions): PreflightPlan {
    const problems = new InputProblems();
    const tag = options.tag ?? "preflight";
    let builds: PlannedBuild[] = [];
    let folder: string;
    const notes: string[] = [];
    const registry = registryOfPreflight(options);
    // The registry begins every image reference passed to `docker` as a positional argument.
    const registryDash = positionalProblem(registry);
    if (registryDash) {
        problems.invalid("registry", registry, `expected a registry host with an optional port, e.g. "127.0.0.1:5000"; ${registryDash}`);
    } else if (!/^(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/.test(registry)) {
        problems.invalid(
            "registry",
            registry,
            'expected a registry host with an optional port, e.g. "127.0.0.1:5000" or "123456789012.dkr.ecr.us-west-2.amazonaws.com"',
        );
    }
    let repository = options.repository ?? "";
    if (options.bakeFile === undefined) {
        folder = path.basename(path.resolve(options.context ?? "."));
        repository = options.repository ?? `multiarch-preflight/${toComponent(folder)}`;
    } else {
        for (const option of BUILD_OPTIONS) {
            if (options[option] !== undefined) {
                problems.add(
                    option,
                    `\`${option}\` is given with a Bake file (${show(options.bakeFile)}): the file describes the build; leave \`${option}\` out`,
                );
            }
        }
    }
    const repositoryUrl = () => `${registry}/${repository}`;

    if (options.bakeFile === undefined) {
        const spec = normaliseBuildSpec({ ...options, tag }, problems);
        repository = checkRepository(repository, problems);
        if (spec && problems.count === 0) {
            const absolute = {
                ...spec,
                context: path.resolve(spec.context),
                dockerfile: path.resolve(spec.dockerfile),
                contexts: Object.fromEntries(
                    Object.entries(spec.contexts).map(([name, location]) => [name, isLocal(location) ? path.resolve(location) : location]),
                ),
            };
            try {
                const bake = toBakeFile(absolute, { repositoryUrl: repositoryUrl(), buildArgs: options.buildArgs, secrets: options.secrets });
                builds = fromBakeFile(bake, problems, "");
            } catch (error) {
                for (const e of (error as { errors?: { propertyPath: string; reason: string }[] }).errors ?? []) {
                    problems.add(e.propertyPath, e.reason);
                }
            }
        }
    } else {
        const read = readBakeFile(options.bakeFile, problems);
        if (read) {
            repository = options.repository ?? `multiarch-preflight/${toComponent(path.basename(read[0]?.target.context ?? "app"))}`;
            repository = checkRepository(repository, problems);
            builds = read.map((b) => ({ ...b, target: retarget(b, repositoryUrl(), tag, options.cache !== false, notes) }));
        }
    }
    const builderDash = options.builder === undefined ? undefined : positionalProblem(options.builder);
    if (builderDash) {
        problems.invalid("builder", options.builder, `expected the name of a buildx builder (see \`docker buildx ls\`); ${builderDash}`);
    } else if (options.builder !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(options.builder)) {
        problems.invalid("builder", options.builder, "expected the name of a buildx builder (see `docker buildx ls`)");
    }
    const verifyArn = options.verifyKey?.kmsKeyArn;
    const verifyProblem = typeof verifyArn === "string" ? kmsKeyArnProblem(verifyArn, "verification") : undefined;
    if (verifyProblem !== undefined) {
        problems.invalid("verifyKey.kmsKeyArn", verifyArn, verifyProblem);
    }
    if (options.check !== undefined && options.check.trim() === "") {
        problems.invalid("check", options.check, "expected a shell command that exits 0 when the image works, e.g. 'uname -m'");
    }
    (options.secrets ?? []).forEach((secret, i) => {
        if (typeof secret?.src === "string" && !fs.existsSync(secret.src)) {
            problems.invalid(`secrets[${i}].src`, secret.src, `expected a file that holds the secret; nothing is at ${path.resolve(secret.src)}`);
        }
    });
    const plan = { repositoryUrl: repositoryUrl(), tag, builds, notes };
    return problems.valueOrThrow("preflight", options.bakeFile ?? options.context ?? "", plan, (message) => new PreflightError(message));
}

function checkRepository(repository: string, problems: InputProblems): string {
    const problem = repositoryNameProblem(repository);
    if (problem) {
        problems.invalid("repository", repository, problem);
    }
    return repository;
}

/** Whether a named context's location is a local directory (no scheme, no `target:`). */
function isLocal(location: string): boolean {
    return !/^[a-z][a-z0-9+.-]*:\/\//.test(location) && !location.startsWith("target:");
}

/** Reads a Bake file as `MultiArchImage.bakeFile` writes it; undefined (with problems recorded) when it is not one. */
function readBakeFile(file: string, problems: InputProblems): PlannedBuild[] | undefined {
    let parsed: unknown;
    try {
        parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (error) {
        problems.invalid(
            "bakeFile",
            file,
            `expected a readable JSON Bake file (\`pulumi stack output --json | jq -r .bakeFile > plan.json\`): ${(error as Error).message}`,
        );
        return undefined;
    }
    const before = problems.count;
    const builds = fromBakeFile(parsed as BakeFile, problems, file);
    return problems.count > before ? undefined : builds;
}

/** The builds of a Bake file, unescaped as Bake reads it; problems name the file's targets. */
function fromBakeFile(bake: BakeFile, problems: InputProblems, file: string): PlannedBuild[] {
    const where = file === "" ? "bake" : `bakeFile (${file})`;
    if (typeof bake !== "object" || bake === null || typeof bake.target !== "object" || bake.target === null || Object.keys(bake.target).length === 0) {
        problems.add("bakeFile", `\`${where}\` has no targets: expected the JSON MultiArchImage.bakeFile writes, one target per platform`);
        return [];
    }
    const builds: PlannedBuild[] = [];
    const base = file === "" ? process.cwd() : path.dirname(path.resolve(file));
    for (const [arch, raw] of Object.entries(bake.target)) {
        let interpolated: string | undefined;
        const target = mapStrings(raw, (s) => {
            const read = unescapeBake(s);
            if (read === undefined) {
                interpolated ??= s;
                return s;
            }
            return read;
        }) as BakeTarget;
        if (interpolated !== undefined) {
            problems.add(
                `target.${arch}`,
                `\`target.${arch}\` holds ${show(interpolated)}, which Bake would interpolate: expected the file MultiArchImage.bakeFile writes, where every \`\${\` is escaped as \`$\${\``,
            );
            continue;
        }
        const platform = Array.isArray(target.platforms) && target.platforms.length === 1 ? canonical(String(target.platforms[0])) : undefined;
        if (typeof target.context !== "string" || platform === undefined || !Array.isArray(target.tags)) {
            problems.add(
                `target.${arch}`,
                `\`target.${arch}\` is ${show(raw)}: expected a context, one platform and its tag, as MultiArchImage.bakeFile writes them`,
            );
            continue;
        }
        const context = path.resolve(base, target.context);
        const contexts = target.contexts
            ? Object.fromEntries(Object.entries(target.contexts).map(([name, location]) => [name, isLocal(location) ? path.resolve(base, location) : location]))
            : undefined;
        builds.push({
            platform,
            arch,
            target: { ...target, context, dockerfile: path.resolve(context, target.dockerfile ?? "Dockerfile"), ...(contexts ? { contexts } : {}) },
        });
    }
    return builds;
}

/**
 * A Bake file's target pushed to the preflight's repository instead of the stack's:
 * its tag, and its own per-platform registry cache, move there; caches elsewhere (the
 * stack's S3 or GitHub Actions caches, another registry) are left out, so a rehearsal
 * never writes to what the stack uses. Inline and local caches stay.
 */
function retarget(build: PlannedBuild, repositoryUrl: string, tag: string, cache: boolean, notes: string[]): BakeTarget {
    const [oldTag] = build.target.tags;
    const oldRepository = typeof oldTag === "string" ? oldTag.slice(0, oldTag.lastIndexOf(":")) : "";
    const keep = (entry: string): string | undefined => {
        const type = /(?:^|,)type=([a-z0-9]+)/.exec(entry)?.[1];
        const ref = /(?:^|,)ref=([^,]+)/.exec(entry)?.[1];
        if (type === "registry" && ref === platformCacheRef(oldRepository, build.arch)) {
            return cache ? entry.replace(`ref=${ref}`, `ref=${platformCacheRef(repositoryUrl, build.arch)}`) : undefined;
        }
        if (type === "inline" || type === "local") {
            return entry;
        }
        notes.push(`${build.platform}: the rehearsal leaves out the cache ${entry.replace(/,.*/, "")}… of the stack, so it never writes to it`);
        return undefined;
    };
    const cacheFrom = (build.target["cache-from"] ?? []).map(keep).filter((e): e is string => e !== undefined);
    const cacheTo = (build.target["cache-to"] ?? []).map(keep).filter((e): e is string => e !== undefined);
    const target: BakeTarget = { ...build.target, tags: [`${repositoryUrl}:${tag}-${build.arch}`], output: ["type=registry"] };
    delete target["cache-from"];
    delete target["cache-to"];
    return { ...target, ...(cacheFrom.length ? { "cache-from": cacheFrom } : {}), ...(cacheTo.length ? { "cache-to": cacheTo } : {}) };
}

function toComponent(name: string): string {
    const cleaned = slug(name);
    return cleaned.length >= 2 ? cleaned : "app";
}

/** Runs the preflight: build, push, join, read back, run and check every platform. */
export async function preflight(options: PreflightOptions): Promise<PreflightResult> {
    const log = options.log ?? (() => undefined);
    const plan = planPreflight(options);
    const { repositoryUrl, builds } = plan;
    const daemonArch = await requireDaemon();
    const notes: string[] = [...plan.notes];
    const builder = await chooseBuilder(options.builder, notes, log);
    const native = await nativePlatforms(builder, daemonArch);

    const work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-preflight-"));
    try {
        log(`building ${builds.map((b) => b.platform).join(", ")} with builder "${builder}", pushing to ${repositoryUrl}`);
        const results: PlatformResult[] = await Promise.all(builds.map((build) => buildPlatform(builder, build, work, log)));
        for (const [i, result] of results.entries()) {
            const target = builds[i].target;
            const stages = dockerfileStages(fs.readFileSync(target.dockerfile, "utf8"));
            const note =
                result.steps && result.buildSeconds !== undefined
                    ? emulationNote(result.platform, emulatedRunSeconds(result.steps, stages, result.platform, native, target.target), result.buildSeconds)
                    : undefined;
            if (note) {
                notes.push(note);
                log(note);
            }
        }

        let indexRef: string | undefined;
        if (results.every((r) => r.ok)) {
            indexRef = await joinAndVerify(`${repositoryUrl}:${plan.tag}`, repositoryUrl, results, options.registryAuth, log);
        } else {
            notes.push("no index was pushed: a multi-platform tag must never name a partial set of platforms");
        }

        for (const result of results.filter((r) => r.ok)) {
            await checkPlatform(repositoryUrl, result, options.check, log);
        }
        const signed = indexRef === undefined ? {} : await signPreflight(options, repositoryUrl, indexRef, results, log);
        if (signed.indexFailure) {
            notes.push(signed.indexFailure);
        }
        const ok = results.every((r) => r.ok) && signed.indexFailure === undefined;
        return { ok, builder, indexRef, platforms: results, notes, signing: signed.signing };
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

/** Signs and verifies every platform's digest and the index, with `--sign-key` and `--verify-key`. */
async function signPreflight(
    options: PreflightOptions,
    repositoryUrl: string,
    indexRef: string,
    results: PlatformResult[],
    log: (line: string) => void,
): Promise<{ signing?: SignResult; indexFailure?: string }> {
    if (options.signingKey === undefined && options.verifyKey === undefined) {
        return {};
    }
    const auth = options.registryAuth;
    const registries = auth && "username" in auth ? [{ address: registryOfPreflight(options), username: auth.username, password: auth.password }] : [];
    const refs: Record<string, string> = Object.fromEntries(results.map((r) => [r.platform, `${repositoryUrl}@${r.digest}`]));
    refs.index = indexRef;
    const outcome = await signAndVerify({ refs, signingKey: options.signingKey, verifyKey: options.verifyKey, registries, context: "preflight", log });
    for (const result of results) {
        const reason = outcome.failures[result.platform];
        if (reason !== undefined) {
            result.ok = false;
            result.reason = reason;
        }
    }
    return { signing: outcome.signing, indexFailure: outcome.failures.index };
}

/**
 * The `docker buildx build` call of one Bake target, flag for flag. A build per
 * target rather than `docker buildx bake`: Bake reads `network` only from buildx 0.17
 * and `extra-hosts` from 0.25, and silently drops them before.
 */
export function buildArgv(builder: string, target: BakeTarget, metadataFile: string): string[] {
    const argv = ["buildx", "build", "--builder", builder, "--progress", "plain", "--metadata-file", metadataFile];
    const many = (flag: string, values: string[] | undefined) => (values ?? []).forEach((v) => argv.push(flag, v));
    argv.push("--file", target.dockerfile, "--platform", target.platforms.join(","));
    many("--tag", target.tags);
    many("--output", target.output);
    many("--attest", target.attest);
    many("--cache-from", target["cache-from"]);
    many("--cache-to", target["cache-to"]);
    many(
        "--build-arg",
        Object.entries(target.args ?? {}).map(([k, v]) => `${k}=${v}`),
    );
    many(
        "--label",
        Object.entries(target.labels ?? {}).map(([k, v]) => `${k}=${v}`),
    );
    many("--annotation", target.annotations);
    many("--secret", target.secret);
    many("--ssh", target.ssh);
    many(
        "--build-context",
        Object.entries(target.contexts ?? {}).map(([k, v]) => `${k}=${v}`),
    );
    many(
        "--add-host",
        Object.entries(target["extra-hosts"] ?? {}).flatMap(([host, ips]) => ips.split(",").map((ip) => `${host}:${ip}`)),
    );
    if (target.target) {
        argv.push("--target", target.target);
    }
    if (target.network) {
        argv.push("--network", target.network);
    }
    if (target.pull) {
        argv.push("--pull");
    }
    if (target["no-cache"]) {
        argv.push("--no-cache");
    }
    argv.push(target.context);
    return argv;
}

/** Checks that the daemon answers; returns its architecture (`amd64`), where the default builder runs. */
async function requireDaemon(): Promise<string> {
    try {
        const { stdout } = await runDocker(["version", "--format", "{{.Server.Arch}}"], { timeoutMs: 20000 });
        return stdout.trim() || (process.arch === "x64" ? "amd64" : process.arch);
    } catch (error) {
        throw new PreflightError(
            `${(error as Error).message}\nOn a fresh Debian machine, \`sudo bash scripts/docker-stack.sh\` installs and starts the engine.`,
        );
    }
}

/**
 * The platforms the builder runs without emulation: the daemon's own for the default
 * builder; for another builder also each node's first platform, which buildx lists as
 * the node's native one (a `BuildxBuilder` with an arm64 node and an amd64 node).
 */
async function nativePlatforms(builder: string, daemonArch: string): Promise<string[]> {
    const native = new Set([`linux/${daemonArch}`]);
    if (builder !== DEFAULT_BUILDER) {
        const inspected = await inspectBuilder(builder).catch(() => undefined);
        for (const node of inspected?.nodes ?? []) {
            const first = node.fixedPlatforms[0] ?? node.platforms[0];
            const platform = first === undefined ? undefined : canonical(first);
            if (platform) {
                native.add(platform);
            }
        }
    }
    return [...native];
}

async function chooseBuilder(wanted: string | undefined, notes: string[], log: (line: string) => void): Promise<string> {
    if (wanted === undefined || wanted === DEFAULT_BUILDER) {
        return DEFAULT_BUILDER;
    }
    const inspected = await inspectBuilder(wanted);
    if (!inspected) {
        throw new PreflightError(
            `builder ${show(wanted)} does not exist (see \`docker buildx ls\`); create it with \`docker buildx create --name ${wanted} --driver docker-container\`, or leave out --builder to use the engine's default builder`,
        );
    }
    if (inspected.driver !== "docker-container" || inspected.nodes.every((n) => n.status === "running")) {
        return wanted;
    }
    log(`bootstrapping builder "${wanted}" (${inspected.driver})`);
    try {
        await runDocker(inspectArgv(wanted, true), { timeoutMs: 180000 });
        return wanted;
    } catch (error) {
        const reason = isDockerCliError(error) ? error.message.split("\n")[0] : String(error);
        const note = `builder "${wanted}" (docker-container) could not start, so the engine's default builder built instead: ${reason}`;
        notes.push(note);
        log(note);
        return DEFAULT_BUILDER;
    }
}

async function buildPlatform(builder: string, build: PlannedBuild, work: string, log: (line: string) => void): Promise<PlatformResult> {
    const { arch, platform } = build;
    const metadataFile = path.join(work, `metadata-${arch}.json`);
    const argv = buildArgv(builder, build.target, metadataFile);
    const started = process.hrtime.bigint();
    const { code, lines } = await streamDocker(argv, (line) => {
        if (/failed to configure registry cache importer: .*not found/.test(line)) {
            log(`[${arch}] no registry cache yet: building every step`);
        } else if (/^#\d+ (\[|ERROR|DONE \d)/.test(line) || /^ERROR/.test(line)) {
            log(`[${arch}] ${line}`);
        }
    });
    const buildSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const steps = parseBuildSteps(lines);
    if (code !== 0) {
        return { platform, buildSeconds, steps, ok: false, reason: `build failed: ${explainBuildFailure(lines)}` };
    }
    const metadata = JSON.parse(fs.readFileSync(metadataFile, "utf8"));
    const digest: string | undefined = metadata["containerimage.digest"];
    if (!digest) {
        return { platform, buildSeconds, steps, ok: false, reason: `the build reported no image digest (metadata: ${JSON.stringify(metadata)})` };
    }
    log(`[${arch}] pushed ${digest} in ${buildSeconds.toFixed(1)}s`);
    return { platform, digest, buildSeconds, steps, ok: true };
}

async function joinAndVerify(
    tag: string,
    repositoryUrl: string,
    results: PlatformResult[],
    auth: RegistryAuth | undefined,
    log: (line: string) => void,
): Promise<string> {
    await runDocker(
        imagetoolsCreateArgv(
            tag,
            results.map((r) => `${repositoryUrl}@${r.digest}`),
        ),
        { timeoutMs: 120000 },
    );
    // The credentials are for the registry preflight pushes to, and only for it.
    const registry = parseImageReference(tag).registry;
    const index = await new RegistryClient({ auth: auth && { ...auth, registry } }).resolveImage(tag);
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
    const argv =
        check === undefined
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
        result.reason =
            check === undefined
                ? `running \`uname -m\` in the image failed (${message}); if the image has no uname, pass --check with a command it can run`
                : `the check \`${check}\` failed: ${message}`;
    }
    log(`[${result.platform.split("/")[1]}] ran: ${result.seen ?? "-"} ${result.ok ? "ok" : "FAILED"}`);
}
