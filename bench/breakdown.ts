// Where the seconds of a build go, from BuildKit's plain progress (`--progress plain`,
// as every benchmark build is run): BuildKit's own vertices (cache import, export to
// image, cache export, the docker driver's push) and the statuses inside them
// (`#10 unpacking to <ref> 15.7s done`). buildx 0.13 has no `rawjson` progress; the
// plain lines carry the same per-vertex and per-status durations, to 0.1 s.
// Dockerfile steps are parsed by preflight's parseBuildSteps; this covers the rest.

/** One status line inside a vertex: `exporting layers 0.3s done`, `naming to X done`. */
export interface VertexStatus {
    /** The status text without its duration: `unpacking to 127.0.0.1:5000/app:v1`. */
    name: string;
    /** Its seconds when printed (`0.3s done`), else 0 (`done` alone means under 0.05 s). */
    seconds: number;
}

/** One vertex of a build with the durations its plain progress printed. */
export interface Vertex {
    /** `#N`'s N. */
    id: string;
    /** The header: `exporting to image`, `[2/3] RUN apt-get …`, `importing cache manifest from …`. */
    name: string;
    /** Seconds from its `DONE` line, 0 when cached or unfinished. */
    seconds: number;
    /** True when it ended `CACHED`. */
    cached: boolean;
    /** Its finished statuses, in order, each once (the last duration printed wins). */
    statuses: VertexStatus[];
}

/**
 * Every vertex of a build from its plain progress lines, in first-seen order. Lines a
 * step's process printed (`#8 1.234 Get:1 http://…`) are not statuses and are skipped;
 * a vertex BuildKit prints again after `#N ...` is the same vertex.
 */
export function parseVertices(lines: string[]): Vertex[] {
    const byId = new Map<string, Vertex>();
    const status = new Map<string, Map<string, VertexStatus>>();
    for (const line of lines) {
        const m = /^#(\d+) (.*)$/.exec(line);
        if (!m) {
            continue;
        }
        const [, id, rest] = m;
        let vertex = byId.get(id);
        if (!vertex) {
            // The first line of a vertex is its header.
            vertex = { id, name: rest, seconds: 0, cached: false, statuses: [] };
            byId.set(id, vertex);
            status.set(id, new Map());
            continue;
        }
        if (rest === vertex.name || rest === "...") {
            continue;
        }
        const done = /^DONE (\d+(?:\.\d+)?)s$/.exec(rest);
        if (done) {
            vertex.seconds = Number(done[1]);
            continue;
        }
        if (rest === "CACHED") {
            vertex.cached = true;
            continue;
        }
        // A process's output carries its own timestamp: `#8 12.34 Get:1 …`.
        if (/^\d+\.\d+ /.test(rest)) {
            continue;
        }
        const finished = /^(.+?)(?: (\d+(?:\.\d+)?)s)? done$/.exec(rest);
        if (finished) {
            status.get(id)!.set(finished[1], { name: finished[1], seconds: finished[2] === undefined ? 0 : Number(finished[2]) });
        }
    }
    for (const [id, vertex] of byId) {
        vertex.statuses = [...status.get(id)!.values()];
    }
    return [...byId.values()];
}

/** Where a rebuild's seconds went, by BuildKit's phases; see `breakDown`. */
export interface Breakdown {
    /** The build process's wall-clock seconds. */
    total: number;
    /** `importing cache manifest from <ref>` vertices: fetching the registry cache's manifest and config. */
    cacheImport: number;
    /**
     * Layers fetched from the registry while the build ran (the `sha256:… done` statuses
     * of Dockerfile steps that came from the cache): what the image store needs and a
     * cache hit alone does not. Part of `export`/`unpack` in time, so not added to the sum.
     */
    layerFetch: number;
    /** `exporting to image` minus its unpack and push statuses: layers, manifest, config, naming. */
    export: number;
    /** `unpacking to <ref>`: the layers unpacked into the engine's image store (docker driver only). */
    unpack: number;
    /** `pushing layers` and `pushing manifest` inside the export: the push to the registry. */
    push: number;
    /**
     * The docker driver's own `pushing <ref> with docker` vertex after the build: the
     * engine pushes the image it stored (layers already in the registry are skipped).
     */
    dockerPush: number;
    /** `exporting cache to registry`: the registry cache written again. */
    cacheExport: number;
    /** `[internal] load metadata for <image>` vertices: resolving the base image in the registry. */
    resolve: number;
    /** What is left: client start, the Bake file, session, context, solving, waiting. */
    rest: number;
}

/**
 * Splits a build's wall-clock seconds into BuildKit's phases from its plain progress.
 * The phases run one after another in a rebuild whose steps all come from the cache
 * (cache import, then export, then cache export, then the push), so `rest` is the total
 * minus their sum; a phase that did not happen is 0.
 */
export function breakDown(lines: string[], totalSeconds: number): Breakdown {
    const vertices = parseVertices(lines);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const statuses = (v: Vertex, pattern: RegExp) => sum(v.statuses.filter((s) => pattern.test(s.name)).map((s) => s.seconds));
    const named = (pattern: RegExp) => vertices.filter((v) => pattern.test(v.name));

    const cacheImport = sum(named(/^importing cache manifest from /).map((v) => v.seconds));
    const layerFetch = sum(named(/^\[/).map((v) => statuses(v, /^(?:extracting )?sha256:[0-9a-f]{64}\b/)));
    let exportSeconds = 0;
    let unpack = 0;
    let push = 0;
    for (const v of named(/^exporting to (?:image|oci image format|docker image format)$/)) {
        const u = statuses(v, /^unpacking to /);
        const p = statuses(v, /^pushing (?:layers|manifest for )/);
        unpack += u;
        push += p;
        exportSeconds += Math.max(0, v.seconds - u - p);
    }
    const dockerPush = sum(named(/^pushing \S+ with docker$/).map((v) => v.seconds));
    const cacheExport = sum(named(/^exporting cache to /).map((v) => v.seconds));
    const resolve = sum(named(/^\[internal\] load metadata for /).map((v) => v.seconds));
    const accounted = cacheImport + exportSeconds + unpack + push + dockerPush + cacheExport + resolve;
    const r = (n: number) => Math.round(n * 100) / 100;
    return {
        total: r(totalSeconds),
        cacheImport: r(cacheImport),
        layerFetch: r(layerFetch),
        export: r(exportSeconds),
        unpack: r(unpack),
        push: r(push),
        dockerPush: r(dockerPush),
        cacheExport: r(cacheExport),
        resolve: r(resolve),
        rest: r(Math.max(0, totalSeconds - accounted)),
    };
}

/**
 * The manifest digest each pushed reference got, from `pushing manifest for
 * <ref>@sha256:…` statuses: `{ "<ref>": "sha256:…" }`.
 */
export function pushedDigests(lines: string[]): Record<string, string> {
    const digests: Record<string, string> = {};
    for (const v of parseVertices(lines)) {
        for (const s of v.statuses) {
            const m = /^pushing manifest for (\S+)@(sha256:[0-9a-f]{64})$/.exec(s.name);
            if (m) {
                digests[m[1]] = m[2];
            }
        }
    }
    return digests;
}

/** The error a failed build ended with (`ERROR: failed to solve: …`), if any. */
export function buildError(lines: string[]): string | undefined {
    return lines
        .map((l) => /^ERROR: (.*)$/.exec(l)?.[1])
        .filter((l): l is string => l !== undefined)
        .pop();
}

/**
 * The seconds of a rebuild that only the docker driver's image store costs: the unpack
 * into the store, the engine's own push of the stored image, and, where nothing was
 * unpacked (a platform other than the engine's), the layer fetch inside the export.
 * A docker-container or remote builder pushes straight from its cache: the layers of a
 * cache hit stay in the registry (BuildKit's lazy blobs), nothing is unpacked.
 */
export function imageStoreSeconds(b: Breakdown): number {
    const fetchInExport = b.unpack > 0 ? 0 : Math.min(b.layerFetch, b.export);
    return Math.round((b.unpack + b.dockerPush + fetchInExport) * 100) / 100;
}
