// The dynamic-provider host as the Pulumi engine runs it: a plain Node process that loads
// the provider text Pulumi serialised from a resource's closure with require-from-string
// (no ts-node) and calls one of its functions. Each call is its own process, as each
// engine run is.
import * as fs from "fs";
import * as path from "path";
import { ProgramRun, runProgram } from "./helpers";
import { ROOT } from "./paths";

/** NODE_PATH for the host process: this checkout's node_modules (require-from-string). */
export const HOST_NODE_PATH = path.join(ROOT, "node_modules");

/**
 * Writes the host script into `dir` and returns its path. It reads the provider text from
 * PROVIDER_TEXT, calls the function OP with the JSON list ARGS, and prints the result as
 * JSON, or the error's message on stderr with exit status 1.
 */
export function writeHostScript(dir: string): string {
    const script = path.join(dir, "host-call.js");
    fs.writeFileSync(
        script,
        [
            'const requireFromString = require("require-from-string");',
            "const provider = requireFromString(process.env.PROVIDER_TEXT).handler();",
            "const args = JSON.parse(process.env.ARGS);",
            "provider[process.env.OP](...args).then(",
            "  (result) => console.log(JSON.stringify(result === undefined ? null : result)),",
            "  (e) => { console.error(e && e.message ? e.message : e); process.exit(1); },",
            ");",
        ].join("\n"),
    );
    return script;
}

/**
 * Calls `op` of a serialised provider with `args` in a plain Node process (a host script
 * written into `dir`), over the environment `env`; resolves with how the process ended:
 * the result as JSON on stdout, or the error's message on stderr and exit status 1.
 */
export function hostCall(
    dir: string,
    providerText: string,
    op: string,
    args: unknown[],
    env: NodeJS.ProcessEnv = process.env,
    timeoutMs?: number,
): Promise<ProgramRun> {
    const script = writeHostScript(dir);
    return runProgram(
        process.execPath,
        [script],
        { ...env, NODE_PATH: HOST_NODE_PATH, PROVIDER_TEXT: providerText, OP: op, ARGS: JSON.stringify(args) },
        undefined,
        timeoutMs,
    );
}

/**
 * Calls `op` as `hostCall` does and returns its result, parsed; fails, with the host's
 * stderr, when the call threw.
 */
export async function hostResult(dir: string, providerText: string, op: string, args: unknown[], env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
    const run = await hostCall(dir, providerText, op, args, env);
    if (run.code !== 0) {
        throw new Error(`the host's ${op} failed: ${run.stderr.trim()}`);
    }
    return JSON.parse(run.stdout);
}
