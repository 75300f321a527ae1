// Whether an input a dynamic provider was given is known yet. In a preview the engine's
// dynamic-provider host hands each unknown input over as a placeholder string
// (`unknownValue` in @pulumi/pulumi/runtime/rpc.js): a whole property, or one element or
// value inside it. `inputs.ts` asks the same of a component's arguments, with Pulumi.
// This module imports nothing, Pulumi least, so the providers' closures may capture it:
// from a checkout by value, from an installed package as a `require` of this file.

// The placeholder, spelled out rather than read from Pulumi.
const UNKNOWN_PLACEHOLDER = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Whether a value a dynamic provider was given holds a preview's unknown anywhere in it. */
export function holdsUnknown(value: unknown): boolean {
    if (value === UNKNOWN_PLACEHOLDER) {
        return true;
    }
    return typeof value === "object" && value !== null && Object.values(value).some(holdsUnknown);
}
