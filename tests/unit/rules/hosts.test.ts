// What VmDeployment's hosts are (sdk/rules/hosts.ts): the group's name, the platform an
// instance type runs from the image's platforms, and the Amazon Linux 2023 AMI of each.
import * as assert from "assert";
import { al2023AmiParameter, autoScalingGroupName, hostPlatform } from "../../../sdk/rules/hosts";
import { INSTANCE_TYPE_ARCHITECTURES } from "../../mocks";

describe("host rules", () => {
    it("names the group <project>-<stack>-<name>, made safe and at most 255 characters", () => {
        assert.strictEqual(autoScalingGroupName("shop", "prod", "api"), "shop-prod-api");
        assert.strictEqual(autoScalingGroupName("shop", "org/prod", "api v2"), "shop-org-prod-api-v2");
        const long = autoScalingGroupName("p", "s", "x".repeat(300));
        assert.strictEqual(long.length, 255);
        assert.notStrictEqual(long, autoScalingGroupName("p", "s", "x".repeat(301)));
    });

    describe("the platform an instance type runs", () => {
        const table: [string, string[], string | RegExp][] = [
            ["t3.micro", ["linux/amd64", "linux/arm64"], "linux/amd64"],
            ["t3.small", ["linux/arm64", "linux/amd64"], "linux/amd64"],
            ["g5.xlarge", ["linux/amd64", "linux/arm64"], "linux/amd64"],
            ["t2.micro", ["linux/amd64"], "linux/amd64"],
            ["t4g.small", ["linux/amd64", "linux/arm64"], "linux/arm64"],
            ["c7g.large", ["linux/arm64"], "linux/arm64"],
            ["a1.medium", ["linux/amd64", "linux/arm64"], "linux/arm64"],
            [
                "t3.small",
                ["linux/arm64"],
                /^`instanceType` is "t3.small", whose architecture is x86_64 \(linux\/amd64\), but the image was built for linux\/arm64 only: add "linux\/amd64" to the image's `platforms`, or choose an instance type whose architecture is arm64 \(linux\/arm64\), e.g. "t4g.small"$/,
            ],
            [
                "t4g.small",
                ["linux/s390x"],
                /^`instanceType` is "t4g.small", whose architecture is arm64 \(linux\/arm64\), but the image was built for linux\/s390x only: add "linux\/arm64" to the image's `platforms`$/,
            ],
            [
                "mac2.metal",
                ["linux/arm64"],
                /^`instanceType` is "mac2.metal", whose architecture is arm64_mac: VmDeployment runs Amazon Linux 2023, which has AMIs for x86_64 and arm64 only/,
            ],
        ];
        for (const [instanceType, platforms, expected] of table) {
            it(`${instanceType} (${INSTANCE_TYPE_ARCHITECTURES[instanceType].join(", ")}) with ${platforms.join(", ")} ${typeof expected === "string" ? `runs ${expected}` : "fails"}`, () => {
                const result = hostPlatform(instanceType, INSTANCE_TYPE_ARCHITECTURES[instanceType], platforms);
                if (typeof expected === "string") {
                    assert.deepStrictEqual(result, { platform: expected });
                } else {
                    assert.ok("reason" in result, `expected a reason, got ${JSON.stringify(result)}`);
                    assert.match(result.reason, expected);
                }
            });
        }

        it("looks up the Amazon Linux 2023 AMI of each host platform", () => {
            assert.strictEqual(al2023AmiParameter("linux/amd64"), "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64");
            assert.strictEqual(al2023AmiParameter("linux/arm64"), "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64");
        });
    });
});
