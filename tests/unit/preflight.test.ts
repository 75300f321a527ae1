import * as assert from "assert";
import * as path from "path";
import { main } from "../../sdk/cli";
import { PreflightError, explainBuildFailure, formatTable, planPreflight } from "../../sdk/preflight";

const APP = path.join(__dirname, "..", "..", "examples", "app");

describe("preflight planning", () => {
    it("pushes to the local registry under the context's folder name by default", () => {
        const { spec, repositoryUrl } = planPreflight({ context: APP });
        assert.strictEqual(repositoryUrl, "127.0.0.1:5000/multiarch-preflight/app");
        assert.deepStrictEqual(spec.platforms, ["linux/amd64", "linux/arm64"]);
        assert.strictEqual(spec.tag, "preflight");
    });

    it("reports every bad option together, naming each", () => {
        assert.throws(
            () => planPreflight({ context: "/no/such/dir", platforms: ["amd64", "sparc"], registry: "http://x", repository: "Bad Name", builder: "-x", check: " " }),
            (e: Error) => {
                assert.ok(e instanceof PreflightError);
                assert.match(e.message, /has 6 invalid argument problems/);
                for (const fragment of [
                    /`context` is "\/no\/such\/dir": expected an existing directory/,
                    /`platforms\[1\]` is "sparc"/,
                    /`registry` is "http:\/\/x": expected a registry host with an optional port/,
                    /`repository` is "Bad Name": expected 2 to 256 characters/,
                    /`builder` is "-x": expected the name of a buildx builder/,
                    /`check` is " ": expected a shell command/,
                ]) {
                    assert.match(e.message, fragment);
                }
                return true;
            },
        );
    });
});

describe("preflight output", () => {
    it("names the failed step and what it printed", () => {
        const lines = [
            "#6 [2/3] COPY busybox /bin/sh",
            "#6 DONE 0.1s",
            '#7 [3/3] RUN ["/bin/sh", "-c", "make"]',
            "#7 0.215 make: *** No rule to make target 'all'.",
            "#7 0.216 Stop.",
            '#7 ERROR: process "/bin/sh -c make" did not complete successfully: exit code: 2',
            "ERROR: failed to solve: process did not complete successfully",
        ];
        assert.strictEqual(
            explainBuildFailure(lines),
            `step [3/3] RUN ["/bin/sh", "-c", "make"]: make: *** No rule to make target 'all'. | Stop. (process "/bin/sh -c make" did not complete successfully: exit code: 2)`,
        );
        assert.strictEqual(explainBuildFailure(["ERROR: failed to read dockerfile"]), "ERROR: failed to read dockerfile");
    });

    it("ends with a table of platform, digest, build time, architecture and verdict", () => {
        const digest = `sha256:${"a".repeat(64)}`;
        const table = formatTable({
            ok: false,
            builder: "default",
            notes: [],
            platforms: [
                { platform: "linux/amd64", digest, buildSeconds: 1.24, seen: "x86_64", ok: true },
                { platform: "linux/arm64", buildSeconds: 3, ok: false, reason: "build failed: step [2/2] RUN x" },
            ],
        });
        assert.strictEqual(
            table,
            [
                `platform     digest${" ".repeat(65)}  build  arch seen  verdict`,
                `-----------  ${"-".repeat(71)}  -----  ---------  -------`,
                `linux/amd64  ${digest}  1.2s   x86_64     ok`,
                `linux/arm64  -${" ".repeat(70)}  3.0s   -          FAIL`,
                "linux/arm64: build failed: step [2/2] RUN x",
            ].join("\n"),
        );
    });
});

describe("multiarch command line", () => {
    async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
        const out: string[] = [];
        const err: string[] = [];
        const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
        return { code, out: out.join("\n"), err: err.join("\n") };
    }

    it("prints help with exit code 0", async () => {
        const { code, out } = await run(["--help"]);
        assert.strictEqual(code, 0);
        assert.match(out, /^Usage: multiarch preflight <context> \[options\]/);
        assert.match(out, /--platforms LIST/);
    });

    const usage: [string[], RegExp][] = [
        [[], /^Usage: multiarch preflight/],
        [["deploy"], /unknown command "deploy"; expected "preflight"/],
        [["preflight"], /expected exactly one <context> directory, got \[\]/],
        [["preflight", "a", "b"], /expected exactly one <context> directory, got \["a","b"\]/],
        [["preflight", APP, "--frobnicate"], /Unknown option '--frobnicate'/],
        [["preflight", APP, "--build-arg", "NOVALUE"], /--build-arg is "NOVALUE": expected KEY=VALUE/],
        [["preflight", "/no/such/dir"], /`context` is "\/no\/such\/dir": expected an existing directory/],
        [["preflight", APP, "--platforms", "linux/amd64,linux/amd65"], /`platforms\[1\]` is "linux\/amd65"/],
    ];
    for (const [argv, message] of usage) {
        it(`exits 2 on ${JSON.stringify(argv)}`, async () => {
            const { code, out, err } = await run(argv);
            assert.strictEqual(code, 2);
            assert.match(`${out}${err}`, message);
        });
    }
});
