// BuildKit's plain progress output read back: the steps a build ran, how long each took
// and on which platform, and the failed step named with its last lines.
/**
 * Names the step that failed in BuildKit's plain progress, with the last lines it
 * printed: `step [3/3] RUN make: make: *** no rule (ERROR: … exit code: 2)`.
 */
export function explainBuildFailure(lines: string[]): string {
    const failed = lines.map((l) => /^#(\d+) ERROR: (.*)$/.exec(l)).find((m) => m !== null);
    if (!failed) {
        const errors = lines.filter((l) => /ERROR|error:|failed/i.test(l)).slice(-3);
        return (errors.length > 0 ? errors : lines.slice(-3)).join(" | ");
    }
    const step = failed[1];
    const name = lines.map((l) => new RegExp(`^#${step} (\\[.*)$`).exec(l)).find((m) => m !== null)?.[1];
    const output = lines
        .map((l) => new RegExp(`^#${step} \\d+\\.\\d+ (.*)$`).exec(l)?.[1])
        .filter((l): l is string => l !== undefined)
        .slice(-3);
    const said = output.length > 0 ? `${output.join(" | ")} ` : "";
    return `step ${name ?? `#${step}`}: ${said}(${failed[2]})`;
}

/** One step (vertex) of a build, from BuildKit's plain progress. */
export interface BuildStep {
    /** The vertex name: `[builder 2/3] RUN make`, `[internal] load build context`. */
    name: string;
    /** The Dockerfile stage it belongs to (`builder`, `stage-1`), when the name says. */
    stage?: string;
    /** The platform the name is prefixed with (`[linux/amd64 builder 2/3]`), if any. */
    platform?: string;
    /** The instruction: `RUN`, `COPY`, `ADD`, `WORKDIR`, …; undefined for BuildKit's own steps. */
    instruction?: string;
    /** True when the step came from a cache (local or registry) instead of running. */
    cached: boolean;
    /** Seconds it ran, from its `DONE` line; 0 when cached or unfinished. */
    seconds: number;
}

/**
 * The steps of a build from its `--progress plain` lines, in first-seen order. A
 * vertex printed twice (BuildKit repeats a header when output resumes) is one step.
 */
export function parseBuildSteps(lines: string[]): BuildStep[] {
    const byId = new Map<string, BuildStep>();
    // What each step printed between its header and its status: BuildKit prints a step
    // it loaded from a registry cache as DONE (not CACHED) when a later step needs its
    // snapshot, with nothing but the download and extraction of its own layer.
    const fetched = new Set<string>();
    const printed = new Set<string>();
    for (const line of lines) {
        const header = /^#(\d+) (\[.*)$/.exec(line);
        if (header) {
            if (!byId.has(header[1])) {
                byId.set(header[1], { ...describeVertex(header[2]), cached: false, seconds: 0 });
            }
            continue;
        }
        const status = /^#(\d+) (CACHED|DONE (\d+(?:\.\d+)?)s)$/.exec(line);
        const step = status ? byId.get(status[1]) : undefined;
        if (status && step) {
            if (status[2] === "CACHED" || (fetched.has(status[1]) && !printed.has(status[1]))) {
                step.cached = true;
            } else {
                step.seconds = Number(status[3]);
            }
            continue;
        }
        const body = /^#(\d+) (.*)$/.exec(line);
        if (body && byId.has(body[1])) {
            const layerFetch = /^(?:extracting )?sha256:[0-9a-f]{64}\b/.test(body[2]);
            (layerFetch ? fetched : printed).add(body[1]);
        }
    }
    return [...byId.values()];
}

function describeVertex(name: string): Pick<BuildStep, "name" | "stage" | "platform" | "instruction"> {
    // `[linux/amd64->arm64 builder 2/3] RUN …`, `[stage-1 1/2] COPY …`, `[2/2] RUN …`
    const m = /^\[(?:([a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?)(?:->\S*)? )?(?:(\S+) )?\s*\d+\/\d+\] ([A-Z]+)\b/.exec(name);
    if (!m) {
        return { name };
    }
    return { name, platform: m[1], stage: m[2], instruction: m[3] };
}
