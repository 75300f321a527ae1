// The error `multiarch preflight` fails with: what went wrong and what to do.

/** A preflight that could not start: bad options, no daemon, unknown builder. */

export class PreflightError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PreflightError";
    }
}
