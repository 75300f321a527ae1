// The package root's runtime surface. Adding or removing a runtime export is a change to
// the public API: it shows up here as a diff, and in etc/multiarch.api.md (`npm run api`).
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../../paths";

const sdkDir = path.join(ROOT, "sdk");

describe("public API", () => {
    it("exports from the package root exactly the components, BuilderDriver and the programmatic preflight", () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const root = require(sdkDir) as Record<string, unknown>;
        assert.deepStrictEqual(Object.keys(root).sort(), [
            "BuilderDriver",
            "BuildxBuilder",
            "MultiArchImage",
            "PreflightError",
            "PromotedImage",
            "VmDeployment",
            "formatTable",
            "preflight",
        ]);
        for (const [name, value] of Object.entries(root)) {
            assert.notStrictEqual(value, undefined, `${name} is exported from the root but is undefined at run time`);
        }
    });

    // Mocha loads the sources with ts-node's transpile-only mode, as other transpile-only
    // tools (esbuild, swc, Babel) would: each file is compiled alone, so `export { T }`
    // of a type cannot be told from a value and becomes an undefined runtime export.
    // Types are re-exported with `export type { … }`.
    it("has no module whose runtime exports include a re-exported type (undefined under transpile-only tools)", () => {
        const undefinedExports: string[] = [];
        for (const file of fs.readdirSync(sdkDir).filter((f) => f.endsWith(".ts") && f !== "cli.ts")) {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const mod = require(path.join(sdkDir, file)) as Record<string, unknown>;
            for (const [name, value] of Object.entries(mod)) {
                if (value === undefined) {
                    undefinedExports.push(`${file}: ${name}`);
                }
            }
        }
        assert.deepStrictEqual(undefinedExports, []);
    });
});
