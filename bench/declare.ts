// The declaration benchmark: what the component itself costs under the mock engine.
// N MultiArchImages against the same N images declared "raw" with docker-build and the
// AWS provider directly, with the same inputs. While the component declares, every
// filesystem call and every synchronous child process is counted, to show it does not
// walk the build context or block on the network.
import * as aws from "@pulumi/aws";
import * as dockerbuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { defaultRepositoryName, lifecyclePolicy, mutableTagFilters } from "../sdk/rules/ecr";
import { MultiArchImage } from "../sdk/components/multiArchImage";
import { CACHE_TO_OPTIONS } from "../sdk/rules/buildPlan";
import { registrations, resetMocks, settle } from "../tests/mocks";
import { median } from "./stats";

/** The builder both sides name, so neither declares a builder resource. */
const BUILDER = "bench-builder";
const PLATFORMS = ["linux/amd64", "linux/arm64"] as const;

/** One way of declaring N images, and what it registered. */
interface Declared {
    outputs: pulumi.Output<unknown>[];
}

function declareComponents(count: number, context: string): Declared {
    const outputs: pulumi.Output<unknown>[] = [];
    for (let i = 0; i < count; i++) {
        const image = new MultiArchImage(`img${i}`, { context, builderName: BUILDER, buildArgs: { APP_VERSION: "1.0.0" } });
        outputs.push(image.indexRef, image.platformRefs, image.bakeFile);
    }
    return { outputs };
}

/**
 * The fair raw equivalent of one MultiArchImage: what a user writes by hand for the same
 * result. An ECR repository (same settings: immutable tags except the moving tag and the
 * caches, scan on push, AES256) and its lifecycle policy, the registry credentials, one
 * docker-build Image per platform (tag `<tag>-<arch>`, cache `<repo>:cache-<arch>`,
 * same builder, build args and push) and the Index over them. Not included: the
 * component resource, its validation, the derived outputs (platform digests and refs,
 * the Bake file), which are the component's own work being measured.
 */
function declareRaw(count: number, context: string): Declared {
    const outputs: pulumi.Output<unknown>[] = [];
    for (let i = 0; i < count; i++) {
        const name = `img${i}`;
        const repository = new aws.ecr.Repository(`${name}-repo`, {
            name: defaultRepositoryName(pulumi.getProject(), pulumi.getStack(), name),
            forceDelete: false,
            imageScanningConfiguration: { scanOnPush: true },
            imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters: mutableTagFilters("latest"),
            encryptionConfigurations: [{ encryptionType: "AES256" }],
        });
        new aws.ecr.LifecyclePolicy(`${name}-lifecycle`, { repository: repository.name, policy: lifecyclePolicy(14) });
        const token = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId });
        const registry = {
            address: repository.repositoryUrl.apply((url) => url.slice(0, url.indexOf("/"))),
            username: token.userName,
            password: pulumi.secret(token.password),
        };
        const images = PLATFORMS.map((platform) => {
            const arch = platform.split("/")[1];
            const cacheRef = repository.repositoryUrl.apply((url) => `${url}:cache-${arch}`);
            return new dockerbuild.Image(`${name}-${arch}`, {
                context: { location: context },
                dockerfile: { location: `${context}/Dockerfile` },
                platforms: [platform as dockerbuild.Platform],
                tags: [repository.repositoryUrl.apply((url) => `${url}:latest-${arch}`)],
                push: true,
                builder: { name: BUILDER },
                registries: [registry],
                cacheFrom: [{ registry: { ref: cacheRef } }],
                cacheTo: [{ registry: { ref: cacheRef, ...CACHE_TO_OPTIONS } }],
                buildArgs: { APP_VERSION: "1.0.0" },
            });
        });
        const index = new dockerbuild.Index(`${name}-index`, {
            tag: repository.repositoryUrl.apply((url) => `${url}:latest`),
            sources: images.map((image) => image.ref),
            push: true,
            registry,
        });
        outputs.push(index.ref, ...images.map((image) => image.digest));
    }
    return { outputs };
}

/** Declares with the mock engine afresh and returns the milliseconds until every output resolved. */
async function timeOnce(declare: () => Declared): Promise<{ ms: number; registrations: number }> {
    await resetMocks();
    const started = process.hrtime.bigint();
    const { outputs } = declare();
    await settle(...outputs);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    return { ms, registrations: registrations.length };
}

/** Filesystem and synchronous child-process calls made while the component declared. */
export interface SideEffects {
    /** fs calls by method, summed over every image. */
    fsCalls: Record<string, number>;
    /** Directory listings (a context walk would show here): must be 0. */
    directoryListings: number;
    /** execSync/execFileSync/spawnSync calls (a synchronous network probe would show here): must be 0. */
    syncChildProcesses: number;
}

/** Whether each component's per-platform images are independent of each other. */
export interface Independence {
    /** Images checked. */
    images: number;
    /** Pairs where one image's inputs mention the other's name, digest or tag. */
    dependentPairs: string[];
}

/** The declaration benchmark's figures. */
export interface DeclarationResult {
    images: number;
    runs: number;
    componentMs: number[];
    rawMs: number[];
    componentMedianMs: number;
    rawMedianMs: number;
    /** componentMedianMs / rawMedianMs. */
    ratio: number;
    componentRegistrations: number;
    rawRegistrations: number;
    sideEffects: SideEffects;
    independence: Independence;
}

async function countSideEffects(count: number, context: string): Promise<SideEffects> {
    // The real module objects, to wrap their methods: TypeScript's `import * as` bindings
    // are read-only views that read through to them.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fsModule: Record<string, unknown> = require("fs");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const childProcess: Record<string, unknown> = require("child_process");
    const fsCalls: Record<string, number> = {};
    let syncChildProcesses = 0;
    const restore: (() => void)[] = [];
    const wrap = (target: Record<string, unknown>, method: string, count: () => void) => {
        const original = target[method] as (...args: unknown[]) => unknown;
        target[method] = function (this: unknown, ...args: unknown[]) {
            count();
            return original.apply(this, args);
        };
        restore.push(() => (target[method] = original));
    };
    for (const method of [
        "statSync",
        "lstatSync",
        "existsSync",
        "readdirSync",
        "opendirSync",
        "readFileSync",
        "readdir",
        "opendir",
        "stat",
        "lstat",
        "readFile",
    ]) {
        wrap(fsModule, method, () => (fsCalls[method] = (fsCalls[method] ?? 0) + 1));
    }
    for (const method of ["execSync", "execFileSync", "spawnSync"]) {
        wrap(childProcess, method, () => syncChildProcesses++);
    }
    try {
        await resetMocks();
        const { outputs } = declareComponents(count, context);
        await settle(...outputs);
    } finally {
        restore.forEach((undo) => undo());
    }
    const directoryListings = (fsCalls.readdirSync ?? 0) + (fsCalls.opendirSync ?? 0) + (fsCalls.readdir ?? 0) + (fsCalls.opendir ?? 0);
    return { fsCalls, directoryListings, syncChildProcesses };
}

function checkIndependence(): Independence {
    const images = registrations.filter((r) => r.type === "docker-build:index:Image");
    const dependentPairs: string[] = [];
    for (const image of images) {
        const component = image.name.replace(/-[a-z0-9]+$/, "");
        const inputs = JSON.stringify(image.inputs);
        for (const other of images.filter((o) => o !== image && o.name.startsWith(`${component}-`))) {
            const arch = other.name.slice(component.length + 1);
            if (inputs.includes(other.name) || inputs.includes(`-${arch}@`) || (other.inputs.tags ?? []).some((t: string) => inputs.includes(t))) {
                dependentPairs.push(`${image.name} -> ${other.name}`);
            }
        }
    }
    return { images: images.length, dependentPairs };
}

/**
 * Declares `count` MultiArchImages and their raw equivalent `runs` times each,
 * alternating which goes first, after two warm-up rounds; returns medians and ratio.
 */
export async function benchDeclarations(count: number, runs: number, context: string): Promise<DeclarationResult> {
    for (let i = 0; i < 2; i++) {
        await timeOnce(() => declareComponents(count, context));
        await timeOnce(() => declareRaw(count, context));
    }
    const componentMs: number[] = [];
    const rawMs: number[] = [];
    let componentRegistrations = 0;
    let rawRegistrations = 0;
    for (let i = 0; i < runs; i++) {
        const order = i % 2 === 0 ? ["component", "raw"] : ["raw", "component"];
        for (const which of order) {
            if (which === "component") {
                const r = await timeOnce(() => declareComponents(count, context));
                componentMs.push(r.ms);
                componentRegistrations = r.registrations;
            } else {
                const r = await timeOnce(() => declareRaw(count, context));
                rawMs.push(r.ms);
                rawRegistrations = r.registrations;
            }
        }
    }
    const sideEffects = await countSideEffects(count, context);
    const independence = checkIndependence();
    const componentMedianMs = median(componentMs);
    const rawMedianMs = median(rawMs);
    return {
        images: count,
        runs,
        componentMs,
        rawMs,
        componentMedianMs,
        rawMedianMs,
        ratio: componentMedianMs / rawMedianMs,
        componentRegistrations,
        rawRegistrations,
        sideEffects,
        independence,
    };
}
