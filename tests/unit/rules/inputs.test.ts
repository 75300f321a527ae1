import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { isKnown, isWhollyKnown } from "../../../sdk/rules/inputs";

describe("inputs: whether an argument is known before any child exists", () => {
    const output = pulumi.output("x");
    const promise = Promise.resolve("x");
    const table: [string, unknown, boolean, boolean][] = [
        // what, value, isKnown, isWhollyKnown
        ["undefined", undefined, true, true],
        ["a string", "linux/amd64", true, true],
        ["a number", 2, true, true],
        ["null", null, true, true],
        ["an object of strings", { a: "1" }, true, true],
        ["an object with a key named then", { then: "later" }, true, true],
        ["an Output", output, false, false],
        ["a Promise", promise, false, false],
        ["a thenable", { then: () => undefined }, false, false],
        ["the preview's unknown", pulumi.unknown, false, false],
        ["an object holding an Output", { a: output }, true, false],
        ["a list holding a Promise", ["a", promise], true, false],
    ];
    for (const [what, value, known, whollyKnown] of table) {
        it(`${what}: isKnown ${known}, isWhollyKnown ${whollyKnown}`, () => {
            assert.strictEqual(isKnown(value), known);
            assert.strictEqual(isWhollyKnown(value), whollyKnown);
        });
    }
});
