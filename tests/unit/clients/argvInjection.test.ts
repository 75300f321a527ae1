// Values that start with `-` never reach the docker CLI where it expects a positional
// argument: they are refused before anything runs, and every positional follows `--`.
import * as assert from "assert";
import { imagetoolsCreateArgv, positionalProblem } from "../../../sdk/clients/buildx";
import { main } from "../../../sdk/cli/main";
import { planPreflight } from "../../../sdk/cli/preflight";
import { PreflightError } from "../../../sdk/rules/preflightError";
import { EXAMPLE_APP } from "../../paths";

describe("positional arguments of the docker CLI", () => {
    it("refuses values that start with `-`, and empty ones", () => {
        assert.match(positionalProblem("-H") ?? "", /does not start with `-`: the docker CLI would read it as a flag/);
        assert.match(positionalProblem("--help") ?? "", /does not start with `-`/);
        assert.match(positionalProblem(" ") ?? "", /non-empty/);
        assert.strictEqual(positionalProblem("ssh://user@arm-host"), undefined);
        assert.strictEqual(positionalProblem("a-b"), undefined);
    });

    it("puts the sources of `imagetools create` after `--`", () => {
        assert.deepStrictEqual(imagetoolsCreateArgv("r/app:v1", ["r/app@sha256:a", "r/app@sha256:b"]), [
            "buildx",
            "imagetools",
            "create",
            "--tag",
            "r/app:v1",
            "--",
            "r/app@sha256:a",
            "r/app@sha256:b",
        ]);
    });

    const refused: [Record<string, string>, RegExp][] = [
        [
            { registry: "-x" },
            /`registry` is "-x": expected a registry host with an optional port, e\.g\. "127\.0\.0\.1:5000"; expected a value that does not start with `-`: the docker CLI would read it as a flag/,
        ],
        [{ registry: "--help" }, /`registry` is "--help": expected a registry host .*; expected a value that does not start with `-`/],
        [
            { registry: "-.example.com:5000" },
            /`registry` is "-\.example\.com:5000": expected a registry host .*; expected a value that does not start with `-`/,
        ],
        [
            { builder: "--help" },
            /`builder` is "--help": expected the name of a buildx builder \(see `docker buildx ls`\); expected a value that does not start with `-`/,
        ],
    ];
    for (const [options, message] of refused) {
        it(`preflight refuses ${JSON.stringify(options)} before anything runs`, () => {
            assert.throws(
                () => planPreflight({ context: EXAMPLE_APP, ...options }),
                (error: Error) => error instanceof PreflightError && message.test(error.message),
            );
        });
    }

    it("the command line refuses `--registry=-x` and `--builder=--rm` with exit code 2", async () => {
        const err: string[] = [];
        const code = await main(
            ["preflight", EXAMPLE_APP, "--registry=-x", "--builder=--rm"],
            () => undefined,
            (line) => err.push(line),
        );
        assert.strictEqual(code, 2);
        assert.match(err.join("\n"), /`registry` is "-x": expected a registry host .*; expected a value that does not start with `-`/);
        assert.match(err.join("\n"), /`builder` is "--rm": expected the name of a buildx builder .*; expected a value that does not start with `-`/);
    });
});
