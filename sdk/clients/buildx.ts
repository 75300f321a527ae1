// The docker buildx CLI's grammar: builder names, the argv of `buildx create`,
// `--append`, `inspect`, `rm`, `use` and `imagetools create`, and the parser of what
// `buildx inspect` prints.
//
// This module is serialised by value into the dynamic provider's closure, so it must
// stay self-contained: Node builtins only (required by name), no Pulumi imports.
import * as crypto from "crypto";
import { slug } from "../rules/names";

/** One node of a builder as the provider creates it (defaults already applied). */
export interface NodeSpec {
    /** The node's name (`--node`). */
    name: string;
    /** The docker context or endpoint the node runs on; the current context when undefined. */
    endpoint?: string;
    /** Platforms fixed for the node (`--platform`), canonical `os/arch`. */
    platforms: string[];
    /** Driver options of the node (`--driver-opt k=v`). */
    driverOptions: Record<string, string>;
}

/** A builder as the provider creates it (defaults already applied). */
export interface BuilderSpec {
    /** The builder's name (`--name`). */
    name: string;
    /** The buildx driver (`--driver`). */
    driver: string;
    /** The nodes: the first creates the builder, the rest are appended. */
    nodes: NodeSpec[];
    /** Flags for every node's buildkitd (`--buildkitd-flags`). */
    buildkitdFlags?: string;
    /** Path of a buildkitd.toml for every node (`--buildkitd-config`). */
    buildkitdConfig?: string;
    /** Start the builder's nodes once created (`--bootstrap`). */
    bootstrap: boolean;
    /** Make it the current builder (`--use`). */
    use: boolean;
}

/** One node of a builder as buildx reports it. */
export interface InspectedNode {
    /** The node's name. */
    name: string;
    /** The docker context or endpoint the node runs on. */
    endpoint: string;
    /** Every platform the node builds: fixed ones, plus detected ones once running. */
    platforms: string[];
    /** The platforms fixed with `--platform`. */
    fixedPlatforms: string[];
    /** The node's driver options. */
    driverOptions: Record<string, string>;
    /** The node's buildkitd flags, split as buildx splits them. */
    buildkitdFlags: string[];
    /** `running`, `inactive`, `stopped`, `error`, … */
    status: string;
    /** Why buildx could not reach the node (its daemon is down, say), when it could not. */
    error?: string;
}

/** A builder as buildx reports it. */
export interface InspectedBuilder {
    /** The builder's name. */
    name: string;
    /** The buildx driver. */
    driver: string;
    /** The builder's nodes, in order. */
    nodes: InspectedNode[];
    /** Every platform of every node, without duplicates. */
    platforms: string[];
}

/** What buildx accepts as a builder or node name (buildx `store.ValidateName`). */
export const BUILDX_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9._-]*$/;

/** Why a builder or node name is not acceptable to buildx, or undefined when it is. */
export function nameProblem(name: string): string | undefined {
    if (typeof name !== "string" || !BUILDX_NAME_PATTERN.test(name)) {
        return 'expected a letter followed by letters, digits, `.`, `-` or `_` (buildx\'s rule), e.g. "multi-arch-builder"';
    }
    if (name !== name.toLowerCase()) {
        return `expected lower case: buildx stores builder names in lower case, so use ${JSON.stringify(name.toLowerCase())}`;
    }
    if (name === "default") {
        return '"default" is reserved by buildx for the docker context\'s own builder; choose another name';
    }
    return undefined;
}

/** The longest readable part of a default builder name, before its hash. */
const DEFAULT_NAME_READABLE_MAX = 40;

/**
 * A builder name buildx accepts, made from the Pulumi project, resource name and stack:
 * `<project>-<resource>-<stack>` in lower case (runs of other characters turned into one
 * `-`, starting with a letter, at most 40 characters), then `-` and the first 8 hex
 * digits of the SHA-256 of the three exact names. The hash keeps two projects apart even
 * where the readable part is the same (project names may contain `-`, so `a-b` + `c` and
 * `a` + `b-c` read alike), and keeps the name at most 49 characters, so node names
 * (`<name>0`) stay within Kubernetes' 63-character limit for the kubernetes driver.
 */
export function defaultBuilderName(resourceName: string, stack: string, project: string): string {
    const readable = slug(`${project}-${resourceName}-${stack}`, "._")
        .replace(/^[^a-z]+/, "")
        .slice(0, DEFAULT_NAME_READABLE_MAX)
        .replace(/[-._]+$/, "");
    const hash = crypto
        .createHash("sha256")
        .update(JSON.stringify([project, resourceName, stack]))
        .digest("hex")
        .slice(0, 8);
    return `${readable || "builder"}-${hash}`;
}

/**
 * Why a value the docker CLI takes as a positional argument (an endpoint, a builder
 * name, an image reference) is not acceptable, or undefined when it is: one that starts
 * with `-` would be read as a flag.
 */
export function positionalProblem(value: string): string | undefined {
    if (typeof value !== "string" || value.trim() === "") {
        return "expected a non-empty value";
    }
    if (value.startsWith("-")) {
        return "expected a value that does not start with `-`: the docker CLI would read it as a flag";
    }
    return undefined;
}

/**
 * Problems with driver options: buildx splits each `k=v` at the first `=`, and no
 * program can be given a NUL byte (a value with one is named by its key, never shown).
 */
export function driverOptionProblems(options: Record<string, string>): string[] {
    const keys = Object.keys(options)
        .filter((key) => key === "" || /[=,"\s\0]/.test(key))
        .map(
            (key) =>
                `key ${JSON.stringify(key)} is not usable: expected a non-empty key without \`=\`, \`,\`, quotes, spaces or NUL bytes, e.g. "image" or "network"`,
        );
    const values = Object.entries(options)
        .filter(([, value]) => typeof value === "string" && value.includes("\0"))
        .map(([key]) => `the value of key ${JSON.stringify(key)} contains a NUL byte, which no program can be given (the value is not shown): remove it`);
    return [...keys, ...values];
}

/**
 * The `--driver-opt` arguments of a node, sorted by key, CSV-quoted as buildx parses them.
 * They are on `docker buildx create`'s argv, which any local user can read in
 * `/proc/<pid>/cmdline` while it runs: buildx takes driver options no other way.
 */
function driverOptArgs(options: Record<string, string>): string[] {
    return Object.keys(options)
        .sort()
        .flatMap((key) => {
            const pair = `${key}=${options[key]}`;
            return ["--driver-opt", /[,"\n]/.test(pair) ? `"${pair.replace(/"/g, '""')}"` : pair];
        });
}

/** The flags a node shares with every other node of the builder. */
// `--buildkitd-config` is buildx 0.13's name; `--config` is its hidden older alias.
function daemonArgs(spec: BuilderSpec): string[] {
    return [
        ...(spec.buildkitdFlags ? ["--buildkitd-flags", spec.buildkitdFlags] : []),
        ...(spec.buildkitdConfig ? ["--buildkitd-config", spec.buildkitdConfig] : []),
    ];
}

function nodeArgs(node: NodeSpec): string[] {
    return ["--node", node.name, ...(node.platforms.length > 0 ? ["--platform", node.platforms.join(",")] : []), ...driverOptArgs(node.driverOptions)];
}

/**
 * `docker buildx create` for the builder's first node. `--bootstrap` is added only for
 * a one-node builder: a builder with more nodes is bootstrapped once all are appended.
 */
export function createArgv(spec: BuilderSpec): string[] {
    const first = spec.nodes[0];
    return [
        "buildx",
        "create",
        "--name",
        spec.name,
        "--driver",
        spec.driver,
        ...nodeArgs(first),
        ...daemonArgs(spec),
        ...(spec.bootstrap && spec.nodes.length === 1 ? ["--bootstrap"] : []),
        ...(spec.use ? ["--use"] : []),
        ...(first.endpoint ? ["--", first.endpoint] : []),
    ];
}

/** `docker buildx create --append` adding one more node to the builder. */
export function appendArgv(spec: BuilderSpec, node: NodeSpec): string[] {
    return ["buildx", "create", "--append", "--name", spec.name, ...nodeArgs(node), ...daemonArgs(spec), ...(node.endpoint ? ["--", node.endpoint] : [])];
}

// Every positional argument follows `--`, so no value is ever read as a flag (buildx
// 0.13.1's create, inspect, rm, use and imagetools create all accept it).

/** `docker buildx inspect [--bootstrap] -- NAME`: `--bootstrap` starts the builder's nodes first. */
export function inspectArgv(name: string, bootstrap = false): string[] {
    return ["buildx", "inspect", ...(bootstrap ? ["--bootstrap"] : []), "--", name];
}

/** `docker buildx rm -- NAME`. */
export function rmArgv(name: string): string[] {
    return ["buildx", "rm", "--", name];
}

/** `docker buildx use -- NAME`. */
export function useArgv(name: string): string[] {
    return ["buildx", "use", "--", name];
}

/** `docker buildx imagetools create --tag TAG -- SOURCE...`: joins the sources under one tag. */
export function imagetoolsCreateArgv(tag: string, sources: string[]): string[] {
    return ["buildx", "imagetools", "create", "--tag", tag, "--", ...sources];
}

/** Splits buildkitd flags the way buildx does (shell words, quotes and backslashes). */
export function splitFlags(flags: string): string[] {
    const words: string[] = [];
    let word: string | undefined;
    let quote: string | undefined;
    for (let i = 0; i < flags.length; i++) {
        const c = flags[i];
        if (quote) {
            if (c === quote) {
                quote = undefined;
            } else if (c === "\\" && quote === '"' && i + 1 < flags.length) {
                word = (word ?? "") + flags[++i];
            } else {
                word = (word ?? "") + c;
            }
        } else if (c === '"' || c === "'") {
            quote = c;
            word = word ?? "";
        } else if (c === "\\" && i + 1 < flags.length) {
            word = (word ?? "") + flags[++i];
        } else if (/\s/.test(c)) {
            if (word !== undefined) {
                words.push(word);
            }
            word = undefined;
        } else {
            word = (word ?? "") + c;
        }
    }
    if (word !== undefined) {
        words.push(word);
    }
    return words;
}

/** Parses Go `%q`-quoted `key="value"` pairs, as buildx prints driver options. */
function parseQuotedPairs(text: string): Record<string, string> {
    const pairs: Record<string, string> = {};
    for (const match of text.matchAll(/([^\s=]+)="((?:[^"\\]|\\.)*)"/g)) {
        pairs[match[1]] = JSON.parse(`"${match[2]}"`);
    }
    return pairs;
}

/** Splits a buildx platform list (`linux/amd64*, linux/386`) into platforms and the fixed ones (`*`). */
function parsePlatformList(text: string): { platforms: string[]; fixed: string[] } {
    const entries = text
        .split(",")
        .map((p) => p.trim())
        .filter((p) => p !== "");
    return {
        platforms: entries.map((p) => p.replace(/\*$/, "")),
        fixed: entries.filter((p) => p.endsWith("*")).map((p) => p.replace(/\*$/, "")),
    };
}

/**
 * Parses the text `docker buildx inspect NAME` prints (buildx 0.13). Platforms marked
 * `*` are the node's fixed ones; a node that never ran lists only those.
 */
export function parseInspect(text: string): InspectedBuilder {
    let builderName = "";
    let driver = "";
    const nodes: InspectedNode[] = [];
    let inNodes = false;
    for (const line of text.split(/\r?\n/)) {
        // Indented lines belong to GC policy and label blocks, which the provider ignores.
        const match = /^([A-Za-z][A-Za-z ]*):\s*(.*)$/.exec(line);
        if (!match) {
            continue;
        }
        const [, key, value] = match;
        if (key === "Nodes") {
            inNodes = true;
            continue;
        }
        if (!inNodes) {
            if (key === "Name") builderName = value.trim();
            if (key === "Driver") driver = value.trim();
            continue;
        }
        if (key === "Name") {
            nodes.push({ name: value.trim(), endpoint: "", platforms: [], fixedPlatforms: [], driverOptions: {}, buildkitdFlags: [], status: "" });
            continue;
        }
        const node = nodes[nodes.length - 1];
        if (!node) {
            continue;
        }
        switch (key) {
            case "Endpoint":
                node.endpoint = value.trim();
                break;
            case "Status":
                node.status = value.trim();
                break;
            // buildx prints `Error:` instead of `Status:` for a node it cannot reach.
            case "Error":
                node.status = "error";
                node.error = value.trim();
                break;
            case "Driver Options":
                node.driverOptions = parseQuotedPairs(value);
                break;
            case "Flags":
            case "BuildKit daemon flags":
                node.buildkitdFlags = splitFlags(value);
                break;
            case "Platforms": {
                const { platforms, fixed } = parsePlatformList(value);
                node.platforms = platforms;
                node.fixedPlatforms = fixed;
                break;
            }
        }
    }
    if (builderName === "") {
        throw new Error(`cannot read the output of \`docker buildx inspect\`: no "Name:" line in:\n${text}`);
    }
    return { name: builderName, driver, nodes, platforms: [...new Set(nodes.flatMap((n) => n.platforms))] };
}
