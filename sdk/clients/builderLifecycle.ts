// A buildx builder's lifecycle on this machine: inspect, create (with its appended
// nodes), update, release or remove, and the diff that tells the engine whether this
// machine's builder matches the declared one. A docker-container node's BuildKit
// container is named after the node alone, so create and remove also look at the other
// builders of this machine's buildx store: no two may share a node's container.
//
// Serialised by value into the closure of the BuildxBuilder's dynamic provider: Node
// builtins and the project's own self-contained modules only; no Pulumi imports, no
// module-level Set or Map.
import * as fs from "fs";
import { InspectedBuilder, inspectArgv, parseInspect, BuilderSpec, splitFlags, useArgv, createArgv, appendArgv, rmArgv } from "./buildx";
import { DEFAULT_BUILDKIT_IMAGE, TIMEOUTS } from "./docker";
import { canonical } from "../rules/canonicalJson";
import { isDockerCliError, DockerRunner, runDocker, displayArgv } from "./docker";

/** True when the CLI said the builder does not exist. */
export function isNoSuchBuilder(error: unknown): boolean {
    return isDockerCliError(error) && /no builder .* found/i.test(error.stderr);
}

/** The builder as buildx reports it, or undefined when there is no builder of that name. */
export async function inspectBuilder(name: string, run: DockerRunner = runDocker): Promise<InspectedBuilder | undefined> {
    try {
        const { stdout } = await run(inspectArgv(name));
        return parseInspect(stdout);
    } catch (error) {
        if (isNoSuchBuilder(error)) {
            return undefined;
        }
        throw error;
    }
}

function sameList(a: string[], b: string[]): boolean {
    return a.length === b.length && a.every((x, i) => x === b[i]);
}

// Names the keys only: a driver option's value may be a secret.
function driverOptionDifferences(existing: Record<string, string>, wanted: Record<string, string>): string[] {
    return [...new Set([...Object.keys(existing), ...Object.keys(wanted)])].sort().flatMap((key) => {
        if (!(key in wanted)) {
            return [`${key} is set but not wanted`];
        }
        if (!(key in existing)) {
            return [`${key} is not set`];
        }
        return existing[key] === wanted[key] ? [] : [`${key} has another value`];
    });
}

// Flags buildx 0.13 adds to every docker-container node by itself.
const BUILDX_ADDED_FLAGS = ["--allow-insecure-entitlement=network.host"];

/**
 * How an existing builder differs from the wanted one, one line per difference; empty
 * when it can be adopted. The buildkitd config file is not compared: buildx does not
 * report it.
 */
export function builderDifferences(spec: BuilderSpec, existing: InspectedBuilder): string[] {
    const differences: string[] = [];
    if (existing.driver !== spec.driver) {
        differences.push(`driver is "${existing.driver}", wanted "${spec.driver}"`);
    }
    const existingNames = existing.nodes.map((n) => n.name);
    const wantedNames = spec.nodes.map((n) => n.name);
    if (!sameList(existingNames, wantedNames)) {
        differences.push(`nodes are [${existingNames.join(", ")}], wanted [${wantedNames.join(", ")}]`);
        return differences;
    }
    const wantedFlags = spec.buildkitdFlags ? splitFlags(spec.buildkitdFlags) : [];
    spec.nodes.forEach((wanted, i) => {
        const node = existing.nodes[i];
        // buildx prints neither platforms nor flags of a node it cannot reach: nothing to compare.
        const reached = node.status !== "error";
        const flags = node.buildkitdFlags.filter((flag) => wantedFlags.includes(flag) || !BUILDX_ADDED_FLAGS.includes(flag));
        if (wanted.endpoint !== undefined && node.endpoint !== wanted.endpoint) {
            differences.push(`node ${node.name} runs on "${node.endpoint}", wanted "${wanted.endpoint}"`);
        }
        const fixed = [...node.fixedPlatforms].sort();
        if (reached && !sameList(fixed, [...wanted.platforms].sort())) {
            differences.push(`node ${node.name} has platforms [${fixed.join(", ")}], wanted [${[...wanted.platforms].sort().join(", ")}]`);
        }
        const options = driverOptionDifferences(node.driverOptions, wanted.driverOptions);
        if (options.length > 0) {
            differences.push(`node ${node.name} has other driver options: ${options.join(", ")}`);
        }
        if (reached && !sameList(flags, wantedFlags)) {
            differences.push(`node ${node.name} has buildkitd flags "${flags.join(" ")}", wanted "${wantedFlags.join(" ")}"`);
        }
    });
    return differences;
}

/** The error for an existing builder that cannot be adopted. */
export function conflictMessage(name: string, differences: string[]): string {
    return (
        `a buildx builder named "${name}" already exists and differs from this BuildxBuilder:\n` +
        differences.map((d) => `  - ${d}\n`).join("") +
        `Remove it with \`docker buildx rm ${name}\` (Pulumi then creates it as declared), or give this BuildxBuilder another \`name\`.`
    );
}

const DOCKER_CONTAINER = "docker-container";

/** A builder of this machine's buildx store as `docker buildx ls --format json` lists it: what the node-sharing check reads. */
export interface ListedBuilder {
    /** The builder's name. */
    name: string;
    /** The buildx driver; empty for a builder buildx could not read. */
    driver: string;
    /** The names of its nodes, in order. */
    nodes: string[];
}

// The oracle of which builder owns a node's container: the buildx store, which lists every
// builder's nodes whether or not their containers exist yet. The container itself carries
// no label naming its builder.
const LS_ARGV = ["buildx", "ls", "--format", "json"];

/**
 * Parses what `docker buildx ls --format json` prints (buildx 0.13): one builder a line,
 * buildx 0.13.1 printing each once per node and once more. Never quotes the output: it
 * holds driver option values.
 */
export function parseBuilderList(text: string): ListedBuilder[] {
    const builders = new Map<string, ListedBuilder>();
    text.split(/\r?\n/).forEach((line, i) => {
        if (line.trim() === "") {
            return;
        }
        let entry: { Name?: unknown; Driver?: unknown; Nodes?: { Name?: unknown }[] };
        try {
            entry = JSON.parse(line);
        } catch {
            throw new Error(`cannot read the output of \`docker buildx ls --format json\`: line ${i + 1} is not JSON`);
        }
        if (typeof entry?.Name !== "string") {
            throw new Error(`cannot read the output of \`docker buildx ls --format json\`: line ${i + 1} names no builder`);
        }
        const nodes = (Array.isArray(entry.Nodes) ? entry.Nodes : []).map((n) => n?.Name).filter((n): n is string => typeof n === "string" && n !== "");
        builders.set(entry.Name, { name: entry.Name, driver: typeof entry.Driver === "string" ? entry.Driver : "", nodes });
    });
    return [...builders.values()];
}

async function listBuilders(run: DockerRunner): Promise<ListedBuilder[]> {
    return parseBuilderList((await run(LS_ARGV)).stdout);
}

/**
 * The other docker-container builders that list a node named `node`, besides `builder`.
 * By name alone: whether two endpoints reach one Docker engine cannot be told from how
 * they are spelt (`unix:///var/run/docker.sock` and `unix:///run/docker.sock` may be one).
 */
export function otherBuildersOfNode(node: string, builder: string, listed: ListedBuilder[]): string[] {
    return listed.filter((b) => b.name !== builder && b.driver === DOCKER_CONTAINER && b.nodes.includes(node)).map((b) => b.name);
}

/** One node of a spec that another builder of this machine already lists. */
export interface SharedNode {
    /** The node's index in the spec. */
    index: number;
    /** The node's name. */
    name: string;
    /** The other builders that list a node of that name. */
    builders: string[];
}

/** The nodes of a docker-container spec whose container another builder of `listed` would share. */
export function sharedNodes(spec: BuilderSpec, listed: ListedBuilder[]): SharedNode[] {
    if (spec.driver !== DOCKER_CONTAINER) {
        return [];
    }
    return spec.nodes
        .map((node, index) => ({ index, name: node.name, builders: otherBuildersOfNode(node.name, spec.name, listed) }))
        .filter((shared) => shared.builders.length > 0);
}

/** The error for a spec whose nodes would share another builder's BuildKit container. */
export function sharedNodesMessage(spec: BuilderSpec, shared: SharedNode[]): string {
    const lines = shared.map(({ index, name, builders }) => {
        const others = `${builders.length === 1 ? "the builder" : "the builders"} ${builders.map((b) => `"${b}"`).join(", ")}`;
        const defaultName = `${spec.name}${index}`;
        const leaveOut = name === defaultName ? "" : `, or leave its \`name\` out to get "${defaultName}"`;
        return `  - nodes[${index}] is named "${name}", and so is a node of ${others}: give nodes[${index}] a \`name\` no other builder uses${leaveOut}\n`;
    });
    return (
        `cannot create the buildx builder "${spec.name}": its nodes would share BuildKit containers with other builders on this machine:\n` +
        lines.join("") +
        "buildx names a docker-container node's BuildKit container after the node alone (`buildx_buildkit_<node>`), so two builders with a node of one name " +
        "would run on one container, and removing either would delete it and its build cache."
    );
}

async function refuseSharedNodes(spec: BuilderSpec, run: DockerRunner): Promise<void> {
    if (spec.driver !== DOCKER_CONTAINER) {
        return;
    }
    const shared = sharedNodes(spec, await listBuilders(run));
    if (shared.length > 0) {
        throw new Error(sharedNodesMessage(spec, shared));
    }
}

function imageOf(spec: BuilderSpec): string {
    return spec.nodes.map((n) => n.driverOptions.image).find((image) => image !== undefined) ?? DEFAULT_BUILDKIT_IMAGE;
}

async function bootstrap(spec: BuilderSpec, run: DockerRunner): Promise<void> {
    await run(inspectArgv(spec.name, true), { timeoutMs: TIMEOUTS.bootstrap, buildkitImage: imageOf(spec) });
}

/** A builder the provider made ready, and whether this call created it. */
export interface EnsuredBuilder extends InspectedBuilder {
    /**
     * True when this call ran `docker buildx create`; false when a matching builder
     * already existed and was adopted. Only a created builder is ever removed.
     */
    created: boolean;
}

// What `buildx create` says when the name was taken after `inspect` found none: the
// builder belongs to someone else, so a failed create must not remove it.
const NAME_TAKEN = /did you mean to append|existing instance/i;

/**
 * Creates the builder: the first node with `buildx create`, the others with
 * `--append`, then bootstraps it when asked. An existing builder that matches is
 * adopted (`created: false`); one that differs is an error that says how to resolve it.
 * When a later step fails, the builder is removed again only if this call created it,
 * so a retry starts clean and an adopted builder is left as it was.
 */
export async function createBuilder(spec: BuilderSpec, run: DockerRunner = runDocker): Promise<EnsuredBuilder> {
    const existing = await inspectBuilder(spec.name, run);
    if (existing) {
        const differences = builderDifferences(spec, existing);
        if (differences.length > 0) {
            throw new Error(conflictMessage(spec.name, differences));
        }
        if (spec.use) {
            await run(useArgv(spec.name));
        }
        if (spec.bootstrap) {
            await bootstrap(spec, run);
        }
        return { ...((await inspectBuilder(spec.name, run)) ?? existing), created: false };
    }
    if (spec.buildkitdConfig !== undefined && !fs.existsSync(spec.buildkitdConfig)) {
        throw new Error(
            `\`buildkitdConfig\` is ${JSON.stringify(spec.buildkitdConfig)}: no such file; expected the path of a buildkitd.toml on the machine running Pulumi`,
        );
    }
    await refuseSharedNodes(spec, run);
    const oneStep = spec.bootstrap && spec.nodes.length === 1;
    await run(createArgv(spec), oneStep ? { timeoutMs: TIMEOUTS.bootstrap, buildkitImage: imageOf(spec) } : undefined).catch(async (error) => {
        // A one-step create that fails to bootstrap leaves the builder it made.
        if (!(isDockerCliError(error) && NAME_TAKEN.test(error.stderr))) {
            await removeBuilder(spec.name, run).catch(() => undefined);
        }
        throw error;
    });
    try {
        for (const node of spec.nodes.slice(1)) {
            await run(appendArgv(spec, node));
        }
        if (spec.bootstrap && !oneStep) {
            await bootstrap(spec, run);
        }
        const created = await inspectBuilder(spec.name, run);
        if (!created) {
            throw new Error(`\`docker ${displayArgv(createArgv(spec)).join(" ")}\` succeeded but \`docker buildx inspect ${spec.name}\` finds no builder`);
        }
        return { ...created, created: true };
    } catch (error) {
        await removeBuilder(spec.name, run).catch(() => undefined);
        throw error;
    }
}

/**
 * Applies changes that need no new builder (`use`, and bootstrap when newly asked
 * for). A builder missing on this machine (state came from another machine: a fresh CI
 * runner, a colleague's laptop) is created as `news` declares it. One here that differs
 * from `news` (changed by hand, say) is removed and created as declared when this stack
 * created it, and is an error that says how to resolve it when it was adopted. Otherwise
 * `created` stays what state recorded.
 */
export async function updateBuilder(
    olds: BuilderSpec,
    news: BuilderSpec,
    created: boolean | undefined,
    run: DockerRunner = runDocker,
): Promise<EnsuredBuilder> {
    const existing = await inspectBuilder(news.name, run);
    if (!existing) {
        return createBuilder(news, run);
    }
    const differences = builderDifferences(news, existing);
    if (differences.length > 0) {
        if (created !== true) {
            throw new Error(conflictMessage(news.name, differences));
        }
        // Checked before the removal too, so a builder that cannot be created again is kept.
        await refuseSharedNodes(news, run);
        await removeBuilder(news.name, run);
        return createBuilder(news, run);
    }
    if (news.use && !olds.use) {
        await run(useArgv(news.name));
    }
    if (news.bootstrap && !olds.bootstrap) {
        await bootstrap(news, run);
    }
    const builder = await inspectBuilder(news.name, run);
    if (!builder) {
        throw new Error(`the buildx builder "${news.name}" disappeared while it was being updated; run \`pulumi up\` again to create it`);
    }
    return { ...builder, created: created === true };
}

/**
 * Removes the builder when `created` says this stack created it; an adopted builder,
 * and one recorded before ownership was (`created` undefined), is left alone, since it
 * may be another stack's or a person's. A builder that is already gone is fine.
 * Returns whether `docker buildx rm` ran.
 */
export async function releaseBuilder(name: string, created: boolean | undefined, run: DockerRunner = runDocker): Promise<boolean> {
    if (created !== true) {
        return false;
    }
    await removeBuilder(name, run);
    return true;
}

/**
 * Removes the builder with its nodes' BuildKit containers and state, except a node's
 * container that another builder of this machine lists too: that node leaves the builder
 * first (`create --leave`), or, when every node is shared, the builder goes with
 * `rm --keep-daemon`, which keeps every container. A builder that is already gone is fine.
 */
export async function removeBuilder(name: string, run: DockerRunner = runDocker): Promise<void> {
    const listed = await listBuilders(run);
    const own = listed.find((b) => b.name === name);
    const shared = own?.driver === DOCKER_CONTAINER ? own.nodes.filter((node) => otherBuildersOfNode(node, name, listed).length > 0) : [];
    const keepEveryContainer = own !== undefined && shared.length === own.nodes.length && shared.length > 0;
    try {
        if (!keepEveryContainer) {
            for (const node of shared) {
                await run(["buildx", "create", "--leave", "--name", name, "--node", node]);
            }
        }
        await run(keepEveryContainer ? ["buildx", "rm", "--keep-daemon", "--", name] : rmArgv(name));
    } catch (error) {
        if (!isNoSuchBuilder(error)) {
            throw error;
        }
    }
}

/** The inputs whose change needs a new builder (buildx cannot change a node in place). */
export const REPLACE_ON_CHANGE = ["name", "driver", "nodes", "buildkitdFlags", "buildkitdConfig"] as const;

/** The inputs whose change is applied in place. */
export const UPDATE_IN_PLACE = ["use", "bootstrap"] as const;

/** The outcome of comparing a builder's recorded inputs with new ones. */
export interface BuilderDiff {
    /** Whether anything changed. */
    changes: boolean;
    /** The inputs whose change needs a new builder. */
    replaces: string[];
    /** Remove the old builder before creating the new one (they would share a name). */
    deleteBeforeReplace: boolean;
}

/** What the diff found on this machine, besides the change of inputs. */
export interface BuilderHere {
    /** This machine has no builder of that name. */
    missingHere: boolean;
    /** How the builder of that name here differs from `news` (`builderDifferences`); empty when it matches or is missing. */
    differencesHere: string[];
}

/**
 * What the next `up` does on this machine: `diffBuilder`, and when that changes nothing
 * or only in place, an update if this machine has no builder of that name (the update
 * creates it) or has one that differs from `news` (the update creates it again as
 * declared, or fails saying why not). An update, not a replace, so the `name` output and
 * everything built with it stay as they are, and no replacement (or delete-before-replace
 * of dependents) is planned for a builder that only lives elsewhere.
 */
export async function diffOnThisMachine(olds: Partial<BuilderSpec>, news: BuilderSpec, run: DockerRunner = runDocker): Promise<BuilderDiff & BuilderHere> {
    const diff = diffBuilder(olds, news);
    // A spec still unknown in a preview reaches the host as a placeholder string.
    if (diff.replaces.length > 0 || typeof news?.name !== "string") {
        return { ...diff, missingHere: false, differencesHere: [] };
    }
    const existing = await inspectBuilder(news.name, run);
    const missingHere = existing === undefined;
    const differencesHere = existing ? builderDifferences(news, existing) : [];
    return { ...diff, changes: diff.changes || missingHere || differencesHere.length > 0, missingHere, differencesHere };
}

/** Decides what a change of inputs means: nothing, an in-place update, or a new builder. */
export function diffBuilder(olds: Partial<BuilderSpec>, news: BuilderSpec): BuilderDiff {
    const changed = (key: keyof BuilderSpec) => canonical(olds[key]) !== canonical(news[key]);
    const replaces = REPLACE_ON_CHANGE.filter(changed);
    const updates = UPDATE_IN_PLACE.filter(changed);
    return {
        changes: replaces.length > 0 || updates.length > 0,
        replaces: [...replaces],
        deleteBeforeReplace: replaces.length > 0 && olds.name === news.name,
    };
}
