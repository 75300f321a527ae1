import * as assert from "assert";
import { environmentKeyPolicy, hostPolicyDocument } from "../../../sdk/rules/iamPolicy";

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

    // SSM encrypts and decrypts a SecureString with the encryption context PARAMETER_ARN =
    // the parameter's ARN, calling KMS as ssm.<region>.amazonaws.com (Systems Manager User
    // Guide, "AWS KMS encryption for AWS Systems Manager Parameter Store SecureString
    // parameters": "Using the Parameter Store encryption context"; KMS Developer Guide,
    // "kms:ViaService"). A host may decrypt only as SSM reads its one parameter for it.
    const parameterArn = "arn:aws:ssm:eu-west-1:123456789012:parameter/team/api-environment";
    const keyArn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const throughSsm = {
        StringEquals: { "kms:ViaService": "ssm.eu-west-1.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": parameterArn },
    };

    it("allows kms:Decrypt on the environment's key only through SSM in the parameter's region, for that parameter", () => {
        const statements = JSON.parse(hostPolicyDocument({ repositoryArn, environmentParameterArn: parameterArn, environmentKeyArn: keyArn })).Statement;
        assert.deepStrictEqual(statements.slice(2), [
            { Sid: "ReadTheEnvironment", Effect: "Allow", Action: "ssm:GetParameter", Resource: parameterArn },
            { Sid: "DecryptTheEnvironment", Effect: "Allow", Action: "kms:Decrypt", Resource: keyArn, Condition: throughSsm },
        ]);
        assert.throws(() => hostPolicyDocument({ repositoryArn, environmentKeyArn: keyArn }), /is given without environmentParameterArn/);
    });

    it("writes the environment key's policy: the account administers it, the hosts' role decrypts the parameter through SSM", () => {
        assert.deepStrictEqual(JSON.parse(environmentKeyPolicy("arn:aws:iam::123456789012:role/api-role", parameterArn)), {
            Version: "2012-10-17",
            Statement: [
                { Sid: "AccountAdministersTheKey", Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "kms:*", Resource: "*" },
                {
                    Sid: "HostsDecryptTheEnvironment",
                    Effect: "Allow",
                    Principal: { AWS: "arn:aws:iam::123456789012:role/api-role" },
                    Action: "kms:Decrypt",
                    Resource: "*",
                    Condition: throughSsm,
                },
            ],
        });
        assert.throws(
            () => environmentKeyPolicy("arn:aws:iam::123456789012:role/api-role", "arn:aws:ssm:eu-west-1:123456789012:parameter/*"),
            /is not the ARN of one SSM parameter/,
        );
        assert.throws(() => environmentKeyPolicy("arn:aws:iam::123456789012:user/ci", parameterArn), /is not the ARN of an IAM role/);
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
