// The throwaway DOCKER_CONFIG a docker or cosign call gets: a 0700 directory holding only
// the given logins (config.json, 0600), so the user's own docker config is neither read
// nor written. Every temporary directory the clients make is removed when its call ends
// and, through one registry for the whole process, on every exit the process can catch:
// SIGINT, SIGTERM and SIGHUP (then the signal does what it would have done) and `exit`.
//
// Serialised by value into the closures of the promotion copy's and signing's dynamic
// providers: Node builtins only, no module-level Set or Map. The registry lives on
// `process`, not in this module: a provider's serialised copy of this module and the
// module itself may both run in one process, and they must share one list and one set
// of listeners.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DOCKER_HUB_REGISTRY, registryOf } from "../rules/imageReference";

/** Credentials for one registry, as `docker login` would store them. */
export interface DockerLogin {
    /** The registry host, e.g. `127.0.0.1:5001`. */
    registry: string;
    /** The user name. */
    username: string;
    /** The password or token. */
    password: string;
}

/** The temporary directories alive in this process, and the listeners that remove them. */
interface LiveTempDirs {
    dirs: string[];
    onSignal?: (signal: NodeJS.Signals) => void;
    onExit?: () => void;
}

const LIVE_TEMP_DIRS = "__multiarchLiveTempDirs";

/** The signals whose default action ends the process, and that a listener can catch. */
const CAUGHT_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

function liveTempDirs(): LiveTempDirs {
    const holder = process as unknown as Record<string, LiveTempDirs | undefined>;
    holder[LIVE_TEMP_DIRS] ??= { dirs: [] };
    return holder[LIVE_TEMP_DIRS];
}

/** Removes every live temporary directory and the listeners, as the process ends. */
function removeLiveTempDirs(): void {
    const live = liveTempDirs();
    for (const dir of live.dirs.splice(0)) {
        try {
            fs.rmSync(dir, { recursive: true, force: true });
        } catch {
            // The process is ending: remove what can be removed.
        }
    }
    stopListening(live);
}

function stopListening(live: LiveTempDirs): void {
    if (live.onExit !== undefined && live.onSignal !== undefined) {
        process.removeListener("exit", live.onExit);
        for (const signal of CAUGHT_SIGNALS) {
            process.removeListener(signal, live.onSignal);
        }
    }
    live.onExit = undefined;
    live.onSignal = undefined;
}

// Listeners exist only while a directory is live, so the process's own signal handling
// is untouched between calls. A signal with no other listener is raised again once the
// directories are gone, so it ends the process as it would have; when the program has
// listeners of its own, they received it too and decide.
function startListening(live: LiveTempDirs): void {
    if (live.onExit !== undefined) {
        return;
    }
    live.onExit = removeLiveTempDirs;
    live.onSignal = (signal: NodeJS.Signals) => {
        removeLiveTempDirs();
        if (process.listenerCount(signal) === 0) {
            process.kill(process.pid, signal);
        }
    };
    process.on("exit", live.onExit);
    for (const signal of CAUGHT_SIGNALS) {
        process.on(signal, live.onSignal);
    }
}

/** A new temporary directory (mode 0700), removed by `removeTempDir` or when the process ends. */
export function makeTempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const live = liveTempDirs();
    live.dirs.push(dir);
    startListening(live);
    try {
        fs.chmodSync(dir, 0o700);
    } catch (error) {
        removeTempDir(dir);
        throw error;
    }
    return dir;
}

/** Removes a directory `makeTempDir` made, and forgets it. */
export function removeTempDir(dir: string): void {
    const live = liveTempDirs();
    fs.rmSync(dir, { recursive: true, force: true });
    const at = live.dirs.indexOf(dir);
    if (at >= 0) {
        live.dirs.splice(at, 1);
    }
    if (live.dirs.length === 0) {
        stopListening(live);
    }
}

/**
 * The key docker, buildx and cosign look Docker Hub's login up under: the docker CLI's
 * `registry.IndexServer` and go-containerregistry's `authn.DefaultAuthKey`, not a host.
 */
const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";

/** The `config.json` of a DOCKER_CONFIG directory that holds these logins and nothing else. */
export function dockerConfigJson(logins: DockerLogin[]): string {
    const auths: Record<string, { auth: string }> = {};
    for (const login of logins) {
        const key = registryOf(`${login.registry}/x`) === DOCKER_HUB_REGISTRY ? DOCKER_HUB_AUTH_KEY : login.registry;
        auths[key] = { auth: Buffer.from(`${login.username}:${login.password}`, "utf8").toString("base64") };
    }
    return JSON.stringify({ auths });
}

/**
 * A throwaway DOCKER_CONFIG directory holding only these logins, to remove with
 * `removeTempDir`. A buildx installed per user (`<config>/cli-plugins`) stays visible
 * through a link.
 */
export function makeDockerConfig(logins: DockerLogin[], prefix: string): string {
    const dir = makeTempDir(prefix);
    try {
        fs.writeFileSync(path.join(dir, "config.json"), dockerConfigJson(logins), { mode: 0o600 });
        const userPlugins = path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker"), "cli-plugins");
        if (fs.existsSync(userPlugins)) {
            fs.symlinkSync(userPlugins, path.join(dir, "cli-plugins"));
        }
        return dir;
    } catch (error) {
        removeTempDir(dir);
        throw error;
    }
}
