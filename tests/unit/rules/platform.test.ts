import * as assert from "assert";
import { archOf, normalisePlatform, normalisePlatforms, parsePlatform, platformForEc2Architecture, unameMachine } from "../../../sdk/rules/platform";

describe("platform parsing", () => {
    const canonical: [string, string][] = [
        ["linux/amd64", "linux/amd64"],
        ["linux/arm64", "linux/arm64"],
        ["amd64", "linux/amd64"],
        ["x86_64", "linux/amd64"],
        ["x86-64", "linux/amd64"],
        ["arm64", "linux/arm64"],
        ["aarch64", "linux/arm64"],
        ["linux/arm64/v8", "linux/arm64"],
        ["linux/aarch64", "linux/arm64"],
        ["LINUX/AMD64", "linux/amd64"],
        [" linux/amd64 ", "linux/amd64"],
        ["linux/amd64/v1", "linux/amd64"],
        ["i386", "linux/386"],
        ["linux/ppc64le", "linux/ppc64le"],
        ["ppc64el", "linux/ppc64le"],
        ["s390x", "linux/s390x"],
        ["riscv64", "linux/riscv64"],
        ["armhf", "linux/arm"],
    ];
    for (const [spelling, expected] of canonical) {
        it(`normalises ${JSON.stringify(spelling)} to ${expected}`, () => {
            assert.deepStrictEqual(parsePlatform(spelling), { platform: expected });
            assert.strictEqual(normalisePlatform(spelling), expected);
        });
    }

    const malformed: [string, RegExp][] = [
        ["", /expected os\/arch\[\/variant\]/],
        ["linux/amd65", /expected os\/arch\[\/variant\]/],
        ["linux/", /expected os\/arch/],
        ["/amd64", /expected os\/arch/],
        ["linux/arm64/v8/extra", /expected os\/arch/],
        ["windows/amd64", /only linux images are built/],
        ["darwin/arm64", /only linux images are built/],
        ["linux/arm/v7", /variant "v7" of arm is not supported by docker-build/],
        ["linux/arm64/v9", /variant "v9" of arm64/],
        ["linux amd64", /expected os\/arch/],
        ["sparc", /expected os\/arch/],
    ];
    for (const [spelling, message] of malformed) {
        it(`rejects ${JSON.stringify(spelling)}`, () => {
            const parsed = parsePlatform(spelling);
            assert.ok("error" in parsed, `expected an error for ${spelling}`);
            assert.match(parsed.error, message);
            assert.throws(
                () => normalisePlatform(spelling),
                (e: Error) => e.message.startsWith(`platform ${JSON.stringify(spelling)}: `),
            );
        });
    }

    it("lists what is allowed in the error", () => {
        const parsed = parsePlatform("linux/amd65");
        assert.ok("error" in parsed);
        assert.match(parsed.error, /linux\/amd64, linux\/arm, linux\/arm64/);
    });

    it("keeps order and reports duplicates after normalising", () => {
        const result = normalisePlatforms(["arm64", "linux/amd64", "aarch64", "x86_64", "bogus"]);
        assert.deepStrictEqual(result.platforms, ["linux/arm64", "linux/amd64"]);
        assert.deepStrictEqual(
            result.problems.map((p) => [p.index, p.value]),
            [
                [2, "aarch64"],
                [3, "x86_64"],
                [4, "bogus"],
            ],
        );
        assert.match(result.problems[0].reason, /duplicates \[0\] \(both are linux\/arm64\)/);
        assert.match(result.problems[1].reason, /duplicates \[1\] \(both are linux\/amd64\)/);
    });

    it("rejects an empty list", () => {
        const result = normalisePlatforms([]);
        assert.deepStrictEqual(result.platforms, []);
        assert.strictEqual(result.problems.length, 1);
        assert.match(result.problems[0].reason, /at least one platform/);
    });

    const ec2: [string, string | undefined][] = [
        ["x86_64", "linux/amd64"],
        ["arm64", "linux/arm64"],
        ["i386", "linux/386"],
        ["x86_64_mac", undefined],
    ];
    for (const [architecture, platform] of ec2) {
        it(`maps EC2 architecture ${architecture} to ${platform}`, () => {
            assert.strictEqual(platformForEc2Architecture(architecture), platform);
        });
    }

    it("names each platform's uname -m and tag suffix", () => {
        assert.strictEqual(unameMachine("linux/amd64"), "x86_64");
        assert.strictEqual(unameMachine("linux/arm64"), "aarch64");
        assert.strictEqual(archOf("linux/arm64"), "arm64");
        assert.strictEqual(archOf("linux/mips64le"), "mips64le");
    });
});
