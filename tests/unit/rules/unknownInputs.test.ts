import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { holdsUnknown } from "../../../sdk/rules/unknownInputs";

describe("unknownInputs: whether a dynamic provider was given a preview's unknown", () => {
    // The placeholder the engine's dynamic-provider host puts where an input is unknown.
    const unknown = pulumi.runtime.unknownValue;
    const table: [string, unknown, boolean][] = [
        ["the placeholder itself (a whole input unknown)", unknown, true],
        ["a list with one element unknown", [`repo@sha256:${"0".repeat(64)}`, unknown], true],
        ["an object with one value unknown, deep down", { spec: { destination: "repo:prod", sources: [unknown] } }, true],
        ["a string that only contains it", `x${unknown}`, false],
        ["undefined", undefined, false],
        ["null", null, false],
        ["a known list", ["a", "b"], false],
        ["a known object", { a: { b: [1, true] } }, false],
    ];
    for (const [what, value, holds] of table) {
        it(`${what}: ${holds}`, () => assert.strictEqual(holdsUnknown(value), holds));
    }
});
