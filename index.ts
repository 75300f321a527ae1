// The entry point of the Pulumi component package (PulumiPlugin.yaml). Pulumi's Node.js
// component host infers the package schema from TypeScript sources: it resolves
// package.json's `main` to a `.ts` file and, when that fails (here `main` is the compiled
// bin/sdk/index.js), reads this file. npm consumers use `main` and never load it.
export * from "./sdk";
