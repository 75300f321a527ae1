// Whether an argument is known now, so it can be checked before any child exists. An
// Output, a Promise or the preview's unknown is checked once it resolves, inside apply.
// Imports Pulumi: not for the modules a dynamic provider serialises (`clients/*`); a
// provider asks whether what it was given is known with `unknownInputs.ts`.
import * as pulumi from "@pulumi/pulumi";

/**
 * Whether a value is known now: not an Output, not a Promise (or other thenable) and not
 * the unknown a preview gives in place of a value computed later. `undefined` is known.
 */
export function isKnown<T>(value: pulumi.Input<T> | undefined): value is T {
    return !pulumi.Output.isInstance(value) && !isThenable(value) && !pulumi.isUnknown(value);
}

/** Whether a value and everything in it is known now (see `isKnown`): no part of it can be an Output, so none of it can be secret. */
export function isWhollyKnown(value: unknown): boolean {
    if (!isKnown(value)) {
        return false;
    }
    return typeof value !== "object" || value === null || Object.values(value).every(isWhollyKnown);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
    return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}
