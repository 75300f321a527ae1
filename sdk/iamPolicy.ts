// The IAM documents of a VmDeployment's hosts: EC2 may assume the role, and the role
// may pull from one ECR repository and read one SSM parameter, nothing else.

/** The trust policy that lets EC2 instances assume a role. */
export const EC2_ASSUME_ROLE_POLICY = JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

/** The ECR actions `docker pull` needs on the repository itself. */
export const ECR_PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];

const ECR_REPOSITORY_ARN = /^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository\/[a-z0-9][a-z0-9._/-]*$/;
const SSM_PARAMETER_ARN = /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/[a-zA-Z0-9_./-]+$/;

/** What a host may read. */
export interface HostPolicyOptions {
    /** The ECR repository the host pulls from, `arn:aws:ecr:<region>:<account>:repository/<name>`. */
    repositoryArn: string;
    /** The SSM parameter holding the container's environment, when there is one. */
    environmentParameterArn?: string;
}

/**
 * The inline policy of a host's role. `ecr:GetAuthorizationToken` cannot be scoped to a
 * repository, so it is the one action on `*`; the pull actions name the repository's
 * ARN alone, and `ssm:GetParameter` names the environment parameter alone. Throws when
 * an ARN is not one of a single repository or parameter (no wildcards).
 */
export function hostPolicyDocument(options: HostPolicyOptions): string {
    if (!ECR_REPOSITORY_ARN.test(options.repositoryArn)) {
        throw new Error(
            `repositoryArn ${JSON.stringify(options.repositoryArn)} is not the ARN of one ECR repository, arn:aws:ecr:<region>:<account>:repository/<name>`,
        );
    }
    const parameterArn = options.environmentParameterArn;
    if (parameterArn !== undefined && !SSM_PARAMETER_ARN.test(parameterArn)) {
        throw new Error(
            `environmentParameterArn ${JSON.stringify(parameterArn)} is not the ARN of one SSM parameter, arn:aws:ssm:<region>:<account>:parameter/<name>`,
        );
    }
    const statements: object[] = [
        { Sid: "EcrLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
        { Sid: "PullTheImage", Effect: "Allow", Action: ECR_PULL_ACTIONS, Resource: options.repositoryArn },
    ];
    if (parameterArn !== undefined) {
        statements.push({ Sid: "ReadTheEnvironment", Effect: "Allow", Action: "ssm:GetParameter", Resource: parameterArn });
    }
    return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}
