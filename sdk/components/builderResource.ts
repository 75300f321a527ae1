// The dynamic resource behind BuildxBuilder: its provider (create, read, diff, update,
// delete through `clients/builderLifecycle.ts`) and the state it records.
import * as pulumi from "@pulumi/pulumi";
import type { BuilderNode } from "./buildxBuilder";
import * as buildx from "../clients/buildx";
import * as builderLifecycle from "../clients/builderLifecycle";
import { holdsUnknown } from "../rules/unknownInputs";

/**
 * What BuildxBuilder gives its dynamic resource: the builder's name, decided from plain
 * arguments (so known in every preview), and its spec, which may wait for Outputs.
 */
export interface BuilderInstanceArgs {
    name: string;
    spec: pulumi.Input<buildx.BuilderSpec>;
}

/** The inputs as the provider receives them; `name` is absent from state written before it was an input. */
interface BuilderInputs {
    name?: string;
    spec: buildx.BuilderSpec;
}

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
// only the `buildx` module (serialised by value), `stateOf` and `holdsUnknown`. The host
// (`@pulumi/pulumi/cmd/dynamic-provider`) is a Node process on the machine that runs
// `pulumi preview/up/refresh/destroy`; it loads this provider from the serialised text
// kept in the resource's inputs and state, so every call below sees that machine's
// docker CLI and buildx store. docker-build looks the builder up by name on that same
// machine (`host.go`: `builder.New(WithName(opts.Builder))`), which is why `diff` and
// `read` check for it here.
const builderProvider: pulumi.dynamic.ResourceProvider = {
    // The host does not support preview: it answers a preview's create or update with the
    // checked inputs as the outputs. A builder not created yet (no old inputs) leaves
    // `name` out of them, so the name stays unknown in the preview that creates it and
    // docker-build does not look for a builder that does not exist yet. Once it exists
    // the name stays in, so a preview that updates it (a machine that lacks the builder)
    // keeps `name`, and every image built with it, as they are.
    async check(olds: Partial<BuilderInputs>, news: BuilderInputs) {
        if (olds.spec !== undefined) {
            return { inputs: news };
        }
        const { name: _createdWithName, ...inputs } = news;
        return { inputs };
    },
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
    // detailed diff), so a builder missing here, or one here that differs from the
    // declaration (changed by hand), shows in the plan as an update of this resource.
    // `update` creates the missing one, makes this stack's own differing one again as
    // declared, and fails on an adopted one, saying what differs. `name` repeats
    // `spec.name`, which the spec's own diff compares; state without it is read by
    // `spec.name`.
    async diff(_id: string, olds: BuilderState, news: BuilderInputs) {
        // A spec still unknown in a preview (driver options or daemon settings from an
        // Output): an update, and a replace only when the known name already decides one.
        // Whether the unknown part replaces the builder shows in the `up` that knows it.
        if (holdsUnknown(news.spec)) {
            const renamed = news.name !== undefined && news.name !== (olds.name ?? olds.spec?.name);
            return { changes: true, replaces: renamed ? ["name"] : [], deleteBeforeReplace: false };
        }
        const { changes, replaces, deleteBeforeReplace } = await builderLifecycle.diffOnThisMachine(olds.spec, news.spec);
        return { changes, replaces, deleteBeforeReplace };
    },
    async update(_id: string, olds: BuilderState, news: BuilderInputs) {
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

    constructor(name: string, args: BuilderInstanceArgs, opts: pulumi.CustomResourceOptions) {
        // `name` is an input as well as an output: see the provider's `check` for when a
        // preview keeps it known. The rest stay outputs only.
        super(builderProvider, name, { spec: args.spec, name: args.name, driver: undefined, platforms: undefined, nodes: undefined }, opts);
    }
}
