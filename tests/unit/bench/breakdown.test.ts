// The benchmark's timing breakdown, against progress captured from real builds on the
// project's Docker stack (dockerd 26.1, buildx 0.13.1, default `docker` driver):
// bench/fixtures/debian's Dockerfile.emulated built with the component's Bake file,
// cold and then on a fresh runner (builder cache pruned, local images removed).
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { breakDown, buildError, imageStoreSeconds, parseVertices, pushedDigests } from "../../../bench/breakdown";
import { dockerfileSteps, executedSteps } from "../../../bench/builds";
import { parseBuildSteps } from "../../../sdk/cli/buildProgress";
import { fixture } from "../../paths";

const PROGRESS = fixture("progress");
const lines = (name: string) => fs.readFileSync(path.join(PROGRESS, name), "utf8").split("\n");

describe("bench timing breakdown (real plain progress)", () => {
    it("reads every vertex once, with its DONE seconds and finished statuses", () => {
        const vertices = parseVertices(lines("debian-fresh-runner-amd64.txt"));
        const exporting = vertices.filter((v) => v.name === "exporting to image");
        // Printed twice (interrupted by the COPY step's layer fetch), one vertex.
        assert.strictEqual(exporting.length, 1);
        assert.strictEqual(exporting[0].seconds, 16.0);
        assert.deepStrictEqual(
            exporting[0].statuses.map((s) => [s.name.replace(/sha256:[0-9a-f]{64}/, "sha256:…").replace(/capture-\w+/, "R"), s.seconds]),
            [
                ["exporting layers", 0],
                ["exporting manifest sha256:…", 0],
                ["exporting config sha256:…", 0],
                ["naming to 127.0.0.1:5000/multiarch-bench/R:bench-amd64", 0],
                ["unpacking to 127.0.0.1:5000/multiarch-bench/R:bench-amd64", 15.7],
                ["pushing layers", 0.1],
                ["pushing manifest for 127.0.0.1:5000/multiarch-bench/R:bench-amd64@sha256:…", 0],
            ],
        );
        const run = vertices.find((v) => v.name.startsWith("[2/3] RUN apt-get"))!;
        assert.strictEqual(run.cached, true);
    });

    it("skips what a step's process printed", () => {
        const run = parseVertices(lines("debian-cold-arm64.txt")).find((v) => v.name.startsWith("[2/3] RUN apt-get"))!;
        assert.strictEqual(run.seconds, 204.9);
        assert.strictEqual(run.cached, false);
        assert.deepStrictEqual(run.statuses, []);
    });

    it("splits the amd64 fresh-runner rebuild: the unpack into the image store is most of it", () => {
        const b = breakDown(lines("debian-fresh-runner-amd64.txt"), 21.59);
        assert.deepStrictEqual(b, {
            total: 21.59,
            cacheImport: 0.1,
            // The 42 MB apt layer and the COPY layer, fetched for the unpack.
            layerFetch: 2.1,
            export: 0.2,
            unpack: 15.7,
            push: 0.1,
            dockerPush: 0.2,
            cacheExport: 0.2,
            resolve: 0.4,
            rest: 4.69,
        });
        assert.strictEqual(imageStoreSeconds(b), 15.9);
    });

    it("splits the arm64 one: no unpack (not the engine's platform), the layer fetch sits in the export", () => {
        const b = breakDown(lines("debian-fresh-runner-arm64.txt"), 9.6);
        assert.strictEqual(b.unpack, 0);
        assert.strictEqual(b.layerFetch, 2.3);
        assert.strictEqual(b.export, 2.8);
        assert.strictEqual(b.dockerPush, 0.5);
        assert.strictEqual(imageStoreSeconds(b), 2.8);
        assert.strictEqual(b.rest, round(9.6 - (b.cacheImport + b.export + b.push + b.dockerPush + b.cacheExport + b.resolve)));
    });

    it("agrees with preflight's step parser on which Dockerfile steps came from the cache", () => {
        const steps = parseBuildSteps(lines("debian-fresh-runner-amd64.txt")).filter((s) => s.instruction !== undefined && s.instruction !== "FROM");
        assert.deepStrictEqual(
            steps.map((s) => [s.instruction, s.cached]),
            [
                ["RUN", true],
                ["COPY", true],
            ],
        );
    });

    it("counts no step re-executed on the fresh runner: FROM resolves the base, it does not run", () => {
        const steps = parseBuildSteps(lines("debian-fresh-runner-amd64.txt"));
        // The FROM vertex ends DONE (it resolved the base image in the registry).
        assert.strictEqual(steps.find((s) => s.instruction === "FROM")?.cached, false);
        assert.deepStrictEqual(
            dockerfileSteps(steps).map((s) => s.instruction),
            ["RUN", "COPY"],
        );
        assert.deepStrictEqual(executedSteps(steps), []);
        const cold = parseBuildSteps(lines("debian-cold-arm64.txt"));
        assert.deepStrictEqual(executedSteps(cold), [
            "[2/3] RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*",
            "[3/3] COPY message.txt /app/message.txt",
        ]);
    });

    it("reads the pushed digest, the same cold and on the fresh runner", () => {
        const cold = Object.values(pushedDigests(lines("debian-cold-arm64.txt")));
        const warm = Object.values(pushedDigests(lines("debian-fresh-runner-arm64.txt")));
        assert.deepStrictEqual(cold, ["sha256:b352ca93775ab487d3a8bc0effe6afa47c1b70599925915462d9b71d06532227"]);
        assert.deepStrictEqual(warm, cold);
    });

    it("reads the error a refused build ends with", () => {
        const refused = [
            "#10 exporting to image",
            '#10 ERROR: exporter option "rewrite-timestamp" conflicts with "unpack"',
            "------",
            " > exporting to image:",
            "------",
            'ERROR: failed to solve: exporter option "rewrite-timestamp" conflicts with "unpack"',
        ];
        assert.strictEqual(buildError(refused), 'failed to solve: exporter option "rewrite-timestamp" conflicts with "unpack"');
        assert.strictEqual(buildError(lines("debian-cold-arm64.txt")), undefined);
    });
});

function round(n: number): number {
    return Math.round(n * 100) / 100;
}
