// `npm run bench`: the build-performance benchmark on the real Docker stack
// (scripts/docker-stack.sh), every scenario side by side in one run, repeated, medians
// reported. Per workload it writes bench/results/<workload>.json and .svg (the compress
// workload and the declaration benchmark: bench.json, bench.svg; the Debian workload:
// debian.json, debian.svg), prints a table and one summary line of ratios, and exits 1
// when a check fails. See bench/README.md for what each scenario measures.
//
// The engine workload (`--workloads engine`, only when named): `pulumi up` through the real
// engine (bench/engine.ts), to bench/results/engine.json and engine.svg.
//
//   npx ts-node bench/run.ts [--workloads compress,debian,engine] [--runs 3] [--lines 2000000] [--images 50] [--decl-runs 9] [--no-docker]
//       [--engine-runs 5] [--no-one-file]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { EmulatedRunTime, emulatedRunSeconds } from "../sdk/cli/emulation";
import { dockerfileStages } from "../sdk/cli/dockerfile";
import {
    BuildRun,
    PLATFORMS,
    PerPlatformRun,
    bakePerPlatform,
    buildSingleRef,
    docker,
    dockerfileSteps,
    executedSteps,
    forgetImages,
    freshRunner,
    probeSingleRef,
    runBuild,
} from "./builds";
import { Bar, barChart, table } from "./chart";
import { DeclarationResult, benchDeclarations } from "./declare";
import { benchDebian, debianReport } from "./debian";
import { benchEngine, engineReport } from "./engine";
import { APP, CHANGED_FILE, WORKLOADS, fixtureContext } from "./fixture";
import { median, round } from "./stats";

const REGISTRY = "127.0.0.1:5000";
const RESULTS = path.join(__dirname, "results");
const ARCHES = PLATFORMS.map((p) => p.split("/")[1]);
/** What --workloads may name: the build workloads (the default) and the engine's. */
const SELECTABLE = [...WORKLOADS, "engine"] as const;
type Selectable = (typeof SELECTABLE)[number];

interface Options {
    runs: number;
    lines: number;
    images: number;
    declRuns: number;
    docker: boolean;
    workloads: Selectable[];
    engineRuns: number;
    oneFile: boolean;
}

function options(): Options {
    const { values } = parseArgs({
        options: {
            runs: { type: "string", default: "3" },
            lines: { type: "string", default: "2000000" },
            images: { type: "string", default: "50" },
            "decl-runs": { type: "string", default: "9" },
            "no-docker": { type: "boolean", default: false },
            workloads: { type: "string", default: WORKLOADS.join(",") },
            "engine-runs": { type: "string", default: "5" },
            "no-one-file": { type: "boolean", default: false },
        },
    });
    const int = (name: string, value: string | undefined, min: number) => {
        const n = Number(value);
        if (!Number.isInteger(n) || n < min) {
            throw new Error(`--${name} is ${JSON.stringify(value)}: expected an integer >= ${min}`);
        }
        return n;
    };
    const workloads = (values.workloads ?? "").split(",").filter(Boolean);
    const unknown = workloads.filter((w) => !(SELECTABLE as readonly string[]).includes(w));
    if (workloads.length === 0 || unknown.length > 0) {
        throw new Error(`--workloads is ${JSON.stringify(values.workloads)}: expected a comma-separated list of ${SELECTABLE.join(", ")}`);
    }
    return {
        workloads: workloads as Selectable[],
        engineRuns: int("engine-runs", values["engine-runs"], 1),
        oneFile: !values["no-one-file"],
        runs: int("runs", values.runs, 1),
        lines: int("lines", values.lines, 1000),
        images: int("images", values.images, 1),
        declRuns: int("decl-runs", values["decl-runs"], 1),
        docker: !values["no-docker"],
    };
}

function uniqueName(prefix: string): string {
    return `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Seconds of each repetition of one scenario, per platform (or "all" for one process). */
type Samples = Record<string, number[]>;

/** Every build measurement of a run. */
interface BuildFigures {
    cold: Samples;
    warm: Samples;
    oneFile: Samples;
    singleCold: Samples;
    singleWarm: Samples;
    /** The wall time of both per-platform builds started together, and the sum of each. */
    concurrentWall: number[];
    concurrentSum: number[];
    /** arm64 with the compute step in the target stage (QEMU) vs in a $BUILDPLATFORM stage. */
    emulatedArm64: number[];
    crossArm64: number[];
    nativeAmd64: number[];
    emulatedRunSeconds: number[];
    crossRunSeconds: number[];
    /** Dockerfile steps executed (not from a cache), per scenario and platform: the most over repetitions. */
    executed: Record<string, Record<string, number>>;
    /** Dockerfile steps listed, per scenario and platform. */
    total: Record<string, Record<string, number>>;
    /** "executed/listed" of each repetition, per scenario and platform. */
    stepsPerRun: Record<string, Record<string, string[]>>;
    /** The steps a one-file change executed, by platform (first repetition). */
    oneFileSteps: Record<string, string[]>;
    /** The steps each platform re-executed from the single multi-platform ref after a prune. */
    singleRefSteps: Record<string, string[]>;
}

function note(figures: BuildFigures, scenario: string, platform: string, run: BuildRun): void {
    figures.executed[scenario] ??= {};
    figures.total[scenario] ??= {};
    const executed = executedSteps(run.steps).length;
    figures.executed[scenario][platform] = Math.max(figures.executed[scenario][platform] ?? 0, executed);
    figures.total[scenario][platform] = Math.max(figures.total[scenario][platform] ?? 0, dockerfileSteps(run.steps).length);
    ((figures.stepsPerRun[scenario] ??= {})[platform] ??= []).push(`${executed}/${dockerfileSteps(run.steps).length}`);
}

function record(figures: BuildFigures, scenario: "cold" | "warm" | "oneFile", run: PerPlatformRun): void {
    for (const [arch, build] of Object.entries(run.platforms)) {
        (figures[scenario][arch] ??= []).push(build.seconds);
        note(figures, scenario, arch, build);
    }
}

async function benchBuilds(opts: Options, log: (line: string) => void): Promise<BuildFigures> {
    const figures: BuildFigures = {
        cold: {},
        warm: {},
        oneFile: {},
        singleCold: {},
        singleWarm: {},
        concurrentWall: [],
        concurrentSum: [],
        emulatedArm64: [],
        crossArm64: [],
        nativeAmd64: [],
        emulatedRunSeconds: [],
        crossRunSeconds: [],
        executed: {},
        total: {},
        stepsPerRun: {},
        oneFileSteps: {},
        singleRefSteps: {},
    };
    const buildArgs = { LINES: String(opts.lines) };
    const emulatedContext = fixtureContext("emulated");
    const crossContext = fixtureContext("cross");
    const made = [emulatedContext, crossContext];
    try {
        for (let r = 0; r < opts.runs; r++) {
            const context = fixtureContext("cross");
            made.push(context);
            const component = `${REGISTRY}/multiarch-bench/${uniqueName("component")}`;
            const single = `${REGISTRY}/multiarch-bench/${uniqueName("single")}`;
            log(`run ${r + 1}/${opts.runs}: component caches in ${component}, single ref in ${single}`);

            await freshRunner(component);
            const cold = await bakePerPlatform(context, component, buildArgs);
            record(figures, "cold", cold);
            figures.concurrentWall.push(cold.wallSeconds);
            figures.concurrentSum.push(Object.values(cold.platforms).reduce((sum, b) => sum + b.seconds, 0));
            log(`  cold          ${describe(cold)}`);

            await freshRunner(component);
            const warm = await bakePerPlatform(context, component, buildArgs);
            record(figures, "warm", warm);
            log(`  fresh runner  ${describe(warm)}`);

            fs.appendFileSync(path.join(context, CHANGED_FILE), `changed in run ${r + 1}\n`);
            await freshRunner(component);
            const oneFile = await bakePerPlatform(context, component, buildArgs);
            record(figures, "oneFile", oneFile);
            if (r === 0) {
                figures.oneFileSteps = Object.fromEntries(Object.entries(oneFile.platforms).map(([a, b]) => [a, executedSteps(b.steps)]));
            }
            log(`  one file      ${describe(oneFile)}`);

            await freshRunner(single);
            const singleCold = await buildSingleRef(context, single, buildArgs);
            (figures.singleCold.all ??= []).push(singleCold.seconds);
            note(figures, "singleCold", "all", singleCold);
            await freshRunner(single);
            const singleWarm = await buildSingleRef(context, single, buildArgs);
            (figures.singleWarm.all ??= []).push(singleWarm.seconds);
            note(figures, "singleWarm", "all", singleWarm);
            log(
                `  single ref    cold ${singleCold.seconds.toFixed(1)}s, fresh runner ${singleWarm.seconds.toFixed(1)}s (${executedSteps(singleWarm.steps).length} steps executed)`,
            );
            if (r === 0) {
                // What the single ref holds for each platform: each built alone from it.
                await freshRunner(single);
                const probes = await Promise.all(PLATFORMS.map((p) => probeSingleRef(context, single, p, buildArgs)));
                probes.forEach((probe, i) => {
                    figures.singleRefSteps[ARCHES[i]] = executedSteps(probe.steps);
                    note(figures, "singleRefProbe", ARCHES[i], probe);
                });
                log(`  single ref, per platform: ${ARCHES.map((a) => `${a} ${figures.singleRefSteps[a].length} executed`).join(", ")}`);
            }
            await forgetImages(component);
            await forgetImages(single);

            // Emulated against cross-compiled: no cache, one build at a time, order alternating.
            const order = r % 2 === 0 ? ["emulated", "cross", "native"] : ["native", "cross", "emulated"];
            for (const which of order) {
                const context = which === "cross" ? crossContext : emulatedContext;
                const platform = which === "native" ? "linux/amd64" : "linux/arm64";
                const run = await runBuild([
                    "buildx",
                    "build",
                    "--builder",
                    "default",
                    "--no-cache",
                    "--platform",
                    platform,
                    "--build-arg",
                    `LINES=${opts.lines}`,
                    "--output",
                    "type=cacheonly",
                    context,
                ]);
                const stages = dockerfileStages(fs.readFileSync(path.join(context, "Dockerfile"), "utf8"));
                const runStep = dockerfileSteps(run.steps)
                    .filter((s) => s.instruction === "RUN")
                    .reduce((sum, s) => sum + s.seconds, 0);
                if (which === "emulated") {
                    figures.emulatedArm64.push(run.seconds);
                    figures.emulatedRunSeconds.push(runStep);
                    const emulated: EmulatedRunTime = emulatedRunSeconds(run.steps, stages, platform, ["linux/amd64"]);
                    log(`  arm64 emulated ${run.seconds.toFixed(1)}s (RUN ${runStep.toFixed(1)}s, ${emulated.seconds.toFixed(1)}s of it emulated)`);
                } else if (which === "cross") {
                    figures.crossArm64.push(run.seconds);
                    figures.crossRunSeconds.push(runStep);
                    log(`  arm64 cross    ${run.seconds.toFixed(1)}s (RUN ${runStep.toFixed(1)}s, native)`);
                } else {
                    figures.nativeAmd64.push(run.seconds);
                    log(`  amd64 native   ${run.seconds.toFixed(1)}s (the emulated Dockerfile on its own platform)`);
                }
            }
        }
    } finally {
        made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
    }
    return figures;
}

function describe(run: PerPlatformRun): string {
    const parts = Object.entries(run.platforms).map(
        ([arch, b]) => `${arch} ${b.seconds.toFixed(1)}s (${executedSteps(b.steps).length}/${dockerfileSteps(b.steps).length} steps executed)`,
    );
    return `${parts.join(", ")}; wall ${run.wallSeconds.toFixed(1)}s`;
}

async function machine(): Promise<Record<string, string | number>> {
    const version = async (args: string[]) => (await docker(args).catch((e: Error) => e.message)).trim();
    return {
        cpus: os.cpus().length,
        loadAverage1m: round(os.loadavg()[0]),
        node: process.version,
        engine: await version(["version", "--format", "{{.Server.Version}} ({{.Server.Os}}/{{.Server.Arch}})"]),
        buildx: await version(["buildx", "version"]),
        builder: "default (docker driver, containerd image store); arm64 under QEMU (binfmt)",
    };
}

function medians(samples: Samples): Record<string, number> {
    return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, round(median(v))]));
}

async function main(): Promise<number> {
    const opts = options();
    const log = (line: string) => console.log(line);
    let code = 0;
    if (opts.workloads.includes("compress") || !opts.docker) {
        code = Math.max(code, await compressAndDeclarations(opts, log));
    }
    if (opts.workloads.includes("debian") && opts.docker) {
        code = Math.max(code, await debian(opts, log));
    }
    if (opts.workloads.includes("engine") && opts.docker) {
        code = Math.max(code, await engine(opts, log));
    }
    return code;
}

/** The engine workload: runs it, writes engine.json and engine.svg, prints its table. */
async function engine(opts: Options, log: (line: string) => void): Promise<number> {
    const started = new Date();
    const before = await machine();
    log(`bench (engine): ${opts.engineRuns} runs of each up; load ${before.loadAverage1m} on ${before.cpus} CPUs`);
    const figures = await benchEngine(opts.engineRuns, opts.oneFile, log);
    const loadAfter = round(os.loadavg()[0]);
    const report = engineReport(figures);
    const result = {
        command: `npm run bench -- --workloads engine --engine-runs ${opts.engineRuns}${opts.oneFile ? "" : " --no-one-file"}`,
        started: started.toISOString(),
        finished: new Date().toISOString(),
        machine: { ...before, builder: "docker-container (BuildxBuilder, network=host)", loadAverage1mAfter: loadAfter },
        ratios: report.ratios,
        checks: report.checks,
        ranges: report.ranges,
        figures,
        table: report.rows,
        summary: report.summary,
    };
    fs.mkdirSync(RESULTS, { recursive: true });
    writeAtomically(path.join(RESULTS, "engine.json"), `${JSON.stringify(result, null, 2)}\n`);
    const subtitle = `${started.toISOString().slice(0, 16)}Z, ${before.cpus} CPUs (shared; load ${before.loadAverage1m} → ${loadAfter}), ${figures.versions.pulumi}, medians of ${opts.engineRuns} runs`;
    const bar = (label: string, key: "floor" | "component" | "peer", colour: string, oneFile = false) => {
        const v = oneFile ? figures.oneFile[key] : figures.noChange[key];
        return v ? [{ label, value: median(v), colour }] : [];
    };
    const panels = [
        {
            title: "pulumi up --yes --skip-preview",
            unit: "s",
            bars: [
                ...bar("floor (no resources), no change", "floor", "#9d9d9d"),
                ...bar("MultiArchImage, no change", "component", "#54a24b"),
                ...bar("docker-build Image, no change", "peer", "#4c78a8"),
                ...bar("MultiArchImage, one changed file", "component", "#54a24b", true),
                ...bar("docker-build Image, one changed file", "peer", "#4c78a8", true),
            ],
        },
    ];
    writeAtomically(path.join(RESULTS, "engine.svg"), barChart("multiarch: pulumi up through the real engine", subtitle, panels));
    log("");
    log(table(report.rows));
    log("");
    for (const c of report.checks) {
        log(`${c.ok ? "ok  " : "FAIL"} ${c.check}`);
    }
    log(`wrote ${path.relative(process.cwd(), path.join(RESULTS, "engine.json"))} and engine.svg`);
    log(report.summary);
    return report.checks.every((c) => c.ok) ? 0 : 1;
}

/** The Debian workload: runs it, writes debian.json and debian.svg, prints its table. */
async function debian(opts: Options, log: (line: string) => void): Promise<number> {
    const started = new Date();
    const before = await machine();
    log(`bench (debian): ${opts.runs} runs; load ${before.loadAverage1m} on ${before.cpus} CPUs`);
    const figures = await benchDebian(opts.runs, REGISTRY, log);
    fs.mkdirSync(RESULTS, { recursive: true });
    // The raw figures first: the report below is derived from them alone.
    writeAtomically(path.join(RESULTS, "debian.json"), `${JSON.stringify({ figures }, null, 2)}\n`);
    const loadAfter = round(os.loadavg()[0]);
    const report = debianReport(figures);
    const result = {
        command: `npm run bench -- --workloads debian --runs ${opts.runs}`,
        started: started.toISOString(),
        finished: new Date().toISOString(),
        machine: { ...before, loadAverage1mAfter: loadAfter },
        ratios: report.ratios,
        checks: report.checks,
        breakdown: report.breakdown,
        physicalLimit: { roundTrips: 4, roundTripMs: figures.registryRoundTripMs, seconds: report.limitSeconds },
        figures,
        table: report.rows,
        summary: report.summary,
    };
    fs.mkdirSync(RESULTS, { recursive: true });
    writeAtomically(path.join(RESULTS, "debian.json"), `${JSON.stringify(result, null, 2)}\n`);
    const subtitle = `${started.toISOString().slice(0, 16)}Z, ${before.cpus} CPUs (shared; load ${before.loadAverage1m} → ${loadAfter}), ${before.engine}, medians of ${opts.runs} runs`;
    writeAtomically(path.join(RESULTS, "debian.svg"), barChart("multiarch build performance: Debian + apt-get install curl", subtitle, report.panels));
    log("");
    log(table(report.rows));
    log("");
    const b = report.breakdown;
    const phases = [
        [
            "no-change rebuild, fresh runner",
            "platform",
            "total",
            "cache import",
            "export",
            "unpack",
            "push",
            "docker push",
            "cache export",
            "resolve",
            "rest",
            "layer fetch",
            "image store",
            "without it (inferred)",
        ],
    ];
    for (const [variant, byArch] of Object.entries(b)) {
        for (const [arch, x] of Object.entries(byArch)) {
            phases.push([
                variant,
                arch,
                ...[
                    x.total,
                    x.cacheImport,
                    x.export,
                    x.unpack,
                    x.push,
                    x.dockerPush,
                    x.cacheExport,
                    x.resolve,
                    x.rest,
                    x.layerFetch,
                    x.imageStore,
                    x.withoutImageStore,
                ].map((n) => n.toFixed(2)),
            ]);
        }
    }
    log(table(phases));
    log(
        `physical limit: 4 registry round trips x ${Math.max(figures.registryRoundTripMs.head, figures.registryRoundTripMs.get)} ms = ${(report.limitSeconds * 1000).toFixed(1)} ms`,
    );
    log("");
    for (const c of report.checks) {
        log(`${c.ok ? "ok  " : "FAIL"} ${c.check}`);
    }
    log(`wrote ${path.relative(process.cwd(), path.join(RESULTS, "debian.json"))} and debian.svg`);
    log(report.summary);
    return report.checks.every((c) => c.ok) ? 0 : 1;
}

/** The compress workload and the declaration benchmark: bench.json and bench.svg. */
async function compressAndDeclarations(opts: Options, log: (line: string) => void): Promise<number> {
    const started = new Date();
    const before = await machine();
    log(
        `bench: ${opts.runs} runs, fixture LINES=${opts.lines}, ${opts.images} images declared ${opts.declRuns} times; load ${before.loadAverage1m} on ${before.cpus} CPUs`,
    );

    log(`declaring ${opts.images} MultiArchImages vs ${opts.images} raw docker-build image sets under mocks ...`);
    const declaration: DeclarationResult = await benchDeclarations(opts.images, opts.declRuns, APP);
    log(`  component ${declaration.componentMedianMs.toFixed(0)} ms, raw ${declaration.rawMedianMs.toFixed(0)} ms (medians): ${declaration.ratio.toFixed(2)}x`);

    const builds = opts.docker && opts.workloads.includes("compress") ? await benchBuilds(opts, log) : undefined;
    const loadAfter = round(os.loadavg()[0]);

    const checks: { check: string; ok: boolean }[] = [
        { check: `component/raw declaration <= 1.5x (${declaration.ratio.toFixed(2)}x)`, ok: declaration.ratio <= 1.5 },
        { check: `no directory listing while declaring (${declaration.sideEffects.directoryListings})`, ok: declaration.sideEffects.directoryListings === 0 },
        {
            check: `no synchronous child process while declaring (${declaration.sideEffects.syncChildProcesses})`,
            ok: declaration.sideEffects.syncChildProcesses === 0,
        },
        {
            check: `per-platform images independent (${declaration.independence.dependentPairs.length} dependent pairs of ${declaration.independence.images} images)`,
            ok: declaration.independence.dependentPairs.length === 0,
        },
    ];
    let ratios: Record<string, number> = { componentPerRawDeclaration: round(declaration.ratio) };
    let rows: string[][] = [];
    let bars: Bar[] = [];
    if (builds) {
        const cold = medians(builds.cold);
        const warm = medians(builds.warm);
        const oneFile = medians(builds.oneFile);
        const emulated = median(builds.emulatedArm64);
        const cross = median(builds.crossArm64);
        ratios = {
            ...Object.fromEntries(ARCHES.map((a) => [`warmPerCold_${a}`, round(warm[a] / cold[a])])),
            ...Object.fromEntries(ARCHES.map((a) => [`oneFilePerCold_${a}`, round(oneFile[a] / cold[a])])),
            singleRefWarmPerCold: round(median(builds.singleWarm.all) / median(builds.singleCold.all)),
            emulatedPerCross_arm64: round(emulated / cross),
            emulatedPerCrossRunStep_arm64: round(median(builds.emulatedRunSeconds) / median(builds.crossRunSeconds)),
            concurrentWallPerSum: round(median(builds.concurrentWall) / median(builds.concurrentSum)),
            ...ratios,
        };
        for (const arch of ARCHES) {
            checks.push({ check: `fresh-runner rebuild of ${arch} re-executed no step (${builds.executed.warm[arch]})`, ok: builds.executed.warm[arch] === 0 });
            checks.push({
                check: `one changed file re-executed only its COPY on ${arch} (${JSON.stringify(builds.oneFileSteps[arch])})`,
                ok: builds.oneFileSteps[arch]?.length === 1 && builds.oneFileSteps[arch][0].endsWith(`COPY ${CHANGED_FILE} /app/${CHANGED_FILE}`),
            });
        }
        checks.push({ check: `per-platform builds overlap (wall/sum ${ratios.concurrentWallPerSum} < 0.9)`, ok: ratios.concurrentWallPerSum < 0.9 });

        // Executed/listed steps of each repetition (distinct values): a step another build
        // shares at the same moment, or made since the prune, shows as cached or not at all.
        const steps = (scenario: string, platform: string) => {
            const runs = builds.stepsPerRun[scenario]?.[platform];
            return runs === undefined ? "-" : [...new Set(runs)].join(", ");
        };
        const n = (samples: number[]) => String(samples.length);
        rows = [["scenario", "platform", "median s", "runs", "steps executed"]];
        for (const arch of ARCHES) {
            rows.push([`cold build + push (per-platform caches)`, arch, cold[arch].toFixed(2), n(builds.cold[arch]), steps("cold", arch)]);
        }
        rows.push([`  both, started together (wall)`, "both", median(builds.concurrentWall).toFixed(2), n(builds.concurrentWall), "-"]);
        for (const arch of ARCHES) {
            rows.push([`fresh-runner rebuild, per-platform caches`, arch, warm[arch].toFixed(2), n(builds.warm[arch]), steps("warm", arch)]);
        }
        for (const arch of ARCHES) {
            rows.push([`one changed file, fresh runner`, arch, oneFile[arch].toFixed(2), n(builds.oneFile[arch]), steps("oneFile", arch)]);
        }
        rows.push([
            `cold, one multi-platform build, single ref`,
            "both",
            median(builds.singleCold.all).toFixed(2),
            n(builds.singleCold.all),
            steps("singleCold", "all"),
        ]);
        rows.push([`fresh-runner rebuild, single ref`, "both", median(builds.singleWarm.all).toFixed(2), n(builds.singleWarm.all), steps("singleWarm", "all")]);
        for (const arch of ARCHES) {
            rows.push([`  single ref, this platform alone`, arch, "-", "1", steps("singleRefProbe", arch)]);
        }
        rows.push([
            `compute step in target stage (QEMU)`,
            "arm64",
            emulated.toFixed(2),
            n(builds.emulatedArm64),
            `RUN ${median(builds.emulatedRunSeconds).toFixed(1)}s`,
        ]);
        rows.push([
            `compute step cross ($BUILDPLATFORM)`,
            "arm64",
            cross.toFixed(2),
            n(builds.crossArm64),
            `RUN ${median(builds.crossRunSeconds).toFixed(1)}s`,
        ]);
        rows.push([`compute step in target stage, native`, "amd64", median(builds.nativeAmd64).toFixed(2), n(builds.nativeAmd64), "-"]);

        const blue = "#4c78a8";
        const green = "#54a24b";
        const orange = "#f58518";
        const grey = "#9d9d9d";
        const red = "#e45756";
        bars = [
            ...ARCHES.map((a) => ({ label: `cold, per-platform caches (${a})`, value: cold[a], colour: grey })),
            ...ARCHES.map((a) => ({
                label: `fresh runner, per-platform caches (${a})`,
                value: warm[a],
                colour: green,
                note: `${warm[a].toFixed(2)} s, ${steps("warm", a)} steps executed`,
            })),
            ...ARCHES.map((a) => ({
                label: `one changed file (${a})`,
                value: oneFile[a],
                colour: blue,
                note: `${oneFile[a].toFixed(2)} s, ${steps("oneFile", a)} steps executed`,
            })),
            { label: "cold, single multi-platform ref (both)", value: median(builds.singleCold.all), colour: grey },
            {
                label: "fresh runner, single ref (both)",
                value: median(builds.singleWarm.all),
                colour: orange,
                note: `${median(builds.singleWarm.all).toFixed(2)} s, ${steps("singleWarm", "all")} steps executed`,
            },
            { label: "arm64 compute step emulated (QEMU)", value: emulated, colour: red },
            { label: "arm64 compute step cross-compiled", value: cross, colour: green },
            { label: "amd64 compute step native", value: median(builds.nativeAmd64), colour: grey },
        ];
    }
    rows = rows.length > 0 ? rows : [["scenario", "platform", "median s", "runs", "steps executed"]];
    rows.push([
        `declare ${opts.images} MultiArchImages (mocks)`,
        "-",
        (declaration.componentMedianMs / 1000).toFixed(3),
        String(declaration.runs),
        `${declaration.componentRegistrations} resources`,
    ]);
    rows.push([
        `declare ${opts.images} raw image sets (mocks)`,
        "-",
        (declaration.rawMedianMs / 1000).toFixed(3),
        String(declaration.runs),
        `${declaration.rawRegistrations} resources`,
    ]);

    const summary = builds
        ? `summary: warm/cold ${ARCHES.map((a) => `${a} ${ratios[`warmPerCold_${a}`].toFixed(2)}x`).join(", ")} ` +
          `(steps re-executed after prune: ${ARCHES.map((a) => `${a} ${builds.executed.warm[a]}`).join(", ")}); ` +
          `one-file/cold ${ARCHES.map((a) => `${a} ${ratios[`oneFilePerCold_${a}`].toFixed(2)}x`).join(", ")}; ` +
          `single-ref warm/cold ${ratios.singleRefWarmPerCold.toFixed(2)}x (re-executed per platform: ${ARCHES.map((a) => `${a} ${builds.singleRefSteps[a]?.length ?? "-"}`).join(", ")}); ` +
          `emulated/cross arm64 ${ratios.emulatedPerCross_arm64.toFixed(2)}x (RUN step ${ratios.emulatedPerCrossRunStep_arm64.toFixed(2)}x); ` +
          `concurrent wall/sum ${ratios.concurrentWallPerSum.toFixed(2)}; ` +
          `component/raw declaration ${ratios.componentPerRawDeclaration.toFixed(2)}x (${opts.images} images)`
        : `summary: component/raw declaration ${ratios.componentPerRawDeclaration.toFixed(2)}x (${opts.images} images)`;

    const result = {
        command: `npm run bench -- --workloads compress --runs ${opts.runs} --lines ${opts.lines} --images ${opts.images} --decl-runs ${opts.declRuns}${opts.docker ? "" : " --no-docker"}`,
        started: started.toISOString(),
        finished: new Date().toISOString(),
        machine: { ...before, loadAverage1mAfter: loadAfter },
        ratios,
        checks,
        builds,
        declaration: { ...declaration, componentMs: declaration.componentMs.map((v) => round(v, 1)), rawMs: declaration.rawMs.map((v) => round(v, 1)) },
        table: rows,
        summary,
    };
    fs.mkdirSync(RESULTS, { recursive: true });
    writeAtomically(path.join(RESULTS, "bench.json"), `${JSON.stringify(result, null, 2)}\n`);
    const subtitle = `${started.toISOString().slice(0, 16)}Z, ${before.cpus} CPUs (shared; load ${before.loadAverage1m} → ${loadAfter}), ${before.engine}, medians of ${opts.runs} runs, fixture LINES=${opts.lines}`;
    writeAtomically(
        path.join(RESULTS, "bench.svg"),
        barChart("multiarch build performance", subtitle, [
            ...(bars.length > 0 ? [{ title: "Build seconds (lower is better)", unit: "s", bars }] : []),
            {
                title: `Declaring ${opts.images} images under mocks (ms, median of ${declaration.runs})`,
                unit: "ms",
                bars: [
                    {
                        label: `${opts.images} MultiArchImages`,
                        value: declaration.componentMedianMs,
                        colour: "#4c78a8",
                        note: `${declaration.componentMedianMs.toFixed(0)} ms (${declaration.ratio.toFixed(2)}x raw)`,
                    },
                    {
                        label: `${opts.images} raw docker-build image sets`,
                        value: declaration.rawMedianMs,
                        colour: "#9d9d9d",
                        note: `${declaration.rawMedianMs.toFixed(0)} ms`,
                    },
                ],
            },
        ]),
    );

    log("");
    log(table(rows));
    log("");
    for (const c of checks) {
        log(`${c.ok ? "ok  " : "FAIL"} ${c.check}`);
    }
    log(`wrote ${path.relative(process.cwd(), path.join(RESULTS, "bench.json"))} and bench.svg`);
    log(summary);
    return checks.every((c) => c.ok) ? 0 : 1;
}

function writeAtomically(file: string, text: string): void {
    fs.writeFileSync(`${file}.tmp`, text);
    fs.renameSync(`${file}.tmp`, file);
}

main().then(
    (code) => process.exit(code),
    (error: Error) => {
        console.error(error.stack ?? error.message);
        process.exit(2);
    },
);
