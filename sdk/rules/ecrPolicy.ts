// The repository policy that lets other AWS accounts or roles pull a repository's
// images, and nothing else.
import { ECR_PULL_ACTIONS } from "./iamPolicy";

// A 12-digit account id, or the ARN of an account root, role or user in any partition.
const ACCOUNT_ID = /^\d{12}$/;
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(root|role\/[\w+=,.@/-]+|user\/[\w+=,.@/-]+)$/;

/** Why a pull principal is not usable, or undefined when it is. */
export function pullPrincipalProblem(principal: unknown): string | undefined {
    if (typeof principal === "string" && (ACCOUNT_ID.test(principal) || PRINCIPAL_ARN.test(principal))) {
        return undefined;
    }
    return 'expected a 12-digit AWS account id or an IAM role/user ARN, e.g. "210987654321" or "arn:aws:iam::210987654321:role/deploy"';
}

/**
 * The repository policy that grants these principals `docker pull` and nothing more:
 * `ecr:BatchGetImage`, `ecr:GetDownloadUrlForLayer` and
 * `ecr:BatchCheckLayerAvailability`, no push or delete. An account id stands for the
 * whole account, whose own IAM policies then decide which of its roles may pull (a
 * VmDeployment's hosts' policy does). Throws on a principal that is neither.
 */
export function repositoryPullPolicy(principals: string[]): string {
    const bad = principals.filter((p) => pullPrincipalProblem(p) !== undefined);
    if (bad.length > 0 || principals.length === 0) {
        throw new Error(`pull principals ${JSON.stringify(principals)}: ${pullPrincipalProblem(bad[0])}`);
    }
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Sid: "PullFromOtherAccounts", Effect: "Allow", Principal: { AWS: [...principals] }, Action: ECR_PULL_ACTIONS }],
    });
}
