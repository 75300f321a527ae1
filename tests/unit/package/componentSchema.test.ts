// The package as other Pulumi languages see it. `pulumi package add` runs this package
// as a source-based component plugin (PulumiPlugin.yaml, runtime nodejs): Pulumi's
// Node.js host loads `main`, collects the exported ComponentResource classes and infers
// the package schema from their TypeScript sources with its analyzer. The CLI cannot run
// here, so these tests run that same analyzer (@pulumi/pulumi's
// provider/experimental/analyzer) and schema generator over this repository.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { Analyzer, AnalyzeResult, PropertyDefinition } from "@pulumi/pulumi/provider/experimental/analyzer";
import { getPulumiComponents } from "@pulumi/pulumi/provider/experimental/provider";
import { generateSchema, PackageSpec } from "@pulumi/pulumi/provider/experimental/schema";
import * as sdk from "../../../sdk";
import { ROOT, fixture } from "../../paths";

const invalidFixture = fixture("component-package-invalid");

function readJson(file: string): Record<string, unknown> {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
}

/** The provider name the Node.js host derives from package.json's `name` (cmd/run-plugin). */
function providerName(packageName: string): string {
    return packageName.replace(/^@[^/]+\//, "").replace(/[^-a-zA-Z0-9_]/g, "-");
}

/** Every input and every property of every type that has no description: each becomes an undocumented schema entry. */
function undocumented(components: AnalyzeResult["components"], types: AnalyzeResult["typeDefinitions"]): string[] {
    const missing: string[] = [];
    const check = (where: string, props: Record<string, PropertyDefinition> | undefined) => {
        for (const [name, prop] of Object.entries(props ?? {})) {
            if (!prop.description?.trim()) {
                missing.push(`${where}.${name}`);
            }
        }
    };
    for (const [name, component] of Object.entries(components)) {
        if (!component.description?.trim()) {
            missing.push(name);
        }
        check(`${name} args`, component.inputs);
    }
    for (const [name, type] of Object.entries(types)) {
        check(name, type.properties);
    }
    return missing;
}

/** The exported component classes, as the host finds them in `main`. */
const componentNames = getPulumiComponents(sdk).map((c) => c.name);

describe("component package schema (what `pulumi package add` infers from the TypeScript sources)", function () {
    // The analyzer builds a TypeScript program over sdk/ and @pulumi/aws's declarations.
    this.timeout(180_000);

    const packageJson = readJson(path.join(ROOT, "package.json"));
    let result: AnalyzeResult;
    let schema: PackageSpec;

    before(() => {
        const name = providerName(String(packageJson.name));
        result = new Analyzer(ROOT, name, packageJson, new Set(componentNames)).analyze();
        schema = generateSchema(
            name,
            String(packageJson.version),
            String(packageJson.description),
            result.components,
            result.typeDefinitions,
            result.dependencies,
        );
    });

    it("declares a Node.js plugin beside package.json", () => {
        const manifest = fs.readFileSync(path.join(ROOT, "PulumiPlugin.yaml"), "utf8");
        assert.match(manifest, /^runtime:\s*nodejs\s*$/m);
        assert.strictEqual(providerName(String(packageJson.name)), "multiarch");
    });

    it("exports the components from the package's entry point", () => {
        for (const expected of ["MultiArchImage", "BuildxBuilder"]) {
            assert.ok(componentNames.includes(expected), `${expected} is not exported from sdk/index.ts: ${componentNames.join(", ")}`);
        }
        if ("VmDeployment" in sdk) {
            assert.ok(componentNames.includes("VmDeployment"), "VmDeployment is exported but is not a ComponentResource");
        }
    });

    it("infers a schema with every component, its args and its outputs", () => {
        assert.deepStrictEqual(Object.keys(schema.resources).sort(), componentNames.map((n) => `multiarch:index:${n}`).sort());
        for (const resource of Object.values(schema.resources)) {
            assert.strictEqual(resource.isComponent, true);
        }

        const image = schema.resources["multiarch:index:MultiArchImage"];
        const imageInputs = image.inputProperties ?? {};
        assert.deepStrictEqual(image.requiredInputs, ["context"]);
        assert.deepStrictEqual(Object.keys(imageInputs).sort(), [
            "addHosts",
            "annotations",
            "buildArgs",
            "buildOnPreview",
            "builderName",
            "cache",
            "cacheFrom",
            "cacheTo",
            "context",
            "contexts",
            "dockerfile",
            "labels",
            "network",
            "noCache",
            "platforms",
            "pull",
            "pullPrincipals",
            "rebuildOnSecretChange",
            "registry",
            "repository",
            "repositoryUrl",
            "secrets",
            "signing",
            "ssh",
            "tag",
            "target",
        ]);
        assert.deepStrictEqual((imageInputs.cacheTo as { items?: { $ref?: string } }).items?.$ref, "#/types/multiarch:index:CacheToArgs");
        assert.deepStrictEqual((imageInputs.repository as { $ref?: string }).$ref, "#/types/multiarch:index:EcrRepositoryArgs");
        assert.deepStrictEqual((imageInputs.registry as { $ref?: string }).$ref, "#/types/multiarch:index:OciRepositoryArgs");
        for (const output of ["repositoryUrl", "platformDigests", "platformRefs", "indexRef", "builderName", "bakeFile"]) {
            assert.ok(output in (image.properties ?? {}), `MultiArchImage output ${output} is missing from the schema`);
        }

        const promoted = schema.resources["multiarch:index:PromotedImage"];
        assert.deepStrictEqual(Object.keys(promoted.inputProperties ?? {}).sort(), [
            "image",
            "indexRef",
            "platformRefs",
            "platforms",
            "registry",
            "repository",
            "repositoryUrl",
            "requireSignature",
            "sourceCredentials",
            "tag",
        ]);
        assert.deepStrictEqual((promoted.inputProperties?.registry as { $ref?: string }).$ref, "#/types/multiarch:index:OciRepositoryArgs");
        for (const output of ["repositoryUrl", "repositoryArn", "platforms", "platformDigests", "platformRefs", "indexRef", "indexDigest"]) {
            assert.ok(output in (promoted.properties ?? {}), `PromotedImage output ${output} is missing from the schema`);
        }

        const builder = schema.resources["multiarch:index:BuildxBuilder"];
        const builderInputs = builder.inputProperties ?? {};
        assert.deepStrictEqual(builder.requiredInputs, []);
        assert.deepStrictEqual((builderInputs.driver as { $ref?: string }).$ref, "#/types/multiarch:index:BuilderDriver");
        assert.deepStrictEqual(builderInputs.nodes, {
            type: "array",
            items: { $ref: "#/types/multiarch:index:BuilderNodeArgs", plain: true },
            optional: true,
            plain: true,
            description: builderInputs.nodes.description,
        });
        assert.deepStrictEqual(Object.keys(builder.properties ?? {}).sort(), ["driver", "name", "nodes", "platforms"]);

        // Child resources of other packages are references into their schemas.
        assert.deepStrictEqual((schema.dependencies ?? []).map((d) => d.name).sort(), ["aws", "docker-build"]);
    });

    it("documents every component, every arg and every field of every type (the schema's docs)", () => {
        assert.deepStrictEqual(undocumented(result.components, result.typeDefinitions), []);
    });

    it("names each component's second constructor parameter `args`, typed by a declared interface, and registers the type token multiarch:index:<Class>", () => {
        const problems: string[] = [];
        const found: string[] = [];
        const components = path.join(ROOT, "sdk", "components");
        for (const file of fs.readdirSync(components).filter((f) => f.endsWith(".ts"))) {
            const source = ts.createSourceFile(file, fs.readFileSync(path.join(components, file), "utf8"), ts.ScriptTarget.ES2022, true);
            for (const node of source.statements) {
                if (!ts.isClassDeclaration(node) || !node.name || !componentNames.includes(node.name.text)) {
                    continue;
                }
                const name = node.name.text;
                found.push(name);
                const ctor = node.members.find(ts.isConstructorDeclaration);
                const second = ctor?.parameters[1];
                if (!second || !ts.isIdentifier(second.name) || second.name.text !== "args") {
                    problems.push(`${name}: the second constructor parameter is ${second ? `\`${second.name.getText()}\`` : "missing"}, expected \`args\``);
                } else if (!second.type || !ts.isTypeReferenceNode(second.type)) {
                    problems.push(`${name}: \`args\` is typed ${second.type ? `\`${second.type.getText()}\`` : "implicitly"}, expected a named interface`);
                }
                const token = `"multiarch:index:${name}"`;
                if (!ctor?.body?.getText().includes(`super(${token}`)) {
                    problems.push(`${name}: the constructor does not call super(${token}, …), so the host's type token and the registered one differ`);
                }
            }
        }
        assert.deepStrictEqual(found.sort(), [...componentNames].sort(), "every component class is read from sdk/components");
        assert.deepStrictEqual(problems, []);
    });
});

describe("component package schema: the host's rules refuse bad args (tests/fixtures/component-package-invalid)", function () {
    this.timeout(120_000);
    const fixturePackage = readJson(path.join(invalidFixture, "package.json"));
    const analyze = (component: string) => new Analyzer(invalidFixture, "invalid-components", fixturePackage, new Set([component])).analyze();

    it("fails on a union that is not `T | undefined`", () => {
        assert.throws(() => analyze("UnionArg"), /Union types are not supported for component 'UnionArg' input 'UnionArgs.size'/);
    });

    it("fails on a function in the args", () => {
        assert.throws(() => analyze("FunctionArg"), /Unsupported type for component 'FunctionArg' property 'CallbackArgs.onCreated'/);
    });

    it("fails when the constructor has no parameter named `args`", () => {
        assert.throws(() => analyze("PropsNotArgs"), /Component 'PropsNotArgs' constructor must have an 'args' parameter/);
    });

    it("fails when `args` is an inline type instead of an interface", () => {
        assert.throws(() => analyze("InlineArgs"), /Component 'InlineArgs' constructor 'args' parameter must be an interface/);
    });

    it("reports an arg without a doc comment, which the host would accept undocumented", () => {
        const result = analyze("UndocumentedArg");
        assert.deepStrictEqual(undocumented(result.components, result.typeDefinitions), ["UndocumentedArg args.undocumented"]);
    });
});
