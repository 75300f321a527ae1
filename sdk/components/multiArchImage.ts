// MultiArchImage: one docker-build Image per platform, pushed to an ECR repository it
// provisions (or an existing one, or a repository in another OCI registry), joined by a
// docker-build Index under one multi-platform tag.
import * as path from "path";
import * as aws from "@pulumi/aws";
import * as dockerbuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { BuildxBuilder } from "./buildxBuilder";
import { mutableTagFilters, SIGNATURE_TAG_PREFIX } from "../rules/ecr";
import { pullPrincipalProblem, repositoryPullPolicy } from "../rules/ecrPolicy";
import { InputProblems, show } from "../rules/errors";
import { ENVIRONMENT_NAME_PATTERN } from "../rules/names";
import { registryOf } from "../rules/imageReference";
import { isKnown } from "../rules/inputs";
import { ImageSignature, ImageSigningArgs, provenancePredicate, signingProblems } from "./imageSignature";
import {
    BuildSpec,
    extraCaches,
    CacheFromArgs,
    checkAnnotations,
    CacheToArgs,
    NetworkMode,
    SshArgs,
    indexTag,
    normaliseBuildSpec,
    platformBuilds,
    portablePath,
} from "../rules/buildPlan";
import { toBakeFile } from "../rules/bake";
import { CACHE_TO_OPTIONS } from "../rules/buildPlan";
import { archOf } from "../rules/platform";
import { checkOciRepositoryArgs, checkRepositoryArgs, createRepository, existingRepository, ImageRepository, ociRepository } from "./repository";
import { pinnedImageOutputs, platformRefFor, platformRefsOf } from "./imageOutputs";
import { PROVENANCE_PREDICATE_TYPE } from "../clients/cosign";
import * as builderLifecycle from "../clients/builderLifecycle";
import { RegistryClient, ResolvedImage } from "../clients/registryClient";
import { canonical } from "../rules/canonicalJson";

/** Lifecycle settings of the ECR repository MultiArchImage creates. */
export interface RepositoryLifecycleArgs {
    /**
     * Days after which an untagged image is expired.
     *
     * Only untagged images are ever selected: every image a deployment pins carries a
     * tag (`<tag>-<arch>`), so it cannot expire while this stack points at it. Images a
     * rebuild replaced and stale cache manifests lose their tags and go after this many
     * days. Defaults to `14`.
     */
    untaggedExpiryDays?: number;
}

/** Settings of the ECR repository MultiArchImage creates. */
export interface EcrRepositoryArgs {
    /**
     * The repository's name.
     *
     * Must follow ECR's rule: lowercase letters, digits and `._-` separators, with `/`
     * between namespaces, 2 to 256 characters. Defaults to `<project>/<stack>/<name>`.
     */
    name?: string;
    /**
     * Whether `pulumi destroy` deletes the repository with every image in it.
     *
     * With `false` the repository and its lifecycle policy are created with
     * `retainOnDelete`: `pulumi destroy` completes and leaves them in AWS, images
     * included (untagged ones still expire), so no deployment of another stack loses the
     * image it pins. The next `pulumi up` of the stack adopts it with `adoptExisting`.
     * Remove it instead with `aws ecr delete-repository --force --repository-name <name>`,
     * or set this to `true`, run `pulumi up` (which records the change in state) and then
     * `pulumi destroy`. With `true`, `pulumi destroy` deletes the repository and every
     * image in it. Defaults to `false`.
     */
    forceDelete?: boolean;
    /**
     * Whether to adopt the repository of this name that already exists instead of creating one.
     *
     * For the `pulumi up` after a `pulumi destroy` that left the repository (`forceDelete`
     * `false`), which would otherwise fail with ECR's RepositoryAlreadyExistsException:
     * the repository is imported by its name (the `import` resource option) with its
     * images, and updated to these settings; its lifecycle and pull policies are written
     * over the ones it has. A stack whose state already holds the repository ignores it.
     * A stack that finds no repository of this name fails ("resource '<name>' does not
     * exist"), and while it is set a change of `name` or `kmsKeyArn` cannot replace the
     * repository: set it for the one `up`, then remove it. Defaults to `false`.
     */
    adoptExisting?: boolean;
    /**
     * Whether ECR scans each image for vulnerabilities when it is pushed.
     *
     * Defaults to `true`.
     */
    scanOnPush?: boolean;
    /**
     * The ARN of a KMS key that encrypts the repository.
     *
     * Defaults to AES256 encryption with a key ECR manages.
     */
    kmsKeyArn?: pulumi.Input<string>;
    /**
     * The lifecycle policy's settings.
     *
     * Defaults to expiring untagged images after 14 days.
     */
    lifecycle?: RepositoryLifecycleArgs;
}

/** A repository in an OCI registry other than ECR that MultiArchImage pushes to. */
export interface OciRepositoryArgs {
    /**
     * The repository, `<registry host>[:port]/<path>`, e.g. `ghcr.io/acme/api` or `127.0.0.1:5000/team/api`.
     *
     * No tag, no digest, no scheme: the images go to `<repositoryUrl>:<tag>-<arch>`, the
     * index to `<repositoryUrl>:<tag>` and the caches to `<repositoryUrl>:cache-<arch>`.
     * Lowercase, as the reference grammar requires. Equivalent to the repository part of
     * `docker buildx build --tag`.
     */
    repositoryUrl: pulumi.Input<string>;
    /**
     * The user name to log in with.
     *
     * Give both or neither. Defaults to none: an anonymous push (a registry that needs no
     * login). Equivalent to `docker login --username`.
     */
    username?: pulumi.Input<string>;
    /**
     * The password or token, kept as a secret.
     *
     * Wrap it with `pulumi.secret` (or read it with `config.requireSecret`): it must never
     * appear in plain text in state or outputs; the component passes it on as a secret
     * only. Give both or neither. Defaults to none: an anonymous push. Equivalent to
     * `docker login --password-stdin`.
     */
    password?: pulumi.Input<string>;
}

/** The arguments of a MultiArchImage. */
export interface MultiArchImageArgs {
    /**
     * The build context directory.
     *
     * Equivalent to the `PATH` argument of `docker buildx build`.
     */
    context: string;
    /**
     * The Dockerfile's path.
     *
     * Defaults to `<context>/Dockerfile`. Equivalent to `docker buildx build --file`.
     */
    dockerfile?: string;
    /**
     * The platforms to build, one image per platform.
     *
     * Common spellings are accepted and normalised (`amd64`, `x86_64`, `arm64`,
     * `aarch64`, `linux/arm64/v8`). Defaults to `["linux/amd64", "linux/arm64"]`.
     * Equivalent to `docker buildx build --platform`.
     */
    platforms?: string[];
    /**
     * The tag of the multi-platform index.
     *
     * The index is pushed as `<repo>:<tag>` and each platform's image as
     * `<repo>:<tag>-<arch>`. This is the stack's moving tag: each build moves it.
     * Defaults to `"latest"`. Equivalent to `docker buildx build --tag`.
     */
    tag?: string;
    /**
     * The buildx builder to build with.
     *
     * Pass a `BuildxBuilder`'s `name` to share one builder between images, or the name
     * of an existing `docker-container`, `kubernetes` or `remote` builder. Defaults to a
     * child `BuildxBuilder` with the `docker-container` driver. Equivalent to
     * `docker buildx build --builder`.
     */
    builderName?: pulumi.Input<string>;
    /**
     * Settings of the ECR repository to create.
     *
     * Give either this or `repositoryUrl` or `registry`, not two of them. Defaults to a
     * repository with the defaults of `EcrRepositoryArgs`.
     */
    repository?: EcrRepositoryArgs;
    /**
     * The URL of an existing ECR repository to push to instead of creating one.
     *
     * For example `123456789012.dkr.ecr.us-west-2.amazonaws.com/team/api`. The
     * repository must let the tags each `pulumi up` moves change (`<tag>`,
     * `<tag>-<arch>`, `cache-<arch>`): its tag mutability is read at preview
     * (`ecr:DescribeRepositories`) and a repository that keeps any of them immutable
     * fails with the exclusion filters to add. This component never deletes the
     * repository. Defaults to creating a repository.
     */
    repositoryUrl?: pulumi.Input<string>;
    /**
     * Other AWS accounts or IAM roles that may pull the images.
     *
     * Each is a 12-digit account id or an IAM role or user ARN, typically the account a
     * VmDeployment or PromotedImage of another stack runs in. They get a repository
     * policy with the three pull actions only (`ecr:BatchGetImage`,
     * `ecr:GetDownloadUrlForLayer`, `ecr:BatchCheckLayerAvailability`); an account's
     * own IAM policies then decide which of its roles pull. Only with a repository this
     * component creates. Defaults to none: only this account pulls.
     */
    pullPrincipals?: pulumi.Input<string>[];
    /**
     * An OCI registry repository other than ECR to push to (GHCR, Harbor, Artifactory, Docker Hub, a local registry).
     *
     * The images, the index, the caches and the signatures go to `registry.repositoryUrl`;
     * docker-build and cosign log in to its host with `registry.username` and
     * `registry.password`, or push anonymously without them. No AWS resource is created
     * and the component makes no AWS call (with `signing.kmsKeyArn`, cosign still calls
     * KMS to sign). So nothing checks that the repository lets the moving tags move
     * (`<tag>`, `<tag>-<arch>`, `cache-<arch>`, with `signing` cosign's `sha256-*`), no
     * lifecycle rule expires untagged images (that is the registry's own retention), and
     * `repositoryArn` is `""`. An ECR repository's URL is accepted too: logged in to with
     * the credentials given, it keeps its ARN. A VmDeployment runs only images in ECR,
     * where its hosts log in: copy one from elsewhere there with a PromotedImage. Not with
     * `repository`, `repositoryUrl` or `pullPrincipals`. Defaults to ECR: a repository
     * created, or `repositoryUrl`.
     */
    registry?: OciRepositoryArgs;
    /**
     * Whether each platform reads and writes its own registry cache.
     *
     * The cache of a platform lives in the same repository as `<repo>:cache-<arch>`
     * (mode max, image manifest, OCI media types, as ECR requires). Defaults to
     * `true`. Equivalent to `docker buildx build --cache-from/--cache-to type=registry`.
     */
    cache?: boolean;
    /**
     * Build arguments.
     *
     * They are kept in the image's history: pass credentials as `secrets`. Equivalent
     * to `docker buildx build --build-arg`.
     */
    buildArgs?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * The Dockerfile stage to build.
     *
     * Defaults to the last stage. Equivalent to `docker buildx build --target`.
     */
    target?: string;
    /**
     * Build secrets, by id, mounted with `RUN --mount=type=secret,id=<id>`.
     *
     * Their values stay secret in state and outputs. A new value of an id rebuilds
     * nothing unless `rebuildOnSecretChange`; adding or removing an id rebuilds.
     * Equivalent to `docker buildx build --secret`.
     */
    secrets?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * Whether a new value of a build secret rebuilds the images.
     *
     * BuildKit keeps secret values out of its cache keys: a build with a rotated token is
     * the same build. docker-build compares the values, so a token that changes on every
     * run (a CI job token, a short-lived registry password) would rebuild every image on
     * every `up`, and a rebuild without cache hits gets a new digest and rolls every host.
     * With `false` each image passes its secret ids as docker-build's
     * `ignoreSecretsInDiffCalculation`. Defaults to `false`.
     */
    rebuildOnSecretChange?: boolean;
    /**
     * Image labels.
     *
     * Equivalent to `docker buildx build --label`.
     */
    labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * OCI annotations of each platform's image manifest.
     *
     * Keys of letters, digits and `._-/`; values without commas, quotes or newlines.
     * Given, each platform is pushed through a registry export that carries them
     * (docker-build's `exports: [{ registry: { annotations } }]`) instead of `push`.
     * Defaults to none. Equivalent to `docker buildx build --annotation`.
     */
    annotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * SSH agent sockets or private keys exposed to the build, for
     * `RUN --mount=type=ssh`.
     *
     * Each entry is an id (`default` for one host) and its paths, which default to
     * `$SSH_AUTH_SOCK`. Keys are not copied into the image or the state; the agent of
     * whoever runs `pulumi up` serves them. Defaults to none. Equivalent to
     * `docker buildx build --ssh`.
     */
    ssh?: SshArgs[];
    /**
     * Named build contexts, name → location, for `FROM <name>` and `COPY --from=<name>`.
     *
     * A location is a directory, a URL, `docker-image://<ref>` (e.g. a base image pinned
     * by digest) or `oci-layout://<path>`. Defaults to none. Equivalent to
     * `docker buildx build --build-context`, docker-build's `context.named`.
     */
    contexts?: Record<string, string>;
    /**
     * The network mode of `RUN` steps: `default`, `host` or `none`.
     *
     * `host` needs a builder that allows the `network.host` entitlement. Bake reads it
     * from buildx 0.17. Defaults to `"default"`. Equivalent to
     * `docker buildx build --network`.
     */
    network?: NetworkMode;
    /**
     * Extra `/etc/hosts` entries for `RUN` steps, each `host:ip`.
     *
     * Bake reads them (as `extra-hosts`) from buildx 0.25. Defaults to none.
     * Equivalent to `docker buildx build --add-host`.
     */
    addHosts?: string[];
    /**
     * Whether to pull every base image again instead of using a local copy.
     *
     * With `true` docker-build builds every image on every `up` (image.go Diff marks the
     * context changed whenever `pull` is set), so every preview shows the images, the
     * index and what their digests feed as updates, and a rebuild that misses the cache
     * gets a new digest and rolls every host. To follow a base image, pin it by digest
     * (`FROM base@sha256:…`) and move the pin. Defaults to `false`. Equivalent to
     * `docker buildx build --pull`.
     */
    pull?: boolean;
    /**
     * Whether to build every step again, reading no cache.
     *
     * The caches are still written. Defaults to `false`. Equivalent to
     * `docker buildx build --no-cache`.
     */
    noCache?: boolean;
    /**
     * Extra caches to read, beside the per-platform registry cache (`cache`).
     *
     * One backend each: `registry`, `local`, `s3` or `gha`. Each platform reads its own
     * copy: the registry tag gets `-<arch>` (`cache-<arch>` when untagged), a local
     * directory `/<arch>`, an S3 name or GitHub Actions scope `-<arch>`. Credentials
     * come from the build's environment, never from here. Defaults to none.
     * Equivalent to `docker buildx build --cache-from`.
     */
    cacheFrom?: CacheFromArgs[];
    /**
     * Extra caches to write, beside the per-platform registry cache (`cache`).
     *
     * One backend each: `registry`, `local`, `s3`, `gha` or `inline`, scoped per
     * platform as `cacheFrom` is. Defaults to none. Equivalent to
     * `docker buildx build --cache-to`.
     */
    cacheTo?: CacheToArgs[];
    /**
     * Whether `pulumi preview` builds the images.
     *
     * With `false` a preview builds nothing, pushes nothing and writes no cache, so a
     * role that can only read may run it; `multiarch preflight` is the local rehearsal of
     * the build. With `true` a preview builds once every input is known (the builder's
     * name included) and, although docker-build skips the image push, it exports the
     * registry cache (`cache-<arch>`), so it needs push rights to the repository. A
     * preview on a machine that lacks the builder (a fresh runner) builds nothing: the
     * builder is made there by `up`. With `true` each image is pushed through a registry
     * export rather than docker-build's `push`, which docker-build never builds in a
     * preview (image.go `buildable` compares the inputs with their normalised form, to
     * which `push` adds an export); a stack that set `true` before this rebuilds its
     * images once. Defaults to `false` (docker-build's own default is `true`).
     */
    buildOnPreview?: pulumi.Input<boolean>;
    /**
     * Sign every platform's image and the index with cosign during `pulumi up`.
     *
     * With an AWS KMS key or a cosign private key (a secret). The signatures go to the
     * same repository (`sha256-<digest>.sig`); a digest already signed by the key is not
     * signed again. Nothing is sent to a transparency log. Defaults to no signing.
     * Equivalent to `cosign sign --key … --tlog-upload=false` on each digest.
     */
    signing?: ImageSigningArgs;
}

/** A manifest digest, as it ends a ref `<repo>[:<tag>]@sha256:…`. */
const TRAILING_DIGEST = /@(sha256:[0-9a-f]{64})$/;

/** How docker-build (and cosign) log in to the repository's registry. */
interface RegistryLogin {
    address: pulumi.Input<string>;
    username: pulumi.Input<string>;
    password: pulumi.Input<string>;
}

/** The builder each MultiArchImage created, kept out of its fields (see `builder`). */
const createdBuilders = new WeakMap<MultiArchImage, BuildxBuilder>();
const CREDENTIAL_LIKE = /TOKEN|PASSWORD|PASSWD|SECRET|KEY|CREDENTIAL/i;

/**
 * A container image built for several platforms (by default linux/amd64 and
 * linux/arm64), one build per platform, pushed to ECR (or another OCI registry) and
 * joined under one multi-platform tag, with each platform's manifest digest exposed for
 * pinning.
 */
export class MultiArchImage extends pulumi.ComponentResource {
    /** The repository the images are pushed to, e.g. `1234….dkr.ecr.us-west-2.amazonaws.com/app` or `registry.repositoryUrl`. */
    public readonly repositoryUrl: pulumi.Output<string>;
    /** The ECR repository's ARN, for IAM policies that allow pulling from it alone; `""` for a `registry` outside ECR. */
    public readonly repositoryArn: pulumi.Output<string>;
    /** The canonical platforms built, in the order given. */
    public readonly platforms: string[];
    /** Each platform's manifest digest: `{ "linux/amd64": "sha256:…" }`. */
    public readonly platformDigests: pulumi.Output<Record<string, string>>;
    /** Each platform's image by digest: `{ "linux/amd64": "<repositoryUrl>@sha256:…" }`. */
    public readonly platformRefs: pulumi.Output<Record<string, string>>;
    /** The multi-platform index, `<repositoryUrl>:<tag>@sha256:…`. */
    public readonly indexRef: pulumi.Output<string>;
    /** The index's digest, `sha256:…`; unknown during a preview. */
    public readonly indexDigest: pulumi.Output<string>;
    /** The name of the buildx builder that builds the images. */
    public readonly builderName: pulumi.Output<string>;
    /** The same build as a Docker Bake file (JSON), for `docker buildx bake -f FILE`. */
    public readonly bakeFile: pulumi.Output<string>;
    /** The repository, when this component created it. */
    public readonly repository?: aws.ecr.Repository;
    /** The per-platform images, by canonical platform. */
    public readonly images: Record<string, dockerbuild.Image>;
    /** The multi-platform index over the per-platform images. */
    public readonly index: dockerbuild.Index;
    /** The public key (PEM) the images are signed with, when `signing` is given: give it to `requireSignature`. */
    public readonly signingPublicKey?: pulumi.Output<string>;

    constructor(name: string, args: MultiArchImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("multiarch:index:MultiArchImage", name, {}, opts);
        const spec = validate(name, args ?? ({} as MultiArchImageArgs));
        this.platforms = spec.platforms;

        const target = imageRepository(name, args, spec, this);
        this.repository = target.repository;
        this.repositoryUrl = target.url;
        this.repositoryArn = target.arn;
        const registry = registryLogin(target, this);
        this.builderName = builderFor(name, args, this);

        warnOnCredentialLikeBuildArgs(args.buildArgs, this);
        this.images = platformImages(name, args, spec, { repositoryUrl: this.repositoryUrl, builderName: this.builderName, registry }, this);
        const images = spec.platforms.map((p) => this.images[p]);
        this.index = imageIndex(name, spec, images, this.repositoryUrl, registry, this);

        this.platformDigests = pulumi
            .all(images.map((image) => image.digest))
            .apply((digests) => Object.fromEntries(spec.platforms.map((p, i) => [p, digests[i]])));
        this.platformRefs = platformRefsOf(this.repositoryUrl, this.platformDigests);
        this.indexRef = pinnedIndexRef(this.index, this.platformDigests, registry, this);
        this.indexDigest = this.indexRef.apply(indexDigestOf);

        if (args.signing !== undefined) {
            this.signingPublicKey = signImages(name, args.signing, args, spec, this, registry).publicKey;
        }
        this.bakeFile = bakeFileOf(args, spec, this.repositoryUrl);

        this.registerOutputs({
            ...pinnedImageOutputs(this),
            builderName: this.builderName,
            bakeFile: this.bakeFile,
            signingPublicKey: this.signingPublicKey,
        });
    }

    /**
     * The builder, when this component created it (no `builderName` given).
     *
     * An accessor rather than a field: Pulumi's component host publishes every field
     * (private ones too) as an output of the package schema, and a reference to another
     * component of this package cannot be one; other languages read `builderName`.
     */
    get builder(): BuildxBuilder | undefined {
        return createdBuilders.get(this);
    }

    /**
     * The image of one platform by digest, `<repositoryUrl>@sha256:…`.
     *
     * Accepts the same spellings as `platforms` (`arm64`, `aarch64`, …) and throws for a
     * platform this image was not built for.
     */
    refFor(platform: string): pulumi.Output<string> {
        return platformRefFor(this, platform, "built");
    }
}

/**
 * The index's ref, `<repo>:<tag>@sha256:…`, as docker-build reports it, except after a
 * `pulumi refresh` that read the index with an expired login. index.go `Read` sets
 * `Ref = Tag` first and keeps it when the registry refuses the login of the state's
 * inputs (the last `up`'s, step.go `RefreshStep.Apply`): an ECR token expires after 12
 * hours, and regclient makes ECR's 403, like a 401, ErrHTTPUnauthorized (reghttp
 * `HTTPError`). Every later `up` that changes no source keeps that bare tag (index.go
 * `Diff` ignores the password, step.go `SameStep.Apply` keeps the outputs), while the tag
 * still names the index the Index pushed: so an `up` reads it back with its own login
 * and checks that it joins this build's images. A preview keeps docker-build's ref, the
 * bare tag whenever the Index is to be pushed (index.go `Update` returns before pushing).
 */
function pinnedIndexRef(
    index: dockerbuild.Index,
    platformDigests: pulumi.Output<Record<string, string>>,
    login: RegistryLogin | undefined,
    parent: MultiArchImage,
): pulumi.Output<string> {
    return index.ref.apply((ref) =>
        TRAILING_DIGEST.test(ref) || pulumi.runtime.isDryRun() ? pulumi.output(ref) : readIndexBack(ref, index.urn, platformDigests, login, parent),
    );
}

/** The index `tagRef` names, read with this run's login, as `<tagRef>@sha256:…`; it must list exactly `platformDigests`. */
function readIndexBack(
    tagRef: string,
    indexUrn: pulumi.Output<string>,
    platformDigests: pulumi.Output<Record<string, string>>,
    login: RegistryLogin | undefined,
    parent: MultiArchImage,
): pulumi.Output<string> {
    const read = pulumi
        .all([indexUrn, platformDigests, login?.address, login?.username, login?.password])
        .apply(async ([urn, built, address, username, password]) => {
            const why = `docker-build's state of the index ${show(tagRef)} has no digest: a \`pulumi refresh\` read it with the registry login an earlier \`up\` recorded, which the registry refused (an ECR token expires after 12 hours), and kept the bare tag (index.go Read)`;
            const auth = address === undefined || username === undefined || password === undefined ? undefined : { registry: address, username, password };
            let found: ResolvedImage;
            try {
                found = await new RegistryClient({ auth }).resolveImage(tagRef);
            } catch (error) {
                throw new pulumi.ResourceError(`${why}; reading it back with this \`up\`'s login failed: ${(error as Error).message}`, parent);
            }
            if (canonical(found.platforms) !== canonical(built)) {
                throw new pulumi.ResourceError(
                    `${why}; the tag now names the index ${found.digest} of ${platformList(found.platforms)}, not this build's (${platformList(built)}): something else moved it. Push this build's index again with \`pulumi up --replace '${urn}'\``,
                    parent,
                );
            }
            pulumi.log.warn(
                `${why}. \`indexRef\` and \`indexDigest\` are read back with this \`up\`'s login: ${found.digest}, the index of this build's images. A \`pulumi refresh\` within 12 hours of this \`up\`, whose login the state now holds, stores the digest in the Index's state again`,
                parent,
            );
            return `${tagRef}@${found.digest}`;
        });
    // The login is secret, the digest read with it is not.
    return pulumi.unsecret(read);
}

/** `linux/amd64 sha256:…, linux/arm64 sha256:…`, for messages. */
function platformList(digests: Record<string, string>): string {
    return Object.entries(digests)
        .map(([platform, digest]) => `${platform} ${digest}`)
        .join(", ");
}

/** The digest of the index's ref, or unknown when the ref carries none: in a preview that pushes the index. */
function indexDigestOf(ref: string): string {
    const match = TRAILING_DIGEST.exec(ref);
    return match ? match[1] : (pulumi.unknown as unknown as string);
}

/**
 * Every tag a `pulumi up` moves to the new build: the index's, each platform's and each
 * cache's, and with signing a signature's (cosign rewrites `sha256-<digest>.sig` when it
 * adds a signature to a digest already signed).
 */
function movingTags(spec: BuildSpec, repositoryUrl: string, signed: boolean): string[] {
    const builds = platformBuilds(spec, repositoryUrl);
    const refs = [indexTag(spec, repositoryUrl), ...builds.map((b) => b.imageTag), ...builds.flatMap((b) => (b.cacheRef ? [b.cacheRef] : []))];
    const tags = refs.map((ref) => ref.slice(repositoryUrl.length + 1));
    return signed ? [...tags, `${SIGNATURE_TAG_PREFIX}${"0".repeat(64)}.sig`] : tags;
}

/**
 * The build context, with the named contexts in docker-build's form when there are any;
 * paths as every checkout spells them (`portablePath`), since docker-build diffs them.
 */
function namedContexts(spec: BuildSpec): dockerbuild.types.input.BuildContextArgs {
    const named = Object.entries(spec.contexts);
    if (named.length === 0) {
        return { location: portablePath(spec.context) };
    }
    return { location: portablePath(spec.context), named: Object.fromEntries(named.map(([name, location]) => [name, { location: portablePath(location) }])) };
}

/**
 * One platform's caches: its registry cache (its ref waits for the repository and the
 * builder, as the tags do), then the extra ones, which are plain.
 */
function caches(spec: BuildSpec, platform: string, cacheRef: pulumi.Output<string>): Pick<dockerbuild.ImageArgs, "cacheFrom" | "cacheTo"> {
    const extra = extraCaches(spec, archOf(platform));
    const cacheFrom = [...(spec.cache ? [{ registry: { ref: cacheRef } }] : []), ...extra.cacheFrom] as dockerbuild.types.input.CacheFromArgs[];
    const cacheTo = [...(spec.cache ? [{ registry: { ref: cacheRef, ...CACHE_TO_OPTIONS } }] : []), ...extra.cacheTo] as dockerbuild.types.input.CacheToArgs[];
    return { cacheFrom: cacheFrom.length > 0 ? cacheFrom : undefined, cacheTo: cacheTo.length > 0 ? cacheTo : undefined };
}

/**
 * How an image is pushed: docker-build's `push`, or a registry export when there are
 * annotations (which it carries; `push` would add a second, bare export) or the image is
 * built in previews (docker-build never previews an image with `push`: image.go
 * `buildable` compares the inputs with their normalised form, to which `push` adds an
 * export).
 */
function pushed(args: Pick<MultiArchImageArgs, "annotations" | "buildOnPreview">): Pick<dockerbuild.ImageArgs, "push" | "exports"> {
    if (args.annotations === undefined && args.buildOnPreview !== true) {
        return { push: true };
    }
    return { push: false, exports: [{ registry: args.annotations === undefined ? {} : { annotations: args.annotations } }] };
}

/**
 * What the tags wait for: the builder's name, and with `buildOnPreview` in a preview,
 * the builder itself on this machine. docker-build looks the builder up by name on the
 * machine that runs the preview (host.go) and fails when it is not there (a fresh runner,
 * before `up` makes it); an unknown tag makes it skip the preview build instead.
 */
function tagGate(builderName: pulumi.Output<string>, buildOnPreview: MultiArchImageArgs["buildOnPreview"]): pulumi.Output<string> {
    if (!pulumi.runtime.isDryRun() || buildOnPreview === undefined || buildOnPreview === false) {
        return builderName;
    }
    return pulumi.all([builderName, buildOnPreview]).apply(async ([name, previewed]) =>
        // A docker CLI that cannot answer here cannot build either: skip the preview build.
        previewed && (await builderLifecycle.inspectBuilder(name).catch(() => undefined)) === undefined ? (pulumi.unknown as unknown as string) : name,
    );
}

/** A platform as a resource-name suffix: `linux/amd64` → `amd64`. */
function platformSuffix(platform: string): string {
    return platform.split("/").slice(1).join("-");
}

/** Checks every plain argument and throws all problems together, before any child exists. */
function validate(name: string, args: MultiArchImageArgs): BuildSpec {
    const problems = new InputProblems();
    const spec = normaliseBuildSpec(args, problems);
    checkRepositoryArgs(args.repository, args.repositoryUrl, "push to", problems);
    checkRegistryChoice(args, problems);
    signingProblems(args.signing, problems);
    checkPullPrincipals(args, problems);
    if (typeof args.builderName === "string" && args.builderName.trim() === "") {
        problems.invalid("builderName", args.builderName, "expected the name of a buildx builder, or leave it out to create one");
    }
    checkSecretIds(args.secrets, problems);
    if (args.rebuildOnSecretChange !== undefined && typeof args.rebuildOnSecretChange !== "boolean") {
        problems.invalid("rebuildOnSecretChange", args.rebuildOnSecretChange, "expected true or false");
    }
    checkAnnotationArgs(args.annotations, problems);
    return problems.valueOrThrow("MultiArchImage", name, spec);
}

/** `registry` pushes to the repository it names, so it takes the place of the ECR arguments. */
function checkRegistryChoice(args: MultiArchImageArgs, problems: InputProblems): void {
    if (args.registry === undefined) {
        return;
    }
    const ecrOnly: [argument: keyof MultiArchImageArgs, given: boolean, what: string][] = [
        ["repository", args.repository !== undefined, "creates an ECR repository"],
        ["repositoryUrl", args.repositoryUrl !== undefined, "pushes to an existing ECR repository"],
        ["pullPrincipals", Array.isArray(args.pullPrincipals) && args.pullPrincipals.length > 0, "is the policy of an ECR repository this component creates"],
    ];
    for (const [argument, , what] of ecrOnly.filter(([, given]) => given)) {
        problems.add(
            "registry",
            `\`registry\` and \`${argument}\` are both given: \`registry\` pushes to the repository it names, \`${argument}\` ${what}; give one or the other`,
        );
    }
    checkOciRepositoryArgs(args.registry, problems);
}

function checkPullPrincipals(args: MultiArchImageArgs, problems: InputProblems): void {
    if (args.pullPrincipals === undefined) {
        return;
    }
    if (!Array.isArray(args.pullPrincipals)) {
        problems.invalid("pullPrincipals", args.pullPrincipals, "expected a list of AWS account ids or IAM role ARNs");
    } else if (args.repositoryUrl !== undefined && args.pullPrincipals.length > 0) {
        problems.add(
            "pullPrincipals",
            "`pullPrincipals` is given with `repositoryUrl`: the policy of an existing repository is not this component's; grant pull there, or let the component create the repository",
        );
    } else {
        args.pullPrincipals.forEach((principal, i) => {
            const problem = typeof principal === "string" ? pullPrincipalProblem(principal) : undefined;
            if (problem) {
                problems.invalid(`pullPrincipals[${i}]`, principal, problem);
            }
        });
    }
}

/** Secret ids become environment variable names in the Bake file. */
function checkSecretIds(secrets: MultiArchImageArgs["secrets"], problems: InputProblems): void {
    if (secrets === undefined || typeof secrets !== "object" || !isKnown(secrets)) {
        return;
    }
    for (const id of Object.keys(secrets)) {
        if (!ENVIRONMENT_NAME_PATTERN.test(id)) {
            problems.add(
                "secrets",
                `\`secrets\` has the id ${show(id)}: expected letters, digits and _ (not first a digit), so the Bake file can read it from the environment variable of the same name`,
            );
        }
    }
}

function checkAnnotationArgs(annotations: MultiArchImageArgs["annotations"], problems: InputProblems): void {
    if (annotations === undefined || !isKnown(annotations)) {
        return;
    }
    if (typeof annotations !== "object" || annotations === null || Array.isArray(annotations)) {
        problems.invalid("annotations", annotations, 'expected key → value, e.g. { "org.opencontainers.image.source": "https://…" }');
    } else {
        checkAnnotations(annotations as Record<string, unknown>, problems);
    }
}

/** The repository the images go to: one created (with its pull policy), an existing one, or one in another registry. */
function imageRepository(name: string, args: MultiArchImageArgs, spec: BuildSpec, parent: MultiArchImage): ImageRepository {
    if (args.registry !== undefined) {
        return ociRepository(args.registry);
    }
    const target =
        args.repositoryUrl === undefined
            ? createRepository(name, args.repository ?? {}, mutableTagFilters(spec.tag), parent)
            : existingRepository(args.repositoryUrl, spec.tag, (url) => movingTags(spec, url, args.signing !== undefined), parent);
    if (target.repository !== undefined && args.pullPrincipals !== undefined && args.pullPrincipals.length > 0) {
        new aws.ecr.RepositoryPolicy(
            `${name}-pull-policy`,
            { repository: target.repository.name, policy: pulumi.all(args.pullPrincipals).apply(repositoryPullPolicy) },
            // Kept with the repository: other accounts' hosts may pin its images.
            { parent, ...target.retain },
        );
    }
    return target;
}

/**
 * How docker-build logs in to the repository's registry: an ECR token of its account and
 * region, the credentials given for another registry, or none for an anonymous push.
 */
function registryLogin(target: ImageRepository, parent: MultiArchImage): RegistryLogin | undefined {
    const address = target.url.apply(registryOf);
    if (target.kind === "oci") {
        const given = target.credentials;
        return given && { address, username: given.username, password: pulumi.secret(given.password) };
    }
    const token = aws.ecr.getAuthorizationTokenOutput({ registryId: target.registryId, region: target.region }, { parent });
    return { address, username: token.userName, password: pulumi.secret(token.password) };
}

/** The builder's name: the one given, or that of a child BuildxBuilder. */
function builderFor(name: string, args: MultiArchImageArgs, parent: MultiArchImage): pulumi.Output<string> {
    if (args.builderName !== undefined) {
        return pulumi.output(args.builderName);
    }
    const builder = new BuildxBuilder(`${name}-builder`, {}, { parent });
    createdBuilders.set(parent, builder);
    return builder.name;
}

/** Where each platform's image goes and what builds it. */
interface ImageTarget {
    repositoryUrl: pulumi.Output<string>;
    builderName: pulumi.Output<string>;
    /** The login; undefined for an anonymous push. */
    registry?: RegistryLogin;
}

/** One docker-build Image per platform, by canonical platform. */
function platformImages(
    name: string,
    args: MultiArchImageArgs,
    spec: BuildSpec,
    target: ImageTarget,
    parent: MultiArchImage,
): Record<string, dockerbuild.Image> {
    const secrets = args.secrets === undefined ? undefined : pulumi.secret(args.secrets);
    // docker-build's Diff compares secret values except those of these ids (image.go Diff).
    const secretsIgnoredInDiff = args.secrets === undefined || args.rebuildOnSecretChange === true ? undefined : secretIdsOf(args.secrets);
    // The tags wait for the builder's name: docker-build receives an unknown name as ""
    // and would build a preview on whichever builder it finds or creates (image.go
    // normalize and buildable, host.go builderFor). An unknown tag makes buildable() false.
    const builds = pulumi.all([tagGate(target.builderName, args.buildOnPreview), target.repositoryUrl]).apply(([, url]) => platformBuilds(spec, url));

    const images: Record<string, dockerbuild.Image> = {};
    spec.platforms.forEach((platform, i) => {
        const build = builds.apply((b) => b[i]);
        images[platform] = new dockerbuild.Image(
            `${name}-${platformSuffix(platform)}`,
            {
                context: namedContexts(spec),
                // The default <context>/Dockerfile from the portable context, so `./app` and
                // `path.join(__dirname, "app")` give docker-build the same two paths.
                dockerfile: { location: args.dockerfile === undefined ? path.join(portablePath(spec.context), "Dockerfile") : portablePath(spec.dockerfile) },
                platforms: [platform as dockerbuild.Platform],
                tags: [build.imageTag],
                ...pushed(args),
                builder: { name: target.builderName },
                registries: target.registry && [target.registry],
                ...caches(
                    spec,
                    platform,
                    build.apply((b) => b.cacheRef!),
                ),
                ssh: args.ssh,
                network: args.network as dockerbuild.NetworkMode | undefined,
                addHosts: args.addHosts,
                pull: args.pull,
                noCache: args.noCache,
                buildArgs: args.buildArgs,
                target: spec.target,
                secrets,
                ignoreSecretsInDiffCalculation: secretsIgnoredInDiff,
                labels: args.labels,
                buildOnPreview: args.buildOnPreview ?? false,
            },
            // Image.Delete deletes the pushed manifest by digest (image.go Delete, client.go
            // Delete): a replace that rebuilt the same digest would delete what the new
            // state points at (pulumi/pulumi-docker-build#606), and destroy what other
            // stacks pin. The repository's lifecycle policy is what removes images.
            { parent, retainOnDelete: true },
        );
    });
    return images;
}

/** The multi-platform index over the per-platform images, under the moving tag. */
function imageIndex(
    name: string,
    spec: BuildSpec,
    images: dockerbuild.Image[],
    repositoryUrl: pulumi.Output<string>,
    registry: RegistryLogin | undefined,
    parent: MultiArchImage,
): dockerbuild.Index {
    return new dockerbuild.Index(
        `${name}-index`,
        {
            tag: repositoryUrl.apply((url) => indexTag(spec, url)),
            sources: images.map((image) => image.ref),
            push: true,
            registry,
        },
        // Index.Delete deletes the index by its ref (index.go Delete), as Image.Delete does.
        { parent, retainOnDelete: true },
    );
}

/** The ids of the build secrets, never their values: not secret themselves. */
function secretIdsOf(secrets: MultiArchImageArgs["secrets"]): pulumi.Output<string[]> {
    return pulumi.unsecret(pulumi.output(secrets ?? {}).apply((s) => Object.keys(s ?? {})));
}

/** The same build as a Docker Bake file; secret ids only, never their values. */
function bakeFileOf(args: MultiArchImageArgs, spec: BuildSpec, repositoryUrl: pulumi.Output<string>): pulumi.Output<string> {
    const secretIds = secretIdsOf(args.secrets);
    return pulumi
        .all([repositoryUrl, pulumi.output(args.buildArgs ?? {}), pulumi.output(args.labels ?? {}), secretIds, pulumi.output(args.annotations ?? {})])
        .apply(([url, buildArgs, labels, ids, annotations]) =>
            JSON.stringify(toBakeFile(spec, { repositoryUrl: url, buildArgs, labels, secretIds: ids, annotations }), null, 2),
        );
}

/** The child that signs every platform's digest and the index (and attests the provenance). */
function signImages(
    name: string,
    signing: ImageSigningArgs,
    args: MultiArchImageArgs,
    spec: BuildSpec,
    image: MultiArchImage,
    registry: RegistryLogin | undefined,
): ImageSignature {
    const refs = pulumi
        .all([image.platformRefs, image.indexRef])
        .apply(([platformRefs, indexRef]) => [...spec.platforms.map((p) => platformRefs[p]), indexRef]);
    const first = image.images[spec.platforms[0]];
    const provenance = signing.provenance
        ? pulumi
              .all([
                  first.contextHash,
                  pulumi.unsecret(pulumi.output(args.buildArgs ?? {})).apply((b) => Object.keys(b ?? {})),
                  image.builderName,
                  image.repositoryUrl,
                  image.platformDigests,
                  image.indexDigest,
              ])
              .apply(([contextHash, buildArgNames, builder, repositoryUrl, platformDigests, indexDigest]) => ({
                  predicateType: PROVENANCE_PREDICATE_TYPE,
                  predicate: provenancePredicate({
                      contextHash: contextHash ?? "",
                      dockerfile: spec.dockerfile,
                      buildArgNames,
                      target: spec.target,
                      platforms: spec.platforms,
                      builder,
                      repositoryUrl,
                      platformDigests,
                      indexDigest,
                  }),
              }))
        : undefined;
    return new ImageSignature(`${name}-signature`, { refs, signing, registry, provenance }, { parent: image });
}

/** Build arguments are kept in the image's history: warn when one looks like a credential. */
function warnOnCredentialLikeBuildArgs(buildArgs: MultiArchImageArgs["buildArgs"], resource: pulumi.Resource): void {
    if (buildArgs === undefined) {
        return;
    }
    pulumi.unsecret(pulumi.output(buildArgs)).apply((resolved) => {
        for (const key of Object.keys(resolved ?? {})) {
            if (CREDENTIAL_LIKE.test(key)) {
                pulumi.log.warn(
                    `build arg "${key}" looks like a credential: build args are kept in the image's history; pass it in \`secrets\` and mount it with RUN --mount=type=secret,id=${key}`,
                    resource,
                );
            }
        }
    });
}
