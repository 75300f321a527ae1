import * as assert from "assert";
import { normaliseBuildSpec } from "../../../sdk/rules/buildPlan";
import { parseRepositoryUrl } from "../../../sdk/rules/ecr";
import { InputProblems } from "../../../sdk/rules/errors";
import {
    DOCKER_HUB_REGISTRY,
    normaliseRegistryHost,
    parseImageReference,
    registryOf,
    splitTag,
    TAG_PATTERN,
    contentDigest,
    parseDigest,
} from "../../../sdk/rules/imageReference";
import { digestRef, provenanceDigest } from "../../../sdk/clients/cosign";
import { fixture } from "../../paths";

const DIGEST = `sha256:${"a".repeat(64)}`;
const ECR = "123456789012.dkr.ecr.us-west-2.amazonaws.com";

describe("image reference grammar: the registry of a reference", () => {
    const cases: [string, string][] = [
        [`${ECR}/team/api`, ECR],
        [`${ECR}/team/api@${DIGEST}`, ECR],
        [`${ECR}/team/api:v1@${DIGEST}`, ECR],
        ["127.0.0.1:5000/team/api:v1", "127.0.0.1:5000"],
        ["localhost/api", "localhost"],
        ["LocalHost:5000/api", "localhost:5000"],
        ["Registry.Example.com/api", "registry.example.com"],
        ["[::1]:5000/api", "[::1]:5000"],
        ["alpine", DOCKER_HUB_REGISTRY],
        ["alpine:3.20", DOCKER_HUB_REGISTRY],
        ["team/api", DOCKER_HUB_REGISTRY],
        ["docker.io/library/alpine", DOCKER_HUB_REGISTRY],
        ["index.docker.io/team/api", DOCKER_HUB_REGISTRY],
    ];
    for (const [reference, registry] of cases) {
        it(`reads ${JSON.stringify(reference)} as registry ${JSON.stringify(registry)}, as the parser does`, () => {
            assert.strictEqual(registryOf(reference), registry);
            assert.strictEqual(parseImageReference(reference).registry, registry);
        });
    }

    it("reads the registry of a repository URL the full grammar refuses for its length", () => {
        const url = `${ECR}/${"a".repeat(250)}`;
        assert.throws(() => parseImageReference(url), /longer than 255/);
        assert.strictEqual(registryOf(url), ECR);
        assert.strictEqual(parseRepositoryUrl(url)?.registry, ECR);
    });

    it("names a registry as credentials are given for it", () => {
        for (const host of [ECR, "127.0.0.1:5000", "LocalHost:5000", "docker.io", "Index.Docker.IO"]) {
            assert.strictEqual(normaliseRegistryHost(host), registryOf(`${host}/team/api`), host);
        }
    });
});

describe("image reference grammar: tags", () => {
    it("takes up to 128 characters, as the distribution spec (a build's tag leaves room for its -<arch> suffix)", () => {
        assert.strictEqual(parseImageReference(`127.0.0.1:5000/team/api:${"V".repeat(128)}`).tag, "V".repeat(128));
        assert.ok(TAG_PATTERN.test("V".repeat(128)));
    });
    const tags: [string, boolean][] = [
        ["v1", true],
        ["_latest", true],
        ["1.2.3-rc_1", true],
        ["V".repeat(100), true],
        ["V".repeat(129), false],
        [".hidden", false],
        ["-dash", false],
        ["a+b", false],
        ["", false],
    ];
    for (const [tag, valid] of tags) {
        const shown = JSON.stringify(tag.length > 20 ? `${tag.slice(0, 4)}…(${tag.length})` : tag);
        it(`${valid ? "accepts" : "refuses"} tag ${shown} in a reference and as the tag a build pushes`, () => {
            assert.strictEqual(TAG_PATTERN.test(tag), valid);
            if (valid) {
                assert.strictEqual(parseImageReference(`127.0.0.1:5000/team/api:${tag}`).tag, tag);
            } else {
                assert.throws(() => parseImageReference(`127.0.0.1:5000/team/api:${tag}`));
            }
            const problems = new InputProblems();
            normaliseBuildSpec({ context: fixture("hello"), tag }, problems);
            assert.strictEqual(problems.count === 0, valid);
        });
    }
});

describe("image reference grammar: the tag of a name", () => {
    const cases: [string, string, string | undefined][] = [
        ["127.0.0.1:5000/team/api:v1", "127.0.0.1:5000/team/api", "v1"],
        ["127.0.0.1:5000/team/api", "127.0.0.1:5000/team/api", undefined],
        ["localhost:5000/api", "localhost:5000/api", undefined],
        ["api:latest", "api", "latest"],
        ["api", "api", undefined],
        [`${ECR}/team/api:cache-arm64`, `${ECR}/team/api`, "cache-arm64"],
    ];
    for (const [name, repository, tag] of cases) {
        it(`splits ${name} into ${repository} and ${tag === undefined ? "no tag" : tag}, as the parser and cosign's digest ref do`, () => {
            assert.deepStrictEqual(splitTag(name), tag === undefined ? { repository } : { repository, tag });
            assert.strictEqual(parseImageReference(name).tag, tag);
            assert.strictEqual(digestRef(`${name}@${DIGEST}`), `${repository}@${DIGEST}`);
        });
    }
});

describe("image reference grammar: content digests", () => {
    it("names bytes by their SHA-256, as a registry does", () => {
        assert.strictEqual(contentDigest(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert.strictEqual(contentDigest(Buffer.from("abc")), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert.strictEqual(contentDigest("é"), contentDigest(Buffer.from("é", "utf8")));
        assert.doesNotThrow(() => parseDigest(contentDigest("{}")));
    });

    it("is the digest a provenance statement is compared by", () => {
        const provenance = { predicateType: "https://slsa.dev/provenance/v1", predicate: { b: 1, a: [2] } };
        assert.strictEqual(provenanceDigest(provenance), contentDigest('https://slsa.dev/provenance/v1\n{"a":[2],"b":1}'));
    });
});
