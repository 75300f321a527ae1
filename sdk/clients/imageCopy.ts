// The copy a PromotedImage makes during `pulumi up`: `docker buildx imagetools create`
// from the source registry to the destination, with both registries' credentials in a
// throwaway DOCKER_CONFIG, then every digest read back from the destination.
//
// Every reference in a spec is checked with the project's reference grammar before
// anything runs, and follows `--` on each argv, so none is ever read as a flag: a source
// `--tag=<another repository>` would otherwise move a second tag with the destination's
// credentials.
//
// This module is serialised by value into the dynamic provider's closure, so it stays
// self-contained: Node builtins, `./docker`'s runner and the pure manifest rules
// (`rules/manifest.ts`); no Pulumi imports, no module-level Set or Map (Pulumi's closure
// serialiser carries neither).
import { canonical } from "../rules/canonicalJson";
import { DockerRunner, runDocker } from "./docker";
import { imagetoolsCreateArgv } from "./buildx";
import { makeDockerConfig, removeTempDir } from "./dockerConfig";
import { selectPlatformManifests } from "../rules/manifest";
import { DIGEST, ImageReference, contentDigest, parseImageReference, splitTag } from "../rules/imageReference";
import { digestRef, runCosign } from "./cosign";

export { dockerConfigJson } from "./dockerConfig";

/** Credentials for one registry, as `docker login` would store them. */
export interface RegistryLogin {
    /** The registry host, e.g. `123456789012.dkr.ecr.us-west-2.amazonaws.com`. */
    registry: string;
    /** The user name; `AWS` for ECR. */
    username: string;
    /** The password; for ECR, the one `GetAuthorizationToken` returns. */
    password: string;
}

/** What to copy and what the destination must serve afterwards. */
export interface CopySpec {
    /** What imagetools copies, each pinned by digest: one index, or one manifest per platform. */
    sources: string[];
    /** The destination, `<repositoryUrl>:<tag>`. */
    destination: string;
    /** Canonical platform → the manifest digest the destination must serve for it. */
    platformDigests: Record<string, string>;
    /** The index's digest, when `sources` is one index, copied byte for byte. */
    indexDigest?: string;
    /**
     * Source images by digest whose cosign signatures are copied along, when a signature
     * was required: each one's `sha256-<hex>.sig` manifest goes to the destination
     * repository under the same tag.
     */
    signatures?: string[];
}

/** What the destination serves after a copy. */
export interface CopyResult {
    /** The digest of the index `<destination>` names. */
    indexDigest: string;
    /** Canonical platform → manifest digest, read back from the destination. */
    platformDigests: Record<string, string>;
    /** False when the destination already served exactly this image, so nothing was sent. */
    copied: boolean;
}

/** How long one copy may take: large layers across regions are slow. */
export const COPY_TIMEOUT_MS = 30 * 60_000;

/**
 * Runs `fn` with an environment whose DOCKER_CONFIG is a new directory (mode 0700)
 * holding only these logins (config.json, mode 0600), removed afterwards whatever
 * happens, and on SIGINT, SIGTERM or exit meanwhile (`makeDockerConfig`): the user's own
 * docker config is never read or written, and no credential is left on disk.
 */
export async function withDockerConfig<T>(logins: RegistryLogin[], fn: (env: NodeJS.ProcessEnv, dir: string) => Promise<T>): Promise<T> {
    const dir = makeDockerConfig(logins, "multiarch-promote-");
    try {
        return await fn({ ...process.env, DOCKER_CONFIG: dir }, dir);
    } finally {
        removeTempDir(dir);
    }
}

/** A reference a copy hands to a CLI, checked by the reference grammar, so it is never read as a flag. */
function checkedReference(value: string, what: string): ImageReference {
    try {
        return parseImageReference(value);
    } catch (error) {
        throw new Error(`${what}: ${(error as Error).message}`);
    }
}

/**
 * Every problem with a copy's spec, found before anything runs: the destination is
 * `<repository>:<tag>`, each source and signed image a reference by digest, each digest
 * `sha256:<64 hex>`.
 */
export function copySpecProblems(spec: CopySpec): string[] {
    const problems: string[] = [];
    const check = (value: string, what: string, expected: (reference: ImageReference) => string | undefined) => {
        try {
            const why = expected(checkedReference(value, what));
            if (why !== undefined) {
                problems.push(`${what} is ${JSON.stringify(value)}: ${why}`);
            }
        } catch (error) {
            problems.push((error as Error).message);
        }
    };
    const tagged = (r: ImageReference) => (r.tag === undefined || r.digest !== undefined ? "expected <repository>:<tag>, without a digest" : undefined);
    const byDigest = (r: ImageReference) => (r.digest === undefined ? "expected an image by digest, <repository>@sha256:<64 hex>" : undefined);
    check(spec.destination, "the destination", tagged);
    if (spec.sources.length === 0) {
        problems.push("there is no source: expected one index or one manifest per platform, each by digest");
    }
    spec.sources.forEach((source, i) => check(source, `source ${i + 1}`, byDigest));
    (spec.signatures ?? []).forEach((signed, i) => check(signed, `signed image ${i + 1}`, byDigest));
    const digests = { ...spec.platformDigests, ...(spec.indexDigest !== undefined ? { index: spec.indexDigest } : {}) };
    for (const [name, digest] of Object.entries(digests)) {
        if (!DIGEST.test(digest)) {
            problems.push(`the digest of ${name} is ${JSON.stringify(digest)}: expected sha256:<64 hex>`);
        }
    }
    return problems;
}

/** An image as a registry serves it: the digest of what the reference names, and its platforms. */
export interface ServedImage {
    /** The sha256 of the manifest or index, as served. */
    digest: string;
    /** Canonical platform → manifest digest (an index's entries; attestations skipped). */
    platforms: Record<string, string>;
}

/**
 * Reads an image back with `docker buildx imagetools inspect --raw`, which prints the
 * manifest byte for byte ("avoid newline to keep digest", buildx
 * util/imagetools/printers.go `Print`), so its sha256 is the digest the registry serves.
 * Undefined when the registry has no such tag or manifest.
 */
export async function readServed(reference: string, env: NodeJS.ProcessEnv, run: DockerRunner = runDocker): Promise<ServedImage | undefined> {
    checkedReference(reference, "`docker buildx imagetools inspect` was not run");
    let raw: string;
    try {
        raw = (await run(["buildx", "imagetools", "inspect", "--raw", "--", reference], { env })).stdout;
    } catch (error) {
        const stderr = String((error as { stderr?: unknown }).stderr ?? "");
        if (/not found|manifest unknown|name unknown/i.test(stderr)) {
            return undefined;
        }
        throw error;
    }
    const json = JSON.parse(raw);
    const platforms = Array.isArray(json.manifests) ? selectPlatformManifests(json) : {};
    return { digest: contentDigest(raw), platforms };
}

/** How what the destination serves differs from what a copy must leave there; empty when it matches. */
export function servedDifferences(spec: CopySpec, served: ServedImage | undefined): string[] {
    if (served === undefined) {
        return [`${spec.destination} does not exist`];
    }
    const differences: string[] = [];
    if (spec.indexDigest !== undefined && served.digest !== spec.indexDigest) {
        differences.push(`${spec.destination} is ${served.digest}, not the source index ${spec.indexDigest}`);
    }
    for (const [platform, digest] of Object.entries(spec.platformDigests)) {
        const seen = served.platforms[platform];
        if (seen !== digest) {
            differences.push(`${platform} is ${seen ?? "missing"} at ${spec.destination}, not ${digest}`);
        }
    }
    return differences;
}

/** The repository part of `<repository>:<tag>`. */
function repositoryOf(destination: string): string {
    return splitTag(destination.split("@")[0]).repository;
}

/**
 * Copies the image and proves the result. When the destination already serves exactly
 * this image under the tag, nothing is sent. Otherwise imagetools copies every blob and
 * manifest the destination lacks (blobs it has are skipped: containerd's pusher asks
 * first) and moves the tag; then the tag and each platform's manifest are read back and
 * their digests compared. Nothing is ever deleted at the destination.
 */
export async function copyImage(spec: CopySpec, logins: RegistryLogin[], run: DockerRunner = runDocker): Promise<CopyResult> {
    const problems = copySpecProblems(spec);
    if (problems.length > 0) {
        throw new Error(`cannot copy to ${JSON.stringify(spec.destination)}, nothing was run:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
    const result = await copyManifests(spec, logins, run);
    await copySignatures(spec, logins);
    return result;
}

/**
 * `cosign copy --only=sig -- <source>@<digest> <destination repository>`: copies the
 * signature manifest (`sha256-<hex>.sig`) of each of `spec.signatures` to the
 * destination repository, with the same logins in cosign's own throwaway DOCKER_CONFIG
 * (`runCosign`). cosign also tags the signed digest itself as `sha256-<hex>` there (the
 * same manifest, already copied), and without `--force` it leaves a signature tag that
 * already exists at the destination as it is: nothing at the destination is replaced or
 * deleted.
 */
export function cosignCopyArgv(source: string, destination: string): string[] {
    checkedReference(destination, "`cosign copy` was not run: the destination");
    return ["copy", "--only=sig", "--", digestRef(source), repositoryOf(destination)];
}

async function copySignatures(spec: CopySpec, logins: RegistryLogin[]): Promise<void> {
    const registries = logins.map((l) => ({ address: l.registry, username: l.username, password: l.password }));
    for (const source of spec.signatures ?? []) {
        const result = await runCosign(cosignCopyArgv(source, spec.destination), {}, registries);
        if (result.code !== 0) {
            throw new Error(
                `copied ${spec.sources.join(", ")} to ${spec.destination}, but copying the signature of ${source} failed (cosign exited ${result.code}): ${result.stderr.trim()}\nA VmDeployment that requires a signature will refuse ${repositoryOf(spec.destination)} until \`pulumi up\` copies it`,
            );
        }
    }
}

async function copyManifests(spec: CopySpec, logins: RegistryLogin[], run: DockerRunner): Promise<CopyResult> {
    return withDockerConfig(logins, async (env) => {
        const before = await readServed(spec.destination, env, run);
        if (before !== undefined && servedDifferences(spec, before).length === 0) {
            return { indexDigest: before.digest, platformDigests: before.platforms, copied: false };
        }
        // One index as the only source is pushed as its original bytes ("on single source,
        // return original bytes", buildx util/imagetools/create.go `combine`), so the
        // destination's index digest is the source's; several manifests get a new index
        // over the same manifest digests. buildx writes each manifest under the tag before
        // the index, so the tag must be mutable.
        await run(imagetoolsCreateArgv(spec.destination, spec.sources), { env, timeoutMs: COPY_TIMEOUT_MS });
        const after = await readServed(spec.destination, env, run);
        const differences = servedDifferences(spec, after);
        const repository = repositoryOf(spec.destination);
        for (const [platform, digest] of Object.entries(spec.platformDigests)) {
            const manifest = await readServed(`${repository}@${digest}`, env, run);
            if (manifest?.digest !== digest) {
                differences.push(`${repository}@${digest} (${platform}) ${manifest === undefined ? "is missing" : `hashes to ${manifest.digest}`}`);
            }
        }
        if (differences.length > 0) {
            throw new Error(
                `copied ${spec.sources.join(", ")} to ${spec.destination}, but reading it back found:\n${differences.map((d) => `  - ${d}`).join("\n")}\nDo not deploy from ${spec.destination}; run \`pulumi up\` again to copy it anew`,
            );
        }
        return { indexDigest: after!.digest, platformDigests: after!.platforms, copied: true };
    });
}

/**
 * Whether a copy must run again: only when what is copied (the sources, by digest) or
 * where it goes changed. Credentials are not compared (an ECR password is new on each
 * run), and nothing is ever replaced: a new destination is copied to, the old copy stays.
 */
export function diffCopy(olds: { spec?: CopySpec }, news: { spec: CopySpec }): { changes: boolean } {
    return { changes: canonical(olds.spec) !== canonical(news.spec) };
}
