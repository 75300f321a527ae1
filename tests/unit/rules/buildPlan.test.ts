import * as assert from "assert";
import * as path from "path";
import { InputProblems } from "../../../sdk/rules/errors";
import { BuildSpecArgs, indexTag, normaliseBuildSpec, platformBuilds, portablePath } from "../../../sdk/rules/buildPlan";
import { escapeBake, toBakeFile, unescapeBake } from "../../../sdk/rules/bake";
import { fixture } from "../../paths";

const FIXTURE = fixture("hello");
const REPO = "127.0.0.1:5000/team/api";

function reasons(args: BuildSpecArgs): string[] {
    const problems = new InputProblems();
    normaliseBuildSpec(args, problems);
    try {
        problems.throwIfAny("Test", "t");
        return [];
    } catch (e) {
        return (e as { errors: { reason: string }[] }).errors.map((p) => p.reason);
    }
}

describe("build plan", () => {
    it("defaults to amd64 and arm64, tag latest, cache on, <context>/Dockerfile", () => {
        const spec = normaliseBuildSpec({ context: FIXTURE }, new InputProblems());
        assert.deepStrictEqual(spec, {
            context: FIXTURE,
            dockerfile: path.join(FIXTURE, "Dockerfile"),
            platforms: ["linux/amd64", "linux/arm64"],
            tag: "latest",
            cache: true,
            target: undefined,
            ssh: [],
            contexts: {},
            network: undefined,
            addHosts: [],
            pull: false,
            noCache: false,
            cacheFrom: [],
            cacheTo: [],
        });
    });

    it("gives each platform its own tag and cache ref", () => {
        const spec = normaliseBuildSpec({ context: FIXTURE, platforms: ["x86_64", "aarch64"], tag: "v1.2.3" }, new InputProblems())!;
        const own = (arch: string) => ({
            cacheRef: `${REPO}:cache-${arch}`,
            cacheFrom: [{ registry: { ref: `${REPO}:cache-${arch}` } }],
            cacheTo: [{ registry: { ref: `${REPO}:cache-${arch}`, mode: "max", imageManifest: true, ociMediaTypes: true } }],
        });
        assert.deepStrictEqual(platformBuilds(spec, REPO), [
            { platform: "linux/amd64", arch: "amd64", imageTag: `${REPO}:v1.2.3-amd64`, ...own("amd64") },
            { platform: "linux/arm64", arch: "arm64", imageTag: `${REPO}:v1.2.3-arm64`, ...own("arm64") },
        ]);
        assert.strictEqual(indexTag(spec, REPO), `${REPO}:v1.2.3`);
    });

    it("drops the cache refs when cache is off", () => {
        const spec = normaliseBuildSpec({ context: FIXTURE, cache: false }, new InputProblems())!;
        assert.deepStrictEqual(
            platformBuilds(spec, REPO).map((b) => b.cacheRef),
            [undefined, undefined],
        );
    });

    const bad: [string, BuildSpecArgs, RegExp][] = [
        ["a missing context", { context: "/nonexistent/app" }, /^`context` is "\/nonexistent\/app": expected an existing directory/],
        ["an empty context", { context: "" }, /^`context` is "": expected the path of the build context directory/],
        [
            "a context that is a file",
            { context: path.join(FIXTURE, "Dockerfile") },
            /^`context` is ".*Dockerfile": expected a directory \(the build context\), but it is a file/,
        ],
        ["a missing Dockerfile", { context: FIXTURE, dockerfile: path.join(FIXTURE, "Nope") }, /^`dockerfile` is ".*Nope": expected the Dockerfile to exist/],
        ["a Dockerfile that is a folder", { context: FIXTURE, dockerfile: FIXTURE }, /^`dockerfile` is ".*hello": expected a file, but it is a directory/],
        [
            "a context without a Dockerfile",
            { context: path.join(__dirname) },
            /^`dockerfile` is ".*Dockerfile": expected the default <context>\/Dockerfile to exist/,
        ],
        [
            "a malformed platform",
            { context: FIXTURE, platforms: ["linux/amd64", "linux/amd65"] },
            /^`platforms\[1\]` is "linux\/amd65": expected os\/arch\[\/variant\]/,
        ],
        ["a duplicate platform", { context: FIXTURE, platforms: ["arm64", "linux/arm64/v8"] }, /^`platforms\[1\]` is "linux\/arm64\/v8": duplicates \[0\]/],
        ["no platforms", { context: FIXTURE, platforms: [] }, /^`platforms` is \[\]: expected at least one platform/],
        ["a tag with a colon", { context: FIXTURE, tag: "v1:2" }, /^`tag` is "v1:2": expected an image tag/],
        ["a tag starting with a dot", { context: FIXTURE, tag: ".v1" }, /^`tag` is "\.v1": expected an image tag/],
        ["a tag too long for the platform suffix", { context: FIXTURE, tag: "a".repeat(125) }, /^`tag` is "a{125}": expected at most 122 characters/],
        ["a cache tag", { context: FIXTURE, tag: "cache-amd64" }, /^`tag` is "cache-amd64": expected a tag that does not start with "cache-"/],
        ["a bad target", { context: FIXTURE, target: "no spaces" }, /^`target` is "no spaces": expected the name of a Dockerfile stage/],
    ];
    for (const [what, args, message] of bad) {
        it(`fails on ${what}`, () => {
            const found = reasons(args);
            assert.strictEqual(found.length, 1, `expected one problem, got ${JSON.stringify(found)}`);
            assert.match(found[0], message);
        });
    }

    it("reports several problems together", () => {
        const found = reasons({ context: "/nonexistent", platforms: ["bogus"], tag: "-x" });
        assert.strictEqual(found.length, 3);
        assert.match(found[0], /^`context`/);
        assert.match(found[1], /^`platforms\[0\]`/);
        assert.match(found[2], /^`tag`/);
    });
});

describe("portablePath", () => {
    const cwd = "/home/ci/checkout";
    const cases: [string, string, string][] = [
        ["an absolute path inside the working directory", "/home/ci/checkout/app", `.${path.sep}app`],
        ["a nested absolute path", "/home/ci/checkout/services/api/Dockerfile", `.${path.sep}${path.join("services", "api", "Dockerfile")}`],
        ["the working directory itself", "/home/ci/checkout", "."],
        ["a relative path, as given", "./app", "./app"],
        ["a bare relative path, as given", "app", "app"],
        ["an absolute path outside the working directory", "/srv/shared/base", "/srv/shared/base"],
        ["a sibling that shares the prefix", "/home/ci/checkout-other/app", "/home/ci/checkout-other/app"],
        [
            "a docker-image:// location",
            "docker-image://127.0.0.1:5000/base@sha256:" + "a".repeat(64),
            "docker-image://127.0.0.1:5000/base@sha256:" + "a".repeat(64),
        ],
        ["a URL", "https://github.com/acme/app.git#main", "https://github.com/acme/app.git#main"],
    ];
    for (const [what, location, expected] of cases) {
        it(`spells ${what} as every checkout does`, () => {
            assert.strictEqual(portablePath(location, cwd), expected);
        });
    }

    it("gives two checkouts of one program at different paths the same context and Dockerfile", () => {
        const a = portablePath("/runner/a/app", "/runner/a");
        const b = portablePath("/runner/b/app", "/runner/b");
        assert.strictEqual(a, b);
    });
});

describe("Bake rendering", () => {
    const spec = normaliseBuildSpec({ context: FIXTURE, tag: "v1", target: "runtime" }, new InputProblems())!;

    it("renders one pushed target per platform with its tag, cache and no provenance", () => {
        const bake = toBakeFile(spec, { repositoryUrl: REPO, buildArgs: { VERSION: "1" }, labels: { team: "platform" } });
        assert.deepStrictEqual(bake.group, { default: { targets: ["amd64", "arm64"] } });
        assert.deepStrictEqual(bake.target.arm64, {
            context: FIXTURE,
            dockerfile: "Dockerfile",
            platforms: ["linux/arm64"],
            tags: [`${REPO}:v1-arm64`],
            attest: ["type=provenance,disabled=true"],
            output: ["type=registry"],
            "cache-from": [`type=registry,ref=${REPO}:cache-arm64`],
            "cache-to": [`type=registry,ref=${REPO}:cache-arm64,mode=max,image-manifest=true,oci-mediatypes=true`],
            args: { VERSION: "1" },
            labels: { team: "platform" },
            target: "runtime",
        });
        assert.deepStrictEqual(bake.target.amd64.tags, [`${REPO}:v1-amd64`]);
    });

    it("writes secret ids as environment references, never values", () => {
        const bake = toBakeFile(spec, { repositoryUrl: REPO, secretIds: ["NPM_TOKEN"] });
        assert.deepStrictEqual(bake.target.amd64.secret, ["id=NPM_TOKEN,env=NPM_TOKEN"]);
    });

    it("leaves out cache, args and labels when there are none, and can skip the push", () => {
        const noCache = normaliseBuildSpec({ context: FIXTURE, cache: false }, new InputProblems())!;
        const target = toBakeFile(noCache, { repositoryUrl: REPO, push: false }).target.amd64;
        assert.deepStrictEqual(Object.keys(target).sort(), ["attest", "context", "dockerfile", "output", "platforms", "tags"]);
        assert.deepStrictEqual(target.output, ["type=cacheonly"]);
    });

    it("escapes ${ and %{ in every string it writes, so Bake reads them literally", () => {
        const bake = toBakeFile(spec, {
            repositoryUrl: REPO,
            buildArgs: { "A_${x}": "${HOME}", B: "%{ if true }x%{ endif }", C: "$${already}", D: "cost $5 {braces}" },
            labels: { l: "${x}" },
            annotations: { a: "%{y}" },
        });
        assert.deepStrictEqual(bake.target.amd64.args, { "A_$${x}": "$${HOME}", B: "%%{ if true }x%%{ endif }", C: "$$${already}", D: "cost $5 {braces}" });
        assert.deepStrictEqual(bake.target.amd64.labels, { l: "$${x}" });
        assert.deepStrictEqual(bake.target.amd64.annotations, ["a=%%{y}"]);
    });

    const strings = ["", "$", "${", "$${", "$$${x}", "%{", "%%{", "a$b", "${a}%{b}$${c}%%{d}", "{$}", "$%{", "%${"];
    for (const value of strings) {
        it(`reads back ${JSON.stringify(value)} unchanged from its escaped form`, () => {
            assert.strictEqual(unescapeBake(escapeBake(value)), value);
        });
    }

    it("refuses to read a string Bake would interpolate", () => {
        assert.strictEqual(unescapeBake("${HOME}"), undefined);
        assert.strictEqual(unescapeBake("x%{ if a }"), undefined);
    });

    it("writes ssh, named contexts, network, extra hosts, pull, no-cache and secret references in Bake's spelling", () => {
        const full = normaliseBuildSpec(
            {
                context: FIXTURE,
                ssh: [{ id: "default" }, { id: "keys", paths: ["/k/a", "/k/b"] }],
                contexts: { base: "docker-image://127.0.0.1:5000/base:1" },
                network: "host",
                addHosts: ["db:10.0.0.5", "db:10.0.0.6", "cache=10.0.0.7"],
                pull: true,
                noCache: true,
                cache: false,
            },
            new InputProblems(),
        )!;
        const t = toBakeFile(full, { repositoryUrl: REPO, secrets: [{ id: "npm", src: "/run/npm" }, { id: "pw", env: "DB_PASSWORD" }, { id: "TOKEN" }] }).target
            .arm64;
        assert.deepStrictEqual(t.ssh, ["default", "keys=/k/a,/k/b"]);
        assert.deepStrictEqual(t.contexts, { base: "docker-image://127.0.0.1:5000/base:1" });
        assert.strictEqual(t.network, "host");
        assert.deepStrictEqual(t["extra-hosts"], { db: "10.0.0.5,10.0.0.6", cache: "10.0.0.7" });
        assert.strictEqual(t.pull, true);
        assert.strictEqual(t["no-cache"], true);
        assert.deepStrictEqual(t.secret, ["id=npm,src=/run/npm", "id=pw,env=DB_PASSWORD", "id=TOKEN,env=TOKEN"]);
        const plain = toBakeFile(normaliseBuildSpec({ context: FIXTURE, network: "default" }, new InputProblems())!, { repositoryUrl: REPO }).target.amd64;
        assert.strictEqual(plain.network, undefined, "the default network is left to Bake");
    });

    it("writes the Dockerfile relative to the context", () => {
        const custom = normaliseBuildSpec({ context: path.dirname(FIXTURE), dockerfile: path.join(FIXTURE, "Dockerfile") }, new InputProblems())!;
        assert.strictEqual(toBakeFile(custom, { repositoryUrl: REPO }).target.amd64.dockerfile, path.join("hello", "Dockerfile"));
    });
});
