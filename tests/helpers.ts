// Small helpers that unit and integration tests share: catching the error a call throws,
// and a free TCP port.
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
