// `npx multiarch …` inside a checkout runs the compiled entry point itself, so the
// build must leave it executable (npm sets the bit only when it installs a package).
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import { ROOT } from "../../paths";

const CLI = path.join(ROOT, "bin", "sdk", "cli.js");

describe("npx multiarch in a checkout", function () {
    this.timeout(300000);

    it("runs the freshly built command line", async () => {
        fs.rmSync(CLI, { force: true });
        await promisify(execFile)("npm", ["run", "build"], { cwd: ROOT });
        assert.strictEqual(fs.readFileSync(CLI, "utf8").split("\n")[0], "#!/usr/bin/env node");
        assert.ok((fs.statSync(CLI).mode & 0o111) !== 0, "bin/sdk/cli.js must be executable");
        const { stdout } = await promisify(execFile)("npx", ["--no-install", "multiarch", "--help"], { cwd: ROOT });
        assert.match(stdout, /^Usage: multiarch preflight <context> \[options\]/);
    });
});
