// Small helpers that unit and integration tests share: catching the error a call throws,
// a free TCP port, and running a program.
import { execFile } from "child_process";
import * as net from "net";

/** An error with the per-argument problems `InputProblems` attaches. */
export type ErrorWithProblems = Error & { errors?: { propertyPath: string; reason: string }[] };

/** The error `fn` throws; fails the test when it throws nothing. */
export function errorOf(fn: () => unknown): ErrorWithProblems {
    try {
        fn();
    } catch (e) {
        return e as ErrorWithProblems;
    }
    throw new Error("expected an error");
}

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it right away). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** How a program run by `runProgram` ended. */
export interface ProgramRun {
    /** The exit code; 1 when it was killed or could not start. */
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs a program without a shell; resolves with its exit code and output, never rejects. */
export function runProgram(file: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string, timeoutMs = 180000): Promise<ProgramRun> {
    return new Promise((resolve) => {
        execFile(file, args, { env, cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
            const code = error ? (typeof (error as NodeJS.ErrnoException).code === "number" ? Number((error as NodeJS.ErrnoException).code) : 1) : 0;
            resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        });
    });
}
