// The repository an image component pushes to: an ECR repository it creates with the
// project's safe defaults, an existing one whose tag mutability is checked at preview
// (both shared by MultiArchImage and PromotedImage, which differ only in the tags each
// `up` moves), or a repository in another OCI registry, which involves no AWS at all.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { defaultRepositoryName, lifecyclePolicy, parseRepositoryUrl, repositoryArnFromUrl, repositoryNameProblem, tagMutabilityProblem } from "../rules/ecr";
import { InputProblems, show } from "../rules/errors";
import { hostOf, parseImageReference, splitTag } from "../rules/imageReference";
import { isKnown } from "../rules/inputs";
import type { EcrRepositoryArgs, OciRepositoryArgs } from "./multiArchImage";

/** Days after which the lifecycle rule expires an untagged image, unless the user says. */
export const DEFAULT_UNTAGGED_EXPIRY_DAYS = 14;

/** Where a component's images go, however the repository came to be: in ECR, or in another OCI registry. */
export type ImageRepository = EcrImageRepository | OciImageRepository;

/** An ECR repository, logged in to with a token of the account that holds it. */
export interface EcrImageRepository {
    kind: "ecr";
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

/** A repository in an OCI registry other than ECR, logged in to with the credentials given, or anonymously. */
export interface OciImageRepository {
    kind: "oci";
    /** The repository's URL, `<host>[:port]/<path>`, checked. */
    url: pulumi.Output<string>;
    /** `""`, or the repository's ARN when the URL is an ECR repository's. */
    arn: pulumi.Output<string>;
    /** The user name and password given; undefined for an anonymous push. */
    credentials?: { username: pulumi.Input<string>; password: pulumi.Input<string> };
    // Read alike on either kind: outside ECR there is no account, region or created repository.
    registryId?: undefined;
    region?: undefined;
    repository?: undefined;
    /** Nothing to retain: the component creates nothing in the registry but images, which are retained anyway. */
    retain: pulumi.CustomResourceOptions;
}

/**
 * Creates `<name>-repo` and its lifecycle policy `<name>-lifecycle` under `parent`.
 *
 * Without `forceDelete` both are `retainOnDelete`: the repository's own Delete would fail
 * on the images and cache it still holds and leave `destroy` half-way, and other stacks
 * may pin its images. `mutableTags` are the exclusion filters of the tags that move.
 *
 * A repository `destroy` left keeps its name, so the next `up` cannot create it again;
 * `adoptExisting` imports it by that name (its import ID, @pulumi/aws `ecr.Repository`).
 * Not by default: the engine imports only when its state holds no resource of that ID,
 * and fails an ID that does not exist (step_generator.go `generateSteps`, step.go
 * `ImportStep.Apply`, pulumi v3.248.0), which would break every first `up`. The policies
 * need no import: their Create writes over what the repository has
 * (terraform-provider-aws `PutLifecyclePolicy`, `SetRepositoryPolicy`).
 */
export function createRepository(
    name: string,
    settings: EcrRepositoryArgs,
    mutableTags: aws.types.input.ecr.RepositoryImageTagMutabilityExclusionFilter[],
    parent: pulumi.Resource,
): ImageRepository {
    const retain: pulumi.CustomResourceOptions = settings.forceDelete === true ? {} : { retainOnDelete: true };
    const repositoryName = settings.name ?? defaultRepositoryName(pulumi.getProject(), pulumi.getStack(), name);
    const repository = new aws.ecr.Repository(
        `${name}-repo`,
        {
            name: repositoryName,
            forceDelete: settings.forceDelete ?? false,
            imageScanningConfiguration: { scanOnPush: settings.scanOnPush ?? true },
            imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters: mutableTags,
            encryptionConfigurations: [settings.kmsKeyArn === undefined ? { encryptionType: "AES256" } : { encryptionType: "KMS", kmsKey: settings.kmsKeyArn }],
        },
        { parent, ...retain, ...(settings.adoptExisting === true ? { import: repositoryName } : {}) },
    );
    new aws.ecr.LifecyclePolicy(
        `${name}-lifecycle`,
        {
            repository: repository.name,
            policy: lifecyclePolicy(settings.lifecycle?.untaggedExpiryDays ?? DEFAULT_UNTAGGED_EXPIRY_DAYS),
        },
        { parent, ...retain },
    );
    return { kind: "ecr", url: repository.repositoryUrl, arn: repository.arn, registryId: repository.registryId, repository, retain };
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
    return {
        kind: "ecr",
        url,
        arn: existing.apply((r) => repositoryArnFromUrl(r.url)!),
        registryId: existing.registryId,
        region: existing.region,
        retain: {},
    };
}

/**
 * A repository in an OCI registry other than ECR (GHCR, Harbor, Artifactory, Docker Hub,
 * a local registry), by URL: no AWS resource and no AWS call. A plain URL was checked
 * before any child existed; an Output one is checked once known, with the same reason.
 * An ECR URL is one more OCI registry here: logged in to with the credentials given, and
 * its ARN is still the repository's.
 */
export function ociRepository(registry: OciRepositoryArgs): OciImageRepository {
    const url = pulumi.output(registry.repositoryUrl).apply((value) => {
        const reason = ociRepositoryUrlReason(value);
        if (reason) {
            throw new pulumi.InputPropertyError({ propertyPath: "registry.repositoryUrl", reason });
        }
        return value;
    });
    return {
        kind: "oci",
        url,
        arn: url.apply((value) => repositoryArnFromUrl(value) ?? ""),
        credentials:
            registry.username === undefined || registry.password === undefined ? undefined : { username: registry.username, password: registry.password },
        retain: {},
    };
}

/**
 * Why a `registry.repositoryUrl` is not `<host>[:port]/<path>` (the reference grammar's
 * registry and repository, with no tag or digest, as written and in lowercase), or
 * undefined when it is.
 */
export function ociRepositoryUrlReason(url: unknown): string | undefined {
    const expected = (shape: string) =>
        `\`registry.repositoryUrl\` is ${show(url)}: expected <host>[:port]/<path>${shape === "" ? "," : ` ${shape},`} e.g. "ghcr.io/acme/api"`;
    if (typeof url !== "string") {
        return expected("as a string");
    }
    const shapes: [wrong: boolean, shape: string][] = [
        [url === "", ""],
        [url.includes("://"), "without a scheme"],
        [/\s/.test(url), "without whitespace"],
        [url !== url.toLowerCase(), "in lowercase"],
        // The docker CLI and cosign take the image's reference as a positional argument.
        [url.startsWith("-"), 'not starting with "-"'],
        [url.includes("@"), "without a digest"],
        [!url.includes("/"), "with a path after the host"],
        [splitTag(url).tag !== undefined, "without a tag (the component adds its own)"],
        [hostOf(url) === undefined, "with the registry's host first"],
    ];
    const shape = shapes.find(([wrong]) => wrong)?.[1];
    if (shape !== undefined) {
        return expected(shape);
    }
    try {
        parseImageReference(url);
    } catch {
        return expected("of a host name or IP address and path components of lowercase letters and digits separated by . _ __ or -");
    }
    return undefined;
}

/** An argument that `registry` takes the place of: its name, whether it is given, and what it does. */
export type ReplacedArgument = [argument: string, given: boolean, what: string];

/** The ECR repository arguments both image components take, which `registry` takes the place of. */
export function ecrRepositoryArguments(args: { repository?: EcrRepositoryArgs; repositoryUrl?: pulumi.Input<string> }): ReplacedArgument[] {
    return [
        ["repository", args.repository !== undefined, "creates an ECR repository"],
        ["repositoryUrl", args.repositoryUrl !== undefined, "pushes to an existing ECR repository"],
    ];
}

/**
 * Checks `registry` as the image components take it: none of the `replaced` arguments
 * given beside it, a plain `repositoryUrl` now (an Output one once known, by
 * `ociRepository`), and a user name and password given together.
 */
export function checkOciRepositoryArgs(registry: OciRepositoryArgs | undefined, problems: InputProblems, replaced: ReplacedArgument[] = []): void {
    if (registry === undefined) {
        return;
    }
    for (const [argument, , what] of replaced.filter(([, given]) => given)) {
        problems.add(
            "registry",
            `\`registry\` and \`${argument}\` are both given: \`registry\` pushes to the repository it names, \`${argument}\` ${what}; give one or the other`,
        );
    }
    if (typeof registry !== "object" || registry === null || Array.isArray(registry)) {
        problems.invalid("registry", registry, 'expected { repositoryUrl, username?, password? }, e.g. { repositoryUrl: "ghcr.io/acme/api" }');
        return;
    }
    const reason = isKnown(registry.repositoryUrl) ? ociRepositoryUrlReason(registry.repositoryUrl) : undefined;
    if (reason) {
        problems.add("registry.repositoryUrl", reason);
    }
    // Whether each is given is known now, even when its value is an Output; a password is never shown.
    if (registry.username !== undefined && registry.password === undefined) {
        problems.add(
            "registry.password",
            `\`registry.password\` is undefined, but \`registry.username\` is ${typeof registry.username === "string" ? show(registry.username) : "given"}: give both to log in, or neither for an anonymous push`,
        );
    }
    if (registry.password !== undefined && registry.username === undefined) {
        problems.add(
            "registry.username",
            "`registry.username` is undefined, but `registry.password` is given (its value is not shown): give both to log in, or neither for an anonymous push",
        );
    }
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
    for (const flag of ["forceDelete", "adoptExisting", "scanOnPush"] as const) {
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
