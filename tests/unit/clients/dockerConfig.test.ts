// The throwaway DOCKER_CONFIG holds registry credentials while a cosign or docker call
// runs; it is removed when the call ends and on every exit the process can catch. Each
// case runs a plain Node process that starts a call through the client, with a stand-in
// program on PATH that reports the DOCKER_CONFIG it was given and then waits, and ends
// that process while the call runs.
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { dockerConfigJson, makeDockerConfig, removeTempDir } from "../../../sdk/clients/dockerConfig";
import { ROOT } from "../../paths";
import { fakeDigest } from "../../mocks";
import { standIns } from "./standIn";

/** Reports `<pid> <DOCKER_CONFIG>` once the call has its config, then waits as a slow registry would. */
const WAITS = `echo "$$ $DOCKER_CONFIG" > "$REPORT.part" && mv "$REPORT.part" "$REPORT"\nexec sleep 60`;

const COSIGN_CALL = `require(${JSON.stringify(path.join(ROOT, "sdk", "clients", "cosign"))}).runCosign(["version"], {}, [{ address: "127.0.0.1:5001", username: "multiarch", password: "registry-password" }]);`;

const SPEC = { sources: [`127.0.0.1:5000/team/api@${fakeDigest("index")}`], destination: "127.0.0.1:5001/team/api:prod", platformDigests: {} };
const COPY_CALL = `require(${JSON.stringify(path.join(ROOT, "sdk", "clients", "imageCopy"))}).copyImage(${JSON.stringify(SPEC)}, [{ registry: "127.0.0.1:5001", username: "multiarch", password: "registry-password" }]);`;

interface Ended {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    /** The DOCKER_CONFIG the stand-in was given. */
    dockerConfig: string;
    /** Whether it was still there once the process had ended. */
    configLeft: boolean;
    /** What the clients left in the process's TMPDIR (TypeScript's compile cache aside). */
    leftInTmp: string[];
}

/**
 * Runs `script` in a plain Node process (the TypeScript sources through ts-node) with the
 * stand-ins first on PATH; once a stand-in reports its DOCKER_CONFIG, sends `signal`
 * (unless the script ends itself), and resolves when the process has ended.
 */
async function endDuringCall(script: string, signal?: NodeJS.Signals): Promise<Ended> {
    const programs = standIns({ cosign: WAITS, docker: WAITS });
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-signal-tmp-"));
    const report = path.join(programs.bin, "..", "report");
    let standInPid: number | undefined;
    try {
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
            cwd: ROOT,
            env: { ...process.env, PATH: `${programs.bin}${path.delimiter}${process.env.PATH}`, TMPDIR: tmp, REPORT: report },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
            child.on("exit", (code, sig) => resolve({ code, signal: sig })),
        );
        const deadline = Date.now() + 30000;
        while (!fs.existsSync(report)) {
            if (Date.now() > deadline || child.exitCode !== null) {
                child.kill("SIGKILL");
                throw new Error(`the call never reached the stand-in:\n${stderr}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const [pid, dockerConfig] = fs.readFileSync(report, "utf8").trim().split(" ");
        standInPid = Number(pid);
        assert.ok(fs.existsSync(path.join(dockerConfig, "config.json")), "the call runs with its config");
        if (signal !== undefined) {
            child.kill(signal);
        }
        const { code, signal: endedBy } = await ended;
        return {
            code,
            signal: endedBy,
            stdout,
            dockerConfig,
            configLeft: fs.existsSync(dockerConfig),
            leftInTmp: fs.readdirSync(tmp).filter((name) => name.startsWith("multiarch-")),
        };
    } finally {
        if (standInPid !== undefined) {
            try {
                process.kill(standInPid, "SIGKILL");
            } catch {
                // Already gone.
            }
        }
        programs.remove();
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

describe("the throwaway DOCKER_CONFIG when the process ends during a call", function () {
    this.timeout(60000);

    it("is removed on SIGTERM during a cosign call, and the process still ends by SIGTERM", async () => {
        const ended = await endDuringCall(COSIGN_CALL, "SIGTERM");
        assert.match(path.basename(ended.dockerConfig), /^multiarch-cosign-/);
        assert.strictEqual(ended.signal, "SIGTERM");
        assert.strictEqual(ended.configLeft, false, "the DOCKER_CONFIG with the registry password is gone");
        assert.deepStrictEqual(ended.leftInTmp, []);
    });

    it("is removed on SIGINT during the promotion's docker call, and the process still ends by SIGINT", async () => {
        const ended = await endDuringCall(COPY_CALL, "SIGINT");
        assert.match(path.basename(ended.dockerConfig), /^multiarch-promote-/);
        assert.strictEqual(ended.signal, "SIGINT");
        assert.strictEqual(ended.configLeft, false);
        assert.deepStrictEqual(ended.leftInTmp, []);
    });

    it("is removed when the program calls process.exit during the call, with the program's exit code", async () => {
        const exitOnReport = `setInterval(() => { if (require("fs").existsSync(process.env.REPORT)) process.exit(7); }, 20);`;
        const ended = await endDuringCall(`${COSIGN_CALL}\n${exitOnReport}`);
        assert.deepStrictEqual([ended.code, ended.signal], [7, null]);
        assert.strictEqual(ended.configLeft, false);
        assert.deepStrictEqual(ended.leftInTmp, []);
    });

    it("is removed on SIGTERM when the program handles SIGTERM itself, and the program's handler decides", async () => {
        const ownHandler = `process.on("SIGTERM", () => setTimeout(() => { console.log("the program's own handler"); process.exit(0); }, 100));`;
        const ended = await endDuringCall(`${ownHandler}\n${COPY_CALL}`, "SIGTERM");
        assert.deepStrictEqual([ended.code, ended.signal], [0, null], "the signal is not raised again over the program's handler");
        assert.strictEqual(ended.stdout.trim(), "the program's own handler");
        assert.strictEqual(ended.configLeft, false);
        assert.deepStrictEqual(ended.leftInTmp, []);
    });
});

describe("the throwaway DOCKER_CONFIG's listeners", () => {
    it("exist only while a config is live, so the process's own signal handling is untouched between calls", () => {
        const counts = () => ["SIGINT", "SIGTERM", "SIGHUP", "exit"].map((event) => process.listenerCount(event));
        const before = counts();
        const first = makeDockerConfig([{ registry: "127.0.0.1:5001", username: "u", password: "p" }], "multiarch-listeners-");
        const second = makeDockerConfig([], "multiarch-listeners-");
        assert.deepStrictEqual(
            counts(),
            before.map((n) => n + 1),
            "one listener per event however many configs are live",
        );
        removeTempDir(first);
        assert.deepStrictEqual(
            counts(),
            before.map((n) => n + 1),
        );
        removeTempDir(second);
        assert.deepStrictEqual(counts(), before);
        assert.strictEqual(fs.existsSync(first) || fs.existsSync(second), false);
    });
});

describe("the throwaway DOCKER_CONFIG's logins", () => {
    const decode = (json: string) =>
        Object.fromEntries(
            Object.entries((JSON.parse(json) as { auths: Record<string, { auth: string }> }).auths).map(([k, v]) => [
                k,
                Buffer.from(v.auth, "base64").toString(),
            ]),
        );

    // docker's config.GetAuthConfig and go-containerregistry's DefaultKeychain look Docker
    // Hub up under the index server's URL, never under a host: a login filed under
    // registry-1.docker.io is never found, and buildx and cosign push anonymously.
    for (const registry of ["registry-1.docker.io", "docker.io", "index.docker.io"]) {
        it(`files a Docker Hub login given as ${registry} under https://index.docker.io/v1/`, () => {
            assert.deepStrictEqual(decode(dockerConfigJson([{ registry, username: "bot", password: "pw" }])), { "https://index.docker.io/v1/": "bot:pw" });
        });
    }

    it("files every other registry's login under its host", () => {
        const logins = [
            { registry: "ghcr.io", username: "a", password: "1" },
            { registry: "registry.multiarch.test:5443", username: "b", password: "2" },
            { registry: "123456789012.dkr.ecr.us-west-2.amazonaws.com", username: "AWS", password: "3" },
        ];
        assert.deepStrictEqual(decode(dockerConfigJson(logins)), {
            "ghcr.io": "a:1",
            "registry.multiarch.test:5443": "b:2",
            "123456789012.dkr.ecr.us-west-2.amazonaws.com": "AWS:3",
        });
    });
});
