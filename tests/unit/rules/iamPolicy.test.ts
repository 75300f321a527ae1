import * as assert from "assert";
import { hostPolicyDocument } from "../../../sdk/rules/iamPolicy";

describe("host IAM policy", () => {
    const repositoryArn = "arn:aws:ecr:us-west-2:123456789012:repository/team/api";

    it("allows the ECR login on * and the pull actions on the one repository", () => {
        assert.deepStrictEqual(JSON.parse(hostPolicyDocument({ repositoryArn })), {
            Version: "2012-10-17",
            Statement: [
                { Sid: "EcrLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
                {
                    Sid: "PullTheImage",
                    Effect: "Allow",
                    Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    Resource: repositoryArn,
                },
            ],
        });
    });

    it("allows reading the one environment parameter when there is one", () => {
        const parameterArn = "arn:aws:ssm:us-west-2:123456789012:parameter/api-environment";
        const statements = JSON.parse(hostPolicyDocument({ repositoryArn, environmentParameterArn: parameterArn })).Statement;
        assert.deepStrictEqual(statements[2], { Sid: "ReadTheEnvironment", Effect: "Allow", Action: "ssm:GetParameter", Resource: parameterArn });
    });

    it("refuses a wildcard repository or parameter", () => {
        assert.throws(() => hostPolicyDocument({ repositoryArn: "arn:aws:ecr:us-west-2:123456789012:repository/*" }), /is not the ARN of one ECR repository/);
        assert.throws(() => hostPolicyDocument({ repositoryArn: "*" }), /is not the ARN of one ECR repository/);
        assert.throws(
            () => hostPolicyDocument({ repositoryArn, environmentParameterArn: "arn:aws:ssm:us-west-2:123456789012:parameter/*" }),
            /is not the ARN of one SSM parameter/,
        );
    });
});
