// The docker buildx CLI as the BuildxBuilder's dynamic provider drives it: argv
// builders, parsers of what buildx prints, a runner that turns CLI failures into
// messages that say what to do, and the create/read/diff/delete lifecycle.
//
// This module is serialised by value into the dynamic provider's closure, so it must
// stay self-contained: Node builtins only (required by name), no Pulumi imports.
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";

/** One node of a builder as the provider creates it (defaults already applied). */
export interface NodeSpec {
    /** The node's name (`--node`). */
    name: string;
    /** The docker context or endpoint the node runs on; the current context when undefined. */
    endpoint?: string;
    /** Platforms fixed for the node (`--platform`), canonical `os/arch`. */
    platforms: string[];
    /** Driver options of the node (`--driver-opt k=v`). */
    driverOptions: Record<string, string>;
}

/** A builder as the provider creates it (defaults already applied). */
export interface BuilderSpec {
    /** The builder's name (`--name`). */
    name: string;
    /** The buildx driver (`--driver`). */
    driver: string;
    /** The nodes: the first creates the builder, the rest are appended. */
    nodes: NodeSpec[];
    /** Flags for every node's buildkitd (`--buildkitd-flags`). */
    buildkitdFlags?: string;
    /** Path of a buildkitd.toml for every node (`--buildkitd-config`). */
    buildkitdConfig?: string;
    /** Start the builder's nodes once created (`--bootstrap`). */
    bootstrap: boolean;
    /** Make it the current builder (`--use`). */
    use: boolean;
}

/** One node of a builder as buildx reports it. */
export interface InspectedNode {
    /** The node's name. */
    name: string;
    /** The docker context or endpoint the node runs on. */
    endpoint: string;
    /** Every platform the node builds: fixed ones, plus detected ones once running. */
    platforms: string[];
    /** The platforms fixed with `--platform`. */
    fixedPlatforms: string[];
    /** The node's driver options. */
    driverOptions: Record<string, string>;
    /** The node's buildkitd flags, split as buildx splits them. */
    buildkitdFlags: string[];
    /** `running`, `inactive`, `stopped`, `error`, … */
    status: string;
    /** Why buildx could not reach the node (its daemon is down, say), when it could not. */
    error?: string;
}

/** A builder as buildx reports it. */
export interface InspectedBuilder {
    /** The builder's name. */
    name: string;
    /** The buildx driver. */
    driver: string;
    /** The builder's nodes, in order. */
    nodes: InspectedNode[];
    /** Every platform of every node, without duplicates. */
    platforms: string[];
}

/** What buildx accepts as a builder or node name (buildx `store.ValidateName`). */
export const BUILDX_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9._-]*$/;

/** The image the docker-container driver runs unless `driverOptions.image` says otherwise. */
export const DEFAULT_BUILDKIT_IMAGE = "moby/buildkit:buildx-stable-1";

/** How long a CLI call may take; bootstrap pulls an image and so gets longer. */
export const TIMEOUTS = { command: 60_000, bootstrap: 300_000 };

/** Why a builder or node name is not acceptable to buildx, or undefined when it is. */
export function nameProblem(name: string): string | undefined {
    if (typeof name !== "string" || !BUILDX_NAME_PATTERN.test(name)) {
        return 'expected a letter followed by letters, digits, `.`, `-` or `_` (buildx\'s rule), e.g. "multi-arch-builder"';
    }
    if (name !== name.toLowerCase()) {
        return `expected lower case: buildx stores builder names in lower case, so use ${JSON.stringify(name.toLowerCase())}`;
    }
    if (name === "default") {
        return '"default" is reserved by buildx for the docker context\'s own builder; choose another name';
    }
    return undefined;
}

/** The longest readable part of a default builder name, before its hash. */
const DEFAULT_NAME_READABLE_MAX = 40;

/**
 * A builder name buildx accepts, made from the Pulumi project, resource name and stack:
 * `<project>-<resource>-<stack>` in lower case (runs of other characters turned into one
 * `-`, starting with a letter, at most 40 characters), then `-` and the first 8 hex
 * digits of the SHA-256 of the three exact names. The hash keeps two projects apart even
 * where the readable part is the same (project names may contain `-`, so `a-b` + `c` and
 * `a` + `b-c` read alike), and keeps the name at most 49 characters, so node names
 * (`<name>0`) stay within Kubernetes' 63-character limit for the kubernetes driver.
 */
export function defaultBuilderName(resourceName: string, stack: string, project: string): string {
    const readable = `${project}-${resourceName}-${stack}`
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, "-")
        .replace(/-{2,}/g, "-")
        .replace(/^[^a-z]+/, "")
        .slice(0, DEFAULT_NAME_READABLE_MAX)
        .replace(/[-._]+$/, "");
    const hash = crypto
        .createHash("sha256")
        .update(JSON.stringify([project, resourceName, stack]))
        .digest("hex")
        .slice(0, 8);
    return `${readable || "builder"}-${hash}`;
}

/**
 * Why a value the docker CLI takes as a positional argument (an endpoint, a builder
 * name, an image reference) is not acceptable, or undefined when it is: one that starts
 * with `-` would be read as a flag.
 */
export function positionalProblem(value: string): string | undefined {
    if (typeof value !== "string" || value.trim() === "") {
        return "expected a non-empty value";
    }
    if (value.startsWith("-")) {
        return "expected a value that does not start with `-`: the docker CLI would read it as a flag";
    }
    return undefined;
}

/** Problems with driver option keys: buildx splits each `k=v` at the first `=`. */
export function driverOptionProblems(options: Record<string, string>): string[] {
    return Object.keys(options)
        .filter((key) => key === "" || /[=,"\s]/.test(key))
        .map((key) => `key ${JSON.stringify(key)} is not usable: expected a non-empty key without \`=\`, \`,\`, quotes or spaces, e.g. "image" or "network"`);
}

/** The `--driver-opt` arguments of a node, sorted by key, CSV-quoted as buildx parses them. */
function driverOptArgs(options: Record<string, string>): string[] {
    return Object.keys(options)
        .sort()
        .flatMap((key) => {
            const pair = `${key}=${options[key]}`;
            return ["--driver-opt", /[,"\n]/.test(pair) ? `"${pair.replace(/"/g, '""')}"` : pair];
        });
}

/** The flags a node shares with every other node of the builder. */
// `--buildkitd-config` is buildx 0.13's name; `--config` is its hidden older alias.
function daemonArgs(spec: BuilderSpec): string[] {
    return [
        ...(spec.buildkitdFlags ? ["--buildkitd-flags", spec.buildkitdFlags] : []),
        ...(spec.buildkitdConfig ? ["--buildkitd-config", spec.buildkitdConfig] : []),
    ];
}

function nodeArgs(node: NodeSpec): string[] {
    return ["--node", node.name, ...(node.platforms.length > 0 ? ["--platform", node.platforms.join(",")] : []), ...driverOptArgs(node.driverOptions)];
}

/**
 * `docker buildx create` for the builder's first node. `--bootstrap` is added only for
 * a one-node builder: a builder with more nodes is bootstrapped once all are appended.
 */
export function createArgv(spec: BuilderSpec): string[] {
    const first = spec.nodes[0];
    return [
        "buildx",
        "create",
        "--name",
        spec.name,
        "--driver",
        spec.driver,
        ...nodeArgs(first),
        ...daemonArgs(spec),
        ...(spec.bootstrap && spec.nodes.length === 1 ? ["--bootstrap"] : []),
        ...(spec.use ? ["--use"] : []),
        ...(first.endpoint ? ["--", first.endpoint] : []),
    ];
}

/** `docker buildx create --append` adding one more node to the builder. */
export function appendArgv(spec: BuilderSpec, node: NodeSpec): string[] {
    return ["buildx", "create", "--append", "--name", spec.name, ...nodeArgs(node), ...daemonArgs(spec), ...(node.endpoint ? ["--", node.endpoint] : [])];
}

// Every positional argument follows `--`, so no value is ever read as a flag (buildx
// 0.13.1's create, inspect, rm, use and imagetools create all accept it).

/** `docker buildx inspect [--bootstrap] -- NAME`: `--bootstrap` starts the builder's nodes first. */
export function inspectArgv(name: string, bootstrap = false): string[] {
    return ["buildx", "inspect", ...(bootstrap ? ["--bootstrap"] : []), "--", name];
}

/** `docker buildx rm -- NAME`. */
export function rmArgv(name: string): string[] {
    return ["buildx", "rm", "--", name];
}

/** `docker buildx use -- NAME`. */
export function useArgv(name: string): string[] {
    return ["buildx", "use", "--", name];
}

/** `docker buildx imagetools create --tag TAG -- SOURCE...`: joins the sources under one tag. */
export function imagetoolsCreateArgv(tag: string, sources: string[]): string[] {
    return ["buildx", "imagetools", "create", "--tag", tag, "--", ...sources];
}

/** Splits buildkitd flags the way buildx does (shell words, quotes and backslashes). */
export function splitFlags(flags: string): string[] {
    const words: string[] = [];
    let word: string | undefined;
    let quote: string | undefined;
    for (let i = 0; i < flags.length; i++) {
        const c = flags[i];
        if (quote) {
            if (c === quote) {
                quote = undefined;
            } else if (c === "\\" && quote === '"' && i + 1 < flags.length) {
                word = (word ?? "") + flags[++i];
            } else {
                word = (word ?? "") + c;
            }
        } else if (c === '"' || c === "'") {
            quote = c;
            word = word ?? "";
        } else if (c === "\\" && i + 1 < flags.length) {
            word = (word ?? "") + flags[++i];
        } else if (/\s/.test(c)) {
            if (word !== undefined) {
                words.push(word);
            }
            word = undefined;
        } else {
            word = (word ?? "") + c;
        }
    }
    if (word !== undefined) {
        words.push(word);
    }
    return words;
}

/** Parses Go `%q`-quoted `key="value"` pairs, as buildx prints driver options. */
function parseQuotedPairs(text: string): Record<string, string> {
    const pairs: Record<string, string> = {};
    for (const match of text.matchAll(/([^\s=]+)="((?:[^"\\]|\\.)*)"/g)) {
        pairs[match[1]] = JSON.parse(`"${match[2]}"`);
    }
    return pairs;
}

/** Splits a buildx platform list (`linux/amd64*, linux/386`) into platforms and the fixed ones (`*`). */
function parsePlatformList(text: string): { platforms: string[]; fixed: string[] } {
    const entries = text
        .split(",")
        .map((p) => p.trim())
        .filter((p) => p !== "");
    return {
        platforms: entries.map((p) => p.replace(/\*$/, "")),
        fixed: entries.filter((p) => p.endsWith("*")).map((p) => p.replace(/\*$/, "")),
    };
}

/**
 * Parses the text `docker buildx inspect NAME` prints (buildx 0.13). Platforms marked
 * `*` are the node's fixed ones; a node that never ran lists only those.
 */
export function parseInspect(text: string): InspectedBuilder {
    let builderName = "";
    let driver = "";
    const nodes: InspectedNode[] = [];
    let inNodes = false;
    for (const line of text.split(/\r?\n/)) {
        // Indented lines belong to GC policy and label blocks, which the provider ignores.
        const match = /^([A-Za-z][A-Za-z ]*):\s*(.*)$/.exec(line);
        if (!match) {
            continue;
        }
        const [, key, value] = match;
        if (key === "Nodes") {
            inNodes = true;
            continue;
        }
        if (!inNodes) {
            if (key === "Name") builderName = value.trim();
            if (key === "Driver") driver = value.trim();
            continue;
        }
        if (key === "Name") {
            nodes.push({ name: value.trim(), endpoint: "", platforms: [], fixedPlatforms: [], driverOptions: {}, buildkitdFlags: [], status: "" });
            continue;
        }
        const node = nodes[nodes.length - 1];
        if (!node) {
            continue;
        }
        switch (key) {
            case "Endpoint":
                node.endpoint = value.trim();
                break;
            case "Status":
                node.status = value.trim();
                break;
            // buildx prints `Error:` instead of `Status:` for a node it cannot reach.
            case "Error":
                node.status = "error";
                node.error = value.trim();
                break;
            case "Driver Options":
                node.driverOptions = parseQuotedPairs(value);
                break;
            case "Flags":
            case "BuildKit daemon flags":
                node.buildkitdFlags = splitFlags(value);
                break;
            case "Platforms": {
                const { platforms, fixed } = parsePlatformList(value);
                node.platforms = platforms;
                node.fixedPlatforms = fixed;
                break;
            }
        }
    }
    if (builderName === "") {
        throw new Error(`cannot read the output of \`docker buildx inspect\`: no "Name:" line in:\n${text}`);
    }
    return { name: builderName, driver, nodes, platforms: [...new Set(nodes.flatMap((n) => n.platforms))] };
}

/** A failed docker CLI call, with a message that says what to do about it. */
export interface DockerCliError extends Error {
    name: "DockerCliError";
    /** The argv after `docker`, driver option values hidden (`displayArgv`). */
    argv: string[];
    /** What the CLI wrote to stderr, driver option values removed (`scrubOutput`). */
    stderr: string;
}

/**
 * Makes a `DockerCliError`: a plain `Error` with fields, not a subclass, because the
 * dynamic provider runs from Pulumi's serialisation of its closure, and a serialised
 * subclass of `Error` loses its message and its `instanceof Error`.
 */
export function dockerCliError(message: string, argv: string[], stderr: string): DockerCliError {
    return Object.assign(new Error(message), { name: "DockerCliError" as const, argv, stderr });
}

/** True for an error `runDocker` threw. */
export function isDockerCliError(error: unknown): error is DockerCliError {
    return error instanceof Error && error.name === "DockerCliError" && typeof (error as DockerCliError).stderr === "string";
}

/** What went wrong running the docker CLI, as `explainDockerFailure` needs it. */
export interface DockerFailure {
    /** The process's exit code, or the spawn error code (`ENOENT`). */
    code?: number | string;
    /** What the CLI wrote to stderr. */
    stderr: string;
    /** Set when the call was killed for taking longer than this. */
    timedOutMs?: number;
    /** `docker buildx version` output when the CLI rejected a flag or command; null when buildx itself is missing. */
    buildxVersion?: string | null;
}

const INSTALL_BUILDX =
    "install the buildx plugin: Debian/Ubuntu package `docker-buildx` (or `docker-buildx-plugin` from Docker's apt repository), Docker Desktop on macOS/Windows, or the release binary from https://github.com/docker/buildx/releases copied to ~/.docker/cli-plugins/docker-buildx";

// What the daemon says when it cannot reach a registry or find the image.
const PULL_FAILURE =
    /registry-1\.docker\.io|docker\.io|pull access denied|failed to (resolve|do request|fetch)|dial tcp|no such host|i\/o timeout|connection refused|network is unreachable|TLS handshake timeout|temporary failure in name resolution|context deadline exceeded|manifest unknown|not found: manifest/i;

/**
 * Driver options whose values messages may show: an image reference cannot hold
 * credentials, and a failed bootstrap must name the image it could not pull. Every other
 * value (`env.HTTPS_PROXY=http://user:pass@proxy:3128`) may be a secret.
 */
const SHOWN_DRIVER_OPTIONS = ["image"];

/** What a hidden value reads as in a message. */
export const HIDDEN = "***";

/** The key and value of a `--driver-opt` argument, undoing the CSV quoting of `driverOptArgs`. */
function splitDriverOpt(arg: string): { key: string; value: string } {
    const pair = arg.length >= 2 && arg.startsWith('"') && arg.endsWith('"') ? arg.slice(1, -1).replace(/""/g, '"') : arg;
    const eq = pair.indexOf("=");
    return eq < 0 ? { key: pair, value: "" } : { key: pair.slice(0, eq), value: pair.slice(eq + 1) };
}

/** The argv as messages show it: every `--driver-opt` value hidden, except `image`'s. */
export function displayArgv(argv: string[]): string[] {
    return argv.map((arg, i) => {
        if (i === 0 || argv[i - 1] !== "--driver-opt") {
            return arg;
        }
        const { key } = splitDriverOpt(arg);
        return SHOWN_DRIVER_OPTIONS.includes(key) ? arg : `${key}=${HIDDEN}`;
    });
}

/**
 * Removes the hidden `--driver-opt` values of `argv` from what the CLI printed. Values
 * shorter than 8 characters are left: they are words like `host` or `true` that the
 * CLI's own messages contain ("no such host"), and no credential is that short.
 */
export function scrubOutput(text: string, argv: string[]): string {
    const hidden = argv
        .filter((_arg, i) => i > 0 && argv[i - 1] === "--driver-opt")
        .map(splitDriverOpt)
        .filter(({ key, value }) => !SHOWN_DRIVER_OPTIONS.includes(key) && value.length >= 8)
        .map(({ value }) => value)
        .sort((a, b) => b.length - a.length);
    return hidden.reduce((out, value) => out.split(value).join(HIDDEN), text);
}

/** Turns a failed docker CLI call into a message that names the cause and the fix. */
// Driver option values are hidden from the command it shows and from what the CLI said.
export function explainDockerFailure(argv: string[], failure: DockerFailure, buildkitImage = DEFAULT_BUILDKIT_IMAGE): string {
    const command = `\`docker ${displayArgv(argv).join(" ")}\``;
    const stderr = scrubOutput(failure.stderr.trim(), argv);
    if (failure.code === "ENOENT") {
        return `${command} failed: the docker CLI was not found on PATH. Install the docker CLI (Debian/Ubuntu: \`apt-get install docker.io\` or Docker's \`docker-ce-cli\`; macOS/Windows: Docker Desktop) and make sure \`docker\` is on the PATH of the process running Pulumi.`;
    }
    if (failure.timedOutMs !== undefined) {
        return `${command} did not finish within ${failure.timedOutMs / 1000}s and was stopped${stderr ? `; it printed:\n${stderr}` : ""}`;
    }
    if (failure.buildxVersion === null || /'buildx' is not a docker command|unknown command: docker buildx/.test(stderr)) {
        return `${command} failed: the docker CLI has no buildx plugin (\`docker buildx\` is not a command). To create builders, ${INSTALL_BUILDX}.`;
    }
    if (/Cannot connect to the Docker daemon|Is the docker daemon running|error during connect/i.test(stderr)) {
        return `${command} failed: the Docker daemon is not running or not reachable (${stderr.split("\n")[0]}). Start it (Linux: \`sudo systemctl start docker\`, or \`sudo dockerd &\` where there is no init system; macOS/Windows: start Docker Desktop), or point DOCKER_HOST or \`docker context use\` at a running one.`;
    }
    const unknownFlag = /unknown (?:shorthand )?flag:? ['"]?(-{1,2}[\w-]+)/.exec(stderr);
    if (unknownFlag && failure.buildxVersion) {
        return `${command} failed: this buildx (${failure.buildxVersion.trim()}) does not know the flag ${unknownFlag[1]}. BuildxBuilder needs buildx 0.13 or later: ${INSTALL_BUILDX}.`;
    }
    if (argv.includes("--bootstrap") && (/buildkit|booting/i.test(stderr) || stderr.includes(buildkitImage)) && PULL_FAILURE.test(stderr)) {
        return (
            `${command} failed: bootstrapping a docker-container builder starts a BuildKit container from the image ${buildkitImage}, ` +
            `and the Docker daemon could not pull it (the registry is unreachable from this machine, or the image does not exist there). ` +
            `Either make the image available (\`docker pull ${buildkitImage}\` where the registry is reachable, then \`docker save\`/\`docker load\` it here), ` +
            `or mirror it to a registry you can reach and set \`driverOptions: { image: "<mirror>/moby/buildkit:buildx-stable-1" }\` ` +
            `(\`--driver-opt image=<mirror>/moby/buildkit:buildx-stable-1\`), or set \`bootstrap: false\` to create the builder without starting it. ` +
            `The daemon said:\n${stderr}`
        );
    }
    return `${command} failed${typeof failure.code === "number" ? ` (exit code ${failure.code})` : ""}${stderr ? `:\n${stderr}` : ""}`;
}

/** What a docker CLI call printed. */
export interface DockerOutput {
    stdout: string;
    stderr: string;
}

/** Runs `docker` with these arguments: a function so tests can stand in for the CLI. */
export type DockerRunner = (argv: string[], options?: RunOptions) => Promise<DockerOutput>;

/** How to run one docker CLI call. */
export interface RunOptions {
    /** Stop the call after this long; defaults to `TIMEOUTS.command`. */
    timeoutMs?: number;
    /** The BuildKit image a bootstrap pulls, named in the error when the pull fails. */
    buildkitImage?: string;
    /** The call's whole environment; this process's own when undefined. */
    env?: NodeJS.ProcessEnv;
}

function execDocker(argv: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<DockerOutput & { failure?: DockerFailure }> {
    return new Promise((resolve) => {
        execFile("docker", argv, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env }, (error, stdout, stderr) => {
            const out = { stdout: String(stdout), stderr: String(stderr) };
            if (!error) {
                resolve(out);
                return;
            }
            const failure: DockerFailure = {
                code: (error as NodeJS.ErrnoException).code ?? undefined,
                stderr: out.stderr || error.message,
                timedOutMs: error.killed ? timeoutMs : undefined,
            };
            resolve({ ...out, failure });
        });
    });
}

/**
 * Runs the docker CLI without a shell and throws a `DockerCliError` whose message says
 * what went wrong and how to fix it (CLI or buildx missing, daemon down, BuildKit image
 * unreachable, …).
 */
export async function runDocker(argv: string[], options: RunOptions = {}): Promise<DockerOutput> {
    const timeoutMs = options.timeoutMs ?? TIMEOUTS.command;
    const result = await execDocker(argv, timeoutMs, options.env);
    if (!result.failure) {
        return result;
    }
    const failure = result.failure;
    if (/unknown (shorthand )?flag|unknown command/.test(failure.stderr) && argv[0] === "buildx") {
        const probe = await execDocker(["buildx", "version"], TIMEOUTS.command, options.env);
        failure.buildxVersion = probe.failure ? null : probe.stdout;
    }
    throw dockerCliError(explainDockerFailure(argv, failure, options.buildkitImage), displayArgv(argv), scrubOutput(failure.stderr, argv));
}

/** True when the CLI said the builder does not exist. */
export function isNoSuchBuilder(error: unknown): boolean {
    return isDockerCliError(error) && /no builder .* found/i.test(error.stderr);
}

/** The builder as buildx reports it, or undefined when there is no builder of that name. */
export async function inspectBuilder(name: string, run: DockerRunner = runDocker): Promise<InspectedBuilder | undefined> {
    try {
        const { stdout } = await run(inspectArgv(name));
        return parseInspect(stdout);
    } catch (error) {
        if (isNoSuchBuilder(error)) {
            return undefined;
        }
        throw error;
    }
}

function sameList(a: string[], b: string[]): boolean {
    return a.length === b.length && a.every((x, i) => x === b[i]);
}

// Names the keys only: a driver option's value may be a secret.
function driverOptionDifferences(existing: Record<string, string>, wanted: Record<string, string>): string[] {
    return [...new Set([...Object.keys(existing), ...Object.keys(wanted)])].sort().flatMap((key) => {
        if (!(key in wanted)) {
            return [`${key} is set but not wanted`];
        }
        if (!(key in existing)) {
            return [`${key} is not set`];
        }
        return existing[key] === wanted[key] ? [] : [`${key} has another value`];
    });
}

// Flags buildx 0.13 adds to every docker-container node by itself.
const BUILDX_ADDED_FLAGS = ["--allow-insecure-entitlement=network.host"];

/**
 * How an existing builder differs from the wanted one, one line per difference; empty
 * when it can be adopted. The buildkitd config file is not compared: buildx does not
 * report it.
 */
export function builderDifferences(spec: BuilderSpec, existing: InspectedBuilder): string[] {
    const differences: string[] = [];
    if (existing.driver !== spec.driver) {
        differences.push(`driver is "${existing.driver}", wanted "${spec.driver}"`);
    }
    const existingNames = existing.nodes.map((n) => n.name);
    const wantedNames = spec.nodes.map((n) => n.name);
    if (!sameList(existingNames, wantedNames)) {
        differences.push(`nodes are [${existingNames.join(", ")}], wanted [${wantedNames.join(", ")}]`);
        return differences;
    }
    const wantedFlags = spec.buildkitdFlags ? splitFlags(spec.buildkitdFlags) : [];
    spec.nodes.forEach((wanted, i) => {
        const node = existing.nodes[i];
        const flags = node.buildkitdFlags.filter((flag) => wantedFlags.includes(flag) || !BUILDX_ADDED_FLAGS.includes(flag));
        if (wanted.endpoint !== undefined && node.endpoint !== wanted.endpoint) {
            differences.push(`node ${node.name} runs on "${node.endpoint}", wanted "${wanted.endpoint}"`);
        }
        const fixed = [...node.fixedPlatforms].sort();
        if (!sameList(fixed, [...wanted.platforms].sort())) {
            differences.push(`node ${node.name} has platforms [${fixed.join(", ")}], wanted [${[...wanted.platforms].sort().join(", ")}]`);
        }
        const options = driverOptionDifferences(node.driverOptions, wanted.driverOptions);
        if (options.length > 0) {
            differences.push(`node ${node.name} has other driver options: ${options.join(", ")}`);
        }
        if (!sameList(flags, wantedFlags)) {
            differences.push(`node ${node.name} has buildkitd flags "${flags.join(" ")}", wanted "${wantedFlags.join(" ")}"`);
        }
    });
    return differences;
}

/** The error for an existing builder that cannot be adopted. */
export function conflictMessage(name: string, differences: string[]): string {
    return (
        `a buildx builder named "${name}" already exists and differs from this BuildxBuilder:\n` +
        differences.map((d) => `  - ${d}\n`).join("") +
        `Remove it with \`docker buildx rm ${name}\` (Pulumi then creates it as declared), or give this BuildxBuilder another \`name\`.`
    );
}

function imageOf(spec: BuilderSpec): string {
    return spec.nodes.map((n) => n.driverOptions.image).find((image) => image !== undefined) ?? DEFAULT_BUILDKIT_IMAGE;
}

async function bootstrap(spec: BuilderSpec, run: DockerRunner): Promise<void> {
    await run(inspectArgv(spec.name, true), { timeoutMs: TIMEOUTS.bootstrap, buildkitImage: imageOf(spec) });
}

/** A builder the provider made ready, and whether this call created it. */
export interface EnsuredBuilder extends InspectedBuilder {
    /**
     * True when this call ran `docker buildx create`; false when a matching builder
     * already existed and was adopted. Only a created builder is ever removed.
     */
    created: boolean;
}

// What `buildx create` says when the name was taken after `inspect` found none: the
// builder belongs to someone else, so a failed create must not remove it.
const NAME_TAKEN = /did you mean to append|existing instance/i;

/**
 * Creates the builder: the first node with `buildx create`, the others with
 * `--append`, then bootstraps it when asked. An existing builder that matches is
 * adopted (`created: false`); one that differs is an error that says how to resolve it.
 * When a later step fails, the builder is removed again only if this call created it,
 * so a retry starts clean and an adopted builder is left as it was.
 */
export async function createBuilder(spec: BuilderSpec, run: DockerRunner = runDocker): Promise<EnsuredBuilder> {
    const existing = await inspectBuilder(spec.name, run);
    if (existing) {
        const differences = builderDifferences(spec, existing);
        if (differences.length > 0) {
            throw new Error(conflictMessage(spec.name, differences));
        }
        if (spec.use) {
            await run(useArgv(spec.name));
        }
        if (spec.bootstrap) {
            await bootstrap(spec, run);
        }
        return { ...((await inspectBuilder(spec.name, run)) ?? existing), created: false };
    }
    if (spec.buildkitdConfig !== undefined && !fs.existsSync(spec.buildkitdConfig)) {
        throw new Error(
            `\`buildkitdConfig\` is ${JSON.stringify(spec.buildkitdConfig)}: no such file; expected the path of a buildkitd.toml on the machine running Pulumi`,
        );
    }
    const oneStep = spec.bootstrap && spec.nodes.length === 1;
    await run(createArgv(spec), oneStep ? { timeoutMs: TIMEOUTS.bootstrap, buildkitImage: imageOf(spec) } : undefined).catch(async (error) => {
        // A one-step create that fails to bootstrap leaves the builder it made.
        if (!(isDockerCliError(error) && NAME_TAKEN.test(error.stderr))) {
            await removeBuilder(spec.name, run).catch(() => undefined);
        }
        throw error;
    });
    try {
        for (const node of spec.nodes.slice(1)) {
            await run(appendArgv(spec, node));
        }
        if (spec.bootstrap && !oneStep) {
            await bootstrap(spec, run);
        }
        const created = await inspectBuilder(spec.name, run);
        if (!created) {
            throw new Error(`\`docker ${displayArgv(createArgv(spec)).join(" ")}\` succeeded but \`docker buildx inspect ${spec.name}\` finds no builder`);
        }
        return { ...created, created: true };
    } catch (error) {
        await removeBuilder(spec.name, run).catch(() => undefined);
        throw error;
    }
}

/**
 * Applies changes that need no new builder (`use`, and bootstrap when newly asked
 * for). A builder missing on this machine (state came from another machine: a fresh CI
 * runner, a colleague's laptop) is created as `news` declares it; otherwise `created`
 * stays what state recorded.
 */
export async function updateBuilder(
    olds: BuilderSpec,
    news: BuilderSpec,
    created: boolean | undefined,
    run: DockerRunner = runDocker,
): Promise<EnsuredBuilder> {
    if (!(await inspectBuilder(news.name, run))) {
        return createBuilder(news, run);
    }
    if (news.use && !olds.use) {
        await run(useArgv(news.name));
    }
    if (news.bootstrap && !olds.bootstrap) {
        await bootstrap(news, run);
    }
    const builder = await inspectBuilder(news.name, run);
    if (!builder) {
        throw new Error(`the buildx builder "${news.name}" disappeared while it was being updated; run \`pulumi up\` again to create it`);
    }
    return { ...builder, created: created === true };
}

/**
 * Removes the builder when `created` says this stack created it; an adopted builder,
 * and one recorded before ownership was (`created` undefined), is left alone, since it
 * may be another stack's or a person's. A builder that is already gone is fine.
 * Returns whether `docker buildx rm` ran.
 */
export async function releaseBuilder(name: string, created: boolean | undefined, run: DockerRunner = runDocker): Promise<boolean> {
    if (created !== true) {
        return false;
    }
    await removeBuilder(name, run);
    return true;
}

/** Removes the builder; a builder that is already gone is fine. */
export async function removeBuilder(name: string, run: DockerRunner = runDocker): Promise<void> {
    try {
        await run(rmArgv(name));
    } catch (error) {
        if (!isNoSuchBuilder(error)) {
            throw error;
        }
    }
}

/** The inputs whose change needs a new builder (buildx cannot change a node in place). */
export const REPLACE_ON_CHANGE = ["name", "driver", "nodes", "buildkitdFlags", "buildkitdConfig"] as const;

/** The inputs whose change is applied in place. */
export const UPDATE_IN_PLACE = ["use", "bootstrap"] as const;

/** A value as JSON with object keys sorted, for comparing recorded inputs. */
export function canonical(value: unknown): string {
    return (
        JSON.stringify(value, (_key, v) =>
            v && typeof v === "object" && !Array.isArray(v)
                ? Object.fromEntries(
                      Object.keys(v)
                          .sort()
                          .map((k) => [k, v[k]]),
                  )
                : v,
        ) ?? "undefined"
    );
}

/** The outcome of comparing a builder's recorded inputs with new ones. */
export interface BuilderDiff {
    /** Whether anything changed. */
    changes: boolean;
    /** The inputs whose change needs a new builder. */
    replaces: string[];
    /** Remove the old builder before creating the new one (they would share a name). */
    deleteBeforeReplace: boolean;
}

/**
 * What the next `up` does on this machine: `diffBuilder`, and when that changes nothing
 * or only in place, an update (which creates the builder) if this machine has no
 * builder of that name. An update, not a replace, so the `name` output and everything
 * built with it stay as they are, and no replacement (or delete-before-replace of
 * dependents) is planned for a builder that only lives elsewhere.
 */
export async function diffOnThisMachine(
    olds: Partial<BuilderSpec>,
    news: BuilderSpec,
    run: DockerRunner = runDocker,
): Promise<BuilderDiff & { missingHere: boolean }> {
    const diff = diffBuilder(olds, news);
    // A spec still unknown in a preview reaches the host as a placeholder string.
    if (diff.replaces.length > 0 || typeof news?.name !== "string") {
        return { ...diff, missingHere: false };
    }
    const missingHere = (await inspectBuilder(news.name, run)) === undefined;
    return { ...diff, changes: diff.changes || missingHere, missingHere };
}

/** Decides what a change of inputs means: nothing, an in-place update, or a new builder. */
export function diffBuilder(olds: Partial<BuilderSpec>, news: BuilderSpec): BuilderDiff {
    const changed = (key: keyof BuilderSpec) => canonical(olds[key]) !== canonical(news[key]);
    const replaces = REPLACE_ON_CHANGE.filter(changed);
    const updates = UPDATE_IN_PLACE.filter(changed);
    return {
        changes: replaces.length > 0 || updates.length > 0,
        replaces: [...replaces],
        deleteBeforeReplace: replaces.length > 0 && olds.name === news.name,
    };
}
