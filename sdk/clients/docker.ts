// Running the docker CLI: one runner that buffers (`runDocker`) and one that streams
// lines (`streamDocker`), argv and output with driver option values hidden, the check
// that refuses what no program can be given (a NUL byte) before anything runs, and the
// explanations that turn a failed call into what to do about it.
//
// Serialised by value into the closures of the builder's and the promotion copy's
// dynamic providers: Node builtins and the project's own self-contained modules only;
// no Pulumi imports, no module-level Set or Map.
import { execFile, spawn } from "child_process";
import { PreflightError } from "../rules/preflightError";

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

/** The argv as messages show it: every `--driver-opt` value hidden, except `image`'s, and any argument with a NUL byte. */
export function displayArgv(argv: string[]): string[] {
    return argv.map((arg, i) => {
        if (typeof arg !== "string" || arg.includes("\0")) {
            return HIDDEN;
        }
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

/**
 * Why Node cannot hand this argv and environment to `program`, or undefined when it can: a
 * NUL byte ends a C string, so Node refuses the call and its error repeats the value,
 * which may be a secret. The message names the argument by position (and the flag it is
 * the value of) or the variable by name, never the value.
 */
export function unpassableInput(program: string, argv: string[], env: NodeJS.ProcessEnv | Record<string, string> = {}): string | undefined {
    // The command's words (`buildx imagetools create`), up to its first flag.
    const words: string[] = [];
    for (const arg of argv) {
        if (words.length === 3 || typeof arg !== "string" || !/^[a-z][a-z-]*$/.test(arg)) {
            break;
        }
        words.push(arg);
    }
    const command = `\`${[program, ...words].join(" ")}\` was not run`;
    const nul = (what: string) => `${command}: ${what} contains a NUL byte, which no program can be given (the value is not shown): remove it`;
    const bad = argv.findIndex((arg) => typeof arg !== "string" || arg.includes("\0"));
    if (bad >= 0) {
        const flag = bad > 0 && /^--?[a-z][a-z-]*$/.test(argv[bad - 1]) ? ` (the value of \`${argv[bad - 1]}\`)` : "";
        return typeof argv[bad] === "string" ? nul(`argument ${bad + 1}${flag}`) : `${command}: argument ${bad + 1}${flag} is not a string`;
    }
    for (const [name, value] of Object.entries(env)) {
        if (name.includes("\0")) {
            return nul("the name of an environment variable");
        }
        if (value !== undefined && typeof value !== "string") {
            return `${command}: the environment variable ${name} is not a string`;
        }
        if (value?.includes("\0")) {
            return nul(`the environment variable ${name}`);
        }
    }
    return undefined;
}

/**
 * Node's message for a call it refused before starting the program, without the value it
 * repeats after "Received".
 */
export function withoutReceivedValue(message: string): string {
    return message.replace(/\.?\s*Received[\s\S]*$/, "");
}

function execDocker(argv: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<DockerOutput & { failure?: DockerFailure }> {
    return new Promise((resolve) => {
        const done = (error: Error | null, stdout: unknown, stderr: unknown) => {
            const out = { stdout: String(stdout), stderr: String(stderr) };
            if (!error) {
                resolve(out);
                return;
            }
            // execFile's own message is "Command failed: docker <argv>": never shown, as
            // it holds every driver option value, however short.
            const own = error.message.startsWith("Command failed:") ? "" : withoutReceivedValue(error.message);
            const failure: DockerFailure = {
                code: (error as NodeJS.ErrnoException).code ?? undefined,
                stderr: out.stderr || own,
                timedOutMs: (error as { killed?: boolean }).killed ? timeoutMs : undefined,
            };
            resolve({ ...out, failure });
        };
        try {
            execFile("docker", argv, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env }, done);
        } catch (error) {
            done(error as Error, "", "");
        }
    });
}

/**
 * Runs the docker CLI without a shell and throws a `DockerCliError` whose message says
 * what went wrong and how to fix it (CLI or buildx missing, daemon down, BuildKit image
 * unreachable, …).
 */
export async function runDocker(argv: string[], options: RunOptions = {}): Promise<DockerOutput> {
    const unpassable = unpassableInput("docker", argv, options.env);
    if (unpassable !== undefined) {
        throw dockerCliError(unpassable, displayArgv(argv), "");
    }
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

/** What a streamed docker CLI call ended with. */
export interface StreamedRun {
    /** The exit code (1 when it was killed by a signal). */
    code: number;
    /** The last 2,000 lines it printed, stdout and stderr interleaved. */
    lines: string[];
}

/**
 * Runs the docker CLI without a shell, handing each line of its output (stdout and
 * stderr, as BuildKit's plain progress goes to stderr) to `onLine` as it comes; resolves
 * to the exit code and the last 2,000 lines.
 */
export function streamDocker(argv: string[], onLine: (line: string) => void = () => undefined): Promise<StreamedRun> {
    return new Promise((resolve, reject) => {
        const unpassable = unpassableInput("docker", argv);
        if (unpassable !== undefined) {
            reject(new PreflightError(unpassable));
            return;
        }
        let child;
        try {
            child = spawn("docker", argv, { stdio: ["ignore", "pipe", "pipe"] });
        } catch (error) {
            reject(new PreflightError(`cannot run docker: ${scrubOutput(withoutReceivedValue((error as Error).message), argv)}`));
            return;
        }
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

/** The image the docker-container driver runs unless `driverOptions.image` says otherwise. */
export const DEFAULT_BUILDKIT_IMAGE = "moby/buildkit:buildx-stable-1";

/** How long a CLI call may take; bootstrap pulls an image and so gets longer. */
export const TIMEOUTS = { command: 60000, bootstrap: 300000 };
