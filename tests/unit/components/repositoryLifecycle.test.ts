// The ECR repository an image component creates, across `pulumi destroy` and the next
// `pulumi up`. Without `forceDelete` the repository is `retainOnDelete`, so `destroy`
// leaves it under its fixed name and the next `up`'s CreateRepository fails
// (RepositoryAlreadyExistsException). `repository.adoptExisting` imports it by that name
// instead. What the engine then does with the `import` option is in pulumi v3.248.0:
//   - a brand-new stack: no old state, so `generateSteps` (step_generator.go) imports,
//     and `ImportStep.Apply` (step.go) fails an ID that does not exist ("resource '<id>'
//     does not exist"): why adopting cannot be the default;
//   - a stack whose state holds the repository: its ID (the name, terraform-provider-aws
//     `resourceRepositoryCreate` sets it) equals the import ID, so `generateSteps` does
//     not import and steps on as without the option;
//   - a stack after `destroy`: no old state, the repository exists, `ImportStep.Apply`
//     reads it and the step generator then updates it to the program's inputs.
// The program registers the same options in all three, so these tests pin the options.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { EcrRepositoryArgs, MultiArchImage } from "../../../sdk/components/multiArchImage";
import { createRepository } from "../../../sdk/components/repository";
import { mutableTagFilters } from "../../../sdk/rules/ecr";
import { ACCOUNT, REGION, REGISTRY, registered, resetMocks, settle } from "../../mocks";
import { fixture } from "../../paths";
import { errorOf } from "../../helpers";

const REPOSITORY = "aws:ecr/repository:Repository";
const LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy";
const PULL_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy";

/** What the engine was asked for one ECR registration: the ID to import and whether to retain it on delete. */
interface LifecycleOptions {
    import?: string;
    retainOnDelete?: boolean;
}

/** The import ID each registration sent (`MockResourceArgs.id`; tests/mocks.ts records the other options). */
const importIds = new Map<string, string>();

async function resetRecordingImports(): Promise<void> {
    importIds.clear();
    const recorded =
        (state: (inputs: Record<string, string>) => Record<string, string>) =>
        ({ type, name, id, inputs }: pulumi.runtime.MockResourceArgs) => {
            if (id) {
                importIds.set(`${type} ${name}`, id);
            }
            return state(inputs);
        };
    await resetMocks({
        resources: {
            [REPOSITORY]: recorded((inputs) => ({
                ...inputs,
                arn: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${inputs.name}`,
                registryId: ACCOUNT,
                repositoryUrl: `${REGISTRY}/${inputs.name}`,
            })),
            [LIFECYCLE]: recorded((inputs) => inputs),
            [PULL_POLICY]: recorded((inputs) => inputs),
        },
    });
}

/** The import ID and `retainOnDelete` of each ECR registration, by type and name. */
function lifecycleOptions(): Record<string, LifecycleOptions> {
    return Object.fromEntries(
        [REPOSITORY, LIFECYCLE, PULL_POLICY].flatMap((type) =>
            registered(type).map((r) => {
                const key = `${type} ${r.name}`;
                return [key, { import: importIds.get(key), retainOnDelete: r.options.retainOnDelete }];
            }),
        ),
    );
}

async function image(repository: EcrRepositoryArgs | undefined, pullPrincipals?: string[]): Promise<MultiArchImage> {
    const built = new MultiArchImage("api", { context: fixture("hello"), builderName: "shared", repository, pullPrincipals });
    await settle(built.repositoryUrl, built.indexRef);
    return built;
}

describe("the ECR repository across destroy and up", () => {
    beforeEach(() => resetRecordingImports());

    const cases: [what: string, repository: EcrRepositoryArgs | undefined, expected: Record<string, LifecycleOptions>][] = [
        [
            "retains the repository and its policies without importing anything by default",
            undefined,
            {
                [`${REPOSITORY} api-repo`]: { import: undefined, retainOnDelete: true },
                [`${LIFECYCLE} api-lifecycle`]: { import: undefined, retainOnDelete: true },
                [`${PULL_POLICY} api-pull-policy`]: { import: undefined, retainOnDelete: true },
            },
        ],
        [
            "imports the repository by its default name with adoptExisting, and still retains it",
            { adoptExisting: true },
            {
                [`${REPOSITORY} api-repo`]: { import: "multiarch/dev/api", retainOnDelete: true },
                [`${LIFECYCLE} api-lifecycle`]: { import: undefined, retainOnDelete: true },
                [`${PULL_POLICY} api-pull-policy`]: { import: undefined, retainOnDelete: true },
            },
        ],
        [
            "imports the repository by the name given",
            { adoptExisting: true, name: "team/api" },
            {
                [`${REPOSITORY} api-repo`]: { import: "team/api", retainOnDelete: true },
                [`${LIFECYCLE} api-lifecycle`]: { import: undefined, retainOnDelete: true },
                [`${PULL_POLICY} api-pull-policy`]: { import: undefined, retainOnDelete: true },
            },
        ],
        [
            "imports nothing and leaves retainOnDelete unset with forceDelete",
            { forceDelete: true },
            {
                [`${REPOSITORY} api-repo`]: { import: undefined, retainOnDelete: undefined },
                [`${LIFECYCLE} api-lifecycle`]: { import: undefined, retainOnDelete: undefined },
                [`${PULL_POLICY} api-pull-policy`]: { import: undefined, retainOnDelete: undefined },
            },
        ],
        [
            "imports the repository with adoptExisting and forceDelete, retaining nothing",
            { adoptExisting: true, forceDelete: true },
            {
                [`${REPOSITORY} api-repo`]: { import: "multiarch/dev/api", retainOnDelete: undefined },
                [`${LIFECYCLE} api-lifecycle`]: { import: undefined, retainOnDelete: undefined },
                [`${PULL_POLICY} api-pull-policy`]: { import: undefined, retainOnDelete: undefined },
            },
        ],
    ];
    for (const [what, repository, expected] of cases) {
        it(what, async () => {
            await image(repository, ["210987654321"]);
            assert.deepStrictEqual(lifecycleOptions(), expected);
        });
    }

    it("adopts a repository the same way through createRepository, which PromotedImage creates its own with", async () => {
        const parent = new pulumi.ComponentResource("multiarch:index:PromotedImage", "prod");
        const created = createRepository("prod", { adoptExisting: true }, mutableTagFilters("prod"), parent);
        await settle(created.url);
        assert.deepStrictEqual(lifecycleOptions(), {
            [`${REPOSITORY} prod-repo`]: { import: "multiarch/dev/prod", retainOnDelete: true },
            [`${LIFECYCLE} prod-lifecycle`]: { import: undefined, retainOnDelete: true },
        });
    });

    it("fails when adoptExisting is not a boolean, before any child exists", () => {
        const error = errorOf(
            () => new MultiArchImage("bad", { context: fixture("hello"), builderName: "shared", repository: { adoptExisting: "yes" as unknown as boolean } }),
        );
        assert.ok(pulumi.InputPropertiesError.isInstance(error), `expected InputPropertiesError, got ${error}`);
        assert.strictEqual(
            error.message,
            'MultiArchImage "bad" has 1 invalid argument problem:\n  - `repository.adoptExisting` is "yes": expected true or false',
        );
        assert.deepStrictEqual(registered(REPOSITORY), []);
    });
});
