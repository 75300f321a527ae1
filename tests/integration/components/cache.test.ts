// The component's per-platform registry caches (`<repo>:cache-<arch>`, mode=max) on the
// real engine: after a cold build and push, a fresh runner (builder cache pruned, local
// images removed) rebuilds unchanged sources without executing a step on any platform,
// and one changed file re-executes only the steps after it. The builds are the
// component's own plan rendered by toBakeFile, one `docker buildx bake` per platform.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { PerPlatformRun, bakePerPlatform, dockerfileSteps, executedSteps, forgetImages, freshRunner } from "../../../bench/builds";
import { CHANGED_FILE, fixtureContext } from "../../../bench/fixture";
import { REGISTRY, uniqueName, useDockerStack } from "../stack";

describe("registry cache (needs scripts/docker-stack.sh)", function () {
    this.timeout(600000);
    useDockerStack();

    let context: string;
    let repositoryUrl: string;
    // A size no other run uses, so the cold build cannot take the RUN step from any cache.
    const buildArgs = { LINES: String(100000 + Math.floor(Math.random() * 100000)) };
    let cold: PerPlatformRun;

    before(async () => {
        context = fixtureContext("cross");
        repositoryUrl = `${REGISTRY}/multiarch-test/${uniqueName("cache")}`;
        cold = await bakePerPlatform(context, repositoryUrl, buildArgs);
    });

    after(async () => {
        if (context) {
            fs.rmSync(context, { recursive: true, force: true });
            await forgetImages(repositoryUrl).catch(() => undefined);
        }
    });

    it("rebuilds every platform from its own registry cache on a fresh runner, executing no step", async () => {
        for (const [arch, run] of Object.entries(cold.platforms)) {
            assert.ok(executedSteps(run.steps).length > 0, `the cold ${arch} build executed steps`);
        }
        await freshRunner(repositoryUrl);
        const warm = await bakePerPlatform(context, repositoryUrl, buildArgs);
        assert.deepStrictEqual(Object.keys(warm.platforms), ["amd64", "arm64"]);
        for (const [arch, run] of Object.entries(warm.platforms)) {
            assert.ok(dockerfileSteps(run.steps).length >= 4, `${arch}: the rebuild lists its steps:\n${run.lines.join("\n")}`);
            assert.deepStrictEqual(executedSteps(run.steps), [], `${arch} re-executed steps after the prune`);
        }
    });

    it("re-executes only the steps after a changed file, on each platform", async () => {
        fs.writeFileSync(path.join(context, CHANGED_FILE), `changed at ${new Date().toISOString()}\n`);
        await freshRunner(repositoryUrl);
        const changed = await bakePerPlatform(context, repositoryUrl, buildArgs);
        for (const [arch, run] of Object.entries(changed.platforms)) {
            const executed = executedSteps(run.steps);
            assert.strictEqual(executed.length, 1, `${arch} executed ${JSON.stringify(executed)}:\n${run.lines.join("\n")}`);
            assert.match(executed[0], new RegExp(`^\\[stage-1 \\d+/\\d+\\] COPY ${CHANGED_FILE} /app/${CHANGED_FILE}$`));
        }
    });
});
