// The benchmark's compute-heavy fixture as a build context: bench/fixtures/compress's
// Dockerfile (emulated or cross-compiled variant) plus each platform's busybox, taken
// from examples/app/busybox as scripts/docker-stack.sh leaves it.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The repository's root. */
export const ROOT = path.join(__dirname, "..");
/** The example app, whose `busybox/<arch>/busybox` the fixtures reuse. */
export const APP = path.join(ROOT, "examples", "app");
const FIXTURE = path.join(__dirname, "fixtures", "compress");

/** Where the fixture's compute-heavy RUN step runs: in the target's stage, or natively. */
export type FixtureVariant = "emulated" | "cross";

/** The file of the fixture that a one-file change edits; only steps after its COPY depend on it. */
export const CHANGED_FILE = "message.txt";

/**
 * A fresh build context (a temporary directory) for one variant: `Dockerfile`,
 * `message.txt` and `busybox/{amd64,arm64}/busybox`. The caller removes it.
 */
export function fixtureContext(variant: FixtureVariant): string {
    const busybox = path.join(APP, "busybox");
    for (const arch of ["amd64", "arm64"]) {
        if (!fs.existsSync(path.join(busybox, arch, "busybox"))) {
            throw new Error(`${path.join(busybox, arch, "busybox")} is missing: run \`sudo scripts/docker-stack.sh\` first`);
        }
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `multiarch-bench-${variant}-`));
    fs.copyFileSync(path.join(FIXTURE, `Dockerfile.${variant}`), path.join(dir, "Dockerfile"));
    fs.copyFileSync(path.join(FIXTURE, CHANGED_FILE), path.join(dir, CHANGED_FILE));
    fs.cpSync(busybox, path.join(dir, "busybox"), { recursive: true });
    return dir;
}
