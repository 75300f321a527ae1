// Contexts and tools the build-input tests share: a Dockerfile that mounts a secret,
// one that copies from a named context, one that mounts an SSH agent (started here
// with Debian's openssh-client, which scripts/docker-stack.sh installs). Each builds
// from the local registry's multi-arch busybox, so no step needs Docker Hub.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REGISTRY } from "../stack";

/** The multi-arch busybox scripts/docker-stack.sh pushes to the local registry. */
export const BASE = `${REGISTRY}/multiarch/busybox:latest`;

/** A temporary directory holding `files`. */
export function contextWith(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-inputs-"));
    for (const [name, text] of Object.entries(files)) {
        fs.writeFileSync(path.join(dir, name), text);
    }
    return dir;
}

/**
 * The one secret value every test mounts: BuildKit keys its cache without a secret's
 * value, so tests that share the secret Dockerfile must share the value too.
 */
export const SECRET_VALUE = "s3cr3t-value";

/** Hashes the secret inside the build: the image holds its sha256, never the value. */
export const SECRET_DOCKERFILE = `FROM ${BASE}
RUN --mount=type=secret,id=password,required=true sha256sum /run/secrets/password | cut -d" " -f1 > /secret.sha256
`;

/** Copies a file from the named context `extra`. */
export const CONTEXT_DOCKERFILE = `FROM ${BASE}
COPY --from=extra extra.txt /extra.txt
`;

/** Fails unless the build was given an SSH agent socket. */
export const SSH_DOCKERFILE = `FROM ${BASE}
RUN --mount=type=ssh,required=true test -S "$SSH_AUTH_SOCK" && echo "agent at $SSH_AUTH_SOCK" > /ssh.txt
`;

/** An ssh-agent holding a fresh key; `stop` kills it and removes its files. */
export interface Agent {
    /** The agent's socket, for SSH_AUTH_SOCK. */
    socket: string;
    stop(): void;
}

/** Starts an ssh-agent with one fresh ed25519 key. */
export function startAgent(): Agent {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-ssh-"));
    const socket = path.join(dir, "agent.sock");
    const out = execFileSync("ssh-agent", ["-a", socket, "-s"], { encoding: "utf8" });
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)![1]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "key")]);
    execFileSync("ssh-add", ["-q", path.join(dir, "key")], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: "pipe" });
    return {
        socket,
        stop: () => {
            try {
                process.kill(pid);
            } catch {
                // already gone
            }
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}
