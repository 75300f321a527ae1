// The container's environment as the hosts receive it (sdk/rules/environment.ts): a
// Docker env file that fits an SSM parameter, never showing a value in an error.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { environmentParameterValue } from "../../../sdk/rules/environment";
import { errorOf } from "../../helpers";

describe("environment rules", () => {
    it("fails, without showing the value, when an environment value known only later cannot go into an env file", () => {
        // What the parameter's value goes through once secret and other Output values are known.
        const error = errorOf(() => environmentParameterValue({ GOOD: "x", TOKEN: "line1\nsecret-line2" }));
        assert.ok(pulumi.InputPropertyError.isInstance(error), `expected InputPropertyError, got ${error}`);
        assert.strictEqual((error as pulumi.InputPropertyError).propertyPath, "environment.TOKEN");
        assert.ok(!error.message.includes("secret-line2"));
    });

    it("fails when the environment is larger than an SSM parameter holds", () => {
        const error = errorOf(() => environmentParameterValue({ BIG: "x".repeat(5000) }));
        assert.strictEqual((error as pulumi.InputPropertyError).propertyPath, "environment");
        assert.match((error as pulumi.InputPropertyError).reason, /^`environment` takes 5005 bytes as an env file, over the 4096 an SSM parameter holds/);
    });

    it("stores an empty environment as a comment line, since SSM refuses an empty value", () => {
        assert.strictEqual(environmentParameterValue({}), "# no variables\n");
    });
});
