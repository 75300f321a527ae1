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

    /** Throws one error listing every problem, if there is any. */
    throwIfAny(component: string, name: string): void {
        if (this.found.length === 0) {
            return;
        }
        const lines = this.found.map((p) => `  - ${p.reason}`).join("\n");
        const noun = this.found.length === 1 ? "problem" : "problems";
        throw new pulumi.InputPropertiesError({
            message: `${component} "${name}" has ${this.found.length} invalid argument ${noun}:\n${lines}`,
            errors: [...this.found],
        });
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
