// The benchmark's fixtures as build contexts: bench/fixtures/compress (a compute-heavy
// step; each platform's busybox, taken from examples/app/busybox as
// scripts/docker-stack.sh leaves it) and bench/fixtures/debian (a package install on the
// Debian base image scripts/debian-base.sh pushes), each in an emulated and a
// cross-compiled variant.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The repository's root. */
export const ROOT = path.join(__dirname, "..");
/** The example app, whose `busybox/<arch>/busybox` the fixtures reuse. */
export const APP = path.join(ROOT, "examples", "app");
const FIXTURES = path.join(__dirname, "fixtures");

/** The workloads: `compress` (busybox bzip2 on scratch), `debian` (apt-get install curl). */
export type Workload = "compress" | "debian";
export const WORKLOADS: Workload[] = ["compress", "debian"];

/** The Debian base image scripts/debian-base.sh builds and the debian fixture starts FROM. */
export const DEBIAN_BASE = "127.0.0.1:5000/multiarch/debian:bookworm";
/** The script that builds (or reuses) DEBIAN_BASE. */
export const DEBIAN_BASE_SCRIPT = path.join(ROOT, "scripts", "debian-base.sh");

/** Where the fixture's compute-heavy RUN step runs: in the target's stage, or natively. */
export type FixtureVariant = "emulated" | "cross";

/** The file of the fixture that a one-file change edits; only steps after its COPY depend on it. */
export const CHANGED_FILE = "message.txt";

/**
 * A fresh build context (a temporary directory) for one variant of a workload:
 * `Dockerfile`, `message.txt` and, for compress, `busybox/{amd64,arm64}/busybox`. The
 * caller removes it.
 */
export function fixtureContext(variant: FixtureVariant, workload: Workload = "compress"): string {
    const fixture = path.join(FIXTURES, workload);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `multiarch-bench-${workload}-${variant}-`));
    fs.copyFileSync(path.join(fixture, `Dockerfile.${variant}`), path.join(dir, "Dockerfile"));
    fs.copyFileSync(path.join(fixture, CHANGED_FILE), path.join(dir, CHANGED_FILE));
    if (workload === "compress") {
        copyBusybox(dir);
    }
    return dir;
}

function copyBusybox(dir: string): void {
    const busybox = path.join(APP, "busybox");
    for (const arch of ["amd64", "arm64"]) {
        if (!fs.existsSync(path.join(busybox, arch, "busybox"))) {
            throw new Error(`${path.join(busybox, arch, "busybox")} is missing: run \`sudo scripts/docker-stack.sh\` first`);
        }
    }
    fs.cpSync(busybox, path.join(dir, "busybox"), { recursive: true });
}
