// The build plan rendered as a Bake file (`docker buildx bake -f`): the targets, the
// cache options, and the escaping that keeps user strings out of Bake's interpolation.
import * as path from "path";
import {
    NetworkMode,
    BuildSpec,
    platformBuilds,
    CacheFromArgs,
    CacheToArgs,
    isPlainObject,
    checkAnnotations,
    CSV_SAFE,
    CSV_SAFE_REASON,
    OPTION_KEY,
} from "./buildPlan";
import { InputProblems, show } from "./errors";
import { ENVIRONMENT_NAME_PATTERN } from "./names";

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
    /** Build secrets read from an environment variable or a file, never a value. */
    secrets?: BakeSecret[];
    /** OCI annotations of each platform's image manifest (`--annotation`). */
    annotations?: Record<string, string>;
    /** Whether Bake pushes the images (`type=registry`). Defaults to `true`. */
    push?: boolean;
}

/** A build secret by reference: `id=<id>,env=<env>` or `id=<id>,src=<file>`. */
export interface BakeSecret {
    /** The id a `RUN --mount=type=secret,id=<id>` names. */
    id: string;
    /** The environment variable that holds it. Defaults to the id, when `src` is unset. */
    env?: string;
    /** The file that holds it. */
    src?: string;
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
    /** Build secrets by reference: `id=<id>,env=<variable>` or `id=<id>,src=<file>`. */
    secret?: string[];
    /** SSH sockets or keys by id: `<id>[=<path>,…]`. */
    ssh?: string[];
    /** Named build contexts, name → location. */
    contexts?: Record<string, string>;
    /** The network mode of `RUN` steps (Bake reads it from buildx 0.17). */
    network?: NetworkMode;
    /** Extra `/etc/hosts` entries, host → ip (Bake reads it from buildx 0.25). */
    "extra-hosts"?: Record<string, string>;
    /** Always pull base images. */
    pull?: boolean;
    /** Build without any cache. */
    "no-cache"?: boolean;
    /** OCI annotations of the image manifest, `key=value`. */
    annotations?: string[];
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
        if (build.cacheFrom.length > 0) {
            t["cache-from"] = build.cacheFrom.map(cacheOption);
        }
        if (build.cacheTo.length > 0) {
            t["cache-to"] = build.cacheTo.map(cacheOption);
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
        const secrets = [
            ...(inputs.secretIds ?? []).map((id) => `id=${id},env=${id}`),
            ...(inputs.secrets ?? []).map((s) => (s.src !== undefined ? `id=${s.id},src=${s.src}` : `id=${s.id},env=${s.env ?? s.id}`)),
        ];
        if (secrets.length > 0) {
            t.secret = secrets;
        }
        if (spec.ssh.length > 0) {
            t.ssh = spec.ssh.map((s) => (s.paths && s.paths.length > 0 ? `${s.id}=${s.paths.join(",")}` : s.id));
        }
        if (Object.keys(spec.contexts).length > 0) {
            t.contexts = { ...spec.contexts };
        }
        if (spec.network !== undefined) {
            t.network = spec.network;
        }
        if (spec.addHosts.length > 0) {
            const hosts: Record<string, string> = {};
            for (const entry of spec.addHosts) {
                const at = /[:=]/.exec(entry)!.index;
                const host = entry.slice(0, at);
                hosts[host] = hosts[host] === undefined ? entry.slice(at + 1) : `${hosts[host]},${entry.slice(at + 1)}`;
            }
            t["extra-hosts"] = hosts;
        }
        if (spec.pull) {
            t.pull = true;
        }
        if (spec.noCache) {
            t["no-cache"] = true;
        }
        if (inputs.annotations && Object.keys(inputs.annotations).length > 0) {
            t.annotations = Object.entries(inputs.annotations).map(([k, v]) => `${k}=${v}`);
        }
        target[build.arch] = mapStrings(t, escapeBake) as BakeTarget;
    }
    return { group: { default: { targets: Object.keys(target) } }, target };
}

// A repository as Bake writes it into tags: `host[:port]/name`, no tag or digest.
export const BAKE_REPOSITORY = /^[A-Za-z0-9.-]+(?::\d{1,5})?\/[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

// Each cache backend's settings, in the order buildx's option lists them, with the key
// each is written as; `CACHE_TO_OPTIONS` becomes `mode=max,image-manifest=true,oci-mediatypes=true`.
const CACHE_OPTION_KEYS: Record<string, Record<string, string>> = {
    inline: {},
    registry: { ref: "ref", mode: "mode", imageManifest: "image-manifest", ociMediaTypes: "oci-mediatypes" },
    local: { src: "src", dest: "dest", mode: "mode" },
    s3: {
        region: "region",
        bucket: "bucket",
        name: "name",
        endpointUrl: "endpoint_url",
        blobsPrefix: "blobs_prefix",
        manifestsPrefix: "manifests_prefix",
        usePathStyle: "use_path_style",
        mode: "mode",
    },
    gha: { scope: "scope", url: "url", mode: "mode" },
};

/** A cache as buildx's comma-separated `--cache-from` / `--cache-to` value. */
export function cacheOption(entry: CacheFromArgs | CacheToArgs): string {
    const backends = entry as Record<string, Record<string, string | boolean | undefined> | undefined>;
    const kind = Object.keys(CACHE_OPTION_KEYS).find((k) => backends[k]);
    if (kind === undefined) {
        return "";
    }
    const settings = backends[kind]!;
    const options = Object.entries(CACHE_OPTION_KEYS[kind]).filter(([field]) => settings[field] !== undefined);
    return [`type=${kind}`, ...options.map(([field, key]) => `${key}=${settings[field]}`)].join(",");
}

/**
 * Escapes a string for a JSON Bake file. Bake evaluates every string of the file (map
 * keys too) as an HCL template, where `${…}` interpolates and `%{…}` is a directive;
 * `$${` and `%%{` are HCL's escapes for them, so `escapeBake` makes Bake read back
 * exactly the string docker-build passes literally.
 */
export function escapeBake(value: string): string {
    return value.replace(/([$%])\{/g, "$1$1{");
}

/**
 * The string Bake reads from an escaped one (the inverse of `escapeBake`); undefined
 * when it holds a `${` or `%{` that Bake would interpolate.
 */
export function unescapeBake(value: string): string | undefined {
    let out = "";
    for (let i = 0; i < value.length; i++) {
        const c = value[i];
        if ((c === "$" || c === "%") && value[i + 1] === c && value[i + 2] === "{") {
            out += `${c}{`;
            i += 2;
        } else if ((c === "$" || c === "%") && value[i + 1] === "{") {
            return undefined;
        } else {
            out += c;
        }
    }
    return out;
}

/** A copy of a JSON value with `fn` applied to every string and object key. */
export function mapStrings(value: unknown, fn: (s: string) => string): unknown {
    if (typeof value === "string") {
        return fn(value);
    }
    if (Array.isArray(value)) {
        return value.map((v) => mapStrings(v, fn));
    }
    if (isPlainObject(value)) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [fn(k), mapStrings(v, fn)]));
    }
    return value;
}

/** Checks what `toBakeFile` writes beyond the plan, reporting every problem together. */
export function checkBakeInputs(inputs: BakeInputs): void {
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
    checkAnnotations(inputs.annotations, problems);
    (inputs.secrets ?? []).forEach((secret, i) => {
        const { id, env, src } = (isPlainObject(secret) ? secret : {}) as Partial<BakeSecret>;
        if (typeof id !== "string" || !OPTION_KEY.test(id)) {
            problems.invalid(`secrets[${i}].id`, id, "expected a secret id: letters, digits and _.-/:@");
        } else if (env !== undefined && src !== undefined) {
            problems.add(`secrets[${i}]`, `\`secrets[${i}]\` (id ${show(id)}) gives both env and src: expected one place to read the secret from`);
        } else if (env !== undefined && (typeof env !== "string" || !ENVIRONMENT_NAME_PATTERN.test(env))) {
            problems.invalid(`secrets[${i}].env`, env, "expected an environment variable name (letters, digits, _; not first a digit)");
        } else if (src !== undefined && (typeof src !== "string" || !CSV_SAFE.test(src))) {
            problems.invalid(`secrets[${i}].src`, src, `expected the path of the file that holds the secret: ${CSV_SAFE_REASON}`);
        }
    });
    (inputs.secretIds ?? []).forEach((id, i) => {
        if (typeof id !== "string" || !ENVIRONMENT_NAME_PATTERN.test(id)) {
            problems.invalid(
                `secretIds[${i}]`,
                id,
                "expected a secret id that is also an environment variable name (letters, digits, _; not first a digit), since Bake reads it from env=<id>",
            );
        }
    });
    problems.throwIfAny("toBakeFile", inputs.repositoryUrl ?? "");
}
