// The ECR repository an image component pushes to: one it creates with the project's
// safe defaults, or an existing one whose tag mutability is checked at preview. Shared by
// MultiArchImage and PromotedImage, which differ only in the tags each `up` moves.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { defaultRepositoryName, lifecyclePolicy, parseRepositoryUrl, repositoryArnFromUrl, repositoryNameProblem, tagMutabilityProblem } from "../rules/ecr";
import { InputProblems, show } from "../rules/errors";
import type { EcrRepositoryArgs } from "./multiArchImage";

/** Days after which the lifecycle rule expires an untagged image, unless the user says. */
export const DEFAULT_UNTAGGED_EXPIRY_DAYS = 14;

/** Where a component's images go, however the repository came to be. */
export interface ImageRepository {
    /** The repository's URL, `<account>.dkr.ecr.<region>.amazonaws.com/<name>`. */
    url: pulumi.Output<string>;
    /** The repository's ARN, in its region's partition. */
    arn: pulumi.Output<string>;
    /** The account (registry id) that holds it, for the ECR token. */
    registryId: pulumi.Input<string>;
    /** Its region, when it differs from the AWS provider's (an existing repository). */
    region?: pulumi.Input<string>;
    /** The repository, when the component created it. */
    repository?: aws.ecr.Repository;
    /** The options its children share: retained on delete unless `forceDelete`. */
    retain: pulumi.CustomResourceOptions;
}

/**
 * Creates `<name>-repo` and its lifecycle policy `<name>-lifecycle` under `parent`.
 *
 * Without `forceDelete` both are `retainOnDelete`: the repository's own Delete would fail
 * on the images and cache it still holds and leave `destroy` half-way, and other stacks
 * may pin its images. `mutableTags` are the exclusion filters of the tags that move.
 */
export function createRepository(
    name: string,
    settings: EcrRepositoryArgs,
    mutableTags: aws.types.input.ecr.RepositoryImageTagMutabilityExclusionFilter[],
    parent: pulumi.Resource,
): ImageRepository {
    const retain: pulumi.CustomResourceOptions = settings.forceDelete === true ? {} : { retainOnDelete: true };
    const repository = new aws.ecr.Repository(
        `${name}-repo`,
        {
            name: settings.name ?? defaultRepositoryName(pulumi.getProject(), pulumi.getStack(), name),
            forceDelete: settings.forceDelete ?? false,
            imageScanningConfiguration: { scanOnPush: settings.scanOnPush ?? true },
            imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters: mutableTags,
            encryptionConfigurations: [settings.kmsKeyArn === undefined ? { encryptionType: "AES256" } : { encryptionType: "KMS", kmsKey: settings.kmsKeyArn }],
        },
        { parent, ...retain },
    );
    new aws.ecr.LifecyclePolicy(
        `${name}-lifecycle`,
        {
            repository: repository.name,
            policy: lifecyclePolicy(settings.lifecycle?.untaggedExpiryDays ?? DEFAULT_UNTAGGED_EXPIRY_DAYS),
        },
        { parent, ...retain },
    );
    return { url: repository.repositoryUrl, arn: repository.arn, registryId: repository.registryId, repository, retain };
}

/**
 * An existing repository by URL. Its tag mutability is read at preview
 * (`ecr:DescribeRepositories`), and the URL, which every image depends on, fails with an
 * error on `repositoryUrl` when the repository would refuse to move `movingTags(url)`,
 * so nothing is built, pushed or copied. This component never deletes it.
 */
export function existingRepository(
    repositoryUrl: pulumi.Input<string>,
    tag: string,
    movingTags: (url: string) => string[],
    parent: pulumi.Resource,
): ImageRepository {
    const existing = pulumi.output(repositoryUrl).apply((url) => {
        const parsed = parseRepositoryUrl(url);
        if (!parsed) {
            throw new pulumi.InputPropertyError({ propertyPath: "repositoryUrl", reason: repositoryUrlReason(url) });
        }
        return { url, ...parsed };
    });
    const described = aws.ecr.getRepositoryOutput({ name: existing.name, registryId: existing.registryId, region: existing.region }, { parent });
    const url = pulumi.all([existing, described]).apply(([r, d]) => {
        const problem = tagMutabilityProblem(r.name, d, tag, movingTags(r.url));
        if (problem) {
            throw new pulumi.InputPropertyError({ propertyPath: "repositoryUrl", reason: `\`repositoryUrl\` is ${show(r.url)}: ${problem}` });
        }
        return r.url;
    });
    return { url, arn: existing.apply((r) => repositoryArnFromUrl(r.url)!), registryId: existing.registryId, region: existing.region, retain: {} };
}

/** Why a `repositoryUrl` is not an ECR repository URL, and what one looks like. */
export function repositoryUrlReason(url: unknown): string {
    return `\`repositoryUrl\` is ${show(url)}: expected the URL of an ECR repository, <account>.dkr.ecr.<region>.amazonaws.com/<name>, e.g. "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/api"`;
}

/**
 * Checks `repository` and `repositoryUrl` as both image components take them: one or the
 * other, an ECR URL, and the settings of a repository to create. `existingUse` says what
 * the component does with an existing repository ("push to", "copy into").
 */
export function checkRepositoryArgs(
    settings: EcrRepositoryArgs | undefined,
    repositoryUrl: pulumi.Input<string> | undefined,
    existingUse: string,
    problems: InputProblems,
): void {
    if (settings !== undefined && repositoryUrl !== undefined) {
        problems.add(
            "repository",
            `\`repository\` and \`repositoryUrl\` are both given (${show(repositoryUrl)}): give \`repository\` to create a repository, or \`repositoryUrl\` to ${existingUse} an existing one, not both`,
        );
    }
    if (typeof repositoryUrl === "string" && !parseRepositoryUrl(repositoryUrl)) {
        problems.add("repositoryUrl", repositoryUrlReason(repositoryUrl));
    }
    if (settings?.name !== undefined) {
        const problem = typeof settings.name === "string" ? repositoryNameProblem(settings.name) : "expected a string";
        if (problem) {
            problems.invalid("repository.name", settings.name, problem);
        }
    }
    for (const flag of ["forceDelete", "scanOnPush"] as const) {
        if (settings?.[flag] !== undefined && typeof settings[flag] !== "boolean") {
            problems.invalid(`repository.${flag}`, settings[flag], "expected true or false");
        }
    }
    if (typeof settings?.kmsKeyArn === "string" && !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/.+$/.test(settings.kmsKeyArn)) {
        problems.invalid("repository.kmsKeyArn", settings.kmsKeyArn, "expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id>");
    }
    const days = settings?.lifecycle?.untaggedExpiryDays;
    if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650)) {
        problems.invalid("repository.lifecycle.untaggedExpiryDays", days, "expected a whole number of days from 1 to 3650");
    }
}
