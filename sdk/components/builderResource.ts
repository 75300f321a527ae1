// The dynamic resource behind BuildxBuilder: its provider (create, read, diff, update,
// delete through `clients/builderLifecycle.ts`) and the state it records.
import * as pulumi from "@pulumi/pulumi";
import type { BuilderNode } from "./buildxBuilder";
import * as buildx from "../clients/buildx";
import * as builderLifecycle from "../clients/builderLifecycle";

/** What the dynamic resource records: the spec it created from and what buildx reported. */
interface BuilderState {
    spec: buildx.BuilderSpec;
    name: string;
    driver: string;
    platforms: string[];
    nodes: BuilderNode[];
    /**
     * True when this stack ran `docker buildx create`, false when it adopted a builder
     * that already existed. Absent in state written before it was recorded: read as
     * adopted, so `destroy` never removes a builder this stack may not have made.
     */
    created?: boolean;
}

function stateOf(spec: buildx.BuilderSpec, builder: buildx.InspectedBuilder, created: boolean | undefined): BuilderState {
    return {
        spec,
        name: builder.name,
        driver: builder.driver,
        platforms: builder.platforms,
        nodes: builder.nodes.map((n) => ({ name: n.name, endpoint: n.endpoint, platforms: n.platforms, driverOptions: n.driverOptions, status: n.status })),
        ...(created === undefined ? {} : { created }),
    };
}

// Serialised into the program's state and run by the dynamic-provider host: it captures
// only the `buildx` module (serialised by value) and `stateOf`. The host
// (`@pulumi/pulumi/cmd/dynamic-provider`) is a Node process on the machine that runs
// `pulumi preview/up/refresh/destroy`; it loads this provider from the serialised text
// kept in the resource's inputs and state, so every call below sees that machine's
// docker CLI and buildx store. docker-build looks the builder up by name on that same
// machine (`host.go`: `builder.New(WithName(opts.Builder))`), which is why `diff` and
// `read` check for it here.
const builderProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { spec: buildx.BuilderSpec }) {
        const builder = await builderLifecycle.createBuilder(inputs.spec);
        return { id: builder.name, outs: stateOf(inputs.spec, builder, builder.created) };
    },
    // A builder missing here is not gone: it lives on the machine that made it, and the
    // next `up` here creates it (see `diff`). So a refresh keeps the resource, with its
    // nodes' status `absent`, instead of dropping it from state.
    async read(id: string, props: BuilderState) {
        const builder = await builderLifecycle.inspectBuilder(id);
        if (!builder) {
            return { id, props: { ...props, nodes: (props.nodes ?? []).map((n) => ({ ...n, status: "absent" })) } };
        }
        return { id, props: stateOf(props.spec, builder, props.created) };
    },
    // The host passes on `changes`, `replaces` and `deleteBeforeReplace` only (no
    // detailed diff), so a builder missing here shows in the plan as an update of this
    // resource, which `update` carries out by creating it.
    async diff(_id: string, olds: BuilderState, news: { spec: buildx.BuilderSpec }) {
        const { changes, replaces, deleteBeforeReplace } = await builderLifecycle.diffOnThisMachine(olds.spec, news.spec);
        return { changes, replaces, deleteBeforeReplace };
    },
    async update(_id: string, olds: BuilderState, news: { spec: buildx.BuilderSpec }) {
        const builder = await builderLifecycle.updateBuilder(olds.spec, news.spec, olds.created);
        return { outs: stateOf(news.spec, builder, builder.created) };
    },
    // Only a builder this stack created is removed; see `BuilderState.created`.
    async delete(id: string, props: BuilderState) {
        await builderLifecycle.releaseBuilder(id, props.created);
    },
};

/** The dynamic resource that runs `docker buildx create/inspect/rm`. */
export class BuildxBuilderInstance extends pulumi.dynamic.Resource {
    declare readonly name: pulumi.Output<string>;
    declare readonly driver: pulumi.Output<string>;
    declare readonly platforms: pulumi.Output<string[]>;
    declare readonly nodes: pulumi.Output<BuilderNode[]>;

    constructor(name: string, spec: pulumi.Input<buildx.BuilderSpec>, opts: pulumi.CustomResourceOptions) {
        // `name` and the rest stay outputs only, unknown until the builder exists, so
        // docker-build does not look for the builder during the first preview.
        super(builderProvider, name, { spec, name: undefined, driver: undefined, platforms: undefined, nodes: undefined }, opts);
    }
}
