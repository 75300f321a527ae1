// The layers of sdk/ (ARCHITECTURE.md) as rules over the import graph, read from the
// sources with TypeScript's own pre-processor: dependencies point down (cli and
// components → clients → rules), nothing imports in a cycle, and what a dynamic
// provider's closure carries (sdk/clients and the modules they import) needs nothing
// but Node and the project's own self-contained modules.
import * as assert from "assert";
import { builtinModules } from "module";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { ROOT } from "../../paths";

const SDK = path.join(ROOT, "sdk");
const LAYERS = ["rules", "clients", "components", "cli"] as const;
type Layer = (typeof LAYERS)[number] | "root";

// Which layers each layer may import. cli and components sit side by side: neither
// imports the other.
const MAY_IMPORT: Record<Layer, Layer[]> = {
    rules: ["rules"],
    clients: ["clients", "rules"],
    components: ["components", "clients", "rules"],
    cli: ["cli", "clients", "rules"],
    root: ["components", "clients", "rules", "cli"],
};

interface Module {
    /** Path under sdk/, e.g. `clients/docker.ts`. */
    file: string;
    layer: Layer;
    /** Project modules it imports at run time (type-only imports are erased). */
    imports: string[];
    /** Packages it imports at run time, e.g. `fs`, `@pulumi/pulumi`. */
    packages: string[];
}

function readModules(): Map<string, Module> {
    const modules = new Map<string, Module>();
    const walk = (dir: string): string[] =>
        fs
            .readdirSync(dir, { withFileTypes: true })
            .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []));
    for (const absolute of walk(SDK)) {
        const file = path.relative(SDK, absolute);
        const source = ts.createSourceFile(file, fs.readFileSync(absolute, "utf8"), ts.ScriptTarget.ES2022, true);
        const imports: string[] = [];
        const packages: string[] = [];
        for (const statement of source.statements) {
            const typeOnly =
                (ts.isImportDeclaration(statement) && statement.importClause?.isTypeOnly) || (ts.isExportDeclaration(statement) && statement.isTypeOnly);
            const specifier = (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier;
            if (!specifier || !ts.isStringLiteral(specifier) || typeOnly) {
                continue;
            }
            if (specifier.text.startsWith(".")) {
                const target = path.join(path.dirname(file), specifier.text);
                imports.push(fs.existsSync(path.join(SDK, `${target}.ts`)) ? `${target}.ts` : path.join(target, "index.ts"));
            } else {
                packages.push(specifier.text);
            }
        }
        const top = file.split(path.sep)[0];
        modules.set(file, { file, layer: (LAYERS as readonly string[]).includes(top) ? (top as Layer) : "root", imports, packages });
    }
    return modules;
}

describe("architecture: the layers of sdk/", () => {
    const modules = readModules();

    it("reads every module, in one of the four layers or an entry point", () => {
        assert.ok(modules.size > 30, `only ${modules.size} modules read from ${SDK}`);
        // The two entry points package.json names: the library (`main`) and the bin.
        const unplaced = [...modules.values()].filter((m) => m.layer === "root" && !["index.ts", "cli.ts"].includes(m.file)).map((m) => m.file);
        assert.deepStrictEqual(unplaced, [], "every module but the entry points index.ts and cli.ts lives in rules/, clients/, components/ or cli/");
    });

    it("imports only downwards: cli and components → clients → rules", () => {
        const upward = [...modules.values()].flatMap((m) =>
            m.imports.filter((target) => !MAY_IMPORT[m.layer].includes(modules.get(target)!.layer)).map((target) => `${m.file} → ${target}`),
        );
        assert.deepStrictEqual(upward, []);
    });

    it("has no import cycle", () => {
        const cycles: string[] = [];
        const done = new Set<string>();
        const visit = (file: string, stack: string[]): void => {
            if (stack.includes(file)) {
                cycles.push([...stack.slice(stack.indexOf(file)), file].join(" → "));
                return;
            }
            if (done.has(file)) {
                return;
            }
            done.add(file);
            for (const target of modules.get(file)!.imports) {
                visit(target, [...stack, file]);
            }
        };
        for (const file of modules.keys()) {
            visit(file, []);
        }
        assert.deepStrictEqual(cycles, []);
    });

    // Pulumi serialises a dynamic provider by value (its functions' text and what they
    // capture) into the stack's state and runs it in a plain Node process: a captured
    // module that imports @pulumi/pulumi or another package drags it into the closure.
    it("keeps sdk/clients and every module they import free of packages other than Node's own", () => {
        const reached = new Set<string>();
        const reach = (file: string): void => {
            if (!reached.has(file)) {
                reached.add(file);
                modules.get(file)!.imports.forEach(reach);
            }
        };
        [...modules.keys()].filter((f) => modules.get(f)!.layer === "clients").forEach(reach);
        const foreign = [...reached].sort().flatMap((file) =>
            modules
                .get(file)!
                .packages.filter((p) => !builtinModules.includes(p.replace(/^node:/, "")))
                .map((p) => `${file} imports ${p}`),
        );
        assert.deepStrictEqual(foreign, []);
        assert.ok(reached.has(path.join("rules", "manifest.ts")), "the closure rules reached include rules/manifest.ts");
    });
});
