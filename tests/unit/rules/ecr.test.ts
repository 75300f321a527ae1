import * as assert from "assert";
import {
    defaultRepositoryName,
    immutableTags,
    lifecyclePolicy,
    mutableTagFilters,
    parseRepositoryUrl,
    partitionOfRegion,
    repositoryArnFromUrl,
    repositoryNameProblem,
    tagMutabilityProblem,
    wildcardMatches,
} from "../../../sdk/rules/ecr";
import { registryOf } from "../../../sdk/rules/imageReference";

describe("ECR rules", () => {
    const valid = ["ab", "api", "team/api", "team/sub-team/api_v2", "a.b-c_d/e", "a".repeat(256)];
    for (const name of valid) {
        it(`accepts repository name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}…(${name.length})` : name)}`, () => {
            assert.strictEqual(repositoryNameProblem(name), undefined);
        });
    }
    const invalid = ["a", "Api", "team//api", "/api", "api/", "-api", "api-", "a..b", "a b", "a".repeat(257), "api:latest"];
    for (const name of invalid) {
        it(`rejects repository name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}…(${name.length})` : name)}`, () => {
            assert.match(repositoryNameProblem(name) ?? "", /lowercase letters, digits/);
        });
    }

    it("parses an ECR repository URL", () => {
        assert.deepStrictEqual(parseRepositoryUrl("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api"), {
            registryId: "123456789012",
            region: "eu-west-1",
            name: "team/api",
            registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        });
        assert.strictEqual(parseRepositoryUrl("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/api")?.region, "cn-north-1");
    });

    for (const url of [
        "docker.io/library/alpine",
        "123.dkr.ecr.us-east-1.amazonaws.com/api",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/Api",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:tag",
    ]) {
        it(`rejects ${url} as an ECR repository URL`, () => {
            assert.strictEqual(parseRepositoryUrl(url), undefined);
        });
    }

    it("derives a valid, per-stack default name", () => {
        assert.strictEqual(defaultRepositoryName("My Project", "Dev", "api"), "my-project/dev/api");
        assert.strictEqual(defaultRepositoryName("p", "prod", "API__Service"), "p/prod/api-service");
        assert.strictEqual(repositoryNameProblem(defaultRepositoryName("p", "s", "---")), undefined);
    });

    it("keeps only the moving tag, its per-platform tags, the caches and cosign's signature tags mutable", () => {
        assert.deepStrictEqual(mutableTagFilters("latest"), [
            { filter: "latest", filterType: "WILDCARD" },
            { filter: "latest-*", filterType: "WILDCARD" },
            { filter: "cache-*", filterType: "WILDCARD" },
            { filter: "sha256-*", filterType: "WILDCARD" },
        ]);
    });

    it("expires only untagged images", () => {
        const policy = JSON.parse(lifecyclePolicy(14));
        assert.strictEqual(policy.rules.length, 1);
        assert.deepStrictEqual(policy.rules[0].selection, { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 14 });
        assert.deepStrictEqual(policy.rules[0].action, { type: "expire" });
    });

    // ECR's WILDCARD filter (ImageTagMutabilityExclusionFilter): `*` matches any run of characters, the whole tag must match.
    const wildcards: [string, string, boolean][] = [
        ["latest", "latest", true],
        ["latest", "latest-amd64", false],
        ["latest-*", "latest-amd64", true],
        ["latest-*", "latest", false],
        ["cache-*", "cache-arm64", true],
        ["*-amd64", "v1.2-amd64", true],
        ["v1.2", "v1x2", false],
        ["v*-*", "v1-arm64", true],
        ["*", "anything", true],
    ];
    for (const [filter, tag, expected] of wildcards) {
        it(`${expected ? "matches" : "does not match"} ${tag} with the filter ${filter}`, () => {
            assert.strictEqual(wildcardMatches(filter, tag), expected);
        });
    }

    const moving = ["latest", "latest-amd64", "cache-amd64"];
    const mutability: [string, string[], string[]][] = [
        ["MUTABLE", [], []],
        ["IMMUTABLE", [], moving],
        ["IMMUTABLE_WITH_EXCLUSION", ["latest", "latest-*", "cache-*"], []],
        ["IMMUTABLE_WITH_EXCLUSION", ["latest*"], ["cache-amd64"]],
        ["IMMUTABLE_WITH_EXCLUSION", [], moving],
        ["MUTABLE_WITH_EXCLUSION", ["release-*"], []],
        ["MUTABLE_WITH_EXCLUSION", ["latest"], ["latest"]],
    ];
    for (const [mode, filters, expected] of mutability) {
        it(`finds ${JSON.stringify(expected)} immutable under ${mode} ${JSON.stringify(filters)}`, () => {
            const setting = { imageTagMutability: mode, imageTagMutabilityExclusionFilters: filters.map((filter) => ({ filter, filterType: "WILDCARD" })) };
            assert.deepStrictEqual(immutableTags(setting, moving), expected);
            assert.strictEqual(tagMutabilityProblem("team/api", setting, "latest", moving) === undefined, expected.length === 0);
        });
    }

    it("suggests exactly the filters the created repository uses when every tag is immutable", () => {
        // With signing, cosign's signature tags move too (a second key, a replaced attestation).
        const signature = `sha256-${"0".repeat(64)}.sig`;
        const problem = tagMutabilityProblem("team/api", { imageTagMutability: "IMMUTABLE" }, "latest", [...moving, signature]);
        const suggested = mutableTagFilters("latest").map((f) => `filterType=${f.filterType},filter=${f.filter}`);
        assert.ok(problem?.endsWith(`--image-tag-mutability-exclusion-filters ${suggested.join(" ")}\`), or use image tag mutability MUTABLE`), problem);
    });

    describe("one repository URL shape for the URL's parts, its ARN and its registry", () => {
        const urls: [string, "parts and ARN" | "ARN only" | "neither"][] = [
            ["123456789012.dkr.ecr.us-west-2.amazonaws.com/team/api", "parts and ARN"],
            ["123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com/api", "parts and ARN"],
            ["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/api", "parts and ARN"],
            ["123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov/api", "ARN only"],
            ["123456789012.dkr.ecr.us-west-2.amazonaws.com.evil/api", "neither"],
            ["123456789012.dkr.ecr.us-west-2.amazonaws.com/Api", "neither"],
            ["123456789012.dkr.ecr.us-west-2.amazonaws.com/api:v1", "neither"],
            ["12345678901.dkr.ecr.us-west-2.amazonaws.com/api", "neither"],
            ["127.0.0.1:5000/team/api", "neither"],
        ];
        for (const [url, reads] of urls) {
            it(`reads ${reads} from ${url}`, () => {
                const parts = parseRepositoryUrl(url);
                const arn = repositoryArnFromUrl(url);
                assert.strictEqual(parts !== undefined, reads === "parts and ARN");
                assert.strictEqual(arn !== undefined, reads !== "neither");
                if (parts !== undefined) {
                    assert.strictEqual(arn, `arn:${partitionOfRegion(parts.region)}:ecr:${parts.region}:${parts.registryId}:repository/${parts.name}`);
                    assert.strictEqual(parts.registry, registryOf(url));
                    assert.strictEqual(`${parts.registry}/${parts.name}`, url);
                }
            });
        }
    });

    describe("repository ARNs follow the region's partition", () => {
        const cases: [string, string][] = [
            ["123456789012.dkr.ecr.us-west-2.amazonaws.com/team/api", "arn:aws:ecr:us-west-2:123456789012:repository/team/api"],
            ["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/api", "arn:aws-cn:ecr:cn-north-1:123456789012:repository/team/api"],
            ["123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/team/api", "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/team/api"],
            ["123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com/api", "arn:aws-us-gov:ecr:us-gov-east-1:123456789012:repository/api"],
            ["123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov/api", "arn:aws-iso:ecr:us-iso-east-1:123456789012:repository/api"],
            ["123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/api", "arn:aws-iso-b:ecr:us-isob-east-1:123456789012:repository/api"],
        ];
        for (const [url, arn] of cases) {
            it(`${url} → ${arn.split(":")[1]}`, () => assert.strictEqual(repositoryArnFromUrl(url), arn));
        }
        it("is undefined for what is not an ECR repository", () => {
            for (const url of ["quay.io/team/api", "123456789012.dkr.ecr.us-west-2.evil.example/api", "123456789012.dkr.ecr.us-west-2.amazonaws.com/Bad"]) {
                assert.strictEqual(repositoryArnFromUrl(url), undefined, url);
            }
        });
    });
});
