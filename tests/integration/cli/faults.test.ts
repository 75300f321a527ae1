// Faults on the real stack: a registry that dies in the middle of a push, one that
// answers 429/503 or drops connections for a while, wrong credentials, plain http off
// loopback, and a Docker daemon that cannot be reached. Every fault is made here, on
// 127.0.0.1: a throwaway registry of this suite's own, a small proxy, a dead socket. The
// shared registries and dockerd keep running for everyone else, and no request leaves
// the machine (host names off loopback are answered by a stub resolver).
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as dns from "dns";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { BuilderSpec } from "../../../sdk/clients/buildx";
import { createBuilder, inspectBuilder, removeBuilder } from "../../../sdk/clients/builderLifecycle";
import { isDockerCliError } from "../../../sdk/clients/docker";
import { main } from "../../../sdk/cli/main";
import { preflight } from "../../../sdk/cli/preflight";
import { formatTable } from "../../../sdk/cli/resultsTable";
import { RegistryClient } from "../../../sdk/clients/registryClient";
import { RegistryError } from "../../../sdk/rules/registryError";
import { AUTH_PASSWORD, AUTH_REGISTRY, AUTH_USER, REGISTRY, docker, loginToAuthRegistry, uniqueName, useDockerStack, withEnv } from "../stack";
import { EXAMPLE_APP } from "../../paths";
import { freePort } from "../../helpers";

const BASE_IMAGE = `${REGISTRY}/multiarch/busybox:latest`;
const BASE_REFERENCE = "multiarch/busybox:latest";

/**
 * A registry of this suite's own (Debian's docker-registry, as scripts/docker-stack.sh
 * runs it), on a free port with storage in a temp dir, that a test may kill and start
 * again on the same storage.
 */
class ThrowawayRegistry {
    readonly host: string;
    private child?: ChildProcess;
    private readonly config: string;
    private watch?: { pattern: RegExp; seen: (line: string) => void };

    constructor(
        readonly dir: string,
        port: number,
    ) {
        this.host = `127.0.0.1:${port}`;
        this.config = path.join(dir, "config.yml");
        fs.writeFileSync(
            this.config,
            [
                "version: 0.1",
                "log:",
                "  level: info",
                "  formatter: text",
                "storage:",
                "  filesystem:",
                `    rootdirectory: ${path.join(dir, "storage")}`,
                "  delete:",
                "    enabled: true",
                "http:",
                `  addr: ${this.host}`,
                `  secret: throwaway-${port}`,
                "",
            ].join("\n"),
        );
    }

    /** Starts the registry and waits until `GET /v2/` answers 200. */
    async start(): Promise<void> {
        const child = spawn("/usr/bin/docker-registry", ["serve", this.config], { stdio: ["ignore", "pipe", "pipe"] });
        this.child = child;
        let pending = "";
        const take = (chunk: Buffer) => {
            pending += chunk.toString("utf8");
            const lines = pending.split("\n");
            pending = lines.pop() ?? "";
            for (const line of lines) {
                if (this.watch?.pattern.test(line)) {
                    this.watch.seen(line);
                    this.watch = undefined;
                }
            }
        };
        child.stdout!.on("data", take);
        child.stderr!.on("data", take);
        for (let i = 0; i < 80; i++) {
            if (child.exitCode !== null) {
                break;
            }
            const status = await fetch(`http://${this.host}/v2/`, { signal: AbortSignal.timeout(1000) }).then(
                (r) => r.status,
                () => 0,
            );
            if (status === 200) {
                return;
            }
            await new Promise((resolve) => setTimeout(resolve, 125));
        }
        throw new Error(`the throwaway registry on ${this.host} did not come up (exit code ${child.exitCode}); config ${this.config}`);
    }

    /** Kills the registry (SIGKILL, as a crash) the moment it logs a line that matches. */
    killWhenItLogs(pattern: RegExp): Promise<string> {
        return new Promise((resolve) => {
            this.watch = {
                pattern,
                seen: (line) => {
                    this.child?.kill("SIGKILL");
                    resolve(line);
                },
            };
        });
    }

    /** Kills the registry and waits until it is gone. */
    async stop(): Promise<void> {
        const child = this.child;
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
            return;
        }
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
    }
}

type Fault = { status: number; headers?: Record<string, string>; body?: string } | "reset" | "forward";

/** An HTTP proxy on 127.0.0.1 in front of a registry that answers the nth request (from 1) as `fault` says. */
async function faultyProxy(upstream: string, fault: (n: number) => Fault): Promise<{ host: string; requests: () => number; close: () => Promise<void> }> {
    let requests = 0;
    const server = http.createServer((req, res) => {
        const answer = fault(++requests);
        if (answer === "reset") {
            req.socket.destroy();
            return;
        }
        if (answer !== "forward") {
            const body = answer.body ?? "";
            res.writeHead(answer.status, { "Content-Length": Buffer.byteLength(body), "Content-Type": "application/json", ...answer.headers });
            res.end(body);
            return;
        }
        const [hostname, port] = upstream.split(":");
        const forwarded = http.request(
            { hostname, port: Number(port), method: req.method, path: req.url, headers: { ...req.headers, host: upstream } },
            (upstreamRes) => {
                res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
                upstreamRes.pipe(res);
            },
        );
        forwarded.on("error", () => res.destroy());
        req.pipe(forwarded);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    return {
        host: `127.0.0.1:${port}`,
        requests: () => requests,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

const UNAVAILABLE_BODY = JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: "back soon" }] });
const unavailable: Fault = { status: 503, body: UNAVAILABLE_BODY };

/** A context whose image is the stack's busybox plus `megabytes` of random data, so its push takes a moment. */
function payloadContext(dir: string, megabytes: number): string {
    const context = path.join(dir, "context");
    fs.mkdirSync(context, { recursive: true });
    fs.writeFileSync(path.join(context, "Dockerfile"), `FROM ${BASE_IMAGE}\nCOPY payload.bin /payload.bin\n`);
    fs.writeFileSync(path.join(context, "payload.bin"), crypto.randomBytes(megabytes * 1024 * 1024));
    return context;
}

describe("faults (needs scripts/docker-stack.sh)", function () {
    this.timeout(600000);
    useDockerStack();

    let work: string;
    before(() => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-faults-"));
    });
    after(() => {
        if (work !== undefined) {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    describe("a registry that stops in the middle of a push", () => {
        let registry: ThrowawayRegistry;

        before(async () => {
            const dir = path.join(work, "registry");
            fs.mkdirSync(dir);
            registry = new ThrowawayRegistry(dir, await freePort());
            await registry.start();
        });
        after(async () => {
            await registry?.stop();
            // The default builder keeps what it pushed and ran in the engine's image store too.
            const local = await docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", `reference=${registry?.host}/*/*`]).catch(() => "");
            for (const image of local.split("\n").filter((l) => l.trim() !== "")) {
                await docker(["image", "rm", "--force", image.replace(/:<none>$/, "")]).catch(() => undefined);
            }
        });

        it("names the platforms that failed, pushes no index, and passes on a rerun once the registry is back", async () => {
            const context = payloadContext(work, 24);
            const repository = `multiarch-test/${uniqueName("crash")}`;
            const options = { context, registry: registry.host, repository, cache: false };

            const killed = registry.killWhenItLogs(/"(POST|PATCH|PUT) \/v2\/multiarch-test\/[^ ]*\/blobs\/uploads\//);
            const lines: string[] = [];
            const result = await preflight({ ...options, log: (l) => lines.push(l) });
            const killedOn = await Promise.race([killed, new Promise<string>((resolve) => setTimeout(() => resolve(""), 0))]);
            assert.notStrictEqual(killedOn, "", `the registry was never seen receiving a blob upload; progress:\n${lines.join("\n")}`);

            assert.strictEqual(result.ok, false, formatTable(result));
            const failed = result.platforms.filter((p) => !p.ok);
            assert.ok(failed.length >= 1, formatTable(result));
            const table = formatTable(result);
            for (const platform of failed) {
                assert.ok(["linux/amd64", "linux/arm64"].includes(platform.platform));
                assert.ok(platform.reason !== undefined && platform.reason.length > 0, `${platform.platform} failed without a reason`);
                assert.ok(table.includes(`${platform.platform}: ${platform.reason}`), table);
            }
            assert.strictEqual(result.indexRef, undefined);
            assert.match(result.notes.join("\n"), /no index was pushed: a multi-platform tag must never name a partial set of platforms/);

            await registry.start();
            await assert.rejects(new RegistryClient().resolveImage(`${registry.host}/${repository}:preflight`), (e: RegistryError) => {
                assert.strictEqual(e.kind, "not-found", e.message);
                return true;
            });

            const rerun = await preflight(options);
            assert.strictEqual(rerun.ok, true, formatTable(rerun));
            const index = await new RegistryClient().resolveImage(`${registry.host}/${repository}:preflight`);
            assert.strictEqual(rerun.indexRef, `${registry.host}/${repository}:preflight@${index.digest}`);
            assert.deepStrictEqual(index.platforms, Object.fromEntries(rerun.platforms.map((p) => [p.platform, p.digest])));
        });
    });

    describe("a registry that answers 429 or 503, or drops connections, for a while", () => {
        const proxies: { close: () => Promise<void> }[] = [];
        let expected: Record<string, string>;
        const proxy = async (fault: (n: number) => Fault, upstream = REGISTRY) => {
            const started = await faultyProxy(upstream, fault);
            proxies.push(started);
            return started;
        };
        before(async () => {
            expected = await new RegistryClient().platformDigests(BASE_IMAGE);
        });
        after(async () => {
            await Promise.all(proxies.map((p) => p.close()));
        });

        it("reads the image after three 503 answers", async () => {
            const front = await proxy((n) => (n <= 3 ? unavailable : "forward"));
            assert.deepStrictEqual(await new RegistryClient({ retryBaseMs: 50 }).platformDigests(`${front.host}/${BASE_REFERENCE}`), expected);
            assert.strictEqual(front.requests(), 4);
        });

        it("waits as long as Retry-After says on 429", async () => {
            const front = await proxy((n) => (n <= 2 ? { status: 429, headers: { "Retry-After": "1" } } : "forward"));
            const started = Date.now();
            assert.deepStrictEqual(await new RegistryClient({ retryBaseMs: 10 }).platformDigests(`${front.host}/${BASE_REFERENCE}`), expected);
            const elapsed = Date.now() - started;
            assert.ok(elapsed >= 1900 && elapsed < 10000, `two Retry-After: 1 answers took ${elapsed} ms`);
            assert.strictEqual(front.requests(), 3);
        });

        it("waits no longer than retryMaxDelayMs whatever Retry-After asks", async () => {
            const front = await proxy((n) => (n === 1 ? { status: 429, headers: { "Retry-After": "3600" } } : "forward"));
            const started = Date.now();
            assert.deepStrictEqual(await new RegistryClient({ retryMaxDelayMs: 300 }).platformDigests(`${front.host}/${BASE_REFERENCE}`), expected);
            assert.ok(Date.now() - started < 5000);
        });

        it("reads the image after two dropped connections", async () => {
            const front = await proxy((n) => (n <= 2 ? "reset" : "forward"));
            assert.deepStrictEqual(await new RegistryClient({ retryBaseMs: 20 }).platformDigests(`${front.host}/${BASE_REFERENCE}`), expected);
            assert.strictEqual(front.requests(), 3);
        });

        it("fails saying how many attempts it made and the last status when 503 outlasts the retries", async () => {
            const front = await proxy(() => unavailable);
            const reference = `${front.host}/${BASE_REFERENCE}`;
            await assert.rejects(new RegistryClient({ retries: 3, retryBaseMs: 20 }).platformDigests(reference), (e: RegistryError) => {
                assert.strictEqual(e.kind, "unavailable");
                assert.strictEqual(e.status, 503);
                assert.match(
                    e.message,
                    new RegExp(
                        `^registry ${front.host} answered HTTP 503 Service Unavailable reading manifest ${reference} \\(registry says: UNAVAILABLE: back soon\\); gave up after 4 attempts in \\d+\\.\\d s; it is overloaded or failing: check its health and logs, then try again$`,
                    ),
                );
                return true;
            });
            assert.strictEqual(front.requests(), 4);
        });

        it("fails saying it is rate-limited when 429 outlasts the default retries", async () => {
            const front = await proxy(() => ({ status: 429 }));
            await assert.rejects(new RegistryClient({ retryBaseMs: 10 }).platformDigests(`${front.host}/${BASE_REFERENCE}`), (e: RegistryError) => {
                assert.strictEqual(e.kind, "unavailable");
                assert.strictEqual(e.status, 429);
                assert.match(
                    e.message,
                    new RegExp(
                        `^registry ${front.host} answered HTTP 429 Too Many Requests reading manifest .*; gave up after 5 attempts in \\d+\\.\\d s; it is rate-limiting this client`,
                    ),
                );
                return true;
            });
            assert.strictEqual(front.requests(), 5);
        });

        it("stops retrying when the next wait would take the read past timeoutMs", async () => {
            const front = await proxy(() => unavailable);
            const started = Date.now();
            await assert.rejects(
                new RegistryClient({ retries: 50, retryBaseMs: 300, timeoutMs: 1000 }).platformDigests(`${front.host}/${BASE_REFERENCE}`),
                (e: RegistryError) => {
                    assert.strictEqual(e.kind, "unavailable");
                    assert.match(e.message, /gave up after \d attempts in \d\.\d s \(waiting another \d+ ms would pass timeoutMs, 1000 ms\)/);
                    return true;
                },
            );
            assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
            assert.ok(front.requests() >= 2 && front.requests() <= 4, `${front.requests()} attempts`);
        });

        it("fails saying the connection was dropped, and how often, when it keeps being dropped", async () => {
            const front = await proxy(() => "reset");
            await assert.rejects(new RegistryClient({ retries: 2, retryBaseMs: 10 }).platformDigests(`${front.host}/${BASE_REFERENCE}`), (e: RegistryError) => {
                assert.strictEqual(e.kind, "unreachable");
                assert.match(
                    e.message,
                    new RegExp(
                        `^registry at ${front.host} closed the connection before answering in full \\(.*\\) reading manifest .*; gave up after 3 attempts`,
                    ),
                );
                return true;
            });
            assert.strictEqual(front.requests(), 3);
        });

        it("does not retry a 401, and names the user but never the password", async () => {
            const front = await proxy(() => "forward", AUTH_REGISTRY);
            const wrong = "wrong-password-never-printed";
            await assert.rejects(
                new RegistryClient({ auth: { registry: front.host, username: AUTH_USER, password: wrong } }).platformDigests(
                    `${front.host}/multiarch-test/any:v1`,
                ),
                (e: RegistryError) => {
                    assert.strictEqual(e.kind, "auth");
                    assert.strictEqual(e.status, 401);
                    assert.match(e.message, new RegExp(`^authentication failed for registry ${front.host} as user "${AUTH_USER}": HTTP 401`));
                    assert.ok(!e.message.includes(wrong) && !e.message.includes(Buffer.from(`${AUTH_USER}:${wrong}`).toString("base64")));
                    return true;
                },
            );
            assert.strictEqual(front.requests(), 1);
        });
    });

    describe("credentials", () => {
        it("says a bearer token was used, never the token, when the auth registry refuses it", async () => {
            const token = "bearer-token-never-printed";
            await assert.rejects(
                new RegistryClient({ auth: { registry: AUTH_REGISTRY, token } }).platformDigests(`${AUTH_REGISTRY}/multiarch-test/any:v1`),
                (e: RegistryError) => {
                    assert.strictEqual(e.kind, "auth");
                    assert.match(e.message, new RegExp(`^authentication failed for registry ${AUTH_REGISTRY} with the given bearer token: HTTP 401`));
                    assert.ok(!e.message.includes(token));
                    return true;
                },
            );
        });

        it("prints the user but never MULTIARCH_REGISTRY_PASSWORD when it is wrong", async () => {
            const wrong = "cli-wrong-password-never-printed";
            const dockerConfig = path.join(work, "docker-config");
            fs.mkdirSync(dockerConfig, { recursive: true });
            // Pushes log in with the docker CLI's own (right) credentials, in a throwaway config;
            // reading the index back uses the (wrong) ones from the environment.
            await loginToAuthRegistry({ config: dockerConfig });
            const out: string[] = [];
            const err: string[] = [];
            const code = await withEnv({ DOCKER_CONFIG: dockerConfig, MULTIARCH_REGISTRY_USER: AUTH_USER, MULTIARCH_REGISTRY_PASSWORD: wrong }, () =>
                main(
                    ["preflight", EXAMPLE_APP, "--registry", AUTH_REGISTRY, "--repository", `multiarch-test/${uniqueName("cli-auth")}`, "--no-cache"],
                    (l) => out.push(l),
                    (l) => err.push(l),
                ),
            );
            assert.strictEqual(code, 1, [...out, ...err].join("\n"));
            assert.match(
                err.join("\n"),
                new RegExp(`authentication failed for registry ${AUTH_REGISTRY.replace(/\./g, "\\.")} as user "${AUTH_USER}": HTTP 401`),
            );
            const encoded = Buffer.from(`${AUTH_USER}:${wrong}`).toString("base64");
            for (const line of [...out, ...err]) {
                assert.ok(!line.includes(wrong) && !line.includes(encoded), `a line shows the password: ${line}`);
            }
        });
    });

    describe("plain http off loopback", () => {
        // Every lookup of a name off loopback fails here, at once, so no request (not even
        // DNS) leaves the machine; loopback names still resolve, for the proxies.
        const lookups: string[] = [];
        // The module object itself, whose lookup fetch calls; an import binding is read-only.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const dnsModule = require("dns") as typeof dns;
        const realLookup = dnsModule.lookup;
        const proxies: { close: () => Promise<void> }[] = [];
        before(() => {
            dnsModule.lookup = ((hostname: string, options: unknown, callback?: (error: NodeJS.ErrnoException) => void) => {
                if (hostname === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === "::1") {
                    return (realLookup as (...args: unknown[]) => void)(hostname, options, callback);
                }
                const done = (typeof options === "function" ? options : callback) as (error: NodeJS.ErrnoException) => void;
                lookups.push(hostname);
                process.nextTick(() =>
                    done(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", syscall: "getaddrinfo", hostname })),
                );
            }) as typeof dns.lookup;
        });
        beforeEach(() => {
            lookups.length = 0;
        });
        after(async () => {
            dnsModule.lookup = realLookup;
            await Promise.all(proxies.map((p) => p.close()));
        });
        const redirecting = async (location: string) => {
            const front = await faultyProxy(REGISTRY, (n) => (n === 1 ? { status: 307, headers: { Location: location } } : "forward"));
            proxies.push(front);
            return front;
        };

        it("uses https for a registry off loopback", async () => {
            await assert.rejects(new RegistryClient().getManifest("registry.example.invalid:5000/team/app:v1"), (e: RegistryError) => {
                assert.strictEqual(e.kind, "unreachable");
                assert.match(
                    e.message,
                    /its host name does not resolve \(ENOTFOUND, GET https:\/\/registry\.example\.invalid:5000\/v2\/team\/app\/manifests\/v1\)/,
                );
                return true;
            });
            assert.deepStrictEqual(lookups, ["registry.example.invalid"]);
        });

        it("uses plain http off loopback only for a host listed in insecure", async () => {
            await assert.rejects(
                new RegistryClient({ insecure: ["Registry.Example.Invalid:5000"] }).getManifest("registry.example.invalid:5000/team/app:v1"),
                (e: RegistryError) => {
                    assert.strictEqual(e.kind, "unreachable");
                    assert.match(e.message, /\(ENOTFOUND, GET http:\/\/registry\.example\.invalid:5000\/v2\/team\/app\/manifests\/v1\)/);
                    return true;
                },
            );
            // Another host, or the same host on another port, is not insecure: https.
            for (const insecure of [["other.example.invalid:5000"], ["registry.example.invalid:5001"], ["registry.example.invalid"]]) {
                await assert.rejects(new RegistryClient({ insecure }).getManifest("registry.example.invalid:5000/team/app:v1"), (e: RegistryError) => {
                    assert.match(e.message, /\(ENOTFOUND, GET https:\/\/registry\.example\.invalid:5000\/v2\/team\/app\/manifests\/v1\)/);
                    return true;
                });
            }
            assert.deepStrictEqual(lookups, new Array(4).fill("registry.example.invalid"));
        });

        it("refuses a redirect to plain http off loopback before sending anything", async () => {
            const front = await redirecting("http://registry.example.invalid:5000/v2/elsewhere/manifests/latest");
            await assert.rejects(new RegistryClient().getManifest(`${front.host}/${BASE_REFERENCE}`), (e: RegistryError) => {
                assert.strictEqual(e.kind, "insecure");
                assert.match(
                    e.message,
                    /^refusing to send a request to registry\.example\.invalid:5000 over plain http .*add "registry\.example\.invalid:5000" to insecure if it really has no TLS$/,
                );
                return true;
            });
            assert.deepStrictEqual(lookups, []);
        });

        it("follows that redirect only when insecure lists its host", async () => {
            const front = await redirecting("http://registry.example.invalid:5000/v2/elsewhere/manifests/latest");
            await assert.rejects(new RegistryClient({ insecure: ["other.example.invalid:5000"] }).getManifest(`${front.host}/${BASE_REFERENCE}`), {
                name: "RegistryError",
                kind: "insecure",
            });
            assert.deepStrictEqual(lookups, []);
            const again = await redirecting("http://registry.example.invalid:5000/v2/elsewhere/manifests/latest");
            await assert.rejects(new RegistryClient({ insecure: ["registry.example.invalid:5000"] }).getManifest(`${again.host}/${BASE_REFERENCE}`), {
                name: "RegistryError",
                kind: "unreachable",
            });
            assert.deepStrictEqual(lookups, ["registry.example.invalid"]);
        });

        it("refuses a plain-http token realm off loopback before sending the credentials", async () => {
            const front = await faultyProxy(REGISTRY, () => ({
                status: 401,
                headers: { "WWW-Authenticate": 'Bearer realm="http://auth.example.invalid/token",service="registry"' },
            }));
            proxies.push(front);
            await assert.rejects(
                new RegistryClient({ auth: { registry: front.host, username: AUTH_USER, password: AUTH_PASSWORD } }).getManifest(
                    `${front.host}/${BASE_REFERENCE}`,
                ),
                (e: RegistryError) => {
                    assert.strictEqual(e.kind, "insecure");
                    assert.strictEqual(
                        e.message,
                        `registry ${front.host} asked for a bearer token from http://auth.example.invalid/token; refusing to send its credentials there over plain http: they go to a token realm only over https, or over http to a realm on the registry's own loopback host`,
                    );
                    assert.ok(!e.message.includes(AUTH_PASSWORD));
                    return true;
                },
            );
            assert.deepStrictEqual(lookups, []);
        });
    });

    describe("a Docker daemon that cannot be reached", () => {
        const created: string[] = [];
        let deadHost: string;
        const name = (label: string) => {
            const builder = `mat-fault-${label}-${process.pid}-${Date.now().toString(36)}`;
            created.push(builder);
            return builder;
        };
        const spec = (builder: string, overrides: Partial<BuilderSpec> = {}): BuilderSpec => ({
            name: builder,
            driver: "docker-container",
            nodes: [{ name: `${builder}0`, platforms: [], driverOptions: {} }],
            bootstrap: false,
            use: false,
            ...overrides,
        });
        const listed = async () =>
            (await docker(["buildx", "ls", "--format", "json"]))
                .split("\n")
                .filter((l) => l.trim() !== "")
                .map((l) => JSON.parse(l).Name as string);
        const daemonDown = (error: Error) => {
            assert.ok(isDockerCliError(error), `${error.name}: ${error.message}`);
            assert.match(error.message, /the Docker daemon is not running or not reachable/);
            assert.match(error.message, /Start it \(Linux: `sudo systemctl start docker`, or `sudo dockerd &`/);
            return true;
        };

        before(() => {
            deadHost = `unix://${path.join(work, "no-daemon.sock")}`;
        });
        after(async () => {
            for (const builder of created) {
                await removeBuilder(builder).catch(() => undefined);
            }
        });

        it("creating a builder says the daemon is down and how to start it, and leaves nothing behind", async () => {
            const builder = name("create");
            await withEnv({ DOCKER_HOST: deadHost }, () => assert.rejects(createBuilder(spec(builder)), daemonDown));
            assert.ok(!(await listed()).includes(builder), "docker buildx ls lists a half-created builder");
            assert.strictEqual(await inspectBuilder(builder), undefined);
        });

        it("removes a builder again whose second node is on the unreachable daemon", async () => {
            const builder = name("append");
            const nodes = [
                { name: "reachable", endpoint: "unix:///run/docker.sock", platforms: ["linux/amd64"], driverOptions: {} },
                { name: "unreachable", platforms: ["linux/arm64"], driverOptions: {} },
            ];
            // The first node is created on the reachable engine; appending the second fails.
            await withEnv({ DOCKER_HOST: deadHost }, () =>
                assert.rejects(
                    createBuilder(spec(builder, { nodes })),
                    (e: Error) => daemonDown(e) && /`docker buildx create --append --name /.test(e.message),
                ),
            );
            assert.ok(!(await listed()).includes(builder), "docker buildx ls lists a half-created builder");
        });

        it("inspecting and removing a builder whose daemon went away say so", async () => {
            const builder = name("gone");
            const socket = path.join(work, "engine.sock");
            fs.symlinkSync("/run/docker.sock", socket);
            await createBuilder(spec(builder, { nodes: [{ name: `${builder}0`, endpoint: `unix://${socket}`, platforms: [], driverOptions: {} }] }));
            fs.rmSync(socket);
            try {
                const inspected = await inspectBuilder(builder);
                assert.strictEqual(inspected?.nodes[0].status, "error");
                assert.match(inspected?.nodes[0].error ?? "", new RegExp(`Cannot connect to the Docker daemon at unix://${socket.replace(/[.]/g, "\\.")}`));
                await assert.rejects(removeBuilder(builder), daemonDown);
            } finally {
                fs.symlinkSync("/run/docker.sock", socket);
            }
            await removeBuilder(builder);
            assert.strictEqual(await inspectBuilder(builder), undefined);
            fs.rmSync(socket);
        });

        it("the command line says the daemon is down and how to start it, with exit code 2", async () => {
            const err: string[] = [];
            const code = await withEnv({ DOCKER_HOST: deadHost }, () =>
                main(
                    ["preflight", EXAMPLE_APP],
                    () => undefined,
                    (l) => err.push(l),
                ),
            );
            assert.strictEqual(code, 2);
            assert.match(err.join("\n"), /^multiarch preflight: `docker version [^`]*` failed: the Docker daemon is not running or not reachable/);
            assert.match(err.join("\n"), /`sudo bash scripts\/docker-stack\.sh` installs and starts the engine/);
        });

        it("recreates a builder removed between runs", async () => {
            const builder = name("recreate");
            const wanted = spec(builder, { nodes: [{ name: `${builder}0`, platforms: ["linux/arm64"], driverOptions: { network: "host" } }] });
            const first = await createBuilder(wanted);
            await docker(["buildx", "rm", builder]);
            assert.strictEqual(await inspectBuilder(builder), undefined);
            const again = await createBuilder(wanted);
            assert.deepStrictEqual(
                [again.name, again.driver, again.nodes.map((n) => [n.name, n.fixedPlatforms, n.driverOptions])],
                [first.name, first.driver, first.nodes.map((n) => [n.name, n.fixedPlatforms, n.driverOptions])],
            );
        });

        it("leaves a builder that exists with another config exactly as it was", async () => {
            const builder = name("keep");
            await docker([
                "buildx",
                "create",
                "--name",
                builder,
                "--driver",
                "docker-container",
                "--node",
                `${builder}0`,
                "--platform",
                "linux/amd64",
                "--driver-opt",
                "network=host",
            ]);
            const before = await inspectBuilder(builder);
            await assert.rejects(
                createBuilder(spec(builder, { nodes: [{ name: `${builder}0`, platforms: ["linux/arm64"], driverOptions: {} }], use: true })),
                /already exists and differs/,
            );
            const after = await inspectBuilder(builder);
            assert.deepStrictEqual(after, before);
            const current = (await docker(["buildx", "ls", "--format", "json"]))
                .split("\n")
                .filter(Boolean)
                .map((l) => JSON.parse(l))
                .find((b) => b.Current);
            assert.notStrictEqual(current?.Name, builder, "a refused builder must not become the current one");
        });
    });
});
