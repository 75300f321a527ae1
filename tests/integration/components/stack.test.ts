// The seed's story on the real stack: one multi-platform build of examples/app gives an
// index whose amd64 manifest runs as x86_64 and whose arm64 manifest runs as aarch64,
// each pulled by its own digest; and a registry with basic auth (as ECR has) refuses a
// push until `docker login`.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AUTH_PASSWORD, AUTH_REGISTRY, AUTH_USER, REGISTRY, docker, inspectRaw, loginToAuthRegistry, uniqueName, useDockerStack } from "../stack";
import { EXAMPLE_APP } from "../../paths";

const PLATFORMS = ["linux/amd64", "linux/arm64"];

/** Builds examples/app for both platforms with the default builder and pushes it. */
function buildAndPush(tag: string, config?: string): Promise<string> {
    return docker(["buildx", "build", "--builder", "default", "--progress", "plain", "--platform", PLATFORMS.join(","), "--tag", tag, "--push", EXAMPLE_APP], {
        config,
    });
}

describe("Docker stack (needs scripts/docker-stack.sh)", function () {
    this.timeout(300_000);
    useDockerStack();

    const pulled: string[] = [];
    let config: string;

    before(function () {
        for (const arch of ["amd64", "arm64"]) {
            const binary = path.join(EXAMPLE_APP, "busybox", arch, "busybox");
            if (!fs.existsSync(binary)) {
                throw new Error(`${binary} is missing: scripts/docker-stack.sh puts Debian's busybox-static there`);
            }
        }
        // A throwaway docker config, so logins never touch the machine's own.
        config = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-docker-config-"));
    });

    after(async function () {
        if (pulled.length > 0) {
            await docker(["image", "rm", "--force", ...pulled]).catch(() => undefined);
        }
        if (config) {
            fs.rmSync(config, { recursive: true, force: true });
        }
    });

    describe("examples/app built for linux/amd64 and linux/arm64", function () {
        const repository = `${REGISTRY}/multiarch-test/${uniqueName("app")}`;
        let digests: Record<string, string>;

        before(async function () {
            await buildAndPush(`${repository}:v1`);
            digests = (await inspectRaw(`${repository}:v1`)).platforms;
        });

        it("pushes one index with a manifest per platform", function () {
            assert.deepStrictEqual(Object.keys(digests).sort(), PLATFORMS);
            for (const digest of Object.values(digests)) {
                assert.match(digest, /^sha256:[0-9a-f]{64}$/);
            }
            assert.notStrictEqual(digests["linux/amd64"], digests["linux/arm64"]);
        });

        for (const [platform, machine] of [
            ["linux/amd64", "x86_64"],
            ["linux/arm64", "aarch64"],
        ]) {
            it(`runs the ${platform} digest as ${machine}`, async function () {
                const reference = `${repository}@${digests[platform]}`;
                pulled.push(reference);
                assert.strictEqual((await docker(["run", "--rm", "--platform", platform, reference, "uname", "-m"])).trim(), machine);
                assert.strictEqual((await docker(["run", "--rm", "--platform", platform, reference])).trim(), `hello from ${machine}\nversion 0.1.0`);
            });
        }
    });

    describe(`the registry with basic auth on ${AUTH_REGISTRY}`, function () {
        const repository = `${AUTH_REGISTRY}/multiarch-test/${uniqueName("auth")}`;

        it("refuses a push without credentials", async function () {
            await assert.rejects(buildAndPush(`${repository}:v1`, config), /failed to push .*401 Unauthorized/);
            const anonymous = await fetch(`http://${AUTH_REGISTRY}/v2/${repository.slice(AUTH_REGISTRY.length + 1)}/tags/list`);
            assert.strictEqual(anonymous.status, 401);
        });

        it("accepts the push after docker login with the stack's credentials", async function () {
            const login = await loginToAuthRegistry({ config });
            assert.match(login, /Login Succeeded/);
            await buildAndPush(`${repository}:v1`, config);

            const name = repository.slice(AUTH_REGISTRY.length + 1);
            const basic = Buffer.from(`${AUTH_USER}:${AUTH_PASSWORD}`).toString("base64");
            const tags = await fetch(`http://${AUTH_REGISTRY}/v2/${name}/tags/list`, { headers: { Authorization: `Basic ${basic}` } });
            assert.strictEqual(tags.status, 200);
            assert.deepStrictEqual(await tags.json(), { name, tags: ["v1"] });
        });
    });
});
