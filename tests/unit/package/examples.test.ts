// The examples as a newcomer meets them: each is listed with one line in
// examples/README.md and has its own README; each TypeScript program is type-checked
// against the local SDK by `npm run lint` (tsconfig.check.json includes examples/).
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { getPulumiComponents } from "@pulumi/pulumi/provider/experimental/provider";
import * as sdk from "../../../sdk";
import { ROOT } from "../../paths";

const examples = path.join(ROOT, "examples");
const folders = fs
    .readdirSync(examples, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();

describe("examples", () => {
    it("lists every example folder in examples/README.md, one table row each", () => {
        const index = fs.readFileSync(path.join(examples, "README.md"), "utf8");
        const rows = index.split("\n").filter((line) => /^\| \[[^\]]+\]\([^)]+\/\) \|/.test(line));
        const listed = rows.map((row) => /^\| \[([^\]]+)\]\(([^)]+)\/\)/.exec(row)!).map((m) => (m[1] === m[2] ? m[1] : `${m[1]} -> ${m[2]}`));
        assert.deepStrictEqual([...listed].sort(), folders);
    });

    it("gives every example a README", () => {
        assert.deepStrictEqual(
            folders.filter((folder) => !fs.existsSync(path.join(examples, folder, "README.md"))),
            [],
        );
    });

    it("includes every TypeScript example in the type-check of `npm run lint`", () => {
        const check = JSON.parse(fs.readFileSync(path.join(examples, "..", "tsconfig.check.json"), "utf8")) as { include: string[] };
        assert.ok(check.include.includes("examples/**/*.ts"), `tsconfig.check.json includes ${check.include.join(", ")}`);
    });

    it("uses from YAML only components the package exports, each MultiArchImage with builderName (pulumi/pulumi#5455)", () => {
        const program = fs.readFileSync(path.join(examples, "yaml", "Pulumi.yaml"), "utf8");
        assert.match(program, /^runtime: yaml$/m);
        assert.match(program, /^packages:\n {2}multiarch: \.\.\/\.\.$/m);
        const components = getPulumiComponents(sdk).map((c) => c.name);
        const types = [...program.matchAll(/type: multiarch:index:(\w+)/g)].map((m) => m[1]);
        assert.ok(types.length > 0);
        assert.deepStrictEqual(
            types.filter((t) => !components.includes(t)),
            [],
        );
        // Each resource block: from its `type:` line to the next resource (2-space key) or top-level key.
        const blocks = program.split(/\n(?= {2}\S|\S)/).filter((block) => block.includes("type: multiarch:index:MultiArchImage"));
        for (const block of blocks) {
            assert.match(block, /builderName: \S+/, block);
        }
    });
});
