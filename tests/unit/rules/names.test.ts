import * as assert from "assert";
import { checkBakeInputs } from "../../../sdk/rules/bake";
import { containerName, environmentVariableProblem } from "../../../sdk/rules/bootScript";
import { toRepositoryNameComponent } from "../../../sdk/rules/ecr";
import { ENVIRONMENT_NAME_PATTERN, slug } from "../../../sdk/rules/names";
import { defaultBuilderName } from "../../../sdk/clients/buildx";

describe("names", () => {
    describe("environment variable names", () => {
        const names: [string, boolean][] = [
            ["PATH", true],
            ["_", true],
            ["_private", true],
            ["api_key2", true],
            ["A1", true],
            ["1A", false],
            ["", false],
            ["API-KEY", false],
            ["api.key", false],
            ["API KEY", false],
            ["CLÉ", false],
            ["A\nB", false],
        ];
        for (const [name, valid] of names) {
            it(`${valid ? "accepts" : "refuses"} ${JSON.stringify(name)}, in the environment and as a build secret's id`, () => {
                assert.strictEqual(ENVIRONMENT_NAME_PATTERN.test(name), valid);
                // The boot script's env file and the Bake file's `env=<id>` read the one rule.
                assert.strictEqual(environmentVariableProblem(name) === undefined, valid);
                const bake = () => checkBakeInputs({ repositoryUrl: "127.0.0.1:5000/team/api", secretIds: [name], secrets: [{ id: "token", env: name }] });
                if (valid) {
                    bake();
                } else {
                    assert.throws(bake, (e: Error) => /secretIds\[0\]/.test(e.message) && /secrets\[0\]\.env/.test(e.message));
                }
            });
        }
    });

    describe("slug", () => {
        const cases: [string, string, string][] = [
            ["My App", "", "my-app"],
            [" --My  App!-- ", "", "my-app"],
            ["api_v2.x", "", "api-v2-x"],
            ["Api_v2..X", "._-", "api_v2..x"],
            ["a -- b", "._-", "a----b"],
            ["._a_.", "._-", "a"],
            ["a -- b", "._", "a-b"],
            ["-_.", "._", ""],
            ["日本", "", ""],
            ["a]^\\b", "", "a-b"],
        ];
        for (const [value, keep, expected] of cases) {
            it(`makes ${JSON.stringify(value)} ${JSON.stringify(expected)} keeping ${JSON.stringify(keep)}`, () => {
                assert.strictEqual(slug(value, keep), expected);
            });
        }
        it("is what each name made from text starts from", () => {
            const text = " My--App_v2..Prod ";
            assert.strictEqual(slug(text, "._-"), "my--app_v2..prod");
            assert.strictEqual(containerName(text), "multiarch-my--app_v2..prod");
            // ECR also allows no two separators in a row.
            assert.strictEqual(toRepositoryNameComponent(text), "my-app_v2-prod");
            // A builder name keeps `.` and `_` but folds runs of `-`, and starts with a letter.
            assert.match(defaultBuilderName("9-App__x", "dev", "Shop--1"), /^shop-1-9-app__x-dev-[0-9a-f]{8}$/);
        });
    });
});
