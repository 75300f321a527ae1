// The boot script every host runs, rendered for representative deployments and kept as
// golden files in tests/fixtures/bootScript, so that any change to what hosts run shows
// in review as a diff of those files. `UPDATE_GOLDEN=1` rewrites them from the code.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { BootScriptOptions, renderBootScript } from "../../../sdk/rules/bootScript";
import { fixture } from "../../paths";

const GOLDEN_DIR = fixture("bootScript");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

const REPO = "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/api";
// What VmDeployment passes every host: its container, its pinned image, the launch hook.
const DEPLOYMENT: BootScriptOptions = {
    containerName: "multiarch-api",
    imageRef: `${REPO}@sha256:${"a".repeat(64)}`,
    platform: "linux/amd64",
    registryRegion: "us-west-2",
    lifecycleHook: { name: "multiarch-launch", groupName: "shop-prod-api", region: "us-west-2" },
};

/** Each golden file and the options it is rendered from. */
const CASES: Record<string, BootScriptOptions> = {
    // No ports, command, environment or health check: the default check (the container runs).
    "default-amd64.sh": DEPLOYMENT,
    // An HTTP check on a published port, a command and the environment parameter.
    "http-check-amd64.sh": {
        ...DEPLOYMENT,
        ports: [
            { host: 80, container: 8080 },
            { host: 443, container: 8443 },
        ],
        command: ["/app/server", "--listen", ":8080", "--greeting", "it's $HOME"],
        environmentParameter: { name: "/multiarch/shop-prod/api/environment", version: 3, region: "us-west-2" },
        healthCheck: { http: { port: 80, path: "/health" }, gracePeriodSeconds: 5, timeoutSeconds: 120 },
    },
    // The arm64 host of the same deployment: its own digest and platform.
    "default-arm64.sh": { ...DEPLOYMENT, imageRef: `${REPO}@sha256:${"b".repeat(64)}`, platform: "linux/arm64" },
};

describe("boot script golden files (tests/fixtures/bootScript)", () => {
    before(() => {
        if (UPDATE) {
            fs.mkdirSync(GOLDEN_DIR, { recursive: true });
            for (const [file, options] of Object.entries(CASES)) {
                fs.writeFileSync(path.join(GOLDEN_DIR, file), renderBootScript(options));
            }
        }
    });

    for (const [file, options] of Object.entries(CASES)) {
        const golden = path.join(GOLDEN_DIR, file);

        it(`renders ${file} byte for byte (UPDATE_GOLDEN=1 rewrites it)`, () => {
            assert.ok(fs.existsSync(golden), `${golden} is missing: run UPDATE_GOLDEN=1 npx mocha tests/unit/rules/bootScriptGolden.test.ts`);
            const rendered = renderBootScript(options);
            const expected = fs.readFileSync(golden);
            assert.strictEqual(
                rendered,
                expected.toString("utf8"),
                `the boot script differs from ${file}; if the change is meant, UPDATE_GOLDEN=1 rewrites it`,
            );
            assert.ok(Buffer.from(rendered, "utf8").equals(expected), `${file} holds bytes that are not the rendered UTF-8`);
        });

        it(`${file} parses with bash -n`, () => {
            execFileSync("bash", ["-n", golden], { stdio: "pipe" });
        });
    }

    it("holds no golden file that no case renders", () => {
        const goldenFiles = fs.readdirSync(GOLDEN_DIR).filter((f) => f.endsWith(".sh"));
        assert.deepStrictEqual(goldenFiles.sort(), Object.keys(CASES).sort());
    });
});
