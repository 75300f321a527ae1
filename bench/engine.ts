// The engine workload (`--workloads engine`): `pulumi up` (the Automation API's
// `up --yes --skip-preview`) through the real engine that scripts/engine.sh builds, of
// one project installed from the packed package, in three stacks side by side: the
// engine's floor (a program that registers nothing but the stack), one MultiArchImage on
// its own BuildxBuilder, and the docker-build Image a user would write instead on that
// builder. Each no-change `up` repeats in rotating order; then, if asked, one changed file.
/// <reference types="mocha" />
// (tests/engine/engine.ts is written for mocha: its types name mocha's globals.)
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { EngineProject, engineEnvironment, ResourceChanges, up } from "../tests/engine/engine";
import { AUTH_PASSWORD, AUTH_USER, REGISTRY, TLS_REGISTRY, docker, uniqueName } from "../tests/integration/stack";
import { median, round } from "./stats";

const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import * as dockerBuild from "@pulumi/docker-build";
import { BuildxBuilder, MultiArchImage } from "multiarch";

const config = new pulumi.Config();
const kind = config.require("kind");
const repositoryUrl = config.get("repository") ?? "";
const username = config.get("registryUser") ?? "";
const password = config.requireSecret("registryPassword");
export let builderName: pulumi.Output<string> | undefined;
if (kind === "component") {
    const builder = new BuildxBuilder("builder", { name: config.require("builderName"), driverOptions: { network: "host" } });
    new MultiArchImage("app", { context: "./app", tag: "v1", registry: { repositoryUrl, username, password }, builderName: builder.name });
    builderName = builder.name;
} else if (kind === "peer") {
    const cache = \`\${repositoryUrl}:cache\`;
    new dockerBuild.Image("app", {
        context: { location: "./app" },
        platforms: ["linux/amd64", "linux/arm64"],
        push: true,
        tags: [\`\${repositoryUrl}:v1\`],
        cacheFrom: [{ registry: { ref: cache } }],
        cacheTo: [{ registry: { ref: cache, mode: dockerBuild.CacheMode.Max, imageManifest: true, ociMediaTypes: true } }],
        registries: [{ address: "${TLS_REGISTRY}", username, password }],
        builder: { name: config.require("builderName") },
    });
}
`;

const DOCKERFILE = `FROM ${REGISTRY}/multiarch/busybox:latest
COPY message.txt /message.txt
CMD ["cat", "/message.txt"]
`;

export type EngineScenario = "floor" | "component" | "peer";
const SCENARIOS: EngineScenario[] = ["floor", "component", "peer"];

/** Seconds of each `up`, and the summary each reported, per scenario. */
export interface EngineFigures {
    noChange: Record<EngineScenario, number[]>;
    noChangeSummaries: Record<EngineScenario, ResourceChanges[]>;
    oneFile: Partial<Record<EngineScenario, number[]>>;
    oneFileSummaries: Partial<Record<EngineScenario, ResourceChanges[]>>;
    firstUp: Record<EngineScenario, { seconds: number; summary: ResourceChanges }>;
    versions: Record<string, string>;
}

async function timedUp(stack: Stack): Promise<[number, ResourceChanges]> {
    const started = process.hrtime.bigint();
    const result = await up(stack);
    return [Number(process.hrtime.bigint() - started) / 1e9, result.summary];
}

/** Only `same` in an update's summary: it built and pushed nothing. */
export function allSame(summary: ResourceChanges): boolean {
    return Object.entries(summary).every(([op, n]) => op === "same" || n === 0);
}

export async function benchEngine(runs: number, oneFile: boolean, log: (line: string) => void): Promise<EngineFigures> {
    const found = await engineEnvironment();
    if ("missing" in found) {
        throw new Error(`the real engine is missing (run \`bash scripts/engine.sh\`): ${found.missing}`);
    }
    const env = found.env;
    // The Automation API runs `pulumi` with this process's own PATH.
    process.env.PATH = env.PATH;
    const project = await EngineProject.create("bench-engine", { "index.ts": PROGRAM, "app/Dockerfile": DOCKERFILE, "app/message.txt": "first\n" });
    const builderName = uniqueName("bench-engine");
    const stackEnv = { ...env, PULUMI_BACKEND_URL: `file://${project.backend}`, PULUMI_CONFIG_PASSPHRASE: "" };
    const stacks = {} as Record<EngineScenario, Stack>;
    const figures: EngineFigures = {
        noChange: { floor: [], component: [], peer: [] },
        noChangeSummaries: { floor: [], component: [], peer: [] },
        oneFile: {},
        oneFileSummaries: {},
        firstUp: {} as EngineFigures["firstUp"],
        versions: {},
    };
    try {
        figures.versions.pulumi = (await project.run("pulumi", ["version"], 60_000, stackEnv)).trim();
        for (const kind of SCENARIOS) {
            const repository = `${TLS_REGISTRY}/${uniqueName(`bench-engine-${kind}`)}/app`;
            stacks[kind] = await LocalWorkspace.createOrSelectStack({ stackName: kind, workDir: project.dir }, { envVars: stackEnv });
            await stacks[kind].setAllConfig({
                kind: { value: kind },
                repository: { value: repository },
                registryUser: { value: AUTH_USER },
                registryPassword: { value: AUTH_PASSWORD, secret: true },
                builderName: { value: builderName },
            });
            const [seconds, summary] = await timedUp(stacks[kind]);
            figures.firstUp[kind] = { seconds, summary };
            log(`  first up ${kind.padEnd(9)} ${seconds.toFixed(1)}s ${JSON.stringify(summary)}${kind === "floor" ? "" : ` (${repository})`}`);
        }
        for (let r = 0; r < runs; r++) {
            // Rotating order, so the machine's drift falls on each scenario alike.
            const order = SCENARIOS.map((_, i) => SCENARIOS[(i + r) % SCENARIOS.length]);
            const line: string[] = [];
            for (const kind of order) {
                const [seconds, summary] = await timedUp(stacks[kind]);
                figures.noChange[kind].push(seconds);
                figures.noChangeSummaries[kind].push(summary);
                line.push(`${kind} ${seconds.toFixed(2)}s ${JSON.stringify(summary)}`);
            }
            log(`  no change ${r + 1}/${runs}: ${line.join(", ")}`);
        }
        for (let r = 0; oneFile && r < runs; r++) {
            project.write({ "app/message.txt": r % 2 === 0 ? "second\n" : "first\n" });
            const order: EngineScenario[] = r % 2 === 0 ? ["component", "peer"] : ["peer", "component"];
            const line: string[] = [];
            for (const kind of order) {
                const [seconds, summary] = await timedUp(stacks[kind]);
                (figures.oneFile[kind] ??= []).push(seconds);
                (figures.oneFileSummaries[kind] ??= []).push(summary);
                line.push(`${kind} ${seconds.toFixed(2)}s ${JSON.stringify(summary)}`);
            }
            log(`  one file ${r + 1}/${runs}: ${line.join(", ")}`);
        }
    } finally {
        await docker(["buildx", "rm", builderName]).catch(() => undefined);
        project.remove();
    }
    return figures;
}

const range = (v: number[]) => ({ median: round(median(v)), min: round(Math.min(...v)), max: round(Math.max(...v)), runs: v.length });

/** The report of the figures: ratios of medians, checks against the issue's targets, the table. */
export function engineReport(f: EngineFigures) {
    const m = (v: number[] | undefined) => (v ? median(v) : NaN);
    const ratios: Record<string, number> = {
        componentPerFloor: round(m(f.noChange.component) / m(f.noChange.floor)),
        peerPerFloor: round(m(f.noChange.peer) / m(f.noChange.floor)),
        componentPerPeer: round(m(f.noChange.component) / m(f.noChange.peer)),
    };
    if (f.oneFile.component && f.oneFile.peer) {
        ratios.oneFileComponentPerPeer = round(m(f.oneFile.component) / m(f.oneFile.peer));
    }
    const checks: { check: string; ok: boolean }[] = [];
    for (const kind of ["component", "peer"] as const) {
        const changed = f.noChangeSummaries[kind].filter((s) => !allSame(s));
        checks.push({ check: `no-change up of ${kind} is all same (${changed.length === 0 ? "yes" : JSON.stringify(changed)})`, ok: changed.length === 0 });
    }
    checks.push({ check: `MultiArchImage no-change up <= 1.3x the floor (${ratios.componentPerFloor}x)`, ok: ratios.componentPerFloor <= 1.3 });
    checks.push({ check: `MultiArchImage no-change up <= 1.1x the peer (${ratios.componentPerPeer}x)`, ok: ratios.componentPerPeer <= 1.1 });
    const rows = [["pulumi up", "median s", "min s", "max s", "runs", "summary (last)"]];
    const row = (label: string, v: number[] | undefined, s: ResourceChanges[] | undefined) => {
        if (v) {
            const r = range(v);
            rows.push([label, r.median.toFixed(2), r.min.toFixed(2), r.max.toFixed(2), String(r.runs), JSON.stringify(s?.[s.length - 1] ?? {})]);
        }
    };
    row("floor (stack only), no change", f.noChange.floor, f.noChangeSummaries.floor);
    row("MultiArchImage, no change", f.noChange.component, f.noChangeSummaries.component);
    row("docker-build Image (peer), no change", f.noChange.peer, f.noChangeSummaries.peer);
    row("MultiArchImage, one changed file", f.oneFile.component, f.oneFileSummaries.component);
    row("docker-build Image (peer), one changed file", f.oneFile.peer, f.oneFileSummaries.peer);
    const ranges = {
        noChange: Object.fromEntries(SCENARIOS.map((k) => [k, range(f.noChange[k])])),
        oneFile: Object.fromEntries(Object.entries(f.oneFile).map(([k, v]) => [k, range(v)])),
    };
    const summary = `engine: no-change up MultiArchImage/floor ${ratios.componentPerFloor}x, peer/floor ${ratios.peerPerFloor}x, MultiArchImage/peer ${ratios.componentPerPeer}x${
        ratios.oneFileComponentPerPeer === undefined ? "" : `; one changed file MultiArchImage/peer ${ratios.oneFileComponentPerPeer}x`
    }`;
    return { ratios, checks, rows, ranges, summary };
}
