// The workload users have: `apt-get install curl` on a Debian base image, for
// linux/amd64 and linux/arm64, emulated (the install runs in the target's stage, arm64
// under QEMU) and cross-built (apt and dpkg-deb on the build machine's platform). Per
// variant and platform: cold, fresh-runner rebuild and one changed file, the steps each
// re-executed, whether the fresh runner's digest equals the cold one, and where a
// no-change rebuild's seconds go. Then what SOURCE_DATE_EPOCH alone gives when the cache
// is lost, and what rewrite-timestamp adds. See bench/README.md.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { streamDocker } from "../sdk/clients/docker";
import { emulatedRunSeconds } from "../sdk/cli/emulation";
import { dockerfileStages } from "../sdk/cli/dockerfile";
import { Breakdown, breakDown, buildError, imageStoreSeconds, pushedDigests } from "./breakdown";
import { Bar, Panel } from "./chart";
import { BuildRun, PLATFORMS, PerPlatformRun, bakePerPlatform, docker, dockerfileSteps, executedSteps, forgetImages, freshRunner, runBuild } from "./builds";
import { CHANGED_FILE, DEBIAN_BASE, DEBIAN_BASE_SCRIPT, FixtureVariant, fixtureContext } from "./fixture";
import { median, round } from "./stats";

const ARCHES = PLATFORMS.map((p) => p.split("/")[1]);
const VARIANTS: FixtureVariant[] = ["emulated", "cross"];
/** A fixed SOURCE_DATE_EPOCH (2023-11-14T22:13:20Z) for the lost-cache builds. */
export const EPOCH = "1700000000";

/** Milliseconds of a manifest HEAD and GET to the local registry: medians and the fastest. */
export interface RoundTrip {
    head: number;
    get: number;
    headMin: number;
    getMin: number;
    samples: number;
}

/** One scenario's figures for one variant and platform. */
export interface ScenarioFigures {
    seconds: number[];
    /** executed/listed Dockerfile steps of each repetition. */
    steps: string[];
    /** Executed step names of the first repetition. */
    executed: string[];
    /** The pushed manifest digest of each repetition. */
    digests: string[];
}

/** What a variant's runs gave, per platform. */
export interface VariantFigures {
    cold: Record<string, ScenarioFigures>;
    warm: Record<string, ScenarioFigures>;
    oneFile: Record<string, ScenarioFigures>;
    /** The fresh-runner rebuild of each repetition, broken down. */
    breakdown: Record<string, Breakdown[]>;
    /** Seconds of the cold build's RUN steps that ran under QEMU (preflight's emulatedRunSeconds). */
    emulatedRunSeconds: Record<string, number[]>;
    /** Whether fresh-runner digest == cold digest, every repetition. */
    digestsEqual: Record<string, boolean[]>;
}

/** Two builds of the same variant with every cache lost, compared. */
export interface LostCacheFigures {
    variant: FixtureVariant;
    platform: string;
    seconds: number[];
    /** The image exporter's manifest digests (docker driver, SOURCE_DATE_EPOCH build arg). */
    sourceDateEpochDigests: string[];
    /** The OCI exporter's manifest digests, SOURCE_DATE_EPOCH plus rewrite-timestamp=true. */
    rewriteTimestampDigests: string[];
}

/** Everything the Debian workload measured. */
export interface DebianFigures {
    base: string;
    baseSetup: string;
    variants: Record<string, VariantFigures>;
    /** Median milliseconds of a manifest HEAD and GET to the local registry. */
    registryRoundTripMs: RoundTrip;
    lostCache: LostCacheFigures[];
    /** What the docker driver said to `rewrite-timestamp=true` on its image exporter. */
    rewriteTimestampRefusal: string;
    /** `curl --version`'s first line in the cross-built arm64 image (it runs under QEMU). */
    crossCurl: string;
}

function scenario(): ScenarioFigures {
    return { seconds: [], steps: [], executed: [], digests: [] };
}

function take(into: Record<string, ScenarioFigures>, run: PerPlatformRun, first: boolean): Record<string, string> {
    const digests: Record<string, string> = {};
    for (const [arch, build] of Object.entries(run.platforms)) {
        const s = (into[arch] ??= scenario());
        s.seconds.push(round(build.seconds));
        const executed = executedSteps(build.steps);
        s.steps.push(`${executed.length}/${dockerfileSteps(build.steps).length}`);
        if (first) {
            s.executed = executed;
        }
        const digest = Object.values(pushedDigests(build.lines))[0] ?? "none";
        s.digests.push(digest);
        digests[arch] = digest;
    }
    return digests;
}

/** Median round trips of a manifest HEAD and GET to the local registry (the base image's tag). */
export async function registryRoundTrip(image: string, samples = 21): Promise<RoundTrip> {
    const m = /^([^/]+)\/(.+):([^:/]+)$/.exec(image);
    if (!m) {
        throw new Error(`cannot split ${image} into registry, repository and tag`);
    }
    const url = `http://${m[1]}/v2/${m[2]}/manifests/${m[3]}`;
    const accept = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";
    const time = async (method: string) => {
        const started = process.hrtime.bigint();
        const response = await fetch(url, { method, headers: { Accept: accept } });
        await response.arrayBuffer();
        if (!response.ok) {
            throw new Error(`${method} ${url}: HTTP ${response.status}`);
        }
        return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const head: number[] = [];
    const get: number[] = [];
    await time("GET"); // the connection
    for (let i = 0; i < samples; i++) {
        head.push(await time("HEAD"));
        get.push(await time("GET"));
    }
    return { head: round(median(head), 2), get: round(median(get), 2), headMin: round(Math.min(...head), 2), getMin: round(Math.min(...get), 2), samples };
}

/** Builds (or reuses) the Debian base image with scripts/debian-base.sh; returns what it said. */
async function debianBase(log: (line: string) => void): Promise<string> {
    const said: string[] = [];
    const { code, lines } = await new Promise<{ code: number; lines: string[] }>((resolve, reject) => {
        const child = spawn(DEBIAN_BASE_SCRIPT, [], { stdio: ["ignore", "pipe", "pipe"] });
        const out: string[] = [];
        const take = (chunk: Buffer) =>
            chunk
                .toString("utf8")
                .split("\n")
                .filter(Boolean)
                .forEach((l) => out.push(l));
        child.stdout.on("data", take);
        child.stderr.on("data", take);
        child.on("error", reject);
        child.on("close", (c) => resolve({ code: c ?? 1, lines: out }));
    });
    lines.forEach((l) => {
        said.push(l);
        log(`  ${l}`);
    });
    if (code !== 0) {
        throw new Error(`${DEBIAN_BASE_SCRIPT} exited ${code}`);
    }
    return said.join("; ");
}

/** A fresh runner for the Debian workload: also the base image's local copies go. */
async function freshDebianRunner(repositoryUrl: string): Promise<void> {
    await forgetImages(DEBIAN_BASE.replace(/:[^:/]+$/, ""));
    await freshRunner(repositoryUrl);
}

function describe(run: PerPlatformRun): string {
    return Object.entries(run.platforms)
        .map(([arch, b]) => `${arch} ${b.seconds.toFixed(1)}s (${executedSteps(b.steps).length}/${dockerfileSteps(b.steps).length} executed)`)
        .join(", ");
}

/** The lost-cache build: no cache at all, SOURCE_DATE_EPOCH fixed, image pushed and an OCI layout with rewrite-timestamp. */
async function lostCacheBuild(context: string, ref: string, platform: string): Promise<{ run: BuildRun; imageDigest: string; ociDigest: string }> {
    const oci = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-bench-oci-"));
    try {
        const run = await runBuild([
            "buildx",
            "build",
            "--builder",
            "default",
            "--no-cache",
            "--platform",
            platform,
            "--provenance=false",
            "--build-arg",
            `SOURCE_DATE_EPOCH=${EPOCH}`,
            "--output",
            `type=image,name=${ref},push=true`,
            "--output",
            `type=oci,tar=false,dest=${oci},rewrite-timestamp=true`,
            context,
        ]);
        const index = JSON.parse(fs.readFileSync(path.join(oci, "index.json"), "utf8")) as { manifests: { digest: string }[] };
        return { run, imageDigest: Object.values(pushedDigests(run.lines))[0] ?? "none", ociDigest: index.manifests[0]?.digest ?? "none" };
    } finally {
        fs.rmSync(oci, { recursive: true, force: true });
    }
}

/** Runs the Debian workload's scenarios, `runs` times each. */
export async function benchDebian(runs: number, registry: string, log: (line: string) => void): Promise<DebianFigures> {
    log(`debian workload: base ${DEBIAN_BASE}`);
    const baseSetup = await debianBase(log);
    const roundTrip = await registryRoundTrip(DEBIAN_BASE);
    log(
        `  registry round trip: manifest HEAD ${roundTrip.head} ms, GET ${roundTrip.get} ms (medians of ${roundTrip.samples}; fastest ${roundTrip.headMin} ms, ${roundTrip.getMin} ms)`,
    );
    const figures: DebianFigures = {
        base: DEBIAN_BASE,
        baseSetup,
        variants: {},
        registryRoundTripMs: roundTrip,
        lostCache: [],
        rewriteTimestampRefusal: "",
        crossCurl: "",
    };
    const unique = (name: string) => `${registry}/multiarch-bench/debian-${name}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const made: string[] = [];
    try {
        for (let r = 0; r < runs; r++) {
            // Alternate which variant goes first: the machine's load drifts.
            const order = r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
            for (const variant of order) {
                const v = (figures.variants[variant] ??= { cold: {}, warm: {}, oneFile: {}, breakdown: {}, emulatedRunSeconds: {}, digestsEqual: {} });
                const context = fixtureContext(variant, "debian");
                made.push(context);
                const repo = unique(variant);
                const stages = dockerfileStages(fs.readFileSync(path.join(context, "Dockerfile"), "utf8"));
                log(`run ${r + 1}/${runs}, ${variant}: ${repo}`);

                await freshDebianRunner(repo);
                const cold = await bakePerPlatform(context, repo);
                const coldDigests = take(v.cold, cold, r === 0);
                for (const [arch, build] of Object.entries(cold.platforms)) {
                    (v.emulatedRunSeconds[arch] ??= []).push(round(emulatedRunSeconds(build.steps, stages, `linux/${arch}`, ["linux/amd64"]).seconds));
                }
                log(`  cold          ${describe(cold)}`);

                await freshDebianRunner(repo);
                const warm = await bakePerPlatform(context, repo);
                const warmDigests = take(v.warm, warm, r === 0);
                for (const [arch, build] of Object.entries(warm.platforms)) {
                    (v.breakdown[arch] ??= []).push(breakDown(build.lines, build.seconds));
                    (v.digestsEqual[arch] ??= []).push(warmDigests[arch] === coldDigests[arch] && coldDigests[arch] !== "none");
                }
                log(
                    `  fresh runner  ${describe(warm)}; digests ${ARCHES.map((a) => `${a} ${warmDigests[a] === coldDigests[a] ? "equal" : "DIFFER"}`).join(", ")}`,
                );
                if (variant === "cross" && figures.crossCurl === "") {
                    const stdout = await docker(["run", "--rm", "--platform", "linux/arm64", `${repo}:bench-arm64`, "curl", "--version"]);
                    figures.crossCurl = stdout.split("\n")[0];
                    log(`  cross arm64 image runs: ${figures.crossCurl}`);
                }

                fs.appendFileSync(path.join(context, CHANGED_FILE), `changed in run ${r + 1}\n`);
                await freshDebianRunner(repo);
                const oneFile = await bakePerPlatform(context, repo);
                take(v.oneFile, oneFile, r === 0);
                log(`  one file      ${describe(oneFile)}`);
                await forgetImages(repo);
            }
        }

        // The cache lost: two builds from nothing, amd64 (the layers' content, not the
        // platform, decides), each variant; SOURCE_DATE_EPOCH alone on the image exporter,
        // plus rewrite-timestamp on the OCI exporter (which the docker driver accepts).
        for (const variant of VARIANTS) {
            const context = fixtureContext(variant, "debian");
            made.push(context);
            const repo = unique(`lost-${variant}`);
            const lost: LostCacheFigures = { variant, platform: "linux/amd64", seconds: [], sourceDateEpochDigests: [], rewriteTimestampDigests: [] };
            for (let i = 0; i < 2; i++) {
                await freshDebianRunner(repo);
                const b = await lostCacheBuild(context, `${repo}:sde-${i}`, "linux/amd64");
                lost.seconds.push(round(b.run.seconds));
                lost.sourceDateEpochDigests.push(b.imageDigest);
                lost.rewriteTimestampDigests.push(b.ociDigest);
            }
            const same = (d: string[]) => (d[0] === d[1] ? "equal" : "differ");
            log(
                `lost cache, ${variant} amd64: SOURCE_DATE_EPOCH alone ${same(lost.sourceDateEpochDigests)}, + rewrite-timestamp ${same(lost.rewriteTimestampDigests)} (${lost.seconds.join(" s, ")} s)`,
            );
            figures.lostCache.push(lost);
            if (variant === "cross") {
                // The image exporter with rewrite-timestamp, on the build just made (cached).
                const { code, lines } = await streamDocker([
                    "buildx",
                    "build",
                    "--builder",
                    "default",
                    "--platform",
                    "linux/amd64",
                    "--provenance=false",
                    "--build-arg",
                    `SOURCE_DATE_EPOCH=${EPOCH}`,
                    "--output",
                    `type=image,name=${repo}:rewrite,push=true,rewrite-timestamp=true`,
                    "--progress",
                    "plain",
                    context,
                ]);
                figures.rewriteTimestampRefusal = code === 0 ? "accepted" : (buildError(lines) ?? `exited ${code}`);
                log(`docker driver, image exporter, rewrite-timestamp=true: ${figures.rewriteTimestampRefusal}`);
            }
            await forgetImages(repo);
        }
    } finally {
        made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
    }
    return figures;
}

/** Medians of each phase over the repetitions. */
export function medianBreakdown(samples: Breakdown[]): Breakdown {
    const keys = Object.keys(samples[0]) as (keyof Breakdown)[];
    return Object.fromEntries(keys.map((k) => [k, round(median(samples.map((s) => s[k])))])) as unknown as Breakdown;
}

/**
 * Registry round trips a no-change rebuild cannot avoid: resolve the base image, fetch
 * the cache manifest and its config, and confirm the image's manifest in the registry.
 */
export const LIMIT_ROUND_TRIPS = 4;

/** The Debian workload's table rows, checks, ratios, chart panels and summary. */
export function debianReport(f: DebianFigures): {
    rows: string[][];
    checks: { check: string; ok: boolean }[];
    ratios: Record<string, number>;
    panels: Panel[];
    breakdown: Record<string, Record<string, Breakdown & { imageStore: number; withoutImageStore: number }>>;
    limitSeconds: number;
    summary: string;
} {
    const rows: string[][] = [["debian workload (apt-get install curl)", "platform", "median s", "runs", "steps executed", "digest = cold"]];
    const checks: { check: string; ok: boolean }[] = [];
    const ratios: Record<string, number> = {};
    const bars: Bar[] = [];
    const phaseBars: Bar[] = [];
    const breakdown: Record<string, Record<string, Breakdown & { imageStore: number; withoutImageStore: number }>> = {};
    const limitSeconds = round((LIMIT_ROUND_TRIPS * Math.max(f.registryRoundTripMs.head, f.registryRoundTripMs.get)) / 1000, 4);
    const distinct = (values: string[]) => [...new Set(values)].join(", ");
    for (const [variant, v] of Object.entries(f.variants)) {
        for (const arch of ARCHES) {
            const cold = median(v.cold[arch].seconds);
            const warm = median(v.warm[arch].seconds);
            const oneFile = median(v.oneFile[arch].seconds);
            const equal = v.digestsEqual[arch];
            rows.push([`${variant}: cold build + push`, arch, cold.toFixed(2), String(v.cold[arch].seconds.length), distinct(v.cold[arch].steps), "-"]);
            rows.push([
                `${variant}: fresh-runner rebuild`,
                arch,
                warm.toFixed(2),
                String(v.warm[arch].seconds.length),
                distinct(v.warm[arch].steps),
                equal.every(Boolean) ? "yes" : `NO (${equal.filter((e) => !e).length} of ${equal.length})`,
            ]);
            rows.push([
                `${variant}: one changed file, fresh runner`,
                arch,
                oneFile.toFixed(2),
                String(v.oneFile[arch].seconds.length),
                distinct(v.oneFile[arch].steps),
                "-",
            ]);
            ratios[`${variant}_warmPerCold_${arch}`] = round(warm / cold);
            ratios[`${variant}_oneFilePerCold_${arch}`] = round(oneFile / cold);
            checks.push({
                check: `debian ${variant} ${arch}: fresh-runner digest equals the cold one in every run (${equal.join(", ")})`,
                ok: equal.length > 0 && equal.every(Boolean),
            });
            checks.push({
                check: `debian ${variant} ${arch}: fresh-runner rebuild re-executed no step (${distinct(v.warm[arch].steps)})`,
                ok: v.warm[arch].steps.every((s) => s.startsWith("0/")),
            });
            checks.push({
                check: `debian ${variant} ${arch}: one changed file re-executed only its COPY (${JSON.stringify(v.oneFile[arch].executed)})`,
                ok: v.oneFile[arch].executed.length === 1 && v.oneFile[arch].executed[0].endsWith(`COPY ${CHANGED_FILE} /app/${CHANGED_FILE}`),
            });
            const b = medianBreakdown(v.breakdown[arch]);
            const imageStore = imageStoreSeconds(b);
            const withoutImageStore = round(b.total - imageStore);
            (breakdown[variant] ??= {})[arch] = { ...b, imageStore, withoutImageStore };
            ratios[`${variant}_rebuildPerLimit_docker_${arch}`] = round(b.total / limitSeconds, 0);
            ratios[`${variant}_rebuildPerLimit_withoutImageStore_${arch}`] = round(withoutImageStore / limitSeconds, 0);
            bars.push({ label: `${variant} cold (${arch})`, value: cold, colour: "#9d9d9d" });
            bars.push({
                label: `${variant} fresh runner (${arch})`,
                value: warm,
                colour: "#54a24b",
                note: `${warm.toFixed(1)} s, ${distinct(v.warm[arch].steps)} executed`,
            });
            bars.push({ label: `${variant} one changed file (${arch})`, value: oneFile, colour: "#4c78a8" });
            phaseBars.push({
                label: `${variant} ${arch}: image store (unpack, fetch, push)`,
                value: imageStore,
                colour: "#e45756",
                note: `${imageStore.toFixed(1)} s of ${b.total.toFixed(1)} s`,
            });
            phaseBars.push({
                label: `${variant} ${arch}: cache import + export + push`,
                value: round(
                    b.cacheImport + b.cacheExport + b.push + b.resolve + Math.max(0, b.export - (b.unpack > 0 ? 0 : Math.min(b.layerFetch, b.export))),
                ),
                colour: "#4c78a8",
            });
            phaseBars.push({ label: `${variant} ${arch}: the rest (client, session, solve)`, value: b.rest, colour: "#9d9d9d" });
        }
        const emulatedRun = median(v.emulatedRunSeconds.arm64 ?? []);
        if (variant === "cross") {
            checks.push({ check: `debian cross arm64: no RUN step ran under QEMU (${emulatedRun.toFixed(1)} s emulated)`, ok: emulatedRun === 0 });
        }
    }
    if (f.variants.emulated && f.variants.cross) {
        const e = median(f.variants.emulated.cold.arm64.seconds);
        const c = median(f.variants.cross.cold.arm64.seconds);
        ratios.emulatedPerCross_cold_arm64 = round(e / c);
        rows.push(["  emulated/cross, cold", "arm64", `${ratios.emulatedPerCross_cold_arm64.toFixed(2)}x`, "-", "-", "-"]);
    }
    checks.push({ check: `debian cross arm64 image runs curl (${JSON.stringify(f.crossCurl)})`, ok: /^curl \d/.test(f.crossCurl) });
    checks.push({
        check: `docker driver refuses rewrite-timestamp on its image exporter (${JSON.stringify(f.rewriteTimestampRefusal)})`,
        ok: /rewrite-timestamp.*conflicts with.*unpack/.test(f.rewriteTimestampRefusal),
    });
    for (const lost of f.lostCache) {
        const same = (d: string[]) => d.length === 2 && d[0] === d[1] && d[0] !== "none";
        rows.push([
            `${lost.variant}: cache lost, SOURCE_DATE_EPOCH alone`,
            lost.platform.split("/")[1],
            median(lost.seconds).toFixed(2),
            String(lost.seconds.length),
            "all",
            same(lost.sourceDateEpochDigests) ? "same digest" : "digests differ",
        ]);
        rows.push([
            `${lost.variant}: cache lost, + rewrite-timestamp (OCI)`,
            lost.platform.split("/")[1],
            "-",
            String(lost.seconds.length),
            "all",
            same(lost.rewriteTimestampDigests) ? "same digest" : "digests differ",
        ]);
        ratios[`${lost.variant}_lostCacheSameDigest_sourceDateEpoch`] = same(lost.sourceDateEpochDigests) ? 1 : 0;
        ratios[`${lost.variant}_lostCacheSameDigest_rewriteTimestamp`] = same(lost.rewriteTimestampDigests) ? 1 : 0;
    }
    const rt = f.registryRoundTripMs;
    const b = breakdown.emulated ?? breakdown.cross;
    const summary =
        `debian summary: fresh-runner/cold ${Object.keys(f.variants)
            .map((variant) => ARCHES.map((a) => `${variant} ${a} ${ratios[`${variant}_warmPerCold_${a}`].toFixed(2)}x`).join(", "))
            .join(", ")}; ` +
        `digests equal after prune: ${checks.filter((c) => c.check.includes("digest equals")).every((c) => c.ok) ? "yes" : "NO"}; ` +
        (ratios.emulatedPerCross_cold_arm64 ? `emulated/cross cold arm64 ${ratios.emulatedPerCross_cold_arm64.toFixed(2)}x; ` : "") +
        (b
            ? `no-change rebuild ${ARCHES.map((a) => `${a} ${b[a].total.toFixed(1)} s (image store ${b[a].imageStore.toFixed(1)} s)`).join(", ")}; ` +
              `physical limit ${LIMIT_ROUND_TRIPS} round trips x ${Math.max(rt.head, rt.get)} ms = ${(limitSeconds * 1000).toFixed(1)} ms; `
            : "") +
        `lost cache, same digest with SOURCE_DATE_EPOCH alone: ${f.lostCache.map((l) => `${l.variant} ${ratios[`${l.variant}_lostCacheSameDigest_sourceDateEpoch`] ? "yes" : "no"}`).join(", ")}, ` +
        `+ rewrite-timestamp: ${f.lostCache.map((l) => `${l.variant} ${ratios[`${l.variant}_lostCacheSameDigest_rewriteTimestamp`] ? "yes" : "no"}`).join(", ")}`;
    return {
        rows,
        checks,
        ratios,
        panels: [
            { title: "Debian + apt-get install curl: build seconds (lower is better)", unit: "s", bars },
            { title: "No-change rebuild on a fresh runner, by phase (medians, s)", unit: "s", bars: phaseBars },
        ],
        breakdown,
        limitSeconds,
        summary,
    };
}
