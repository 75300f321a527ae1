// ECR's naming rules, the repository defaults that are safe to deploy from, and the
// lifecycle policy that never expires an image a deployment pins.

/** ECR's repository name rule: lowercase components separated by `/`, 2 to 256 characters. */
export const REPOSITORY_NAME_PATTERN = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** ECR's (and the distribution spec's) tag rule: up to 128 characters. */
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** The tag prefix of the per-platform registry caches, `<repo>:cache-<arch>`. */
export const CACHE_TAG_PREFIX = "cache-";

/** An ECR repository URL: `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<name>`. */
const REPOSITORY_URL_PATTERN = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/(.+)$/;

/** Why a repository name breaks ECR's rules, or undefined when it is valid. */
export function repositoryNameProblem(name: string): string | undefined {
    if (name.length < 2 || name.length > 256 || !REPOSITORY_NAME_PATTERN.test(name)) {
        return 'expected 2 to 256 characters of lowercase letters, digits and . _ - separators, with / between namespaces (ECR\'s rule), e.g. "team/api"';
    }
    return undefined;
}

/** The parts of an ECR repository URL, or undefined when it is not one. */
export function parseRepositoryUrl(url: string): { registryId: string; region: string; name: string; registry: string } | undefined {
    const match = REPOSITORY_URL_PATTERN.exec(url);
    if (!match || repositoryNameProblem(match[3]) !== undefined) {
        return undefined;
    }
    return { registryId: match[1], region: match[2], name: match[3], registry: url.slice(0, url.indexOf("/")) };
}

/** Lowercases and strips a string to one valid ECR name component (`[a-z0-9]+` joined by `-`). */
export function toRepositoryNameComponent(value: string): string {
    return value
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, "-")
        .replace(/[._-]{2,}/g, "-")
        .replace(/^[._-]+|[._-]+$/g, "");
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
 * tag and its per-platform tags (each `pulumi up` moves them to the new build) and the
 * registry caches. Every other tag is immutable.
 */
export function mutableTagFilters(tag: string): { filter: string; filterType: string }[] {
    return [tag, `${tag}-*`, `${CACHE_TAG_PREFIX}*`].map((filter) => ({ filter, filterType: "WILDCARD" }));
}

/**
 * The lifecycle policy: expire untagged images some days after they were pushed, and
 * nothing else. Every image a deployment pins carries a tag (`<tag>-<arch>` and the
 * index's `<tag>`), so the rule cannot select it; images a rebuild replaced (and stale
 * cache manifests) lose their tags and go after `untaggedExpiryDays`.
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
