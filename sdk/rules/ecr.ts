// ECR's naming rules, the repository defaults that are safe to deploy from, and the
// lifecycle policy that never expires an image a deployment pins.
import { slug } from "./names";

/** ECR's repository name rule: lowercase components separated by `/`, 2 to 256 characters. */
export const REPOSITORY_NAME_PATTERN = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** The tag prefix of the per-platform registry caches, `<repo>:cache-<arch>`. */
export const CACHE_TAG_PREFIX = "cache-";

/**
 * The tag prefix cosign stores signatures (`sha256-<hex>.sig`) and attestations
 * (`sha256-<hex>.att`) under, one tag per signed digest. cosign moves the tag when it adds
 * a signature (a second key, a re-attestation), so these tags must stay mutable.
 */
export const SIGNATURE_TAG_PREFIX = "sha256-";

/** An ECR repository URL: `<account>.dkr.ecr[-fips].<region>.<DNS suffix>/<name>`. */
const REPOSITORY_URL_PATTERN = /^((\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.([a-z0-9.-]+))\/(.+)$/;

/** Why a repository name breaks ECR's rules, or undefined when it is valid. */
export function repositoryNameProblem(name: string): string | undefined {
    if (name.length < 2 || name.length > 256 || !REPOSITORY_NAME_PATTERN.test(name)) {
        return 'expected 2 to 256 characters of lowercase letters, digits and . _ - separators, with / between namespaces (ECR\'s rule), e.g. "team/api"';
    }
    return undefined;
}

/** The parts of an ECR repository URL in any partition, or undefined when it is not one. */
function repositoryUrlParts(url: string): { registryId: string; region: string; dnsSuffix: string; name: string; registry: string } | undefined {
    const match = REPOSITORY_URL_PATTERN.exec(url);
    if (!match || repositoryNameProblem(match[5]) !== undefined) {
        return undefined;
    }
    const [, registry, registryId, region, dnsSuffix, name] = match;
    return { registryId, region, dnsSuffix, name, registry };
}

/**
 * The parts of an ECR repository URL, `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<name>`,
 * or undefined when it is not one.
 */
export function parseRepositoryUrl(url: string): { registryId: string; region: string; name: string; registry: string } | undefined {
    const parts = repositoryUrlParts(url);
    if (parts === undefined || !/^amazonaws\.com(?:\.cn)?$/.test(parts.dnsSuffix)) {
        return undefined;
    }
    const { registryId, region, name, registry } = parts;
    return { registryId, region, name, registry };
}

/** Lowercases and strips a string to one valid ECR name component (`[a-z0-9]+` joined by `-`). */
export function toRepositoryNameComponent(value: string): string {
    // ECR allows no two separators in a row.
    return slug(value, "._-").replace(/[._-]{2,}/g, "-");
}

/**
 * The default repository name, `<project>/<stack>/<name>`: readable in the console and
 * unique per stack, so two stacks of one program never share (or delete) a repository.
 */
export function defaultRepositoryName(project: string, stack: string, name: string): string {
    const parts = [project, stack, name].map(toRepositoryNameComponent).filter((p) => p !== "");
    return parts
        .join("/")
        .slice(0, 256)
        .replace(/[._/-]+$/, "");
}

/**
 * The tags ECR leaves mutable in a repository this component creates: the moving
 * tag and its per-platform tags (each `pulumi up` moves them to the new build), the
 * registry caches, and cosign's signature and attestation tags. Every other tag is
 * immutable.
 */
export function mutableTagFilters(tag: string): { filter: string; filterType: string }[] {
    return [tag, `${tag}-*`, `${CACHE_TAG_PREFIX}*`, `${SIGNATURE_TAG_PREFIX}*`].map((filter) => ({ filter, filterType: "WILDCARD" }));
}

/**
 * The lifecycle policy: expire untagged images some days after they were pushed, and
 * nothing else. Every image a deployment pins carries a tag (`<tag>-<arch>` and the
 * index's `<tag>`), so the rule cannot select it; images a rebuild replaced (and stale
 * cache manifests) lose their tags and go after `untaggedExpiryDays`. A signature
 * (`sha256-<hex>.sig`) is tagged too, so it is never expired, neither while its image is
 * kept nor after; the signature manifest a new signature replaced loses its tag and goes.
 */
export function lifecyclePolicy(untaggedExpiryDays: number): string {
    return JSON.stringify({
        rules: [
            {
                rulePriority: 1,
                description: `Expire untagged images ${untaggedExpiryDays} days after push; tagged (pinned) images are never selected`,
                selection: {
                    tagStatus: "untagged",
                    countType: "sinceImagePushed",
                    countUnit: "days",
                    countNumber: untaggedExpiryDays,
                },
                action: { type: "expire" },
            },
        ],
    });
}

/** A repository's tag mutability setting, as `DescribeRepositories` (`aws.ecr.getRepository`) reports it. */
export interface TagMutabilitySetting {
    /** `MUTABLE`, `IMMUTABLE`, `IMMUTABLE_WITH_EXCLUSION` or `MUTABLE_WITH_EXCLUSION`. */
    imageTagMutability: string;
    /** The tags that take the opposite of `imageTagMutability`. */
    imageTagMutabilityExclusionFilters?: { filter: string; filterType: string }[];
}

/** Whether an ECR `WILDCARD` filter matches a whole tag: `*` stands for any run of characters. */
export function wildcardMatches(filter: string, tag: string): boolean {
    const pattern = filter
        .split("*")
        .map((part) => part.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&"))
        .join(".*");
    return new RegExp(`^${pattern}$`).test(tag);
}

/** The tags among `tags` that ECR refuses to move in a repository with this setting. */
export function immutableTags(setting: TagMutabilitySetting, tags: string[]): string[] {
    const filters = (setting.imageTagMutabilityExclusionFilters ?? []).map((f) => f.filter);
    const excluded = (tag: string) => filters.some((filter) => wildcardMatches(filter, tag));
    switch (setting.imageTagMutability) {
        case "IMMUTABLE":
            return [...tags];
        case "IMMUTABLE_WITH_EXCLUSION":
            return tags.filter((tag) => !excluded(tag));
        case "MUTABLE_WITH_EXCLUSION":
            return tags.filter(excluded);
        default:
            return [];
    }
}

/**
 * Why a repository with this setting cannot take the tags each `pulumi up` moves (the
 * index's `tag`, `<tag>-<arch>`, `cache-<arch>`), and what to change, or undefined when
 * it can. Pushing a moved tag to an immutable tag fails with `ImageTagAlreadyExistsException`
 * on the second `up`.
 */
export function tagMutabilityProblem(repositoryName: string, setting: TagMutabilitySetting, tag: string, movingTags: string[]): string | undefined {
    const blocked = immutableTags(setting, movingTags);
    if (blocked.length === 0) {
        return undefined;
    }
    const mode = setting.imageTagMutability;
    const current = (setting.imageTagMutabilityExclusionFilters ?? []).map((f) => f.filter);
    const listed = blocked.map((t) => JSON.stringify(t)).join(", ");
    const head = `the repository ${JSON.stringify(repositoryName)} has image tag mutability ${mode}${current.length > 0 ? ` with the exclusion filters ${current.map((f) => JSON.stringify(f)).join(", ")}` : ""}, so ECR would refuse to move the tags ${listed}, which every \`pulumi up\` moves to the new build`;
    if (mode === "MUTABLE_WITH_EXCLUSION") {
        const culprits = current.filter((filter) => blocked.some((t) => wildcardMatches(filter, t)));
        return `${head}: remove the exclusion filters ${culprits.map((f) => JSON.stringify(f)).join(", ")} that match them`;
    }
    const needed = mutableTagFilters(tag).filter((f) => blocked.some((t) => wildcardMatches(f.filter, t)) && !current.includes(f.filter));
    const filters = [...current.map((filter) => ({ filter, filterType: "WILDCARD" })), ...needed];
    const command =
        `aws ecr put-image-tag-mutability --repository-name ${repositoryName} --image-tag-mutability IMMUTABLE_WITH_EXCLUSION ` +
        `--image-tag-mutability-exclusion-filters ${filters.map((f) => `filterType=${f.filterType},filter=${f.filter}`).join(" ")}`;
    return `${head}: make them mutable with the exclusion filters ${needed.map((f) => JSON.stringify(f.filter)).join(", ")} (\`${command}\`), or use image tag mutability MUTABLE`;
}

/**
 * The AWS partitions by region prefix, with the DNS suffix of their endpoints, as the
 * AWS SDKs' endpoint data (`partitions.json`, botocore's `endpoints.json`) has them:
 * the region decides the partition, and the partition begins every ARN.
 */
const PARTITIONS: { regionPrefix: RegExp; partition: string; dnsSuffix: string }[] = [
    { regionPrefix: /^cn-/, partition: "aws-cn", dnsSuffix: "amazonaws.com.cn" },
    { regionPrefix: /^us-gov-/, partition: "aws-us-gov", dnsSuffix: "amazonaws.com" },
    { regionPrefix: /^us-iso-/, partition: "aws-iso", dnsSuffix: "c2s.ic.gov" },
    { regionPrefix: /^us-isob-/, partition: "aws-iso-b", dnsSuffix: "sc2s.sgov.gov" },
    { regionPrefix: /^eu-isoe-/, partition: "aws-iso-e", dnsSuffix: "cloud.adc-e.uk" },
    { regionPrefix: /^us-isof-/, partition: "aws-iso-f", dnsSuffix: "csp.hci.ic.gov" },
    { regionPrefix: /^/, partition: "aws", dnsSuffix: "amazonaws.com" },
];

function partitionEntry(region: string): { partition: string; dnsSuffix: string } {
    return PARTITIONS.find((p) => p.regionPrefix.test(region))!;
}

/** The partition of an AWS region: `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`, … */
export function partitionOfRegion(region: string): string {
    return partitionEntry(region).partition;
}

/** The DNS suffix of a region's endpoints, its partition's: `amazonaws.com`, `amazonaws.com.cn` for `cn-*`, … */
export function dnsSuffixOfRegion(region: string): string {
    return partitionEntry(region).dnsSuffix;
}

/**
 * The ARN of the ECR repository at a repository URL, in the partition of the URL's
 * region (`arn:aws-us-gov:ecr:us-gov-west-1:…`), or undefined when the URL is not an
 * ECR repository's: `<account>.dkr.ecr[-fips].<region>.<a partition's DNS suffix>/<name>`.
 */
export function repositoryArnFromUrl(url: string): string | undefined {
    const parts = repositoryUrlParts(url);
    if (parts === undefined || !PARTITIONS.some((p) => p.dnsSuffix === parts.dnsSuffix)) {
        return undefined;
    }
    return `arn:${partitionOfRegion(parts.region)}:ecr:${parts.region}:${parts.registryId}:repository/${parts.name}`;
}
