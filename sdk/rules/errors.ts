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
     * Throws one error listing every problem, if there is any.
     *
     * `toError` turns the message into the error to throw (a CLI's own error type);
     * by default it is Pulumi's `InputPropertiesError`, which the engine pretty-prints.
     */
    throwIfAny(component: string, name: string, toError?: (message: string) => Error): void {
        if (this.found.length > 0) {
            this.raise(component, name, toError);
        }
    }

    /**
     * Returns what a validator produced, or throws every problem found.
     *
     * Validators return `undefined` only after recording a problem, so the value is
     * defined whenever nothing was recorded; the return type says so to the caller.
     */
    valueOrThrow<T>(component: string, name: string, value: T | undefined): T {
        if (this.found.length > 0 || value === undefined) {
            this.raise(component, name);
        }
        return value;
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
