// The real Docker stack the integration tests need (dockerd, buildx, the local
// registries, arm64 emulation), as `scripts/docker-stack.sh` starts it. A suite calls
// `useDockerStack()` in its `describe`: under CI=true a missing stack fails the suite;
// elsewhere the suite skips with one line that names the script.
import { execFileSync } from "child_process";

/** The anonymous local registry. */
export const REGISTRY = "127.0.0.1:5000";
/** The local registry with htpasswd (basic) auth, like ECR's. */
export const AUTH_REGISTRY = "127.0.0.1:5001";
/** The credentials the stack script gives the auth registry. */
export const AUTH_USER = "multiarch";
export const AUTH_PASSWORD = "multiarch-test-password";

const SCRIPT = "scripts/docker-stack.sh";

/** What is missing from the stack, or an empty list when all of it runs. */
export async function missingStackParts(): Promise<string[]> {
    const missing: string[] = [];
    try {
        execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], { stdio: "pipe", timeout: 15000 });
    } catch {
        missing.push("dockerd (docker version cannot reach the daemon)");
    }
    try {
        execFileSync("docker", ["buildx", "version"], { stdio: "pipe", timeout: 15000 });
    } catch {
        missing.push("the buildx plugin");
    }
    for (const registry of [REGISTRY, AUTH_REGISTRY]) {
        try {
            await fetch(`http://${registry}/v2/`, { signal: AbortSignal.timeout(3000) });
        } catch {
            missing.push(`the registry on ${registry}`);
        }
    }
    return missing;
}

let checked: Promise<string[]> | undefined;

/** Requires the Docker stack for the enclosing `describe`. */
export function useDockerStack(): void {
    before(async function () {
        this.timeout(60000);
        checked ??= missingStackParts();
        const missing = await checked;
        if (missing.length === 0) {
            return;
        }
        const message = `needs the Docker stack; missing: ${missing.join(", ")}. Start it with \`sudo ${SCRIPT}\``;
        if (process.env.CI === "true") {
            throw new Error(message);
        }
        console.log(`    skipped: ${message}`);
        this.skip();
    });
}
