// The digests a VmDeployment pins: `platformRefs` or a MultiArchImage's refs, checked
// to be digest refs of one repository.
import { repositoryArnFromUrl } from "./ecr";
import { InputProblems, show } from "./errors";
import { isKnown } from "./inputs";
import { parsePlatform } from "./platform";
import { parseImageReference } from "./imageReference";

/** Platform refs checked and made canonical, and the one repository they are in. */
export interface PinnedRefs {
    /** Canonical platform → `<repositoryUrl>@sha256:…` (a tag, if any, dropped). */
    refs: Record<string, string>;
    /** The ECR repository's ARN. */
    repositoryArn: string;
}

/**
 * Checks platform refs: platforms, `<ECR repository>@sha256:…` values, one repository.
 * `name` is the argument they came from: `platformRefs` or `image.platformRefs`.
 */
export function pinRefs(value: unknown, problems: InputProblems, name = "platformRefs"): PinnedRefs | undefined {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        problems.invalid(name, value, 'expected an object of platform → "<repository>@sha256:<digest>"');
        return undefined;
    }
    const refs: Record<string, string> = {};
    const repositories = new Set<string>();
    const before = problems.count;
    for (const [key, ref] of Object.entries(value as Record<string, unknown>)) {
        const parsed = parsePlatform(key);
        if ("error" in parsed) {
            problems.add(name, `\`${name}\` has the key ${show(key)}: ${parsed.error}`);
            continue;
        }
        if (refs[parsed.platform] !== undefined) {
            problems.add(name, `\`${name}\` has ${parsed.platform} twice (${show(key)}): give each platform once`);
            continue;
        }
        const path = `${name}[${show(key)}]`;
        if (isKnown(ref) && typeof ref !== "string") {
            problems.invalid(path, ref, "expected a string, <repository>@sha256:<digest>");
            continue;
        }
        if (typeof ref !== "string") {
            continue;
        }
        let reference;
        try {
            reference = parseImageReference(ref);
        } catch (e) {
            problems.invalid(path, ref, (e as Error).message);
            continue;
        }
        const repositoryUrl = `${reference.registry}/${reference.repository}`;
        if (reference.digest === undefined) {
            problems.invalid(path, ref, "expected an image pinned by digest, <repository>@sha256:<64 hex>, not a tag");
            continue;
        }
        if (repositoryArnFromUrl(repositoryUrl) === undefined) {
            problems.invalid(path, ref, "expected an image in ECR, <account>.dkr.ecr.<region>.amazonaws.com/<name>@sha256:<64 hex>");
            continue;
        }
        repositories.add(repositoryUrl);
        refs[parsed.platform] = `${repositoryUrl}@${reference.digest}`;
    }
    if (repositories.size > 1) {
        problems.add(
            name,
            `\`${name}\` names ${repositories.size} repositories (${[...repositories].join(", ")}): the hosts may pull from one repository only; push every platform to one`,
        );
    }
    if (Object.keys(value as object).length === 0) {
        problems.invalid(name, value, 'expected at least one platform → "<repository>@sha256:<digest>"');
    }
    // Output values are checked once known, by the same function inside apply.
    if (problems.count > before || repositories.size === 0) {
        return undefined;
    }
    return { refs, repositoryArn: repositoryArnFromUrl([...repositories][0])! };
}

/**
 * Checks a structural image as strictly as `platformRefs`: every platform it lists has
 * a ref, every ref is an ECR image by digest, and the refs are in the repository whose
 * ARN it gives (the one the hosts may pull from). Adds each problem and returns the
 * pinned refs, or undefined.
 */
export function pinImage(platforms: unknown, refs: unknown, repositoryArn: unknown, problems: InputProblems): PinnedRefs | undefined {
    const before = problems.count;
    const pinned = pinRefs(refs, problems, "image.platformRefs");
    if (!Array.isArray(platforms) || platforms.some((p) => typeof p !== "string")) {
        problems.invalid("image.platforms", platforms, 'expected a list of platforms, e.g. ["linux/amd64", "linux/arm64"]');
    } else if (pinned !== undefined) {
        for (const platform of platforms as string[]) {
            const parsed = parsePlatform(platform);
            if ("error" in parsed || pinned.refs[parsed.platform] === undefined) {
                problems.add(
                    "image.platformRefs",
                    `\`image.platforms\` lists ${show(platform)} but \`image.platformRefs\` has no ref for it (it has ${Object.keys(pinned.refs).join(", ")}): pass the MultiArchImage itself, whose refs match its platforms`,
                );
            }
        }
    }
    if (typeof repositoryArn !== "string") {
        problems.invalid(
            "image.repositoryArn",
            repositoryArn,
            "expected the ARN of the ECR repository the refs are in, arn:aws:ecr:<region>:<account>:repository/<name>",
        );
    } else if (pinned !== undefined && pinned.repositoryArn !== repositoryArn) {
        problems.invalid(
            "image.repositoryArn",
            repositoryArn,
            `expected the ARN of the repository \`image.platformRefs\` are in, ${pinned.repositoryArn}: the hosts may pull from that repository only`,
        );
    }
    return problems.count > before ? undefined : pinned;
}
