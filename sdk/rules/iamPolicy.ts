// The IAM documents of a VmDeployment's hosts: EC2 may assume the role, and the role
// may pull from one ECR repository, read one SSM parameter with one KMS key (through SSM
// only), and end the launch of its own group's hosts, nothing else.
import { AUTO_SCALING_GROUP_NAME_PATTERN, KMS_KEY_ARN_PATTERN, REGION_PATTERN } from "./awsNames";

/** The trust policy that lets EC2 instances assume a role. */
export const EC2_ASSUME_ROLE_POLICY = JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

/** The ECR actions `docker pull` needs on the repository itself. */
export const ECR_PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];

const ECR_REPOSITORY_ARN = /^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository\/[a-z0-9][a-z0-9._/-]*$/;
const SSM_PARAMETER_ARN = /^arn:aws[a-z-]*:ssm:([a-z0-9-]+):\d{12}:parameter\/[a-zA-Z0-9_./-]+$/;
const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/[\w+=,.@/-]+$/;

/** The tag key a host's boot script sets on its own instance when its launch fails. */
export const LAUNCH_FAILURE_TAG = "multiarch:launch-failure";

/** The one auto-scaling group whose launches a host may complete, and where it is. */
export interface HostGroup {
    /** The group's name, fixed before the group exists. */
    name: string;
    /** The group's region. */
    region: string;
}

/** What a host may read. */
export interface HostPolicyOptions {
    /** The ECR repository the host pulls from, `arn:aws:ecr:<region>:<account>:repository/<name>`. */
    repositoryArn: string;
    /** The SSM parameter holding the container's environment, when there is one. */
    environmentParameterArn?: string;
    /** The KMS key the environment parameter is encrypted with (only with the parameter): decrypted through SSM, for that parameter alone. */
    environmentKeyArn?: string;
    /** The hosts' role, whose ARN gives the partition and account of the group's ARN. */
    roleArn?: string;
    /** The group whose launch lifecycle action a host completes (given with `roleArn`). */
    group?: HostGroup;
}

/**
 * The condition of the hosts' `kms:Decrypt` on the environment's key: only when SSM in the
 * parameter's region decrypts that one parameter for them, so a process on a host cannot
 * call KMS directly with the key, or have SSM decrypt another parameter under it.
 *
 * SSM encrypts and decrypts a SecureString with the encryption context
 * `"PARAMETER_ARN": "arn:aws:ssm:<region>:<account>:parameter/<name>"` (Systems Manager
 * User Guide, "AWS KMS encryption for AWS Systems Manager Parameter Store SecureString
 * parameters", formerly the KMS Developer Guide's "How AWS Systems Manager Parameter Store
 * uses AWS KMS": "Using the Parameter Store encryption context"), which
 * `kms:EncryptionContext:PARAMETER_ARN` matches; `kms:ViaService` is
 * `ssm.<region>.amazonaws.com` when SSM makes the call (KMS Developer Guide,
 * "kms:ViaService").
 */
function throughSsmFor(parameterArn: string): { StringEquals: Record<string, string> } {
    const region = SSM_PARAMETER_ARN.exec(parameterArn)![1];
    return { StringEquals: { "kms:ViaService": `ssm.${region}.amazonaws.com`, "kms:EncryptionContext:PARAMETER_ARN": parameterArn } };
}

/** Throws unless `parameterArn` is the ARN of one SSM parameter (no wildcard). */
function checkParameterArn(parameterArn: string): void {
    if (!SSM_PARAMETER_ARN.test(parameterArn)) {
        throw new Error(
            `environmentParameterArn ${JSON.stringify(parameterArn)} is not the ARN of one SSM parameter, arn:aws:ssm:<region>:<account>:parameter/<name>`,
        );
    }
}

/**
 * The key policy of the environment's KMS key: the account administers it, the hosts'
 * role decrypts the one parameter through SSM.
 */
export function environmentKeyPolicy(roleArn: string, parameterArn: string): string {
    const role = ROLE_ARN.exec(roleArn);
    if (!role) {
        throw new Error(`roleArn ${JSON.stringify(roleArn)} is not the ARN of an IAM role, arn:aws:iam::<account>:role/<name>`);
    }
    checkParameterArn(parameterArn);
    const [, partition, account] = role;
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                // The key policy's usual first statement: without it nobody could ever
                // manage the key again. It lets IAM policies of the account grant use of
                // the key; a principal needs such a grant (kms:Decrypt on this key or on
                // "*", as administrators have) besides ssm:GetParameter to read the value.
                Sid: "AccountAdministersTheKey",
                Effect: "Allow",
                Principal: { AWS: `arn:${partition}:iam::${account}:root` },
                Action: "kms:*",
                Resource: "*",
            },
            {
                Sid: "HostsDecryptTheEnvironment",
                Effect: "Allow",
                Principal: { AWS: roleArn },
                Action: "kms:Decrypt",
                Resource: "*",
                Condition: throughSsmFor(parameterArn),
            },
        ],
    });
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
    if (parameterArn !== undefined) {
        checkParameterArn(parameterArn);
    }
    const keyArn = options.environmentKeyArn;
    if (keyArn !== undefined && !KMS_KEY_ARN_PATTERN.test(keyArn)) {
        throw new Error(`environmentKeyArn ${JSON.stringify(keyArn)} is not the ARN of one KMS key, arn:aws:kms:<region>:<account>:key/<id>`);
    }
    if (keyArn !== undefined && parameterArn === undefined) {
        throw new Error(`environmentKeyArn ${JSON.stringify(keyArn)} is given without environmentParameterArn: the key is granted only for the parameter`);
    }
    const statements: object[] = [
        { Sid: "EcrLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
        { Sid: "PullTheImage", Effect: "Allow", Action: ECR_PULL_ACTIONS, Resource: options.repositoryArn },
    ];
    if (parameterArn !== undefined) {
        statements.push({ Sid: "ReadTheEnvironment", Effect: "Allow", Action: "ssm:GetParameter", Resource: parameterArn });
    }
    if (keyArn !== undefined && parameterArn !== undefined) {
        statements.push({ Sid: "DecryptTheEnvironment", Effect: "Allow", Action: "kms:Decrypt", Resource: keyArn, Condition: throughSsmFor(parameterArn) });
    }
    if (options.group !== undefined) {
        const role = ROLE_ARN.exec(options.roleArn ?? "");
        const { name, region } = options.group;
        if (!role || !AUTO_SCALING_GROUP_NAME_PATTERN.test(name) || !REGION_PATTERN.test(region)) {
            throw new Error(`group ${JSON.stringify(options.group)} with roleArn ${JSON.stringify(options.roleArn)} does not name one auto-scaling group`);
        }
        const [, partition, account] = role;
        statements.push(
            {
                // A host says whether its own launch succeeded: only in its own group.
                Sid: "CompleteTheLaunch",
                Effect: "Allow",
                Action: "autoscaling:CompleteLifecycleAction",
                Resource: `arn:${partition}:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/${name}`,
            },
            {
                // A host whose launch failed says why on itself: one tag key, on the
                // group's instances only.
                Sid: "TagTheFailedLaunch",
                Effect: "Allow",
                Action: "ec2:CreateTags",
                Resource: `arn:${partition}:ec2:${region}:${account}:instance/*`,
                Condition: {
                    StringEquals: { "aws:ResourceTag/aws:autoscaling:groupName": name },
                    "ForAllValues:StringEquals": { "aws:TagKeys": [LAUNCH_FAILURE_TAG] },
                },
            },
        );
    }
    return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}
