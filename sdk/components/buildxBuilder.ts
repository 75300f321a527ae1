// BuildxBuilder: a buildx builder (`docker buildx create`) as a Pulumi resource. A
// dynamic provider runs the docker CLI, so no provider plugin is needed.
import * as pulumi from "@pulumi/pulumi";
import * as buildx from "../clients/buildx";
import * as docker from "../clients/docker";
import { InputProblems } from "../rules/errors";
import { isKnown, isWhollyKnown } from "../rules/inputs";
import { normalisePlatforms } from "../rules/platform";
import { BuilderInstanceArgs, BuildxBuilderInstance } from "./builderResource";

/** The buildx drivers docker-build can build with. */
export const BuilderDriver = {
    /** BuildKit in a container on a Docker engine. */
    DockerContainer: "docker-container",
    /** BuildKit in pods on a Kubernetes cluster. */
    Kubernetes: "kubernetes",
    /** A BuildKit daemon you run yourself, reached over TCP, SSH or a socket. */
    Remote: "remote",
} as const;

/** The buildx drivers docker-build can build with. */
export type BuilderDriver = (typeof BuilderDriver)[keyof typeof BuilderDriver];

/** One node of a builder: where BuildKit runs and which platforms it builds. */
export interface BuilderNodeArgs {
    /**
     * The node's name.
     *
     * A letter followed by lower-case letters, digits, `.`, `-` or `_`. Defaults to the
     * builder's name followed by the node's index (`multi-arch-builder0`), as buildx
     * names nodes. Equivalent to `docker buildx create --node`.
     */
    name?: string;
    /**
     * The docker context or endpoint the node runs on.
     *
     * A context name from `docker context ls`, a Docker host
     * (`unix:///var/run/docker.sock`, `ssh://user@arm-host`) or, for the `remote` driver,
     * a BuildKit address (`tcp://buildkitd:1234`). Required for `remote`; not accepted
     * for `kubernetes` (its cluster comes from `KUBECONFIG`). Two nodes may not share an
     * endpoint; it may not start with `-`. Defaults to the current docker context.
     * Equivalent to the endpoint argument of `docker buildx create`.
     */
    endpoint?: string;
    /**
     * The platforms this node builds.
     *
     * Builds for these platforms go to this node, which should build them natively (a
     * node on an arm64 host for `linux/arm64`). Each platform may belong to one node.
     * Defaults to none fixed: BuildKit reports what the node can build. Equivalent to
     * `docker buildx create --platform`.
     */
    platforms?: string[];
    /**
     * Driver options of this node, over the builder's `driverOptions`.
     *
     * As the builder's, they are on `docker buildx create`'s command line, which any
     * local user can read while it runs: keep credentials out of them (see the
     * builder's `driverOptions`). Defaults to none. Equivalent to
     * `docker buildx create --driver-opt key=value`.
     */
    driverOptions?: Record<string, string>;
}

/** The arguments of a BuildxBuilder. */
export interface BuildxBuilderArgs {
    /**
     * The builder's name, as docker-build and `docker buildx build --builder` refer to it.
     *
     * A letter followed by lower-case letters, digits, `.`, `-` or `_`; not `default`. A
     * builder of this name that already exists is adopted when it matches these
     * arguments and is an error otherwise. Defaults to the project, the resource name
     * and the stack made acceptable to buildx, then a hash of the three
     * (`<project>-<name>-<stack>-<8 hex digits>`, at most 49 characters), so two
     * projects never share a builder. Equivalent to `docker buildx create --name`.
     */
    name?: string;
    /**
     * The buildx driver.
     *
     * `docker` is not accepted: docker-build cannot build with the `docker` driver.
     * Defaults to `"docker-container"`. Equivalent to `docker buildx create --driver`.
     */
    driver?: BuilderDriver;
    /**
     * Driver options of every node.
     *
     * For example `{ image: "mirror.example.com/moby/buildkit:buildx-stable-1" }` where
     * Docker Hub is unreachable, or `{ network: "host" }`. Values may be secrets
     * (`"env.HTTPS_PROXY"`): no error shows a value other than `image`'s, and when this
     * is an Output the builder's `nodes` output is secret. But buildx takes driver
     * options only as arguments, so each value is on `docker buildx create`'s command
     * line, which any local user can read (`/proc/<pid>/cmdline`) while it runs. Keep
     * proxy credentials out of them: the Docker daemon's own proxy settings (`proxies`
     * in daemon.json, or `HTTPS_PROXY` in dockerd's environment) cover what the daemon
     * pulls, such as the BuildKit image; for the builder's own traffic use a proxy that
     * needs no credentials in its URL, or run BuildKit yourself with its environment
     * from a file and connect with the `remote` driver. Defaults to none. Equivalent to
     * `docker buildx create --driver-opt key=value`.
     */
    driverOptions?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * The platforms of a one-node builder.
     *
     * Only without `nodes`; with `nodes`, set each node's `platforms`. Defaults to none
     * fixed: BuildKit reports what the node can build (with QEMU, every emulated
     * platform). Equivalent to `docker buildx create --platform`.
     */
    platforms?: string[];
    /**
     * The builder's nodes.
     *
     * The first node creates the builder, each further node is appended, typically one
     * native node per platform (an amd64 host and an arm64 host) so no build runs under
     * emulation. Defaults to one node on the current docker context. Equivalent to
     * `docker buildx create` followed by `docker buildx create --append` per extra node.
     */
    nodes?: BuilderNodeArgs[];
    /**
     * Whether to start the builder's nodes once it is created.
     *
     * A `docker-container` node starts by pulling its BuildKit image
     * (`moby/buildkit:buildx-stable-1` unless `driverOptions.image` says otherwise).
     * Defaults to `true`. Equivalent to `docker buildx create --bootstrap`.
     */
    bootstrap?: boolean;
    /**
     * Flags for every node's BuildKit daemon.
     *
     * For example `"--allow-insecure-entitlement network.host"`. Defaults to none.
     * Equivalent to `docker buildx create --buildkitd-flags`.
     */
    buildkitdFlags?: pulumi.Input<string>;
    /**
     * The path of a `buildkitd.toml` for every node's BuildKit daemon.
     *
     * Read when the builder is created; a change of the file's contents alone does not
     * replace the builder, and an existing builder is adopted whatever its config
     * (buildx does not report it as given). Defaults to none. Equivalent to
     * `docker buildx create --buildkitd-config`.
     */
    buildkitdConfig?: pulumi.Input<string>;
    /**
     * Whether to make this the current builder of the docker CLI.
     *
     * Defaults to `false`: pass the builder's `name` to builds instead. Equivalent to
     * `docker buildx create --use`.
     */
    use?: boolean;
}

/** One node of a builder, as buildx reports it. */
export interface BuilderNode {
    /** The node's name. */
    name: string;
    /** The docker context or endpoint the node runs on. */
    endpoint: string;
    /** The platforms the node builds. */
    platforms: string[];
    /** The node's driver options. */
    driverOptions: Record<string, string>;
    /** The node's status: `running`, `inactive`, `stopped`, …, or `absent` after a refresh on a machine that lacks the builder. */
    status: string;
}

/**
 * A buildx builder, as `docker buildx create --name multi-arch-builder --driver
 * docker-container --bootstrap` makes it, with one or more nodes. Pass its `name` to
 * docker-build's `builder` (MultiArchImage does).
 */
export class BuildxBuilder extends pulumi.ComponentResource {
    /** The builder's name; known once the builder exists. */
    public readonly name: pulumi.Output<string>;
    /** The buildx driver. */
    public readonly driver: pulumi.Output<string>;
    /** Every platform the builder builds, as buildx reports them (all of them once bootstrapped). */
    public readonly platforms: pulumi.Output<string[]>;
    /** The builder's nodes, as buildx reports them. */
    public readonly nodes: pulumi.Output<BuilderNode[]>;

    constructor(name: string, args: BuildxBuilderArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("multiarch:index:BuildxBuilder", name, args, opts);
        const planned = builderSpec(name, args, pulumi.getStack(), pulumi.getProject());
        const instance = new BuildxBuilderInstance(`${name}-buildx`, planned, { parent: this, additionalSecretOutputs: secretOutputs(args) });
        this.name = instance.name;
        this.driver = instance.driver;
        this.platforms = instance.platforms;
        this.nodes = instance.nodes;
        this.registerOutputs({ name: this.name, driver: this.driver, platforms: this.platforms, nodes: this.nodes });
    }
}

// Driver option values may be secrets (`env.HTTPS_PROXY=http://user:pass@proxy:3128`):
// messages show the keys only.
function hideValues(options: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.keys(options).map((key) => [key, docker.HIDDEN]));
}

/**
 * The builder's outputs that must be secret because an input they carry may be: the
 * recorded `spec` holds every option, `nodes` the driver options as buildx reports them.
 * A plain value cannot be secret; an Output (or a Promise) may be, and whether it is is
 * known only later, so any Output makes them secret. The dynamic-provider host does not
 * accept secrets, so the engine marks an output secret only where an input of the same
 * key held one (`annotateSecrets` in pulumi's provider_plugin.go): that covers `spec`,
 * but `nodes` is no input.
 */
export function secretOutputs(args: BuildxBuilderArgs): string[] {
    const options = isWhollyKnown(args.driverOptions);
    const daemon = isWhollyKnown(args.buildkitdFlags) && isWhollyKnown(args.buildkitdConfig);
    return [...(options && daemon ? [] : ["spec"]), ...(options ? [] : ["nodes"])];
}

/** The builder's arguments that decide its nodes, checked: the plain part of its spec. */
interface CheckedBuilder {
    name: string;
    driver: string;
    /** Each node with its own driver options; the builder's are joined once they resolve. */
    nodes: buildx.NodeSpec[];
}

// Checks the arguments and applies the defaults, reporting every problem at once;
// `driverOptions` known only later are checked once they resolve. The name is plain,
// decided here from plain arguments, so it is known even while the spec is not.
function builderSpec(resourceName: string, args: BuildxBuilderArgs, stack: string, project: string): BuilderInstanceArgs {
    const problems = new InputProblems();
    const name = checkName(args.name ?? buildx.defaultBuilderName(resourceName, stack, project), args.name, problems);
    const driver = checkDriver(args.driver ?? BuilderDriver.DockerContainer, problems);
    const nodes = checkNodes(args, name, driver, problems);
    checkDaemon(args, problems);
    const checked = problems.valueOrThrow("BuildxBuilder", resourceName, { name, driver, nodes });
    return { name: checked.name, spec: resolveSpec(checked, args) };
}

function checkName(name: string, given: string | undefined, problems: InputProblems): string {
    const problem = buildx.nameProblem(name);
    if (problem) {
        problems.invalid("name", given, problem);
    }
    return name;
}

function checkDriver(driver: string, problems: InputProblems): string {
    const drivers: string[] = Object.values(BuilderDriver);
    const allowed = drivers.map((d) => `"${d}"`).join(", ");
    if (driver === "docker") {
        problems.invalid(
            "driver",
            driver,
            `docker-build cannot build with the \`docker\` driver; expected one of ${allowed} ("docker-container" runs BuildKit in a container on the same engine)`,
        );
    } else if (!drivers.includes(driver)) {
        problems.invalid("driver", driver, `expected one of ${allowed}`);
    }
    return driver;
}

/** What checking one node needs to know of the others: whose name, endpoint and platforms came first. */
interface NodeContext {
    builderName: string;
    driver: string;
    /** The argument path of node `i`'s fields: `nodes[i].`, or nothing for the one implicit node. */
    path: (i: number) => string;
    nodeNames: Map<string, number>;
    endpoints: Map<string, number>;
    platformOwner: Map<string, number>;
}

/** The nodes, `nodes` or one node of the builder-wide `platforms`, each checked against the ones before it. */
function checkNodes(args: BuildxBuilderArgs, builderName: string, driver: string, problems: InputProblems): buildx.NodeSpec[] {
    if (args.platforms !== undefined && args.nodes !== undefined) {
        problems.invalid("platforms", args.platforms, "expected no builder-wide platforms when `nodes` is given: set each node's `platforms` instead");
    }
    if (args.nodes !== undefined && (!Array.isArray(args.nodes) || args.nodes.length === 0)) {
        problems.invalid("nodes", args.nodes, "expected at least one node, or leave `nodes` out for one node on the current docker context");
    }
    const nodeArgs: BuilderNodeArgs[] = Array.isArray(args.nodes) && args.nodes.length > 0 ? args.nodes : [{ platforms: args.platforms }];
    const context: NodeContext = {
        builderName,
        driver,
        path: (i) => (args.nodes === undefined ? "" : `nodes[${i}].`),
        nodeNames: new Map(),
        endpoints: new Map(),
        platformOwner: new Map(),
    };
    return nodeArgs.map((node, i) => {
        const nodeName = checkNodeName(node, i, context, problems);
        checkEndpoint(node, i, context, problems);
        const platforms = checkNodePlatforms(node, i, context, problems);
        for (const problem of buildx.driverOptionProblems(node.driverOptions ?? {})) {
            problems.invalid(`nodes[${i}].driverOptions`, hideValues(node.driverOptions ?? {}), problem);
        }
        return { name: nodeName, endpoint: node.endpoint, platforms, driverOptions: node.driverOptions ?? {} };
    });
}

function checkNodeName(node: BuilderNodeArgs, i: number, context: NodeContext, problems: InputProblems): string {
    const nodeName = node.name ?? `${context.builderName}${i}`;
    if (node.name !== undefined) {
        const problem = buildx.nameProblem(node.name);
        if (problem) {
            problems.invalid(`nodes[${i}].name`, node.name, problem);
        }
    }
    const earlierName = context.nodeNames.get(nodeName);
    if (earlierName !== undefined) {
        problems.invalid(`nodes[${i}].name`, nodeName, `duplicates nodes[${earlierName}].name; give each node its own name`);
    }
    context.nodeNames.set(nodeName, i);
    return nodeName;
}

function checkEndpoint(node: BuilderNodeArgs, i: number, context: NodeContext, problems: InputProblems): void {
    const path = `${context.path(i)}endpoint`;
    if (node.endpoint !== undefined) {
        const problem = buildx.positionalProblem(node.endpoint);
        if (problem) {
            problems.invalid(path, node.endpoint, `${problem}; expected a docker context name or an endpoint such as "ssh://user@arm-host"`);
        }
    }
    if (context.driver === BuilderDriver.Remote && !node.endpoint) {
        problems.invalid(path, node.endpoint, 'the remote driver needs the BuildKit address of every node, e.g. "tcp://buildkitd.example.com:1234"');
    }
    if (context.driver === BuilderDriver.Kubernetes && node.endpoint !== undefined) {
        problems.invalid(
            path,
            node.endpoint,
            "expected no endpoint with the kubernetes driver: its cluster comes from KUBECONFIG and its namespace from `driverOptions.namespace`",
        );
    }
    if (context.driver !== BuilderDriver.Kubernetes) {
        const endpointKey = node.endpoint ?? "";
        const earlier = context.endpoints.get(endpointKey);
        if (earlier !== undefined) {
            problems.invalid(
                path,
                node.endpoint,
                `nodes[${earlier}] already runs on ${node.endpoint === undefined ? "the current docker context (no endpoint)" : "it"}; buildx refuses two nodes on one endpoint, so give each node its own`,
            );
        }
        context.endpoints.set(endpointKey, i);
    }
}

function checkNodePlatforms(node: BuilderNodeArgs, i: number, context: NodeContext, problems: InputProblems): string[] {
    if (node.platforms === undefined) {
        return [];
    }
    const path = context.path(i) === "" ? "platforms" : `nodes[${i}].platforms`;
    const normalised = normalisePlatforms(Array.isArray(node.platforms) ? node.platforms : []);
    for (const p of normalised.problems) {
        problems.invalid(p.index < 0 ? path : `${path}[${p.index}]`, p.value, p.reason);
    }
    for (const platform of normalised.platforms) {
        const owner = context.platformOwner.get(platform);
        if (owner !== undefined && owner !== i) {
            problems.invalid(
                path,
                node.platforms,
                `${platform} is also on nodes[${owner}]; each platform may belong to one node (buildx would silently take it from the earlier one)`,
            );
        }
        context.platformOwner.set(platform, i);
    }
    return normalised.platforms;
}

/** The builder-wide settings known now: driver options, the daemon's config, the two switches. */
function checkDaemon(args: BuildxBuilderArgs, problems: InputProblems): void {
    if (args.driverOptions !== undefined && isKnown(args.driverOptions)) {
        for (const problem of buildx.driverOptionProblems(args.driverOptions as Record<string, string>)) {
            problems.invalid("driverOptions", hideValues(args.driverOptions as Record<string, unknown>), problem);
        }
    }
    if (typeof args.buildkitdConfig === "string" && args.buildkitdConfig.trim() === "") {
        problems.invalid("buildkitdConfig", args.buildkitdConfig, "expected the path of a buildkitd.toml, or leave it out");
    }
    for (const flag of ["bootstrap", "use"] as const) {
        if (args[flag] !== undefined && typeof args[flag] !== "boolean") {
            problems.invalid(flag, args[flag], "expected true or false");
        }
    }
}

/** The spec once the builder-wide driver options and daemon settings resolve; driver options known only now are checked here. */
function resolveSpec(checked: CheckedBuilder, args: BuildxBuilderArgs): pulumi.Output<buildx.BuilderSpec> {
    return pulumi
        .all([pulumi.output(args.driverOptions ?? {}), pulumi.output(args.buildkitdFlags), pulumi.output(args.buildkitdConfig)])
        .apply(([shared, buildkitdFlags, buildkitdConfig]) => {
            const sharedProblems = buildx.driverOptionProblems(shared);
            if (sharedProblems.length > 0) {
                throw new pulumi.InputPropertyError({ propertyPath: "driverOptions", reason: `\`driverOptions\`: ${sharedProblems.join("; ")}` });
            }
            const spec: buildx.BuilderSpec = {
                name: checked.name,
                driver: checked.driver,
                nodes: checked.nodes.map((node) => ({
                    name: node.name,
                    ...(node.endpoint !== undefined ? { endpoint: node.endpoint } : {}),
                    platforms: node.platforms,
                    driverOptions: { ...shared, ...node.driverOptions },
                })),
                bootstrap: args.bootstrap ?? true,
                use: args.use ?? false,
            };
            if (buildkitdFlags !== undefined && buildkitdFlags !== "") {
                spec.buildkitdFlags = buildkitdFlags;
            }
            if (buildkitdConfig !== undefined && buildkitdConfig !== "") {
                spec.buildkitdConfig = buildkitdConfig;
            }
            return spec;
        });
}
