// Stand-in programs for the client tests: a shell script put first on PATH under a real
// program's name (`docker`, `cosign`), which records each call's argv, one line per call
// with the arguments separated by tabs, before doing what the test says.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** A directory of stand-in programs and the log of the calls they received. */
export interface StandIns {
    /** The directory to put first on PATH. */
    bin: string;
    /** Every call so far, each as its argv (without the program's name). */
    calls: () => string[][];
    /** Removes the directory. */
    remove: () => void;
}

/**
 * Writes each program of `scripts` (name → the shell commands it runs after recording its
 * argv) into a new directory.
 */
export function standIns(scripts: Record<string, string>): StandIns {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-stand-in-"));
    const bin = path.join(dir, "bin");
    const log = path.join(dir, "calls.log");
    fs.mkdirSync(bin);
    for (const [name, script] of Object.entries(scripts)) {
        fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n{ for a in "$@"; do printf '%s\\t' "$a"; done; printf '\\n'; } >> '${log}'\n${script}\n`, {
            mode: 0o755,
        });
    }
    return {
        bin,
        calls: () =>
            fs.existsSync(log)
                ? fs
                      .readFileSync(log, "utf8")
                      .split("\n")
                      .filter((line) => line !== "")
                      .map((line) => line.split("\t").slice(0, -1))
                : [],
        remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}

/** Sets environment variables for the rest of the enclosing `describe`, restoring them after. */
export function useEnv(vars: () => Record<string, string>): void {
    let saved: Record<string, string | undefined> = {};
    before(() => {
        const wanted = vars();
        saved = Object.fromEntries(Object.keys(wanted).map((name) => [name, process.env[name]]));
        Object.assign(process.env, wanted);
    });
    after(() => {
        for (const [name, value] of Object.entries(saved)) {
            if (value === undefined) {
                delete process.env[name];
            } else {
                process.env[name] = value;
            }
        }
    });
}
