// The outputs MultiArchImage and PromotedImage both expose, so a VmDeployment or a
// PromotedImage takes either. Each class still declares the fields itself: the component
// host infers the package schema from a class's own members.
import * as pulumi from "@pulumi/pulumi";
import { show } from "../rules/errors";
import { parsePlatform } from "../rules/platform";

/** A multi-platform image in ECR, each platform pinned by digest. */
export interface PinnedImageOutputs {
    repositoryUrl: pulumi.Output<string>;
    repositoryArn: pulumi.Output<string>;
    platforms: string[];
    platformDigests: pulumi.Output<Record<string, string>>;
    platformRefs: pulumi.Output<Record<string, string>>;
    indexRef: pulumi.Output<string>;
    indexDigest: pulumi.Output<string>;
}

/** Each platform's image by digest, `{ "linux/amd64": "<repositoryUrl>@sha256:…" }`. */
export function platformRefsOf(
    repositoryUrl: pulumi.Output<string>,
    platformDigests: pulumi.Output<Record<string, string>>,
): pulumi.Output<Record<string, string>> {
    return pulumi
        .all([repositoryUrl, platformDigests])
        .apply(([url, digests]) => Object.fromEntries(Object.entries(digests).map(([p, d]) => [p, `${url}@${d}`])));
}

/**
 * The image of one platform by digest, for `refFor`: any spelling `platforms` accepts,
 * and an error for a platform the image lacks. `made` says how it came to be there
 * (`built`, `promoted`).
 */
export function platformRefFor(image: PinnedImageOutputs, platform: string, made: string): pulumi.Output<string> {
    const parsed = parsePlatform(platform);
    if ("error" in parsed) {
        throw new Error(`refFor(${show(platform)}): ${parsed.error}`);
    }
    if (!image.platforms.includes(parsed.platform)) {
        throw new Error(
            `refFor(${show(platform)}): this image was ${made} for ${image.platforms.join(", ")} only, not ${parsed.platform}; add "${parsed.platform}" to \`platforms\``,
        );
    }
    return image.platformRefs.apply((refs) => refs[parsed.platform]);
}

/** The shared outputs, as `registerOutputs` takes them. */
export function pinnedImageOutputs(image: PinnedImageOutputs): pulumi.Inputs {
    return {
        repositoryUrl: image.repositoryUrl,
        repositoryArn: image.repositoryArn,
        platforms: image.platforms,
        platformDigests: image.platformDigests,
        platformRefs: image.platformRefs,
        indexRef: image.indexRef,
        indexDigest: image.indexDigest,
    };
}
