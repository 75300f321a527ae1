import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { main } from "../../../sdk/cli/main";
import { buildArgv, planPreflight } from "../../../sdk/cli/preflight";
import { PreflightError } from "../../../sdk/rules/preflightError";
import { emulatedRunSeconds, emulationNote } from "../../../sdk/cli/emulation";
import { dockerfileStages } from "../../../sdk/cli/dockerfile";
import { explainBuildFailure, parseBuildSteps } from "../../../sdk/cli/buildProgress";
import { formatTable } from "../../../sdk/cli/resultsTable";
import { InputProblems } from "../../../sdk/rules/errors";
import { normaliseBuildSpec } from "../../../sdk/rules/buildPlan";
import { escapeBake, toBakeFile } from "../../../sdk/rules/bake";
import { EXAMPLE_APP } from "../../paths";

describe("preflight planning", () => {
    it("pushes to the local registry under the context's folder name by default", () => {
        const { builds, repositoryUrl, tag } = planPreflight({ context: EXAMPLE_APP });
        assert.strictEqual(repositoryUrl, "127.0.0.1:5000/multiarch-preflight/app");
        assert.deepStrictEqual(
            builds.map((b) => [b.platform, b.target.tags[0]]),
            [
                ["linux/amd64", "127.0.0.1:5000/multiarch-preflight/app:preflight-amd64"],
                ["linux/arm64", "127.0.0.1:5000/multiarch-preflight/app:preflight-arm64"],
            ],
        );
        assert.strictEqual(tag, "preflight");
    });

    it("reports every bad option together, naming each", () => {
        assert.throws(
            () =>
                planPreflight({
                    context: "/no/such/dir",
                    platforms: ["amd64", "sparc"],
                    registry: "http://x",
                    repository: "Bad Name",
                    builder: "-x",
                    check: " ",
                }),
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

describe("preflight's keys", () => {
    // A key that verifies is the anchor of trust: a key ARN or a public key, never an
    // alias another principal may repoint (kms:UpdateAlias). Signing may name an alias.
    it("refuses a KMS alias to verify with before anything is built, and takes one to sign with", () => {
        const alias = "arn:aws:kms:us-west-2:123456789012:alias/release-signing";
        assert.throws(
            () => planPreflight({ context: EXAMPLE_APP, verifyKey: { kmsKeyArn: alias } }),
            (e: Error) => {
                assert.ok(e instanceof PreflightError);
                assert.strictEqual(
                    e.message,
                    `preflight "${EXAMPLE_APP}" has 1 invalid argument problem:\n` +
                        `  - \`verifyKey.kmsKeyArn\` is "${alias}": expected a key ARN, arn:aws:kms:<region>:<account>:key/<id>, or a public key, not an alias: whoever may kms:UpdateAlias could point it at another key`,
                );
                return true;
            },
        );
        const key = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert.strictEqual(planPreflight({ context: EXAMPLE_APP, verifyKey: { kmsKeyArn: key }, signingKey: { kmsKeyArn: alias } }).builds.length, 2);
    });
});

describe("preflight of a Bake file", () => {
    const ECR = "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/api";
    const dirs: string[] = [];
    after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

    function planFile(bake: unknown): string {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-plan-"));
        dirs.push(dir);
        const file = path.join(dir, "plan.json");
        fs.writeFileSync(file, typeof bake === "string" ? bake : JSON.stringify(bake));
        return file;
    }

    it("retargets the stack's tags and own caches to the rehearsal repository, keeping secret references", () => {
        const spec = normaliseBuildSpec(
            { context: EXAMPLE_APP, tag: "v1", cacheTo: [{ inline: {} }, { s3: { region: "us-west-2", bucket: "b" } }] },
            new InputProblems(),
        )!;
        const file = planFile(toBakeFile(spec, { repositoryUrl: ECR, secretIds: ["NPM_TOKEN"], buildArgs: { V: "${x}" } }));
        const plan = planPreflight({ bakeFile: file, repository: "rehearsal/api" });
        assert.strictEqual(plan.repositoryUrl, "127.0.0.1:5000/rehearsal/api");
        const arm = plan.builds[1].target;
        assert.strictEqual(plan.builds[1].platform, "linux/arm64");
        assert.deepStrictEqual(arm.tags, ["127.0.0.1:5000/rehearsal/api:preflight-arm64"]);
        assert.deepStrictEqual(arm["cache-from"], ["type=registry,ref=127.0.0.1:5000/rehearsal/api:cache-arm64"]);
        assert.deepStrictEqual(arm["cache-to"], [
            "type=registry,ref=127.0.0.1:5000/rehearsal/api:cache-arm64,mode=max,image-manifest=true,oci-mediatypes=true",
            "type=inline",
        ]);
        assert.deepStrictEqual(arm.secret, ["id=NPM_TOKEN,env=NPM_TOKEN"]);
        assert.deepStrictEqual(arm.args, { V: "${x}" }, "read back as Bake reads it");
        assert.strictEqual(arm.dockerfile, path.join(EXAMPLE_APP, "Dockerfile"));
        assert.match(plan.notes.join("\n"), /linux\/arm64: the rehearsal leaves out the cache type=s3/);
    });

    it("refuses build options beside a Bake file, a file that is not one, and a string Bake would interpolate", () => {
        const spec = normaliseBuildSpec({ context: EXAMPLE_APP }, new InputProblems())!;
        const bake = toBakeFile(spec, { repositoryUrl: ECR });
        assert.throws(
            () => planPreflight({ bakeFile: planFile(bake), context: EXAMPLE_APP, pull: true }),
            (e: Error) => {
                assert.match(e.message, /`context` is given with a Bake file .*: the file describes the build; leave `context` out/);
                assert.match(e.message, /`pull` is given with a Bake file/);
                return true;
            },
        );
        assert.throws(() => planPreflight({ bakeFile: planFile("{not json") }), /`bakeFile` is ".*plan.json": expected a readable JSON Bake file/);
        assert.throws(() => planPreflight({ bakeFile: planFile({ group: {} }) }), /has no targets: expected the JSON MultiArchImage.bakeFile writes/);
        const raw = JSON.parse(JSON.stringify(bake));
        raw.target.amd64.args = { V: "${HOME}" };
        assert.throws(() => planPreflight({ bakeFile: planFile(raw) }), /`target.amd64` holds "\$\{HOME\}", which Bake would interpolate/);
        assert.strictEqual(escapeBake("${HOME}"), "$${HOME}");
    });
});

describe("preflight's build of a Bake target", () => {
    it("passes every attribute as its docker buildx build flag", () => {
        const argv = buildArgv(
            "default",
            {
                context: "/src",
                dockerfile: "/src/Dockerfile",
                platforms: ["linux/arm64"],
                tags: ["r/a:t-arm64"],
                attest: ["type=provenance,disabled=true"],
                output: ["type=registry"],
                "cache-from": ["type=registry,ref=r/a:cache-arm64"],
                "cache-to": ["type=inline"],
                args: { A: "${x}" },
                labels: { l: "v" },
                annotations: ["k=v"],
                secret: ["id=s,env=S"],
                ssh: ["default"],
                contexts: { extra: "/extra" },
                "extra-hosts": { db: "10.0.0.5,10.0.0.6" },
                target: "runtime",
                network: "none",
                pull: true,
                "no-cache": true,
            },
            "/tmp/m.json",
        );
        assert.deepStrictEqual(argv, [
            "buildx",
            "build",
            "--builder",
            "default",
            "--progress",
            "plain",
            "--metadata-file",
            "/tmp/m.json",
            "--file",
            "/src/Dockerfile",
            "--platform",
            "linux/arm64",
            "--tag",
            "r/a:t-arm64",
            "--output",
            "type=registry",
            "--attest",
            "type=provenance,disabled=true",
            "--cache-from",
            "type=registry,ref=r/a:cache-arm64",
            "--cache-to",
            "type=inline",
            "--build-arg",
            "A=${x}",
            "--label",
            "l=v",
            "--annotation",
            "k=v",
            "--secret",
            "id=s,env=S",
            "--ssh",
            "default",
            "--build-context",
            "extra=/extra",
            "--add-host",
            "db:10.0.0.5",
            "--add-host",
            "db:10.0.0.6",
            "--target",
            "runtime",
            "--network",
            "none",
            "--pull",
            "--no-cache",
            "/src",
        ]);
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
        const code = await main(
            argv,
            (l) => out.push(l),
            (l) => err.push(l),
        );
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
        [["preflight", EXAMPLE_APP, "--frobnicate"], /Unknown option '--frobnicate'/],
        [["preflight", EXAMPLE_APP, "--build-arg", "NOVALUE"], /--build-arg is "NOVALUE": expected KEY=VALUE/],
        [["preflight", "/no/such/dir"], /`context` is "\/no\/such\/dir": expected an existing directory/],
        [["preflight", EXAMPLE_APP, "--platforms", "linux/amd64,linux/amd65"], /`platforms\[1\]` is "linux\/amd65"/],
        [
            ["preflight", EXAMPLE_APP, "--secret", "id=npm,value=hunter2"],
            /--secret has the fields \["id","value"\]: expected id=ID,env=VARIABLE or id=ID,src=FILE/,
        ],
        [["preflight", EXAMPLE_APP, "--secret", "id=a,env=A,src=/f"], /--secret has the fields \["id","env","src"\]/],
        [
            ["preflight", EXAMPLE_APP, "--secret", "id=a,src=/no/such/secret"],
            /`secrets\[0\].src` is "\/no\/such\/secret": expected a file that holds the secret/,
        ],
        [["preflight", EXAMPLE_APP, "--build-context", "extra"], /--build-context is "extra": expected NAME=LOCATION/],
        [["preflight", EXAMPLE_APP, "--network", "bridge"], /`network` is "bridge": expected one of "default", "host", "none"/],
        [["preflight", EXAMPLE_APP, "--add-host", "db"], /`addHosts\[0\]` is "db": expected host:ip/],
        [["preflight", EXAMPLE_APP, "--bake-file", "plan.json"], /expected no <context> with --bake-file, got \[".*app"\]/],
        // Whoever may kms:UpdateAlias could point an alias at a key of their own: verify against the key itself.
        [
            ["preflight", EXAMPLE_APP, "--verify-key", "awskms:///arn:aws:kms:us-west-2:123456789012:alias/x"],
            /^multiarch preflight: --verify-key is "awskms:\/\/\/arn:aws:kms:us-west-2:123456789012:alias\/x": expected a key ARN, arn:aws:kms:<region>:<account>:key\/<id>, or a public key, not an alias: whoever may kms:UpdateAlias could point it at another key$/,
        ],
        [
            ["preflight", EXAMPLE_APP, "--sign-key", "awskms:///my-key"],
            /^multiarch preflight: --sign-key is "awskms:\/\/\/my-key": expected a KMS key ARN, arn:aws:kms:<region>:<account>:key\/<id> or …:alias\/<name>$/,
        ],
    ];
    for (const [argv, message] of usage) {
        it(`exits 2 on ${JSON.stringify(argv)}`, async () => {
            const { code, out, err } = await run(argv);
            assert.strictEqual(code, 2);
            assert.match(`${out}${err}`, message);
            assert.ok(!`${out}${err}`.includes("hunter2"), "a secret's value is never printed");
        });
    }
});

describe("preflight emulation warning", () => {
    // Plain progress of a linux/arm64 build on an amd64 engine, as BuildKit 0.13 (dockerd
    // 26) prints it for a single-platform build: no platform in the vertex names.
    const crossLines = [
        "#3 [internal] load build context",
        "#3 DONE 0.1s",
        "#4 [stage-1 1/3] COPY busybox/arm64/busybox /bin/busybox",
        "#4 DONE 0.0s",
        "#5 [data 1/2] COPY busybox/amd64/busybox /bin/busybox",
        "#5 CACHED",
        '#6 [data 2/2] RUN ["/bin/busybox", "sh", "-c", "seq 1 9 | bzip2 -9 > /data.bz2"]',
        "#6 0.512 working",
        '#6 [data 2/2] RUN ["/bin/busybox", "sh", "-c", "seq 1 9 | bzip2 -9 > /data.bz2"]',
        "#6 DONE 9.5s",
        "#7 [stage-1 2/3] COPY --from=data /data.bz2 /data.bz2",
        "#7 DONE 0.1s",
    ];
    const crossDockerfile = [
        "FROM --platform=$BUILDPLATFORM scratch AS data",
        "ARG BUILDARCH",
        "RUN make",
        "FROM scratch",
        "COPY --from=data /data.bz2 /data.bz2",
    ].join("\n");

    it("parses each step once, with its stage, instruction, cache hit and seconds", () => {
        assert.deepStrictEqual(
            parseBuildSteps(crossLines).map((s) => [s.stage, s.instruction, s.cached, s.seconds]),
            [
                [undefined, undefined, false, 0.1],
                ["stage-1", "COPY", false, 0],
                ["data", "COPY", true, 0],
                ["data", "RUN", false, 9.5],
                ["stage-1", "COPY", false, 0.1],
            ],
        );
        // Captured after a prune: BuildKit loaded step 3 from the registry cache (its own
        // layer, layers[2] of the pushed image) because step 4 needed its snapshot, and
        // printed it DONE rather than CACHED; step 4 really ran.
        const restored = parseBuildSteps([
            "#10 [stage-1 3/4] COPY --from=data /data.bz2 /data.bz2",
            "#10 sha256:3ebe6259ef191a93ff660b466a40d9fdd31d9c51e45fb331060b30edce6fab35 30.99kB / 30.99kB 0.0s done",
            "#10 extracting sha256:3ebe6259ef191a93ff660b466a40d9fdd31d9c51e45fb331060b30edce6fab35 0.0s done",
            "#10 DONE 0.1s",
            "#11 [stage-1 4/4] COPY message.txt /app/message.txt",
            "#11 DONE 0.0s",
            "#12 [data 2/2] RUN make",
            "#12 0.215 sha256:not-a-layer-line printed by the step",
            "#12 DONE 1.5s",
        ]);
        assert.deepStrictEqual(
            restored.map((s) => [s.instruction, s.cached, s.seconds]),
            [
                ["COPY", true, 0],
                ["COPY", false, 0],
                ["RUN", false, 1.5],
            ],
        );
        const prefixed = parseBuildSteps(["#8 [linux/amd64->arm64 builder 2/3] RUN go build", "#8 DONE 2.0s", "#9 [2/2] RUN x", "#9 DONE 1.0s"]);
        assert.deepStrictEqual(
            prefixed.map((s) => [s.platform, s.stage, s.instruction]),
            [
                ["linux/amd64", "builder", "RUN"],
                [undefined, undefined, "RUN"],
            ],
        );
    });

    const stageCases: [string, string, [string, string][]][] = [
        ["one stage", "FROM scratch\nRUN x", [["stage-0", "target"]]],
        [
            "$BUILDPLATFORM, braces and quotes",
            'FROM --platform=${BUILDPLATFORM} golang AS Build\nFROM --platform="$BUILDPLATFORM" scratch\nFROM build',
            [
                ["build", "build"],
                ["stage-1", "build"],
                ["stage-2", "build"],
            ],
        ],
        [
            "$TARGETPLATFORM, a fixed platform, an unknown ARG",
            "FROM --platform=$TARGETPLATFORM a\nFROM --platform=linux/arm64/v8 b AS arm\nFROM --platform=$OTHER c",
            [
                ["stage-0", "target"],
                ["arm", "linux/arm64"],
                ["stage-2", "target"],
            ],
        ],
        [
            "continued lines",
            "FROM \\\n  --platform=$BUILDPLATFORM \\\n  scratch AS gen\nFROM gen AS final",
            [
                ["gen", "build"],
                ["final", "build"],
            ],
        ],
    ];
    for (const [label, text, expected] of stageCases) {
        it(`reads where each stage runs: ${label}`, () => {
            assert.deepStrictEqual(
                dockerfileStages(text).map((s) => [s.name, s.runsOn]),
                expected,
            );
        });
    }

    it("counts RUN time of target-platform stages as emulated, and of $BUILDPLATFORM stages as native", () => {
        const steps = parseBuildSteps(crossLines);
        const stages = dockerfileStages(crossDockerfile);
        assert.deepStrictEqual(emulatedRunSeconds(steps, stages, "linux/arm64", ["linux/amd64"]), { seconds: 0, steps: [] });

        const emulated = parseBuildSteps([
            "#4 [1/2] COPY busybox/arm64/busybox /bin/busybox",
            "#4 DONE 0.0s",
            "#5 [2/2] RUN bzip2 -9 data",
            "#5 DONE 8.04s",
            "#6 [3/3] RUN true",
            "#6 CACHED",
        ]);
        const oneStage = dockerfileStages("FROM scratch\nRUN bzip2 -9 data");
        assert.deepStrictEqual(emulatedRunSeconds(emulated, oneStage, "linux/arm64", ["linux/amd64"]), { seconds: 8, steps: ["[2/2] RUN bzip2 -9 data"] });
        assert.deepStrictEqual(emulatedRunSeconds(emulated, oneStage, "linux/amd64", ["linux/amd64"]), { seconds: 0, steps: [] });
        // A builder with a native arm64 node builds arm64 without emulation.
        assert.deepStrictEqual(emulatedRunSeconds(emulated, oneStage, "linux/arm64", ["linux/amd64", "linux/arm64"]), { seconds: 0, steps: [] });
        // A platform in the vertex name (multi-platform progress) wins over the stage.
        const named = parseBuildSteps(["#7 [linux/arm64 data 2/2] RUN x", "#7 DONE 3.0s"]);
        assert.strictEqual(emulatedRunSeconds(named, stages, "linux/arm64", ["linux/amd64"]).seconds, 3);
    });

    const noteCases: [string, number, number, boolean][] = [
        ["most", 8, 10, true],
        ["exactly half", 5, 10, false],
        ["a minor part", 2, 10, false],
        ["none", 0, 10, false],
    ];
    for (const [label, emulated, build, warns] of noteCases) {
        it(`${warns ? "warns" : "does not warn"} when emulated RUN steps take ${label} of the build`, () => {
            const note = emulationNote("linux/arm64", { seconds: emulated, steps: emulated > 0 ? ["[2/2] RUN make"] : [] }, build);
            assert.strictEqual(note !== undefined, warns);
        });
    }

    it("names the platform, the seconds and the share, and points to both fixes", () => {
        assert.strictEqual(
            emulationNote("linux/arm64", { seconds: 8.04, steps: ["[2/2] RUN make"] }, 10),
            "linux/arm64: 8.0s of the 10.0s build (80%) ran in emulated RUN steps ([2/2] RUN make). " +
                "Run that work natively: move it to a `FROM --platform=$BUILDPLATFORM` stage that cross-compiles for " +
                "`TARGETOS`/`TARGETARCH` and COPY the result into the linux/arm64 stage, or build on a builder with a " +
                "native linux/arm64 node (BuildxBuilder `nodes`, one per platform).",
        );
    });
});
