// The dynamic resource behind PromotedImage: the copy plan read from the source
// registry at preview, and the provider that runs the copy (`clients/imageCopy.ts`).
import * as pulumi from "@pulumi/pulumi";
import { show } from "../rules/errors";
import { holdsUnknown } from "../rules/unknownInputs";
import { parsePlatform } from "../rules/platform";
import * as promote from "../clients/imageCopy";
import { ResolvedImage, RegistryClient } from "../clients/registryClient";
import { ImageReference, formatImageReference, parseImageReference } from "../rules/imageReference";

/**
 * Reads an image from a registry; the seam unit tests replace.
 *
 * @internal
 */
export type SourceResolver = (reference: string, login: promote.RegistryLogin | undefined) => Promise<ResolvedImage>;

const readFromRegistry: SourceResolver = (reference, login) => new RegistryClient(login === undefined ? {} : { auth: login }).resolveImage(reference);
let resolveSource: SourceResolver = readFromRegistry;

/**
 * Replaces how sources are read from their registry (unit tests answer without one);
 * `undefined` restores the registry client.
 * @internal
 */
export function useSourceResolver(resolver: SourceResolver | undefined): void {
    resolveSource = resolver ?? readFromRegistry;
}

/** The source of a promotion, as refs. */
export interface PromotionSource {
    /** The index, pinned by digest. */
    indexRef?: string;
    /** Platform → manifest, pinned by digest. */
    platformRefs?: Record<string, string>;
}

function pinned(reference: ImageReference): string {
    return formatImageReference({ registry: reference.registry, repository: reference.repository, digest: reference.digest });
}

function loginFor(registry: string, logins: promote.RegistryLogin[]): promote.RegistryLogin | undefined {
    return logins.find((l) => l.registry === registry);
}

/**
 * Checks a source against its registry and says what to copy: every platform in
 * `platforms` is in the source, and the registry serves exactly the digests given (the
 * client hashes each manifest it reads). Throws one error listing every problem, before
 * anything is copied or tagged.
 *
 * @internal
 */
export async function planCopy(
    source: PromotionSource,
    platforms: string[],
    destination: string,
    logins: promote.RegistryLogin[],
    resolve: SourceResolver = resolveSource,
): Promise<promote.CopySpec> {
    const problems: string[] = [];
    const refs: Record<string, ImageReference> = {};
    for (const [key, value] of Object.entries(source.platformRefs ?? {})) {
        const platform = parsePlatform(key);
        if ("error" in platform) {
            problems.push(`\`platformRefs\` has the key ${show(key)}: ${platform.error}`);
            continue;
        }
        try {
            const reference = parseImageReference(value);
            if (reference.digest === undefined) {
                problems.push(`\`platformRefs[${show(key)}]\` is ${show(value)}: expected an image pinned by digest, <repository>@sha256:<64 hex>`);
                continue;
            }
            refs[platform.platform] = reference;
        } catch (error) {
            problems.push(`\`platformRefs[${show(key)}]\`: ${(error as Error).message}`);
        }
    }
    let index: ImageReference | undefined;
    if (source.indexRef !== undefined) {
        try {
            index = parseImageReference(source.indexRef);
            if (index.digest === undefined) {
                problems.push(`\`indexRef\` is ${show(source.indexRef)}: expected an index pinned by digest, <repository>[:<tag>]@sha256:<64 hex>`);
                index = undefined;
            }
        } catch (error) {
            problems.push(`\`indexRef\`: ${(error as Error).message}`);
        }
    }
    const fail = (): never => {
        throw new Error(`cannot promote to ${destination}, nothing was copied:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    };
    if (problems.length > 0) {
        fail();
    }

    if (index !== undefined) {
        const ref = pinned(index);
        const served = await resolve(ref, loginFor(index.registry, logins));
        if (!served.isIndex) {
            problems.push(`\`indexRef\` ${ref} is a single image, not a multi-platform index: pass it in \`platformRefs\` under its platform`);
            fail();
        }
        const has = Object.keys(served.platforms).join(", ") || "none";
        for (const platform of platforms) {
            if (served.platforms[platform] === undefined) {
                problems.push(`the source index ${ref} has no ${platform} (it has ${has}): build the image for ${platform}, or leave it out of \`platforms\``);
            }
        }
        for (const [platform, reference] of Object.entries(refs)) {
            if (served.platforms[platform] !== reference.digest) {
                problems.push(
                    `\`platformRefs[${show(platform)}]\` is ${reference.digest}, but the source index ${ref} serves ${served.platforms[platform] ?? "no image"} for ${platform}: pass refs of the same build`,
                );
            }
        }
        if (problems.length > 0) {
            fail();
        }
        return { sources: [ref], destination, platformDigests: served.platforms, indexDigest: served.digest };
    }

    const has = Object.keys(refs).join(", ") || "none";
    for (const platform of platforms) {
        if (refs[platform] === undefined) {
            problems.push(`\`platformRefs\` has no ${platform} (it has ${has}): add a ${platform} ref, or leave it out of \`platforms\``);
        }
    }
    if (problems.length > 0) {
        fail();
    }
    const platformDigests: Record<string, string> = {};
    for (const platform of platforms) {
        const ref = pinned(refs[platform]);
        const served = await resolve(ref, loginFor(refs[platform].registry, logins));
        const seen = Object.keys(served.platforms);
        if (served.isIndex) {
            problems.push(`\`platformRefs[${show(platform)}]\` ${ref} is an index (of ${seen.join(", ")}), not one platform's image: pass it as \`indexRef\``);
        } else if (served.platforms[platform] === undefined) {
            problems.push(`\`platformRefs[${show(platform)}]\` ${ref} is a ${seen.join(", ")} image, not ${platform}: it was built for another platform`);
        }
        platformDigests[platform] = refs[platform].digest!;
    }
    if (problems.length > 0) {
        fail();
    }
    return { sources: platforms.map((p) => pinned(refs[p])), destination, platformDigests };
}

/** What the dynamic resource records: the copy it made and what the destination serves. */
interface CopyState {
    spec: promote.CopySpec;
    indexDigest: string;
    platformDigests: Record<string, string>;
    copied: boolean;
}

// Serialised into the program's state and run by the dynamic-provider host: it captures
// only the `promote` module (serialised by value) and `holdsUnknown`.
const copyProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { spec: promote.CopySpec; logins: promote.RegistryLogin[] }) {
        const result = await promote.copyImage(inputs.spec, inputs.logins);
        return { id: inputs.spec.destination, outs: { spec: inputs.spec, ...result } };
    },
    async diff(_id: string, olds: CopyState, news: { spec: promote.CopySpec }) {
        // A source of the same program still building in a preview (its digest unknown)
        // leaves the spec unknown: an update. A copy is never replaced, so the unknown part
        // cannot change that outcome; the logins are not compared.
        if (holdsUnknown(news.spec)) {
            return { changes: true, replaces: [], deleteBeforeReplace: false };
        }
        return { ...promote.diffCopy(olds, news), replaces: [], deleteBeforeReplace: false };
    },
    async update(_id: string, _olds: CopyState, news: { spec: promote.CopySpec; logins: promote.RegistryLogin[] }) {
        const result = await promote.copyImage(news.spec, news.logins);
        return { outs: { spec: news.spec, ...result } };
    },
    // A promoted image stays where it is on destroy and on replace: production may be
    // running it, and the repository's own lifecycle policy decides when it goes.
    async delete() {
        return;
    },
};

/** The dynamic resource that runs `docker buildx imagetools create`. */
export class PromotionCopy extends pulumi.dynamic.Resource {
    declare readonly indexDigest: pulumi.Output<string>;
    declare readonly platformDigests: pulumi.Output<Record<string, string>>;
    declare readonly copied: pulumi.Output<boolean>;

    constructor(
        name: string,
        props: { spec: pulumi.Input<promote.CopySpec>; logins: pulumi.Input<promote.RegistryLogin[]> },
        opts: pulumi.CustomResourceOptions,
    ) {
        super(copyProvider, name, { ...props, indexDigest: undefined, platformDigests: undefined, copied: undefined }, opts);
    }
}
