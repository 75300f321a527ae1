// AWS names that more than one rule checks: a region, an auto-scaling group, a KMS key, a
// named profile. Pure and import-free: the rollout wait's provider is serialised with what
// it imports.

/** An AWS region, e.g. `us-west-2`, `us-gov-east-1`, `cn-north-1`. */
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** An auto-scaling group's (or its lifecycle hook's) name: 1 to 255 letters, digits and `_.-`. */
export const AUTO_SCALING_GROUP_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,255}$/;

/** The ARN of one KMS key by its id (not an alias): `arn:aws:kms:<region>:<account>:key/<id>`. */
export const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[a-zA-Z0-9-]+$/;

/** The ARN of a KMS alias, `arn:aws:kms:<region>:<account>:alias/<name>`: a name that points at a key, and can be repointed. */
const KMS_ALIAS_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:alias\/[A-Za-z0-9/_-]+$/;

/**
 * What is wrong with a KMS key ARN given for `use`, or undefined when nothing is.
 *
 * Signing may name its key by an alias: the alias picks the key that signs. Verification
 * may not: it is the anchor of trust, and whoever may `kms:UpdateAlias` could point the
 * alias at a key of their own, whose signatures would then verify. So a key that verifies
 * is a key ARN (or a public key).
 */
export function kmsKeyArnProblem(arn: string, use: "signing" | "verification"): string | undefined {
    if (KMS_KEY_ARN_PATTERN.test(arn) || (use === "signing" && KMS_ALIAS_ARN_PATTERN.test(arn))) {
        return undefined;
    }
    if (KMS_ALIAS_ARN_PATTERN.test(arn)) {
        return "expected a key ARN, arn:aws:kms:<region>:<account>:key/<id>, or a public key, not an alias: whoever may kms:UpdateAlias could point it at another key";
    }
    return use === "signing"
        ? "expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id> or …:alias/<name>"
        : "expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id>, or a public key";
}

/** A named profile of the AWS config files: letters, digits and `._-`, not starting with `-` (so `--profile` never reads it as an option). */
export const AWS_PROFILE_NAME_PATTERN = /^[A-Za-z0-9._][A-Za-z0-9._-]*$/;
