#!/usr/bin/env node
// The `multiarch` bin (package.json \`bin\`); the command line itself is cli/main.ts. This
// path is the one the package has always published: the links npm and npx made to it in
// installs and checkouts keep working across versions.
import { main } from "./cli/main";

main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
});
