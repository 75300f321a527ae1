// The build plan rendered as a Bake file, built for real: what MultiArchImage declares
// for docker-build is what `docker buildx bake` builds and pushes.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InputProblems } from "../../sdk/errors";
import { indexTag, normaliseBuildSpec, platformBuilds, toBakeFile } from "../../sdk/plan";
import { RegistryClient } from "../../sdk/registry";
import { REGISTRY, docker, uniqueName, useDockerStack } from "./stack";

const FIXTURE = path.join(__dirname, "..", "fixtures", "hello");

describe("Bake file of the build plan (needs scripts/docker-stack.sh)", function () {
    this.timeout(300000);
    useDockerStack();

    const repositoryUrl = `${REGISTRY}/multiarch-test/${uniqueName("bake")}`;
    const spec = normaliseBuildSpec({ context: FIXTURE, tag: "v1" }, new InputProblems())!;
    const registry = new RegistryClient();
    let work: string;
    let built: Record<string, string>;

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-bake-"));
        const bakeFile = path.join(work, "docker-bake.json");
        fs.writeFileSync(bakeFile, JSON.stringify(toBakeFile(spec, { repositoryUrl, buildArgs: { GREETING: "hi" } })));
        const metadataFile = path.join(work, "metadata.json");
        await docker(["buildx", "bake", "--builder", "default", "-f", bakeFile, "--metadata-file", metadataFile]);
        const metadata = JSON.parse(fs.readFileSync(metadataFile, "utf8"));
        built = Object.fromEntries(platformBuilds(spec, repositoryUrl).map((b) => [b.platform, metadata[b.arch]["containerimage.digest"] as string]));
    });

    after(() => fs.rmSync(work, { recursive: true, force: true }));

    it("pushes each platform as a plain manifest under its own tag", async () => {
        for (const build of platformBuilds(spec, repositoryUrl)) {
            const image = await registry.resolveImage(build.imageTag);
            assert.strictEqual(image.isIndex, false, `${build.imageTag} should be a single manifest, without attestations`);
            assert.strictEqual(image.digest, built[build.platform]);
            assert.deepStrictEqual(image.platforms, { [build.platform]: built[build.platform] });
        }
    });

    it("writes each platform's registry cache to its own ref", async () => {
        for (const build of platformBuilds(spec, repositoryUrl)) {
            const cache = await registry.getManifest(build.cacheRef!);
            assert.strictEqual(
                cache.mediaType,
                "application/vnd.oci.image.manifest.v1+json",
                `${build.cacheRef} should be an OCI image manifest (image-manifest=true)`,
            );
        }
    });

    it("joins into an index that lists exactly the platforms built, with their digests", async () => {
        const tag = indexTag(spec, repositoryUrl);
        await docker(["buildx", "imagetools", "create", "--tag", tag, ...Object.values(built).map((d) => `${repositoryUrl}@${d}`)]);
        const index = await registry.resolveImage(tag);
        assert.strictEqual(index.isIndex, true);
        assert.deepStrictEqual(index.platforms, built);
        assert.deepStrictEqual(Object.keys(index.platforms).sort(), ["linux/amd64", "linux/arm64"]);
    });
});
