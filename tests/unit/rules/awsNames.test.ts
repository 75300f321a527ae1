import * as assert from "assert";
import { AUTO_SCALING_GROUP_NAME_PATTERN, AWS_PROFILE_NAME_PATTERN, KMS_KEY_ARN_PATTERN, REGION_PATTERN, kmsKeyArnProblem } from "../../../sdk/rules/awsNames";
import { renderBootScript } from "../../../sdk/rules/bootScript";
import { dnsSuffixOfRegion } from "../../../sdk/rules/ecr";
import { hostPolicyDocument } from "../../../sdk/rules/iamPolicy";

// The image is in the region's own ECR registry, as the boot script requires.
const refIn = (region: string) => `123456789012.dkr.ecr.${region}.${dnsSuffixOfRegion(region)}/team/api@sha256:${"a".repeat(64)}`;
const REPOSITORY_ARN = "arn:aws:ecr:us-west-2:123456789012:repository/team/api";
const ROLE_ARN = "arn:aws:iam::123456789012:role/hosts";

// Each name is checked where the boot script renders it and where the hosts' policy
// grants on it: both read the one pattern.
const bootScript = (region: string, group: string) => () =>
    renderBootScript({
        containerName: "multiarch-api",
        imageRef: refIn(region),
        platform: "linux/amd64",
        registryRegion: region,
        lifecycleHook: { name: group, groupName: group, region },
    });
const hostPolicy = (region: string, group: string, keyArn?: string) => () =>
    hostPolicyDocument({
        repositoryArn: REPOSITORY_ARN,
        roleArn: ROLE_ARN,
        group: { name: group, region },
        ...(keyArn === undefined ? {} : { environmentParameterArn: "arn:aws:ssm:us-west-2:123456789012:parameter/api/env", environmentKeyArn: keyArn }),
    });
const check = (valid: boolean, ...uses: (() => unknown)[]) => {
    for (const use of uses) {
        if (valid) {
            use();
        } else {
            assert.throws(use);
        }
    }
};

describe("AWS names", () => {
    const regions: [string, boolean][] = [
        ["us-west-2", true],
        ["us-gov-east-1", true],
        ["cn-north-1", true],
        ["eu-isoe-west-1", true],
        ["us-west", false],
        ["US-WEST-2", false],
        ["us-west-2a", false],
        ["", false],
    ];
    for (const [region, valid] of regions) {
        it(`${valid ? "accepts" : "refuses"} region ${JSON.stringify(region)} in the boot script and the hosts' policy`, () => {
            assert.strictEqual(REGION_PATTERN.test(region), valid);
            check(valid, bootScript(region, "api-asg"), hostPolicy(region, "api-asg"));
        });
    }

    const groups: [string, boolean][] = [
        ["shop-prod-api", true],
        ["A_b.c-1", true],
        ["x".repeat(255), true],
        ["x".repeat(256), false],
        ["", false],
        ["api asg", false],
        ["api/asg", false],
    ];
    for (const [group, valid] of groups) {
        it(`${valid ? "accepts" : "refuses"} auto-scaling group ${JSON.stringify(group.length > 20 ? `${group.slice(0, 4)}…(${group.length})` : group)}`, () => {
            assert.strictEqual(AUTO_SCALING_GROUP_NAME_PATTERN.test(group), valid);
            check(valid, bootScript("us-west-2", group), hostPolicy("us-west-2", group));
        });
    }

    const keys: [string, boolean][] = [
        ["arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", true],
        ["arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd", true],
        ["arn:aws:kms:us-west-2:123456789012:alias/app", false],
        ["arn:aws:kms:us-west-2:12345678901:key/1234abcd", false],
        ["1234abcd-12ab-34cd-56ef-1234567890ab", false],
    ];
    for (const [key, valid] of keys) {
        it(`${valid ? "accepts" : "refuses"} ${key} as the environment's KMS key`, () => {
            assert.strictEqual(KMS_KEY_ARN_PATTERN.test(key), valid);
            check(valid, hostPolicy("us-west-2", "api-asg", key));
        });
    }

    // One rule for both uses of a KMS key: an alias picks the key that signs, but cannot be
    // the key a signature must verify with (kms:UpdateAlias could repoint it).
    const ALIAS =
        "expected a key ARN, arn:aws:kms:<region>:<account>:key/<id>, or a public key, not an alias: whoever may kms:UpdateAlias could point it at another key";
    const signingKeys: [string, string | undefined, string | undefined][] = [
        ["arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", undefined, undefined],
        ["arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1234abcd", undefined, undefined],
        ["arn:aws:kms:us-west-2:123456789012:alias/release-signing", undefined, ALIAS],
        ["arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/team/signing_key", undefined, ALIAS],
        [
            "alias/release-signing",
            "expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id> or …:alias/<name>",
            "expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id>, or a public key",
        ],
        [
            "arn:aws:kms:us-west-2:123456789012:key/*",
            "expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id> or …:alias/<name>",
            "expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id>, or a public key",
        ],
    ];
    for (const [arn, signing, verification] of signingKeys) {
        it(`${signing === undefined ? "takes" : "refuses"} ${arn} to sign with, and ${verification === undefined ? "takes" : "refuses"} it to verify with`, () => {
            assert.strictEqual(kmsKeyArnProblem(arn, "signing"), signing);
            assert.strictEqual(kmsKeyArnProblem(arn, "verification"), verification);
        });
    }

    const profiles: [string, boolean][] = [
        ["prod", true],
        ["prod_eu-west.1", true],
        [".hidden", true],
        ["-p", false],
        ["--debug", false],
        ["prod account", false],
        ["prod;x", false],
        ["", false],
    ];
    for (const [profile, valid] of profiles) {
        it(`${valid ? "accepts" : "refuses"} the AWS profile ${JSON.stringify(profile)} on the CLI's command line`, () => {
            assert.strictEqual(AWS_PROFILE_NAME_PATTERN.test(profile), valid);
        });
    }
});
