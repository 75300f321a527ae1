import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { InputProblems } from "../../../sdk/rules/errors";

describe("InputProblems", () => {
    it("returns the checked value when nothing was recorded", () => {
        const problems = new InputProblems();
        assert.deepStrictEqual(problems.valueOrThrow("Thing", "t", { size: 1 }), { size: 1 });
        assert.doesNotThrow(() => problems.throwIfAny("Thing", "t"));
    });

    it("throws every problem at once as an InputPropertiesError, whatever value it was given", () => {
        const problems = new InputProblems();
        problems.invalid("size", -1, "expected 0 or more");
        problems.add("name", "`name` is missing");
        for (const call of [() => problems.valueOrThrow("Thing", "t", { size: -1 }), () => problems.throwIfAny("Thing", "t")]) {
            assert.throws(call, (error: Error) => {
                assert.ok(pulumi.InputPropertiesError.isInstance(error));
                assert.strictEqual(error.message, 'Thing "t" has 2 invalid argument problems:\n  - `size` is -1: expected 0 or more\n  - `name` is missing');
                return true;
            });
        }
    });

    it("throws the caller's own error type when given one, from either method", () => {
        const problems = new InputProblems();
        problems.invalid("size", -1, "expected 0 or more");
        const toError = (message: string) => new RangeError(message);
        assert.throws(() => problems.valueOrThrow("cli", "x", 1, toError), RangeError);
        assert.throws(() => problems.throwIfAny("cli", "x", toError), RangeError);
    });

    it("refuses a validator that returned nothing without recording why", () => {
        assert.throws(() => new InputProblems().valueOrThrow("Thing", "t", undefined), /Thing "t": a validator returned nothing without recording a problem/);
    });
});
