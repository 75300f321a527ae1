// AWS names that more than one rule checks: a region, an auto-scaling group, a KMS key.
// Pure and import-free: the rollout wait's provider is serialised with what it imports.

/** An AWS region, e.g. `us-west-2`, `us-gov-east-1`, `cn-north-1`. */
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** An auto-scaling group's (or its lifecycle hook's) name: 1 to 255 letters, digits and `_.-`. */
export const AUTO_SCALING_GROUP_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,255}$/;

/** The ARN of one KMS key by its id (not an alias): `arn:aws:kms:<region>:<account>:key/<id>`. */
export const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[a-zA-Z0-9-]+$/;
