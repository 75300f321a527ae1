// What signing adds to a build, side by side in one run on the real Docker stack: each
// repetition builds the benchmark fixture for both platforms with a new message (so the
// digests are new), joins the index, then times cosign through the code MultiArchImage's
// ImageSignature and VmDeployment's SignatureCheck run. Medians over `--runs` (default 3).
//
//   npx ts-node bench/signing.ts [--runs 3]
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { RegistryClient } from "../sdk/clients/registryClient";
import { signImages, verifySignature } from "../sdk/clients/cosign";
import { PLATFORMS, bakePerPlatform, docker } from "./builds";
import { CHANGED_FILE, fixtureContext } from "./fixture";
import { median, round } from "./stats";

const REGISTRY = "127.0.0.1:5000";
const PASSWORD = "bench-key-password";

/** CPU seconds (user + system) of this process's finished children: cutime + cstime of /proc/self/stat. */
function childCpuSeconds(): number {
    const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
    // After "pid (comm) ", field 16 (cutime) is index 13 and field 17 (cstime) index 14; clock ticks are 100 Hz on Linux.
    return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** Wall seconds, and CPU seconds of the cosign processes it ran: on a shared machine the wall time is mostly waiting for a CPU. */
const cpuSamples: Record<string, number[]> = {};
async function seconds<T>(body: () => Promise<T>, name?: string): Promise<[number, T]> {
    const started = process.hrtime.bigint();
    const cpu = childCpuSeconds();
    const result = await body();
    if (name) {
        (cpuSamples[name] ??= []).push(childCpuSeconds() - cpu);
    }
    return [Number(process.hrtime.bigint() - started) / 1e9, result];
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } } });
    const runs = Number(values.runs);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "multiarch-bench-signing-"));
    const samples: Record<string, number[]> = {};
    const add = (name: string, value: number) => (samples[name] ??= []).push(value);
    try {
        // Key A signs each digest alone; key B signs all three at once, as ImageSignature does.
        const keys = ["a", "b"].map((name) => {
            const dir = path.join(work, name);
            fs.mkdirSync(dir);
            execFileSync("cosign", ["generate-key-pair"], { cwd: dir, env: { ...process.env, COSIGN_PASSWORD: PASSWORD }, stdio: "pipe" });
            return {
                privateKey: fs.readFileSync(path.join(dir, "cosign.key"), "utf8"),
                password: PASSWORD,
                publicKey: fs.readFileSync(path.join(dir, "cosign.pub"), "utf8"),
            };
        });
        const key = { privateKey: keys[0].privateKey, password: PASSWORD };
        const whole = { privateKey: keys[1].privateKey, password: PASSWORD };
        const publicKey = keys[0].publicKey;
        const repositoryUrl = `${REGISTRY}/multiarch-bench/signing-${Date.now().toString(36)}`;
        const context = fixtureContext("cross");
        const registry = new RegistryClient();
        for (let run = 0; run < runs; run++) {
            fs.appendFileSync(path.join(context, CHANGED_FILE), `run ${run} ${Date.now()}\n`);
            const built = await bakePerPlatform(context, repositoryUrl);
            const refs: Record<string, string> = {};
            for (const platform of PLATFORMS) {
                const arch = platform.split("/")[1];
                add(`build ${arch}`, built.platforms[arch].seconds);
                refs[arch] = `${repositoryUrl}@${(await registry.getManifest(`${repositoryUrl}:bench-${arch}`)).digest}`;
            }
            await docker(["buildx", "imagetools", "create", "--tag", `${repositoryUrl}:bench`, refs.amd64, refs.arm64]);
            const index = `${repositoryUrl}@${(await registry.getManifest(`${repositoryUrl}:bench`)).digest}`;

            // One platform's digest alone: what signing adds to that platform's build.
            for (const arch of ["amd64", "arm64"]) {
                const [t] = await seconds(() => signImages({ refs: [refs[arch]], key }), `sign ${arch} digest alone`);
                add(`sign ${arch} digest alone`, t);
            }
            add("sign index alone", (await seconds(() => signImages({ refs: [index], key }), "sign index alone"))[0]);
            // ImageSignature's first run over both platforms and the index, then a run with nothing rebuilt.
            add(
                "ImageSignature, 3 new digests",
                (await seconds(() => signImages({ refs: [refs.amd64, refs.arm64, index], key: whole }), "ImageSignature, 3 new digests"))[0],
            );
            const [again, result] = await seconds(() => signImages({ refs: [refs.amd64, refs.arm64, index], key: whole }), "re-run, nothing new (3 digests)");
            if (result.signed.length !== 0) {
                throw new Error(`a second run signed ${result.signed.join(", ")}`);
            }
            add("re-run, nothing new (3 digests)", again);
            for (const arch of ["amd64", "arm64"]) {
                add(`verify ${arch} (SignatureCheck)`, (await seconds(() => verifySignature(refs[arch], { publicKey }), `verify ${arch} (SignatureCheck)`))[0]);
            }
        }
        fs.rmSync(context, { recursive: true, force: true });
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
    const medians = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, round(median(values), 2)]));
    const width = Math.max(...Object.keys(medians).map((k) => k.length));
    console.log(
        `median seconds over ${runs} runs (cosign ${execFileSync("dpkg-query", ["-W", "-f=${Version}", "cosign"]).toString()}, ${os.cpus().length} CPUs):`,
    );
    for (const [name, value] of Object.entries(medians)) {
        const cpu = cpuSamples[name] ? `   cosign CPU ${median(cpuSamples[name]).toFixed(2)}s` : "";
        console.log(`  ${name.padEnd(width)}  ${value.toFixed(2)}s${cpu}   samples ${samples[name].map((v) => v.toFixed(2)).join(", ")}`);
    }
    for (const arch of ["amd64", "arm64"]) {
        console.log(`  signing adds to the ${arch} build: ${((medians[`sign ${arch} digest alone`] / medians[`build ${arch}`]) * 100).toFixed(0)}%`);
    }
    console.log(
        `  load average during the run: ${os
            .loadavg()
            .map((l) => l.toFixed(1))
            .join(", ")}`,
    );
    fs.mkdirSync(path.join(__dirname, "results"), { recursive: true });
    fs.writeFileSync(
        path.join(__dirname, "results", "signing.json"),
        JSON.stringify({ runs, medians, samples, cosignCpuSeconds: cpuSamples, loadavg: os.loadavg() }, null, 2) + "\n",
    );
}

main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
});
