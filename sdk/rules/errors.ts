// Input validation that reports every problem at once, before any child resource
// exists, in the form the Pulumi engine pretty-prints.
import * as pulumi from "@pulumi/pulumi";

/** Collects the problems found in a component's arguments. */
export class InputProblems {
    private readonly found: pulumi.InputPropertyErrorDetails[] = [];

    /** Records one problem: the argument's path and what is wrong with it. */
    add(propertyPath: string, reason: string): void {
        this.found.push({ propertyPath, reason });
    }

    /** Records a problem phrased as `` `path` is <value>: <what is allowed> ``. */
    invalid(propertyPath: string, value: unknown, allowed: string): void {
        this.add(propertyPath, `\`${propertyPath}\` is ${show(value)}: ${allowed}`);
    }

    /** How many problems were recorded. */
    get count(): number {
        return this.found.length;
    }

    /**
     * Returns what a validator built from the arguments, or throws one error listing every
     * problem recorded.
     *
     * This is how a validator ends (`return problems.valueOrThrow(component, name, plan)`):
     * the caller receives the value typed as checked, with no `undefined` to assert away.
     * A check may return `undefined` only after recording a problem, so the value is
     * defined whenever nothing was recorded. `toError` turns the message into the error to
     * throw (a CLI's own error type); by default it is Pulumi's `InputPropertiesError`,
     * which the engine pretty-prints.
     */
    valueOrThrow<T>(component: string, name: string, value: T | undefined, toError?: (message: string) => Error): T {
        if (this.found.length > 0 || value === undefined) {
            this.raise(component, name, toError);
        }
        return value;
    }

    /** Throws one error listing every problem, if there is any: `valueOrThrow` for a check that builds nothing. */
    throwIfAny(component: string, name: string, toError?: (message: string) => Error): void {
        this.valueOrThrow(component, name, true, toError);
    }

    private raise(component: string, name: string, toError?: (message: string) => Error): never {
        if (this.found.length === 0) {
            throw new Error(`${component} "${name}": a validator returned nothing without recording a problem`);
        }
        const lines = this.found.map((p) => `  - ${p.reason}`).join("\n");
        const noun = this.found.length === 1 ? "problem" : "problems";
        const message = `${component} "${name}" has ${this.found.length} invalid argument ${noun}:\n${lines}`;
        throw toError ? toError(message) : new pulumi.InputPropertiesError({ message, errors: [...this.found] });
    }
}

/** A value as a user would recognise it in an error message. */
export function show(value: unknown): string {
    if (value === undefined) {
        return "undefined";
    }
    if (typeof value === "string") {
        return JSON.stringify(value);
    }
    try {
        return JSON.stringify(value) ?? String(value);
    } catch {
        return String(value);
    }
}
