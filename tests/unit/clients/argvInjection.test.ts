// Values that start with `-` never reach the docker CLI or cosign where they expect a
// positional argument: they are refused before anything runs, and every positional
// follows `--`.
import * as assert from "assert";
import * as path from "path";
import { imagetoolsCreateArgv, positionalProblem } from "../../../sdk/clients/buildx";
import { PROVENANCE_PREDICATE_TYPE, digestRef, signImages } from "../../../sdk/clients/cosign";
import type { DockerOutput } from "../../../sdk/clients/docker";
import { CopySpec, copyImage, cosignCopyArgv, readServed } from "../../../sdk/clients/imageCopy";
import { main } from "../../../sdk/cli/main";
import { planPreflight } from "../../../sdk/cli/preflight";
import { PreflightError } from "../../../sdk/rules/preflightError";
import { EXAMPLE_APP } from "../../paths";
import { fakeDigest } from "../../mocks";
import { standIns, useEnv } from "./standIn";

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

describe("image references the copy and cosign clients hand to a CLI", () => {
    const repository = "127.0.0.1:5001/team/api";
    const digest = fakeDigest("index");
    const byDigest = `${repository}@${digest}`;
    const spec: CopySpec = { sources: [byDigest], destination: `${repository}:prod`, platformDigests: { "linux/amd64": fakeDigest("amd64") } };
    const logins = [{ registry: "127.0.0.1:5001", username: "multiarch", password: "registry-password" }];
    const flag = `--tag=127.0.0.1:5001/other/repository:moved`;

    /** A docker CLI stand-in that records each argv, copies and serves nothing. */
    function recorder() {
        const calls: string[][] = [];
        const run = async (argv: string[]): Promise<DockerOutput> => {
            calls.push(argv);
            if (argv[2] === "create") {
                return { stdout: "", stderr: "" };
            }
            throw Object.assign(new Error("not found"), { stderr: "not found" });
        };
        return { calls, run };
    }

    const refused: [string, Partial<CopySpec>, RegExp][] = [
        ["a source that is a flag", { sources: [flag] }, /source 1: image reference "--tag=127\.0\.0\.1:5001\/other\/repository:moved" is not valid/],
        ["a source by tag", { sources: [`${repository}:v1`] }, /source 1 is "127\.0\.0\.1:5001\/team\/api:v1": expected an image by digest/],
        ["a destination that is a flag", { destination: "--help" }, /the destination: image reference "--help" is not valid/],
        ["a destination without a tag", { destination: repository }, /the destination is "127\.0\.0\.1:5001\/team\/api": expected <repository>:<tag>/],
        ["a signed image that is a flag", { signatures: [`--output-signature=/tmp/x@${digest}`] }, /signed image 1: image reference "--output-signature=/],
        ["a digest that is not one", { platformDigests: { "linux/amd64": "--force" } }, /the digest of linux\/amd64 is "--force": expected sha256:<64 hex>/],
    ];
    for (const [what, change, message] of refused) {
        it(`copyImage refuses ${what} before anything runs`, async () => {
            const { calls, run } = recorder();
            await assert.rejects(copyImage({ ...spec, ...change }, logins, run), (error: Error) => {
                assert.match(error.message, /^cannot copy to .*, nothing was run:\n {2}- /);
                assert.match(error.message, message);
                return true;
            });
            assert.deepStrictEqual(calls, [], "no docker call ran");
        });
    }

    it("readServed refuses a reference that is a flag without running, and puts `--` before the one it reads", async () => {
        const { calls, run } = recorder();
        await assert.rejects(readServed(flag, {}, run), /`docker buildx imagetools inspect` was not run: image reference "--tag=/);
        assert.deepStrictEqual(calls, []);
        assert.strictEqual(await readServed(`${repository}:prod`, {}, run), undefined);
        assert.deepStrictEqual(calls, [["buildx", "imagetools", "inspect", "--raw", "--", `${repository}:prod`]]);
    });

    it("copyImage puts `--` before the references of every docker call", async () => {
        const { calls, run } = recorder();
        await assert.rejects(copyImage(spec, logins, run), /reading it back found/);
        assert.deepStrictEqual(
            calls.map((argv) => argv.slice(2)),
            [
                ["inspect", "--raw", "--", spec.destination],
                ["create", "--tag", spec.destination, "--", byDigest],
                ["inspect", "--raw", "--", spec.destination],
                ["inspect", "--raw", "--", `${repository}@${spec.platformDigests["linux/amd64"]}`],
            ],
        );
    });

    it("cosign copy gets the source by digest and the destination repository after `--`, and neither may be a flag", () => {
        assert.deepStrictEqual(cosignCopyArgv(`${repository}:v1@${digest}`, "127.0.0.1:5443/prod/api:prod"), [
            "copy",
            "--only=sig",
            "--",
            byDigest,
            "127.0.0.1:5443/prod/api",
        ]);
        assert.throws(
            () => cosignCopyArgv(`--output-signature=/tmp/x@${digest}`, spec.destination),
            /image reference "--output-signature=\/tmp\/x@sha256:[0-9a-f]{64}" is not valid/,
        );
        assert.throws(() => cosignCopyArgv(byDigest, "--force"), /`cosign copy` was not run: the destination: image reference "--force" is not valid/);
    });

    it("digestRef takes a reference by digest and never a flag", () => {
        assert.strictEqual(digestRef(`${repository}:v1@${digest}`), byDigest);
        for (const ref of [`--output-signature=/tmp/x@${digest}`, `-${repository}@${digest}`, `${repository}@${digest}--x`]) {
            assert.throws(() => digestRef(ref), /is not valid: .*expected \[registry\/\]repository\[:tag\]\[@sha256:<64 hex>\]/, ref);
        }
        assert.throws(() => digestRef(`${repository}:v1`), /is not an image by digest/);
    });
});

describe("cosign's argv: every image follows `--` (a stand-in cosign records each call)", () => {
    const programs = standIns({
        cosign: [
            'case "$1" in',
            "  public-key) echo 'stand-in public key' ;;",
            "  verify) echo 'Error: no signatures found' >&2; exit 1 ;;",
            "  verify-attestation) exit 1 ;;",
            "esac",
        ].join("\n"),
    });
    useEnv(() => ({ PATH: `${programs.bin}${path.delimiter}${process.env.PATH}` }));
    after(() => programs.remove());

    it("signs, attests and verifies with each ref after `--`", async () => {
        const refs = [`127.0.0.1:5001/team/api@${fakeDigest("amd64")}`, `127.0.0.1:5001/team/api@${fakeDigest("arm64")}`];
        const privateKey = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nstand-in\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
        const result = await signImages({ refs, key: { privateKey, password: "pw" }, provenance: { predicateType: PROVENANCE_PREDICATE_TYPE, predicate: {} } });
        assert.deepStrictEqual(result.signed, refs);
        const calls = programs.calls();
        assert.deepStrictEqual(calls.map((argv) => argv[0]).sort(), [
            "attest",
            "attest",
            "public-key",
            "sign",
            "verify",
            "verify",
            "verify-attestation",
            "verify-attestation",
        ]);
        for (const argv of calls.filter((a) => a[0] !== "public-key")) {
            const images = argv[0] === "sign" ? refs : refs.filter((ref) => argv.includes(ref));
            assert.deepStrictEqual(argv.slice(-images.length - 1), ["--", ...images], argv.join(" "));
            assert.strictEqual(images.length > 0, true, argv.join(" "));
        }
    });
});
