// The normalised build plan: what each platform's build is (context, Dockerfile, tag,
// cache refs), derived once from the user's arguments. MultiArchImage turns it into
// docker-build resources; `toBakeFile` renders the same plan for `docker buildx bake`,
// so a Pulumi build can be reproduced locally and tested on a real engine.
import * as fs from "fs";
import * as path from "path";
import { CACHE_TAG_PREFIX, SIGNATURE_TAG_PREFIX, TAG_PATTERN } from "./ecr";
import { InputProblems } from "./errors";
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
}

/** The longest architecture suffix a per-platform tag gets (`-mips64le`). */
function longestSuffix(platforms: string[]): number {
    return Math.max(0, ...platforms.map((p) => archOf(p).length + 1));
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

    if (problems.count > before) {
        return undefined;
    }
    return { context: context as string, dockerfile, platforms, tag, cache: args.cache ?? true, target: args.target };
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
}

/** Each platform's build of a plan, pushed to `repositoryUrl`. */
export function platformBuilds(spec: BuildSpec, repositoryUrl: string): PlatformBuild[] {
    return spec.platforms.map((platform) => {
        const arch = archOf(platform);
        return {
            platform,
            arch,
            imageTag: `${repositoryUrl}:${spec.tag}-${arch}`,
            cacheRef: spec.cache ? `${repositoryUrl}:${CACHE_TAG_PREFIX}${arch}` : undefined,
        };
    });
}

/** The multi-platform tag the index is pushed as, `<repo>:<tag>`. */
export function indexTag(spec: BuildSpec, repositoryUrl: string): string {
    return `${repositoryUrl}:${spec.tag}`;
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

/** What a Bake file needs beyond the plan: where to push, and the build's own inputs. */
export interface BakeInputs {
    /** The repository the images are pushed to, e.g. `127.0.0.1:5000/team/api`. */
    repositoryUrl: string;
    /** Build arguments (`--build-arg`). */
    buildArgs?: Record<string, string>;
    /** Image labels (`--label`). */
    labels?: Record<string, string>;
    /**
     * The ids of build secrets. Only the ids are written: each becomes
     * `id=<id>,env=<id>`, read from the environment of whoever runs Bake.
     */
    secretIds?: string[];
    /** Whether Bake pushes the images (`type=registry`). Defaults to `true`. */
    push?: boolean;
}

/** A Docker Bake file (the JSON form `docker buildx bake -f` reads). */
export interface BakeFile {
    /** Groups of targets by name; `default` holds every platform's target. */
    group: Record<string, BakeGroup>;
    /** The targets by name, one per platform, named by architecture. */
    target: Record<string, BakeTarget>;
}

/** A group of a Bake file: targets built together. */
export interface BakeGroup {
    /** The names of the group's targets. */
    targets: string[];
}

/** One target of a Bake file. */
export interface BakeTarget {
    /** The build context directory. */
    context: string;
    /** The Dockerfile's path. */
    dockerfile: string;
    /** The one platform this target builds. */
    platforms: string[];
    /** The per-platform tag, `<repo>:<tag>-<arch>`. */
    tags: string[];
    /** Where to read the registry cache from, `type=registry,ref=<repo>:cache-<arch>`. */
    "cache-from"?: string[];
    /** Where to write the registry cache to, with `CACHE_TO_OPTIONS`. */
    "cache-to"?: string[];
    /** Build arguments. */
    args?: Record<string, string>;
    /** Image labels. */
    labels?: Record<string, string>;
    /** The Dockerfile stage to build. */
    target?: string;
    /** Build secrets by id, read from environment variables of the same name. */
    secret?: string[];
    /** Attestations; provenance is off, as docker-build turns it off. */
    attest: string[];
    /** Where the image goes: pushed to the registry. */
    output: string[];
}

/**
 * Renders a plan as a Bake file with one target per platform (named by architecture)
 * and a `default` group of all of them, so `docker buildx bake -f FILE --push` builds
 * and pushes exactly what MultiArchImage's per-platform docker-build images do.
 */
export function toBakeFile(spec: BuildSpec, inputs: BakeInputs): BakeFile {
    checkBakeInputs(inputs);
    const target: Record<string, BakeTarget> = {};
    for (const build of platformBuilds(spec, inputs.repositoryUrl)) {
        const t: BakeTarget = {
            context: spec.context,
            dockerfile: path.relative(spec.context, spec.dockerfile) || "Dockerfile",
            platforms: [build.platform],
            tags: [build.imageTag],
            // docker-build pushes without provenance, so each platform is a plain manifest.
            attest: ["type=provenance,disabled=true"],
            output: [inputs.push === false ? "type=cacheonly" : "type=registry"],
        };
        if (build.cacheRef) {
            t["cache-from"] = [`type=registry,ref=${build.cacheRef}`];
            t["cache-to"] = [`type=registry,ref=${build.cacheRef},mode=max,image-manifest=true,oci-mediatypes=true`];
        }
        if (inputs.buildArgs && Object.keys(inputs.buildArgs).length > 0) {
            t.args = { ...inputs.buildArgs };
        }
        if (inputs.labels && Object.keys(inputs.labels).length > 0) {
            t.labels = { ...inputs.labels };
        }
        if (spec.target) {
            t.target = spec.target;
        }
        if (inputs.secretIds && inputs.secretIds.length > 0) {
            t.secret = inputs.secretIds.map((id) => `id=${id},env=${id}`);
        }
        target[build.arch] = t;
    }
    return { group: { default: { targets: Object.keys(target) } }, target };
}

// A repository as Bake writes it into tags: `host[:port]/name`, no tag or digest.
const BAKE_REPOSITORY = /^[A-Za-z0-9.-]+(?::\d{1,5})?\/[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
// Secret ids become environment variable names (`env=<id>`).
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks what `toBakeFile` writes beyond the plan, reporting every problem together. */
function checkBakeInputs(inputs: BakeInputs): void {
    const problems = new InputProblems();
    if (typeof inputs.repositoryUrl !== "string" || !BAKE_REPOSITORY.test(inputs.repositoryUrl)) {
        problems.invalid(
            "repositoryUrl",
            inputs.repositoryUrl,
            'expected a repository without tag or digest, <registry>/<name>, e.g. "127.0.0.1:5000/team/api"',
        );
    }
    for (const [field, map] of [
        ["buildArgs", inputs.buildArgs],
        ["labels", inputs.labels],
    ] as const) {
        for (const [key, value] of Object.entries(map ?? {})) {
            if (key.trim() === "" || key.includes("=")) {
                problems.invalid(`${field}`, key, 'expected names that are not empty and hold no "="');
            } else if (typeof value !== "string") {
                problems.invalid(`${field}.${key}`, value, "expected a string");
            }
        }
    }
    (inputs.secretIds ?? []).forEach((id, i) => {
        if (typeof id !== "string" || !ENV_NAME.test(id)) {
            problems.invalid(
                `secretIds[${i}]`,
                id,
                "expected a secret id that is also an environment variable name (letters, digits, _; not first a digit), since Bake reads it from env=<id>",
            );
        }
    });
    problems.throwIfAny("toBakeFile", inputs.repositoryUrl ?? "");
}
