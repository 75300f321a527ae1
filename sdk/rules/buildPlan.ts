// The normalised build plan: what each platform's build is (context, Dockerfile, tag,
// cache refs), derived once from the user's arguments. MultiArchImage turns it into
// docker-build resources; `toBakeFile` renders the same plan for `docker buildx bake`,
// so a Pulumi build can be reproduced locally and tested on a real engine.
import * as fs from "fs";
import * as path from "path";
import { CACHE_TAG_PREFIX, SIGNATURE_TAG_PREFIX } from "./ecr";
import { splitTag, TAG_PATTERN } from "./imageReference";
import { InputProblems } from "./errors";
import { isKnown } from "./inputs";
import { DEFAULT_PLATFORMS, archOf, normalisePlatforms } from "./platform";

/** The plain arguments that decide what is built, as a user gives them. */
export interface BuildSpecArgs {
    /** The build context directory; see `MultiArchImageArgs.context`. */
    context?: string;
    /** The Dockerfile's path; see `MultiArchImageArgs.dockerfile`. */
    dockerfile?: string;
    /** The platforms to build, in any accepted spelling; see `MultiArchImageArgs.platforms`. */
    platforms?: string[];
    /** The index's tag; see `MultiArchImageArgs.tag`. */
    tag?: string;
    /** Whether each platform uses a registry cache; see `MultiArchImageArgs.cache`. */
    cache?: boolean;
    /** The Dockerfile stage to build; see `MultiArchImageArgs.target`. */
    target?: string;
    /** SSH agent sockets or keys exposed to the build; see `MultiArchImageArgs.ssh`. */
    ssh?: SshArgs[];
    /** Named build contexts, name → location; see `MultiArchImageArgs.contexts`. */
    contexts?: Record<string, string>;
    /** The network mode of `RUN` steps; see `MultiArchImageArgs.network`. */
    network?: NetworkMode;
    /** Extra `/etc/hosts` entries, `host:ip`; see `MultiArchImageArgs.addHosts`. */
    addHosts?: string[];
    /** Whether to always pull base images; see `MultiArchImageArgs.pull`. */
    pull?: boolean;
    /** Whether to build without any cache; see `MultiArchImageArgs.noCache`. */
    noCache?: boolean;
    /** Extra caches to read; see `MultiArchImageArgs.cacheFrom`. */
    cacheFrom?: CacheFromArgs[];
    /** Extra caches to write; see `MultiArchImageArgs.cacheTo`. */
    cacheTo?: CacheToArgs[];
}

/**
 * The network mode of `RUN` steps, as docker-build and buildx spell it: `default`,
 * `host` or `none` (a plain string in the args, so every Pulumi language can pass it).
 */
export type NetworkMode = string;

/** An SSH agent socket or private keys exposed to the build under an id (docker-build's `SSH`). */
export interface SshArgs {
    /** The id a `RUN --mount=type=ssh,id=<id>` names; `default` when the build needs one host. */
    id: string;
    /** Agent sockets or private key files. Defaults to `[$SSH_AUTH_SOCK]`. */
    paths?: string[];
}

/** A registry cache read with `ref` (`type=registry`). */
export interface RegistryCacheFromArgs {
    /** The cache's reference, `<repository>[:<tag>]`; each platform reads `<tag>-<arch>` (`cache-<arch>` when untagged). */
    ref: string;
}

/** A local directory cache (`type=local`) read with `src`. */
export interface LocalCacheFromArgs {
    /** The directory to read; each platform reads `<src>/<arch>`. */
    src: string;
}

/** An S3 cache (`type=s3`). Credentials come from the build's environment (`AWS_*`). */
export interface S3CacheFromArgs {
    /** The bucket's region. */
    region: string;
    /** The bucket. */
    bucket: string;
    /** The cache's name in the bucket; each platform gets `<name>-<arch>` (`<arch>` when unset). */
    name?: string;
    /** An S3-compatible endpoint. Defaults to AWS's. */
    endpointUrl?: string;
    /** The prefix of blob keys. Defaults to BuildKit's, `blobs/`. */
    blobsPrefix?: string;
    /** The prefix of manifest keys. Defaults to BuildKit's, `manifests/`. */
    manifestsPrefix?: string;
    /** Whether to use path-style URLs. Defaults to `false`. */
    usePathStyle?: boolean;
}

/** A GitHub Actions cache (`type=gha`). The token comes from the runner (`ACTIONS_RUNTIME_TOKEN`). */
export interface GhaCacheFromArgs {
    /** The cache's scope; each platform gets `<scope>-<arch>` (`buildkit-<arch>` when unset). */
    scope?: string;
    /** The cache server's URL. Defaults to `$ACTIONS_CACHE_URL`. */
    url?: string;
}

/** One cache to read from: exactly one backend (docker-build's `CacheFrom`, without credentials). */
export interface CacheFromArgs {
    /** A registry cache. */
    registry?: RegistryCacheFromArgs;
    /** A local directory. */
    local?: LocalCacheFromArgs;
    /** An S3 bucket. */
    s3?: S3CacheFromArgs;
    /** The GitHub Actions cache. */
    gha?: GhaCacheFromArgs;
}

/** The cache inlined in the image itself (`type=inline`); it has no settings, as docker-build's `CacheToInline`. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface InlineCacheToArgs {}

/** A registry cache written to `ref` (`type=registry`). */
export interface RegistryCacheToArgs {
    /** The cache's reference, `<repository>[:<tag>]`; each platform writes `<tag>-<arch>` (`cache-<arch>` when untagged). */
    ref: string;
    /** `min` (the final image's layers) or `max` (every layer). Defaults to BuildKit's, `min`. */
    mode?: string;
    /** Whether to write the cache as an image manifest (ECR needs it). Defaults to `false`. */
    imageManifest?: boolean;
    /** Whether to use OCI media types. Defaults to `true`. */
    ociMediaTypes?: boolean;
}

/** A local directory cache (`type=local`) written to `dest`. */
export interface LocalCacheToArgs {
    /** The directory to write; each platform writes `<dest>/<arch>`. */
    dest: string;
    /** `min` or `max`. Defaults to BuildKit's, `min`. */
    mode?: string;
}

/** An S3 cache to write (`type=s3`). Credentials come from the build's environment (`AWS_*`). */
export interface S3CacheToArgs extends S3CacheFromArgs {
    /** `min` or `max`. Defaults to BuildKit's, `min`. */
    mode?: string;
}

/** A GitHub Actions cache to write (`type=gha`). */
export interface GhaCacheToArgs extends GhaCacheFromArgs {
    /** `min` or `max`. Defaults to BuildKit's, `min`. */
    mode?: string;
}

/** One cache to write to: exactly one backend (docker-build's `CacheTo`, without credentials). */
export interface CacheToArgs {
    /** The cache inlined in the image. */
    inline?: InlineCacheToArgs;
    /** A registry cache. */
    registry?: RegistryCacheToArgs;
    /** A local directory. */
    local?: LocalCacheToArgs;
    /** An S3 bucket. */
    s3?: S3CacheToArgs;
    /** The GitHub Actions cache. */
    gha?: GhaCacheToArgs;
}

/** The validated, normalised form of `BuildSpecArgs`. */
export interface BuildSpec {
    /** The build context directory, as given. */
    context: string;
    /** The Dockerfile's path, as given or `<context>/Dockerfile`. */
    dockerfile: string;
    /** Canonical platforms, in the order given. */
    platforms: string[];
    /** The index's tag; each platform's image is tagged `<tag>-<arch>`. */
    tag: string;
    /** Whether each platform reads and writes its own registry cache. */
    cache: boolean;
    /** The Dockerfile stage to build, if not the last. */
    target?: string;
    /** SSH sockets or keys exposed to the build. */
    ssh: SshArgs[];
    /** Named build contexts, name → location. */
    contexts: Record<string, string>;
    /** The network mode of `RUN` steps, when not the default. */
    network?: NetworkMode;
    /** Extra `/etc/hosts` entries, `host:ip`. */
    addHosts: string[];
    /** Whether to always pull base images. */
    pull: boolean;
    /** Whether to build without any cache. */
    noCache: boolean;
    /** Extra caches to read, as given (each platform reads its own; see `platformBuilds`). */
    cacheFrom: CacheFromArgs[];
    /** Extra caches to write, as given. */
    cacheTo: CacheToArgs[];
}

/** The longest architecture suffix a per-platform tag gets (`-mips64le`). */
function longestSuffix(platforms: string[]): number {
    return Math.max(0, ...platforms.map((p) => archOf(p).length + 1));
}

/**
 * A path as every checkout of the program spells it: an absolute path inside the working
 * directory (`path.join(__dirname, "app")`) becomes relative to it (`./app`), which is
 * where docker-build, started in the program's directory, resolves it. docker-build keeps
 * the path in the image's inputs, so an absolute one differs between two checkouts of the
 * same commit and rebuilds every image (a new digest, a fleet rollout) for nothing. Paths
 * outside the working directory, URLs and `docker-image://` locations stay as given.
 */
export function portablePath(location: string, cwd = process.cwd()): string {
    if (!path.isAbsolute(location)) {
        return location;
    }
    const relative = path.relative(cwd, location);
    if (relative === "") {
        return ".";
    }
    return relative.startsWith("..") || path.isAbsolute(relative) ? location : `.${path.sep}${relative}`;
}

/**
 * Validates and normalises the plan's plain arguments, recording every problem in
 * `problems` instead of throwing; returns undefined when there was any.
 */
export function normaliseBuildSpec(args: BuildSpecArgs, problems: InputProblems): BuildSpec | undefined {
    const before = problems.count;
    const context = args.context;
    if (typeof context !== "string" || context.trim() === "") {
        problems.invalid("context", context, 'expected the path of the build context directory, e.g. "./app"');
    } else if (!fs.existsSync(context)) {
        problems.invalid("context", context, `expected an existing directory; nothing is at ${path.resolve(context)}`);
    } else if (!fs.statSync(context).isDirectory()) {
        problems.invalid(
            "context",
            context,
            "expected a directory (the build context), but it is a file; pass its folder and set `dockerfile` if this is the Dockerfile",
        );
    }

    const dockerfile = args.dockerfile ?? (typeof context === "string" ? path.join(context, "Dockerfile") : "Dockerfile");
    const contextIsDir = typeof context === "string" && fs.existsSync(context) && fs.statSync(context).isDirectory();
    if (args.dockerfile !== undefined && (typeof args.dockerfile !== "string" || args.dockerfile.trim() === "")) {
        problems.invalid("dockerfile", args.dockerfile, "expected the path of a Dockerfile");
    } else if (contextIsDir || args.dockerfile !== undefined) {
        if (!fs.existsSync(dockerfile)) {
            const which = args.dockerfile === undefined ? "the default <context>/Dockerfile" : "the Dockerfile";
            problems.invalid("dockerfile", dockerfile, `expected ${which} to exist; nothing is at ${path.resolve(dockerfile)}`);
        } else if (!fs.statSync(dockerfile).isFile()) {
            problems.invalid("dockerfile", dockerfile, "expected a file, but it is a directory");
        }
    }

    const spellings = args.platforms ?? DEFAULT_PLATFORMS;
    let platforms: string[] = [];
    if (!Array.isArray(spellings)) {
        problems.invalid("platforms", spellings, `expected a list of platforms, e.g. ${JSON.stringify(DEFAULT_PLATFORMS)}`);
    } else {
        const normalised = normalisePlatforms(spellings);
        platforms = normalised.platforms;
        for (const p of normalised.problems) {
            if (p.index < 0) {
                problems.invalid("platforms", p.value, p.reason);
            } else {
                problems.invalid(`platforms[${p.index}]`, p.value, p.reason);
            }
        }
    }

    const tag = args.tag ?? "latest";
    const maxTag = 128 - longestSuffix(platforms);
    if (typeof tag !== "string" || !TAG_PATTERN.test(tag)) {
        problems.invalid("tag", tag, 'expected an image tag: letters, digits, _ . - (not first), at most 128 characters (ECR\'s rule), e.g. "v1.2.3"');
    } else if (tag.length > maxTag) {
        problems.invalid("tag", tag, `expected at most ${maxTag} characters, so that the per-platform tags <tag>-<arch> stay within ECR's 128`);
    } else if (tag.startsWith(CACHE_TAG_PREFIX)) {
        problems.invalid("tag", tag, `expected a tag that does not start with "${CACHE_TAG_PREFIX}": those tags hold the per-platform build caches`);
    } else if (tag.startsWith(SIGNATURE_TAG_PREFIX)) {
        problems.invalid("tag", tag, `expected a tag that does not start with "${SIGNATURE_TAG_PREFIX}": cosign keeps signatures under those tags`);
    }

    if (args.cache !== undefined && typeof args.cache !== "boolean") {
        problems.invalid("cache", args.cache, "expected true or false");
    }
    if (args.target !== undefined && (typeof args.target !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(args.target))) {
        problems.invalid("target", args.target, "expected the name of a Dockerfile stage (`FROM … AS <name>`)");
    }

    checkBuildInputs(args, problems);

    if (problems.count > before) {
        return undefined;
    }
    return {
        context: context as string,
        dockerfile,
        platforms,
        tag,
        cache: args.cache ?? true,
        target: args.target,
        ssh: args.ssh ?? [],
        contexts: args.contexts ?? {},
        network: args.network === "default" ? undefined : args.network,
        addHosts: args.addHosts ?? [],
        pull: args.pull ?? false,
        noCache: args.noCache ?? false,
        cacheFrom: args.cacheFrom ?? [],
        cacheTo: args.cacheTo ?? [],
    };
}

/** One platform's build, as both docker-build and Bake receive it. */
export interface PlatformBuild {
    /** Canonical platform, e.g. `linux/arm64`. */
    platform: string;
    /** Its architecture, used in tags and Bake target names, e.g. `arm64`. */
    arch: string;
    /** The image reference it is pushed as, `<repo>:<tag>-<arch>`. */
    imageTag: string;
    /** The registry cache reference, `<repo>:cache-<arch>`, when caching is on. */
    cacheRef?: string;
    /** Every cache it reads: its registry cache, then the extra ones, each scoped to this platform. */
    cacheFrom: CacheFromArgs[];
    /** Every cache it writes, in the same order. */
    cacheTo: CacheToArgs[];
}

/** A repository's registry cache for one platform, `<repository>:cache-<arch>`. */
export function platformCacheRef(repository: string, arch: string): string {
    return `${repository}:${CACHE_TAG_PREFIX}${arch}`;
}

/** Each platform's build of a plan, pushed to `repositoryUrl`. */
export function platformBuilds(spec: BuildSpec, repositoryUrl: string): PlatformBuild[] {
    return spec.platforms.map((platform) => {
        const arch = archOf(platform);
        const cacheRef = spec.cache ? platformCacheRef(repositoryUrl, arch) : undefined;
        const own = cacheRef === undefined ? [] : [{ registry: { ref: cacheRef } }];
        return {
            platform,
            arch,
            imageTag: `${repositoryUrl}:${spec.tag}-${arch}`,
            cacheRef,
            cacheFrom: [...own, ...extraCaches(spec, arch).cacheFrom],
            cacheTo: [...own.map((c) => ({ registry: { ...c.registry, ...CACHE_TO_OPTIONS } })), ...extraCaches(spec, arch).cacheTo],
        };
    });
}

/** One platform's extra caches, beside its own registry cache. */
export interface PlatformCaches {
    /** The caches its build reads, each scoped to the platform. */
    cacheFrom: CacheFromArgs[];
    /** The caches its build writes, each scoped to the platform. */
    cacheTo: CacheToArgs[];
}

/** The extra caches (`cacheFrom`, `cacheTo`) of one platform, each scoped to it; they never depend on the repository. */
export function extraCaches(spec: BuildSpec, arch: string): PlatformCaches {
    return { cacheFrom: spec.cacheFrom.map((c) => forPlatform(c, arch)), cacheTo: spec.cacheTo.map((c) => forPlatform(c, arch)) };
}

/** The multi-platform tag the index is pushed as, `<repo>:<tag>`. */
export function indexTag(spec: BuildSpec, repositoryUrl: string): string {
    return `${repositoryUrl}:${spec.tag}`;
}

/** Checks OCI annotations: docker-build writes them unquoted into its comma-separated export option. */
export function checkAnnotations(annotations: Record<string, unknown> | undefined, problems: InputProblems): void {
    // A value known only later is checked once it resolves, by `toBakeFile`.
    for (const [key, value] of Object.entries(annotations ?? {})) {
        if (!/^[A-Za-z0-9][A-Za-z0-9._\-/]*$/.test(key)) {
            problems.invalid("annotations", key, 'expected annotation keys of letters, digits and ._-/, e.g. "org.opencontainers.image.source"');
        } else if (typeof value === "string" ? !CSV_SAFE.test(value) : isKnown(value)) {
            problems.invalid(`annotations.${key}`, value, CSV_SAFE_REASON);
        }
    }
}

// Values written into comma-separated docker options (`--cache-to`, `--ssh`, export
// annotations) are not quoted by docker-build, so they may hold no comma, quote or newline.
export const CSV_SAFE = /^[^,"\r\n]+$/;

export const CSV_SAFE_REASON = "expected a non-empty string without commas, quotes or newlines, as docker passes it in a comma-separated option";

// Ids, names and keys: what buildx accepts before the `=` of its options.
export const OPTION_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\-/:@]*$/;

// `[host[:port]/]name[/name…][:tag]`, no digest: each platform's tag is derived from it.
const CACHE_REF = /^(?:[a-z0-9.-]+(?::\d{1,5})?\/)?[a-z0-9._-]+(?:\/[a-z0-9._-]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,100})?$/;
const NETWORK_MODES = ["default", "host", "none"];
const CACHE_MODES = ["min", "max"];
const CREDENTIAL_FIELDS = ["token", "accessKeyId", "secretAccessKey", "sessionToken"];

/** The fields each cache backend accepts, for cache-from and cache-to. */
const CACHE_FIELDS: Record<"from" | "to", Record<string, { required: string[]; optional: string[] }>> = {
    from: {
        registry: { required: ["ref"], optional: [] },
        local: { required: ["src"], optional: [] },
        s3: { required: ["region", "bucket"], optional: ["name", "endpointUrl", "blobsPrefix", "manifestsPrefix", "usePathStyle"] },
        gha: { required: [], optional: ["scope", "url"] },
    },
    to: {
        inline: { required: [], optional: [] },
        registry: { required: ["ref"], optional: ["mode", "imageManifest", "ociMediaTypes"] },
        local: { required: ["dest"], optional: ["mode"] },
        s3: { required: ["region", "bucket"], optional: ["name", "endpointUrl", "blobsPrefix", "manifestsPrefix", "usePathStyle", "mode"] },
        gha: { required: [], optional: ["scope", "url", "mode"] },
    },
};

export function isPlainObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks the build inputs beyond context, Dockerfile, platforms and tag. */
function checkBuildInputs(args: BuildSpecArgs, problems: InputProblems): void {
    if (args.ssh !== undefined) {
        if (!Array.isArray(args.ssh)) {
            problems.invalid("ssh", args.ssh, 'expected a list of { id, paths? }, e.g. [{ id: "default" }]');
        } else {
            args.ssh.forEach((entry, i) => {
                if (!isPlainObject(entry) || typeof entry.id !== "string" || !OPTION_KEY.test(entry.id)) {
                    problems.invalid(`ssh[${i}].id`, isPlainObject(entry) ? entry.id : entry, 'expected an id such as "default": letters, digits and _.-/:@');
                    return;
                }
                if (entry.paths !== undefined && !Array.isArray(entry.paths)) {
                    problems.invalid(`ssh[${i}].paths`, entry.paths, "expected a list of agent sockets or key files");
                    return;
                }
                (entry.paths ?? []).forEach((p, j) => {
                    if (typeof p !== "string" || !CSV_SAFE.test(p)) {
                        problems.invalid(`ssh[${i}].paths[${j}]`, p, `expected the path of an agent socket or key file: ${CSV_SAFE_REASON}`);
                    }
                });
            });
        }
    }
    if (args.contexts !== undefined) {
        if (!isPlainObject(args.contexts)) {
            problems.invalid("contexts", args.contexts, 'expected named contexts, name → location, e.g. { base: "docker-image://alpine@sha256:…" }');
        } else {
            for (const [name, location] of Object.entries(args.contexts)) {
                if (!OPTION_KEY.test(name)) {
                    problems.invalid("contexts", name, "expected context names of letters, digits and _.-/:@, as `FROM <name>` or `--from=<name>` uses them");
                } else if (typeof location !== "string" || location.trim() === "" || /[\r\n]/.test(location)) {
                    problems.invalid(`contexts.${name}`, location, "expected a directory, a URL, docker-image://<ref> or oci-layout://<path>");
                } else if (!/^[a-z][a-z0-9+.-]*:\/\//.test(location) && !location.startsWith("target:") && !isDirectory(location)) {
                    problems.invalid(
                        `contexts.${name}`,
                        location,
                        `expected an existing directory (or a URL, docker-image://<ref>, oci-layout://<path>); nothing is at ${path.resolve(location)}`,
                    );
                }
            }
        }
    }
    if (args.network !== undefined && !NETWORK_MODES.includes(args.network)) {
        problems.invalid("network", args.network, `expected one of ${NETWORK_MODES.map((m) => JSON.stringify(m)).join(", ")}`);
    }
    if (args.addHosts !== undefined) {
        if (!Array.isArray(args.addHosts)) {
            problems.invalid("addHosts", args.addHosts, 'expected a list of host:ip entries, e.g. ["db.internal:10.0.0.5"]');
        } else {
            args.addHosts.forEach((entry, i) => {
                if (typeof entry !== "string" || !/^[A-Za-z0-9][A-Za-z0-9.-]*[:=][0-9A-Fa-f.:]+$|^[A-Za-z0-9][A-Za-z0-9.-]*[:=]host-gateway$/.test(entry)) {
                    problems.invalid(`addHosts[${i}]`, entry, 'expected host:ip, e.g. "db.internal:10.0.0.5" or "host.docker.internal:host-gateway"');
                }
            });
        }
    }
    for (const flag of ["pull", "noCache"] as const) {
        if (args[flag] !== undefined && typeof args[flag] !== "boolean") {
            problems.invalid(flag, args[flag], "expected true or false");
        }
    }
    checkCaches("cacheFrom", "from", args.cacheFrom, problems);
    checkCaches("cacheTo", "to", args.cacheTo, problems);
}

function isDirectory(location: string): boolean {
    try {
        return fs.statSync(location).isDirectory();
    } catch {
        return false;
    }
}

function checkCaches(name: string, direction: "from" | "to", entries: unknown, problems: InputProblems): void {
    if (entries === undefined) {
        return;
    }
    const backends = CACHE_FIELDS[direction];
    const example = direction === "from" ? '[{ local: { src: "/tmp/cache" } }]' : '[{ local: { dest: "/tmp/cache", mode: "max" } }]';
    if (!Array.isArray(entries)) {
        problems.invalid(name, entries, `expected a list of caches, e.g. ${example}`);
        return;
    }
    entries.forEach((entry, i) => {
        const at = `${name}[${i}]`;
        const kinds = isPlainObject(entry) ? Object.keys(entry).filter((k) => entry[k] !== undefined) : [];
        if (!isPlainObject(entry) || kinds.length !== 1 || !(kinds[0] in backends)) {
            problems.invalid(at, entry, `expected exactly one of ${Object.keys(backends).join(", ")}, e.g. ${example}`);
            return;
        }
        const kind = kinds[0];
        const settings = entry[kind];
        if (!isPlainObject(settings)) {
            problems.invalid(`${at}.${kind}`, settings, "expected an object of the cache's settings");
            return;
        }
        const { required, optional } = backends[kind];
        for (const field of Object.keys(settings)) {
            if (settings[field] === undefined) {
                continue;
            }
            const value = settings[field];
            const where = `${at}.${kind}.${field}`;
            if (CREDENTIAL_FIELDS.includes(field)) {
                problems.add(
                    where,
                    `\`${where}\` is given: cache credentials are read from the environment of the build (AWS_ACCESS_KEY_ID…, ACTIONS_RUNTIME_TOKEN), so they never enter the state or the Bake file`,
                );
            } else if (!required.includes(field) && !optional.includes(field)) {
                problems.invalid(where, value, `expected only ${[...required, ...optional].join(", ") || "no settings"} for a ${kind} cache`);
            } else if (field === "mode") {
                if (!CACHE_MODES.includes(value as string)) {
                    problems.invalid(where, value, 'expected "min" or "max"');
                }
            } else if (["usePathStyle", "imageManifest", "ociMediaTypes"].includes(field)) {
                if (typeof value !== "boolean") {
                    problems.invalid(where, value, "expected true or false");
                }
            } else if (typeof value !== "string" || !CSV_SAFE.test(value)) {
                problems.invalid(where, value, CSV_SAFE_REASON);
            } else if (field === "ref" && !CACHE_REF.test(value)) {
                problems.invalid(where, value, 'expected a repository with an optional tag and no digest, e.g. "registry.example.com/team/cache:main"');
            }
        }
        for (const field of required) {
            if (settings[field] === undefined) {
                problems.invalid(`${at}.${kind}.${field}`, undefined, `expected the ${kind} cache's ${field}`);
            }
        }
    });
}

/** One platform's copy of an extra cache: per-platform keys, so platforms never overwrite each other's cache. */
function forPlatform<T extends CacheFromArgs | CacheToArgs>(entry: T, arch: string): T {
    const e = entry as CacheToArgs & CacheFromArgs;
    if (e.registry) {
        const ref = e.registry.ref;
        const scoped = splitTag(ref).tag !== undefined ? `${ref}-${arch}` : platformCacheRef(ref, arch);
        return { registry: { ...e.registry, ref: scoped } } as T;
    }
    if (e.local) {
        const local = e.local as { src?: string; dest?: string; mode?: string };
        return {
            local: {
                ...local,
                ...(local.src !== undefined ? { src: path.join(local.src, arch) } : {}),
                ...(local.dest !== undefined ? { dest: path.join(local.dest, arch) } : {}),
            },
        } as T;
    }
    if (e.s3) {
        return { s3: { ...e.s3, name: e.s3.name === undefined ? arch : `${e.s3.name}-${arch}` } } as T;
    }
    if (e.gha) {
        return { gha: { ...e.gha, scope: `${e.gha.scope ?? "buildkit"}-${arch}` } } as T;
    }
    return entry;
}

/**
 * The registry cache export options: every layer (`mode=max`), written as an image
 * manifest with OCI media types, which ECR requires of a cache.
 */
export const CACHE_TO_OPTIONS: {
    /** Export every layer, not only the final image's (`mode=max`). */
    readonly mode: "max";
    /** Write the cache as an image manifest rather than a cache manifest list. */
    readonly imageManifest: true;
    /** Use OCI media types. */
    readonly ociMediaTypes: true;
} = { mode: "max", imageManifest: true, ociMediaTypes: true };
