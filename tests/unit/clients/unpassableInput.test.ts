// What no program can be given, a NUL byte, refused by the clients before anything runs:
// named (the argument's position and flag, or the variable), never shown, with no
// throwaway DOCKER_CONFIG left behind. Node itself would throw inside the runner, past
// the code that removes the config and scrubs, with the value in its message.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { driverOptionProblems } from "../../../sdk/clients/buildx";
import { runCosign } from "../../../sdk/clients/cosign";
import { isDockerCliError, runDocker, streamDocker } from "../../../sdk/clients/docker";
import { PreflightError } from "../../../sdk/rules/preflightError";
import { standIns, useEnv } from "./standIn";

const SECRET = "proxy-pass\0word";
const SHOWN = ["proxy-pass", "word"];

/** Fails when the message shows any part of the secret. */
function assertHidden(text: string): void {
    for (const part of SHOWN) {
        assert.ok(!text.includes(part), `${JSON.stringify(part)} is shown in:\n${text}`);
    }
}

describe("values with a NUL byte (stand-in docker and cosign that record whether they ran)", () => {
    const programs = standIns({ docker: "exit 1", cosign: "exit 0" });
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-nul-tmp-"));
    useEnv(() => ({ PATH: `${programs.bin}${path.delimiter}${process.env.PATH}`, TMPDIR: tmp }));
    after(() => {
        programs.remove();
        fs.rmSync(tmp, { recursive: true, force: true });
    });
    afterEach(() => {
        assert.deepStrictEqual(fs.readdirSync(tmp), [], "no throwaway directory is left");
    });

    const registries = [{ address: "127.0.0.1:5001", username: "multiarch", password: "registry-password" }];
    const refused = (what: string) => `${what} contains a NUL byte, which no program can be given (the value is not shown): remove it`;
    // What is refused, the call, its message, and what else the error must say.
    const cases: [string, () => Promise<unknown>, string, (error: Error) => void][] = [
        [
            "runCosign refuses the key's password by name",
            () => runCosign(["public-key", "--key", "env://COSIGN_PRIVATE_KEY"], { COSIGN_PRIVATE_KEY: "pem", COSIGN_PASSWORD: SECRET }, registries),
            `\`cosign public-key\` was not run: ${refused("the environment variable COSIGN_PASSWORD")}`,
            () => undefined,
        ],
        [
            "runCosign refuses an image by its position",
            () => runCosign(["verify", "--key", "env://COSIGN_PUBLIC_KEY", "--", `127.0.0.1:5001/a/b@${SECRET}`], { COSIGN_PUBLIC_KEY: "pem" }, registries),
            `\`cosign verify\` was not run: ${refused("argument 5")}`,
            () => undefined,
        ],
        [
            "runCosign refuses a flag's value by its position and flag",
            () => runCosign(["attest", "--type", SECRET], {}, registries),
            `\`cosign attest\` was not run: ${refused("argument 3 (the value of `--type`)")}`,
            () => undefined,
        ],
        [
            "runDocker refuses a driver option value by its position and flag, hidden in the argv it reports",
            () => runDocker(["buildx", "create", "--name", "b", "--driver-opt", `env.HTTPS_PROXY=http://user:${SECRET}@proxy:3128`]),
            `\`docker buildx create\` was not run: ${refused("argument 6 (the value of `--driver-opt`)")}`,
            (error) => {
                assert.ok(isDockerCliError(error));
                assert.deepStrictEqual(error.argv, ["buildx", "create", "--name", "b", "--driver-opt", "***"]);
                assertHidden(`${error.argv.join(" ")}${error.stderr}`);
            },
        ],
        [
            "runDocker refuses an environment variable by name",
            () => runDocker(["version"], { env: { ...process.env, HTTPS_PROXY: SECRET } }),
            `\`docker version\` was not run: ${refused("the environment variable HTTPS_PROXY")}`,
            (error) => assert.ok(isDockerCliError(error)),
        ],
        [
            "streamDocker refuses a build argument by its position and flag",
            () => streamDocker(["buildx", "build", "--build-arg", `TOKEN=${SECRET}`, "."]),
            `\`docker buildx build\` was not run: ${refused("argument 4 (the value of `--build-arg`)")}`,
            (error) => assert.ok(error instanceof PreflightError),
        ],
    ];
    for (const [what, call, message, also] of cases) {
        it(`${what}, and runs nothing`, async () => {
            await assert.rejects(call(), (error: Error) => {
                assert.strictEqual(error.message, message);
                assertHidden(`${error.message}${error.stack}`);
                also(error);
                return true;
            });
            assert.deepStrictEqual(programs.calls(), []);
        });
    }

    it("a failed call that printed nothing shows no driver option value, however short", async () => {
        await assert.rejects(runDocker(["buildx", "create", "--driver-opt", "env.P=pw12"]), (error: Error) => {
            assert.ok(isDockerCliError(error));
            assert.strictEqual(error.message, "`docker buildx create --driver-opt env.P=***` failed (exit code 1)");
            assert.ok(!`${error.message}${error.stderr}`.includes("pw12"), error.message);
            return true;
        });
        assert.deepStrictEqual(programs.calls(), [["buildx", "create", "--driver-opt", "env.P=pw12"]]);
    });
});

describe("driver options with a NUL byte", () => {
    it("are refused by key, never showing the value", () => {
        const problems = driverOptionProblems({ "env.HTTPS_PROXY": SECRET, "a\0b": "v", image: "moby/buildkit" });
        assert.deepStrictEqual(problems, [
            'key "a\\u0000b" is not usable: expected a non-empty key without `=`, `,`, quotes, spaces or NUL bytes, e.g. "image" or "network"',
            'the value of key "env.HTTPS_PROXY" contains a NUL byte, which no program can be given (the value is not shown): remove it',
        ]);
        assertHidden(problems.join("\n"));
    });
});
