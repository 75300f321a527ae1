// PromotedImage: a multi-platform image copied by digest into an ECR repository of
// another account or region (or a repository in another OCI registry), every platform's
// manifest digest unchanged, with the outputs of a MultiArchImage so a VmDeployment runs
// it as it is.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { parseRepositoryUrl, SIGNATURE_TAG_PREFIX } from "../rules/ecr";
import { InputProblems, show } from "../rules/errors";
import { isKnown } from "../rules/inputs";
import { requirementProblems, SignatureCheck, SignatureRequirement } from "./imageSignature";
import type { EcrRepositoryArgs, OciRepositoryArgs } from "./multiArchImage";
import { normalisePlatforms, parsePlatform } from "../rules/platform";
import * as promote from "../clients/imageCopy";
import {
    checkOciRepositoryArgs,
    checkRepositoryArgs,
    createRepository,
    ecrRepositoryArguments,
    existingRepository,
    ImageRepository,
    ociRepository,
} from "./repository";
import { pinnedImageOutputs, platformRefFor, platformRefsOf } from "./imageOutputs";
import { parseImageReference, registryOf, TAG_PATTERN } from "../rules/imageReference";
import { planCopy, PromotionCopy } from "./promotionCopy";

/**
 * What PromotedImage needs of a source image, as a `MultiArchImage` has it.
 *
 * A structural type, so another stack's outputs can be passed field by field.
 */
export interface PromotableImage {
    /**
     * The canonical platforms of the image, e.g. `["linux/amd64", "linux/arm64"]`.
     */
    platforms: string[];
    /**
     * Each platform's image by digest: `{ "linux/amd64": "<repositoryUrl>@sha256:…" }`.
     */
    platformRefs: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * The multi-platform index by digest, `<repositoryUrl>:<tag>@sha256:…`.
     */
    indexRef?: pulumi.Input<string>;
}

/** Credentials for a source registry outside ECR. */
export interface SourceCredentials {
    /**
     * The user name.
     */
    username: pulumi.Input<string>;
    /**
     * The password or access token. It stays secret.
     */
    password: pulumi.Input<string>;
}

/** The arguments of a PromotedImage. */
export interface PromotedImageArgs {
    /**
     * The image to promote: a `MultiArchImage` of this program.
     *
     * Its index is copied byte for byte. Give exactly one of `image`, `indexRef` and
     * `platformRefs` (or `indexRef` with `platformRefs`).
     */
    image?: PromotableImage;
    /**
     * The multi-platform index to promote, pinned by digest, `<repository>[:<tag>]@sha256:…`.
     *
     * Typically another stack's `MultiArchImage.indexRef` read through a
     * `StackReference`. The index is copied byte for byte, so the destination serves
     * the same index digest. With `platformRefs` as well, each of those digests must be
     * the index's entry for its platform.
     */
    indexRef?: pulumi.Input<string>;
    /**
     * The platform images to promote, each pinned by digest: `{ "linux/amd64": "<repository>@sha256:…" }`.
     *
     * Typically another stack's `MultiArchImage.platformRefs`. Without `indexRef`, a new
     * index over these manifests is pushed (its digest is new; every platform's is not).
     */
    platformRefs?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * The platforms the destination's consumers need.
     *
     * Every one must be in the source, or nothing is copied; the outputs list these.
     * Defaults to the `image`'s platforms, else `["linux/amd64", "linux/arm64"]`.
     */
    platforms?: string[];
    /**
     * The tag of the index at the destination, `<repository>:<tag>`.
     *
     * The one mutable tag of a repository this component creates; each promotion moves
     * it. Defaults to `"latest"`. Equivalent to `docker buildx imagetools create --tag`.
     */
    tag?: string;
    /**
     * Settings of the ECR repository to create at the destination.
     *
     * Give either this or `repositoryUrl` or `registry`, not two of them. Defaults to a
     * repository with the defaults of `EcrRepositoryArgs`, in the account and region of
     * this component's AWS provider.
     */
    repository?: EcrRepositoryArgs;
    /**
     * The URL of an existing ECR repository to copy into instead of creating one.
     *
     * For example `210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/api`. Its `tag`
     * must be mutable (buildx writes each manifest under the tag before the index),
     * checked at preview. Never deleted. Defaults to creating a repository.
     */
    repositoryUrl?: pulumi.Input<string>;
    /**
     * A repository in an OCI registry other than ECR to copy into (GHCR, Harbor, Artifactory, Docker Hub, a local registry).
     *
     * The index, every platform's manifest and, with `requireSignature`, the signatures
     * go to `registry.repositoryUrl` under `tag`; imagetools and cosign log in to its host
     * with `registry.username` and `registry.password`, or push anonymously without them.
     * No AWS resource is created and the destination needs no AWS call (an ECR source
     * without `sourceCredentials` is still read with a token of this component's AWS
     * provider; with `requireSignature.kmsKeyArn`, cosign still reads the key from KMS).
     * So nothing checks that the repository lets `tag` (and cosign's `sha256-*`) move, no
     * lifecycle rule expires untagged images, and `repositoryArn` is `""`. An ECR
     * repository's URL is accepted too: logged in to with the credentials given, it keeps
     * its ARN. docker and cosign hold one login per registry host, so a source on the same
     * host is read with these credentials too (`sourceCredentials` then serve the
     * signature checks only). A VmDeployment runs only images in ECR. Not with
     * `repository` or `repositoryUrl`. Defaults to ECR: a repository created, or
     * `repositoryUrl`.
     */
    registry?: OciRepositoryArgs;
    /**
     * Credentials for a source registry that is not ECR.
     *
     * An ECR source is read with a token of this component's AWS provider (the
     * destination account, for an ECR destination), so the source repository must grant
     * that account pull (`MultiArchImage`'s `pullPrincipals`). Defaults to that token for
     * an ECR source and anonymous access otherwise.
     */
    sourceCredentials?: pulumi.Input<SourceCredentials>;
    /**
     * The key every source digest's signature must verify with before anything is copied.
     *
     * Each platform's manifest (and the index, when `image` or `indexRef` is given) is
     * checked with `cosign verify` at the source during `pulumi up`; when one does not
     * verify, the `up` fails there and nothing is copied or tagged at the destination.
     * The verified signatures (`sha256-<hex>.sig`) are then copied to the destination
     * repository, so a VmDeployment with `requireSignature` there verifies the promoted
     * digests; a repository this component creates lets `sha256-*` tags move, and an
     * existing one must. Defaults to no check, and no signature is copied. Equivalent to
     * `cosign verify --key …` then `cosign copy --only=sig`.
     */
    requireSignature?: SignatureRequirement;
}

const DEFAULT_TAG = "latest";
const DEFAULT_PROMOTED_PLATFORMS = ["linux/amd64", "linux/arm64"];

/** The plain arguments, checked and with their defaults. */
interface Plan {
    platforms: string[];
    tag: string;
}

/**
 * A multi-platform image copied by digest into an ECR repository of another account or
 * region (the one this component's AWS provider targets), or into a repository of another
 * OCI registry (`registry`), under a tag you choose. Every platform's manifest digest is
 * the source's; the outputs are a MultiArchImage's, so a VmDeployment runs one promoted
 * into ECR unchanged. The copy never deletes anything at the destination.
 */
export class PromotedImage extends pulumi.ComponentResource {
    /** The destination repository, e.g. `2109….dkr.ecr.eu-west-1.amazonaws.com/app`, or `registry.repositoryUrl`. */
    public readonly repositoryUrl: pulumi.Output<string>;
    /** The destination repository's ARN, for IAM policies that allow pulling from it alone; `""` outside ECR. */
    public readonly repositoryArn: pulumi.Output<string>;
    /** The canonical platforms promoted, in the order given. */
    public readonly platforms: string[];
    /** Each platform's manifest digest, read back from the destination: the source's. */
    public readonly platformDigests: pulumi.Output<Record<string, string>>;
    /** Each platform's image at the destination by digest: `{ "linux/amd64": "<repositoryUrl>@sha256:…" }`. */
    public readonly platformRefs: pulumi.Output<Record<string, string>>;
    /** The index at the destination, `<repositoryUrl>:<tag>@sha256:…`. */
    public readonly indexRef: pulumi.Output<string>;
    /** The index's digest, `sha256:…`: the source index's when `indexRef` (or `image`) was given. */
    public readonly indexDigest: pulumi.Output<string>;
    /** The destination repository, when this component created it. */
    public readonly repository?: aws.ecr.Repository;

    constructor(name: string, args: PromotedImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("multiarch:index:PromotedImage", name, {}, opts);
        args = args ?? {};
        const plan = validate(name, args);
        this.platforms = plan.platforms;

        const target = destinationRepository(name, args, plan, this);
        this.repository = target.repository;
        this.repositoryUrl = target.url;
        this.repositoryArn = target.arn;

        const source: PromotionSource = {
            indexRef: args.image?.indexRef ?? args.indexRef,
            platformRefs: args.image?.platformRefs ?? args.platformRefs,
        };
        const toLogin = destinationLogin(target, this);
        const fromLogin = sourceLogin(source, args.sourceCredentials, this);
        const logins = pulumi.secret(pulumi.all([toLogin, fromLogin])).apply(onePerHost);
        const spec = copySpec(name, source, plan, this.repositoryUrl, logins, args.requireSignature !== undefined);
        const checks = args.requireSignature === undefined ? [] : signatureChecks(name, args.requireSignature, plan, source, spec, fromLogin, this);
        const copy = new PromotionCopy(`${name}-copy`, { spec, logins }, { parent: this, dependsOn: checks });

        this.platformDigests = copy.platformDigests.apply((digests) => Object.fromEntries(plan.platforms.map((p) => [p, digests[p]])));
        this.platformRefs = platformRefsOf(this.repositoryUrl, this.platformDigests);
        this.indexDigest = copy.indexDigest;
        this.indexRef = pulumi.interpolate`${this.repositoryUrl}:${plan.tag}@${copy.indexDigest}`;

        this.registerOutputs(pinnedImageOutputs(this));
    }

    /**
     * The image of one platform at the destination by digest, `<repositoryUrl>@sha256:…`.
     *
     * Accepts the same spellings as `platforms` (`arm64`, `aarch64`, …) and throws for a
     * platform that was not promoted.
     */
    refFor(platform: string): pulumi.Output<string> {
        return platformRefFor(this, platform, "promoted");
    }
}

/**
 * The source digests a copy tags, `<repository>@sha256:…`: each platform's, in the order
 * of `platforms`, then the index's when the index is copied byte for byte.
 * @internal
 */
export function signedSources(spec: promote.CopySpec, platforms: string[]): string[] {
    const repository = (ref: string) => ref.slice(0, ref.indexOf("@"));
    if (spec.indexDigest !== undefined) {
        const index = spec.sources[0];
        return [...platforms.map((p) => `${repository(index)}@${spec.platformDigests[p]}`), index];
    }
    return platforms.map((p, i) => `${repository(spec.sources[i])}@${spec.platformDigests[p]}`);
}

function sourceRegistryOf(reference: string | undefined): string {
    if (reference === undefined) {
        throw new pulumi.InputPropertyError({ propertyPath: "platformRefs", reason: "`platformRefs` is empty: expected at least one platform → ref" });
    }
    return parseImageReference(reference).registry;
}

/** The source's refs, as the arguments give them. */
interface PromotionSource {
    indexRef: pulumi.Input<string> | undefined;
    platformRefs: pulumi.Input<Record<string, pulumi.Input<string>>> | undefined;
}

/**
 * The destination repository: one created, an existing one that lets the tag move, or
 * one in another OCI registry, which nothing checks.
 *
 * Only the moving tag is mutable; the platform manifests under it are untagged but
 * cannot be deleted, by hand or by the lifecycle policy, while an index refers to them
 * (ECR's ImageReferencedByManifestList). buildx writes each manifest under the tag before
 * the index, so an existing repository must let the tag move. With `requireSignature`,
 * cosign's signature tags (`sha256-<hex>.sig`) move too.
 */
function destinationRepository(name: string, args: PromotedImageArgs, plan: Plan, parent: PromotedImage): ImageRepository {
    if (args.registry !== undefined) {
        return ociRepository(args.registry);
    }
    const signed = args.requireSignature !== undefined;
    const movingFilters = [plan.tag, ...(signed ? [`${SIGNATURE_TAG_PREFIX}*`] : [])].map((filter) => ({ filter, filterType: "WILDCARD" }));
    return args.repositoryUrl === undefined
        ? createRepository(name, args.repository ?? {}, movingFilters, parent)
        : existingRepository(args.repositoryUrl, plan.tag, () => [plan.tag, ...(signed ? [`${SIGNATURE_TAG_PREFIX}${"0".repeat(64)}.sig`] : [])], parent);
}

/**
 * The destination's login: the credentials given for another registry (none for an
 * anonymous push), else an ECR token of its account and region.
 */
function destinationLogin(target: ImageRepository, parent: PromotedImage): pulumi.Output<promote.RegistryLogin | undefined> {
    if (target.kind === "oci") {
        const given = target.credentials;
        return given === undefined ? pulumi.output(undefined) : pulumi.output({ registry: target.url.apply(registryOf), ...given });
    }
    const token = aws.ecr.getAuthorizationTokenOutput({ registryId: target.registryId, region: target.region }, { parent });
    return pulumi.all([target.url, token.userName, token.password]).apply(([url, username, password]) => ({
        registry: registryOf(url),
        username,
        password,
    }));
}

/**
 * The logins the copy hands imagetools and cosign, the destination's first. Both read one
 * login per registry host from DOCKER_CONFIG (`auths` is keyed by host), so a source on
 * the destination's host is read with the destination's login.
 */
function onePerHost(logins: (promote.RegistryLogin | undefined)[]): promote.RegistryLogin[] {
    const given = logins.filter((login): login is promote.RegistryLogin => login !== undefined);
    return given.filter((login, i) => given.findIndex((other) => other.registry === login.registry) === i);
}

/** The source's login: the credentials given, else a token of the destination's identity for an ECR source, else none. */
function sourceLogin(
    source: PromotionSource,
    credentials: PromotedImageArgs["sourceCredentials"],
    parent: PromotedImage,
): pulumi.Output<promote.RegistryLogin | undefined> {
    const sourceRegistry = pulumi
        .all([pulumi.output(source.indexRef), pulumi.output(source.platformRefs)])
        .apply(([indexRef, refs]) => sourceRegistryOf(indexRef ?? Object.values(refs ?? {})[0]));
    if (credentials !== undefined) {
        return pulumi.all([sourceRegistry, pulumi.output(credentials)]).apply(([registry, c]) => ({ registry, username: c.username, password: c.password }));
    }
    return sourceRegistry.apply((registry): pulumi.Output<promote.RegistryLogin | undefined> => {
        const ecr = parseRepositoryUrl(`${registry}/source`);
        if (ecr === undefined) {
            return pulumi.output(undefined);
        }
        // A token of the destination's identity: the source repository's policy grants it pull.
        const token = aws.ecr.getAuthorizationTokenOutput({ registryId: ecr.registryId, region: ecr.region }, { parent });
        return pulumi.all([token.userName, token.password]).apply(([username, password]) => ({ registry, username, password }));
    });
}

/**
 * What the copy does, read before the copy: a source without a needed platform, or
 * whose registry serves other digests, fails here, before anything is tagged.
 */
function copySpec(
    name: string,
    source: PromotionSource,
    plan: Plan,
    repositoryUrl: pulumi.Output<string>,
    logins: pulumi.Output<promote.RegistryLogin[]>,
    signed: boolean,
): pulumi.Output<promote.CopySpec> {
    return pulumi.unsecret(
        pulumi
            .all([pulumi.output(source.indexRef), pulumi.output(source.platformRefs), repositoryUrl, logins])
            .apply(([indexRef, platformRefs, url, resolvedLogins]) =>
                planCopy({ indexRef, platformRefs }, plan.platforms, `${url}:${plan.tag}`, resolvedLogins)
                    .then((planned) => (signed ? { ...planned, signatures: signedSources(planned, plan.platforms) } : planned))
                    .catch((error: Error) => {
                        const denied = /authentication failed/.test(error.message)
                            ? "; an ECR source must grant this account pull (the build's MultiArchImage `pullPrincipals`)"
                            : "";
                        throw new Error(`PromotedImage "${name}": ${error.message}${denied}`);
                    }),
            ),
    );
}

/**
 * One check per source digest the copy tags (each platform's, and the index's when it is
 * copied byte for byte): the copy waits for every one, so a digest whose signature does
 * not verify stops the `up` before anything reaches the destination.
 */
function signatureChecks(
    name: string,
    requirement: SignatureRequirement,
    plan: Plan,
    source: PromotionSource,
    spec: pulumi.Output<promote.CopySpec>,
    login: pulumi.Output<promote.RegistryLogin | undefined>,
    parent: PromotedImage,
): SignatureCheck[] {
    const sourceRegistries = pulumi
        .all([login])
        .apply(([resolved]) => (resolved === undefined ? [] : [{ address: resolved.registry, username: resolved.username, password: resolved.password }]));
    const keys = [...plan.platforms, ...(source.indexRef !== undefined ? ["index"] : [])];
    return keys.map((key) => {
        const ref = spec.apply((s) => {
            const refs = signedSources(s, plan.platforms);
            return key === "index" ? refs[refs.length - 1] : refs[plan.platforms.indexOf(key)];
        });
        return new SignatureCheck(
            `${name}-signature-check-${key.replace(/\//g, "-")}`,
            { ref, requirement, registries: sourceRegistries, context: `PromotedImage "${name}"` },
            { parent },
        );
    });
}

/** Checks every plain argument and throws all problems together, before any child exists. */
function validate(name: string, args: PromotedImageArgs): Plan {
    const problems = new InputProblems();
    checkSource(args, problems);
    const platforms = checkPlatforms(args, problems);
    const tag = args.tag ?? DEFAULT_TAG;
    if (typeof tag !== "string" || !TAG_PATTERN.test(tag)) {
        problems.invalid("tag", tag, 'expected an image tag: letters, digits, _ . - (not first), at most 128 characters (ECR\'s rule), e.g. "prod"');
    }
    checkRepositoryArgs(args.repository, args.repositoryUrl, "copy into", problems);
    checkOciRepositoryArgs(args.registry, problems, ecrRepositoryArguments(args));
    requirementProblems(args.requireSignature, problems);
    return problems.valueOrThrow("PromotedImage", name, { platforms, tag });
}

/** `image`, or `indexRef` and/or `platformRefs`: one source, each ref pinned by digest. */
function checkSource(args: PromotedImageArgs, problems: InputProblems): void {
    const given = (["image", "indexRef", "platformRefs"] as const).filter((key) => args[key] !== undefined);
    if (given.length === 0) {
        problems.add(
            "image",
            "none of `image`, `indexRef` and `platformRefs` is given: give `image` (a MultiArchImage), or another stack's `indexRef` and/or `platformRefs`",
        );
    } else if (args.image !== undefined && given.length > 1) {
        problems.add("image", `\`image\` and \`${given[1]}\` are both given: give \`image\`, or refs from another stack, not both`);
    }
    if (args.image !== undefined && (!Array.isArray(args.image.platforms) || args.image.platformRefs === undefined)) {
        problems.add("image", "`image` is not a MultiArchImage: pass the MultiArchImage itself, or its `indexRef` and `platformRefs`");
    }
    if (typeof args.indexRef === "string") {
        checkPinned(
            "indexRef",
            args.indexRef,
            "expected an index pinned by digest, <repository>[:<tag>]@sha256:<64 hex>, such as a MultiArchImage's `indexRef`",
            problems,
        );
    }
    const refs = args.platformRefs;
    if (refs === undefined || !isKnown(refs)) {
        return;
    }
    if (typeof refs !== "object" || refs === null || Array.isArray(refs) || Object.keys(refs).length === 0) {
        problems.invalid("platformRefs", refs, 'expected an object of platform → "<repository>@sha256:<digest>" with at least one entry');
        return;
    }
    for (const [key, value] of Object.entries(refs)) {
        const platform = parsePlatform(key);
        if ("error" in platform) {
            problems.add("platformRefs", `\`platformRefs\` has the key ${show(key)}: ${platform.error}`);
        } else if (typeof value === "string") {
            checkPinned(`platformRefs[${show(key)}]`, value, "expected an image pinned by digest, <repository>@sha256:<64 hex>, not a tag", problems);
        }
    }
}

/** Records a problem unless `ref` parses and carries a digest. */
function checkPinned(path: string, ref: string, expected: string, problems: InputProblems): void {
    let digest: string | undefined;
    try {
        digest = parseImageReference(ref).digest;
    } catch (error) {
        problems.invalid(path, ref, (error as Error).message);
        return;
    }
    if (digest === undefined) {
        problems.invalid(path, ref, expected);
    }
}

/** The platforms to promote, normalised: those given, else the image's, else amd64 and arm64. */
function checkPlatforms(args: PromotedImageArgs, problems: InputProblems): string[] {
    const built = args.image?.platforms;
    if (args.platforms === undefined) {
        return Array.isArray(built) ? built : DEFAULT_PROMOTED_PLATFORMS;
    }
    const normalised = normalisePlatforms(Array.isArray(args.platforms) ? args.platforms : []);
    for (const p of normalised.problems) {
        problems.invalid(p.index < 0 ? "platforms" : `platforms[${p.index}]`, p.value, p.reason);
    }
    if (Array.isArray(built)) {
        for (const platform of normalised.platforms.filter((p) => !built.includes(p))) {
            problems.add(
                "platforms",
                `\`platforms\` has ${platform}, but \`image\` was built for ${built.join(", ")} only: add it to the image's \`platforms\``,
            );
        }
    }
    return normalised.platforms;
}
