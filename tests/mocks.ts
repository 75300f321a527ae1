// One shared mock of the Pulumi engine for every unit test: it records each resource
// registration and each provider function call, and answers them with stable,
// realistic values (ECR URLs, sha256 digests) so tests can assert exact outputs.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";

/** A value as the engine carries it: arbitrary JSON that tests navigate by path. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- engine values have no static shape; tests index into them freely
type EngineValue = any;

/** A resource the program registered, as the engine saw it. */
export interface Registration {
    type: string;
    name: string;
    inputs: Record<string, EngineValue>;
    custom: boolean;
    /** The resource options the program sent with it. */
    options: RegisteredOptions;
    /** The URNs of the resources it depends on, as the engine received them (`dependsOn` and its inputs' resources). */
    dependencies: string[];
}

/** The resource options of one registration, as the engine received them. */
export interface RegisteredOptions {
    /** `retainOnDelete`, or undefined when the program left it unset (the engine then inherits the parent's). */
    retainOnDelete?: boolean;
    /** `protect`, or undefined when unset. */
    protect?: boolean;
    /** `deleteBeforeReplace`. */
    deleteBeforeReplace: boolean;
    /** `ignoreChanges`. */
    ignoreChanges: string[];
    /** `replaceOnChanges`. */
    replaceOnChanges: string[];
}

/** The RegisterResourceRequest accessors the options are read from (runtime/proto/resource_pb). */
interface RegisterResourceRequest {
    getType(): string;
    getName(): string;
    hasRetainondelete(): boolean;
    getRetainondelete(): boolean;
    hasProtect(): boolean;
    getProtect(): boolean;
    getDeletebeforereplace(): boolean;
    getIgnorechangesList(): string[];
    getReplaceonchangesList(): string[];
    getDependenciesList(): string[];
}

/** A provider function the program called (an "invoke"), as the engine saw it. */
export interface Invocation {
    token: string;
    inputs: Record<string, EngineValue>;
}

export const ACCOUNT = "123456789012";
export const REGION = "us-west-2";
export const REGISTRY = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
export const ECR_PASSWORD = "ecr-password-not-for-logs";
/** What ECR's GetAuthorizationToken also returns: base64 of "AWS:<password>". */
export const ECR_TOKEN = Buffer.from(`AWS:${ECR_PASSWORD}`).toString("base64");

/** What the mock's getInstanceType reports as each instance type's `supportedArchitectures`. */
export const INSTANCE_TYPE_ARCHITECTURES: Record<string, string[]> = {
    "t3.micro": ["x86_64"],
    "t3.small": ["x86_64"],
    "g5.xlarge": ["x86_64"],
    "t2.micro": ["i386", "x86_64"],
    "t4g.small": ["arm64"],
    "c7g.large": ["arm64"],
    "a1.medium": ["arm64"],
    "mac2.metal": ["arm64_mac"],
};
/** The default VPC and its subnets, as the mock's getVpc and getSubnets report them. */
export const DEFAULT_VPC_ID = "vpc-0default00000000";
export const DEFAULT_SUBNET_IDS = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"];

/** The fake AMI id the mock's getParameter gives an SSM parameter name. */
export function fakeAmiId(parameterName: string): string {
    return `ami-${crypto.createHash("sha256").update(parameterName).digest("hex").slice(0, 17)}`;
}

/** The fake sha256 digest the mock gives a resource of this name. */
export function fakeDigest(seed: string): string {
    return `sha256:${crypto.createHash("sha256").update(seed).digest("hex")}`;
}

type CallHandler = (inputs: Record<string, EngineValue>) => Record<string, EngineValue>;
type ResourceHandler = (args: pulumi.runtime.MockResourceArgs) => Record<string, EngineValue>;

const defaultCalls: Record<string, CallHandler> = {
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": (inputs) => ({
        authorizationToken: ECR_TOKEN,
        expiresAt: "2030-01-01T00:00:00Z",
        password: ECR_PASSWORD,
        proxyEndpoint: `https://${REGISTRY}`,
        registryId: inputs.registryId ?? ACCOUNT,
        userName: "AWS",
        id: REGION,
    }),
    "aws:index/getRegion:getRegion": () => ({ name: REGION, region: REGION, id: REGION }),
    "aws:index/getCallerIdentity:getCallerIdentity": () => ({ accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/test`, id: ACCOUNT, userId: "test" }),
    "aws:ec2/getInstanceType:getInstanceType": (inputs) => {
        const architectures = INSTANCE_TYPE_ARCHITECTURES[inputs.instanceType];
        if (architectures === undefined) {
            throw new Error(`InvalidInstanceType: ${inputs.instanceType} (not in the mock's INSTANCE_TYPE_ARCHITECTURES)`);
        }
        return { id: inputs.instanceType, instanceType: inputs.instanceType, supportedArchitectures: architectures };
    },
    "aws:ssm/getParameter:getParameter": (inputs) => {
        const value = fakeAmiId(inputs.name);
        return {
            id: inputs.name,
            name: inputs.name,
            arn: `arn:aws:ssm:${REGION}::parameter${inputs.name}`,
            type: "String",
            value,
            insecureValue: value,
            version: 1,
        };
    },
    // An existing repository as ECR describes it: AWS's default tag mutability, MUTABLE.
    "aws:ecr/getRepository:getRepository": (inputs) => {
        const registryId = inputs.registryId ?? ACCOUNT;
        const region = inputs.region ?? REGION;
        return {
            id: inputs.name,
            name: inputs.name,
            registryId,
            region,
            arn: `arn:aws:ecr:${region}:${registryId}:repository/${inputs.name}`,
            repositoryUrl: `${registryId}.dkr.ecr.${region}.amazonaws.com/${inputs.name}`,
            imageTagMutability: "MUTABLE",
            imageTagMutabilityExclusionFilters: [],
            encryptionConfigurations: [{ encryptionType: "AES256", kmsKey: "" }],
            imageScanningConfigurations: [{ scanOnPush: false }],
            mostRecentImageTags: [],
            tags: {},
        };
    },
    "aws:ec2/getVpc:getVpc": () => ({ id: DEFAULT_VPC_ID, default: true, cidrBlock: "172.31.0.0/16" }),
    "aws:ec2/getSubnets:getSubnets": () => ({ id: REGION, ids: DEFAULT_SUBNET_IDS }),
};

const defaultResources: Record<string, ResourceHandler> = {
    "aws:ecr/repository:Repository": ({ name, inputs }) => {
        const repoName = inputs.name ?? name;
        return {
            ...inputs,
            name: repoName,
            arn: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${repoName}`,
            registryId: ACCOUNT,
            repositoryUrl: `${REGISTRY}/${repoName}`,
        };
    },
    "aws:iam/role:Role": ({ name, inputs }) => ({ ...inputs, name: inputs.name ?? name, arn: `arn:aws:iam::${ACCOUNT}:role/${inputs.name ?? name}` }),
    "aws:iam/instanceProfile:InstanceProfile": ({ name, inputs }) => ({
        ...inputs,
        name: inputs.name ?? name,
        arn: `arn:aws:iam::${ACCOUNT}:instance-profile/${inputs.name ?? name}`,
    }),
    "aws:ssm/parameter:Parameter": ({ name, inputs }) => ({
        ...inputs,
        name: inputs.name ?? name,
        arn: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/${(inputs.name ?? name).replace(/^\//, "")}`,
        version: 1,
    }),
    "aws:ec2/launchTemplate:LaunchTemplate": ({ name, inputs }) => ({ ...inputs, name: inputs.name ?? name, latestVersion: 1, defaultVersion: 1 }),
    "aws:autoscaling/group:Group": ({ name, inputs }) => ({
        ...inputs,
        name: inputs.name ?? name,
        arn: `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:${name}`,
    }),
    "docker-build:index:Image": ({ name, inputs }) => {
        const digest = fakeDigest(name);
        const tag: string | undefined = inputs.tags?.[0];
        return { ...inputs, digest, ref: tag ? `${tag}@${digest}` : digest, contextHash: fakeDigest(`ctx-${name}`) };
    },
    // A preview pushes nothing and reports the bare tag as the ref (index.go Update sets
    // `Ref = Tag` and returns when DryRun); an update reports `<tag>@<digest>`.
    "docker-build:index:Index": ({ name, inputs }) => {
        const digest = fakeDigest(name);
        return { ...inputs, ref: pulumi.runtime.isDryRun() ? inputs.tag : `${inputs.tag}@${digest}` };
    },
    // A BuildxBuilder's dynamic resource answers as its provider's create would for a
    // builder that has not started: buildx reports only the fixed platforms.
    "pulumi-nodejs:dynamic:Resource": ({ inputs }) => {
        const spec = inputs.spec;
        if (!spec || !Array.isArray(spec.nodes)) {
            return { ...inputs };
        }
        const nodes = spec.nodes.map((node: EngineValue) => ({
            name: node.name,
            endpoint: node.endpoint ?? "unix:///var/run/docker.sock",
            platforms: node.platforms,
            driverOptions: node.driverOptions,
            status: "inactive",
        }));
        const platforms = [...new Set(nodes.flatMap((node: EngineValue) => node.platforms))];
        return { ...inputs, name: spec.name, driver: spec.driver, platforms, nodes };
    },
};

/** Every registration since the last `resetMocks`, in order. */
export const registrations: Registration[] = [];
/** Every invoke since the last `resetMocks`, in order. */
export const invocations: Invocation[] = [];

/** The options of each registration on its way to `newResource`, by type and name. */
const pendingOptions = new Map<string, RegisteredOptions>();
/** The dependencies of each registration on its way to `newResource`, by type and name. */
const pendingDependencies = new Map<string, string[]>();

let calls: Record<string, CallHandler> = { ...defaultCalls };
let resources: Record<string, ResourceHandler> = { ...defaultResources };

/** Options of one test's mock engine. */
export interface MockOptions {
    /** Run as `pulumi preview` (unknowns stay unknown). */
    dryRun?: boolean;
    /** Answers for provider functions, by token, over the defaults. */
    calls?: Record<string, CallHandler>;
    /** Outputs for resources, by type, over the defaults. */
    resources?: Record<string, ResourceHandler>;
}

/** Installs the mock engine afresh and forgets earlier registrations. */
export async function resetMocks(options: MockOptions = {}): Promise<void> {
    registrations.length = 0;
    invocations.length = 0;
    pendingOptions.clear();
    pendingDependencies.clear();
    calls = { ...defaultCalls, ...options.calls };
    resources = { ...defaultResources, ...options.resources };
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                const options = pendingOptions.get(`${args.type}::${args.name}`) ?? { deleteBeforeReplace: false, ignoreChanges: [], replaceOnChanges: [] };
                const dependencies = pendingDependencies.get(`${args.type}::${args.name}`) ?? [];
                registrations.push({ type: args.type, name: args.name, inputs: args.inputs, custom: args.custom ?? false, options, dependencies });
                const handler = resources[args.type];
                const state = handler ? handler(args) : { ...args.inputs };
                return { id: args.custom ? `${args.name}-id` : undefined, state };
            },
            call(args) {
                invocations.push({ token: args.token, inputs: args.inputs });
                const handler = calls[args.token];
                if (!handler) {
                    throw new Error(`no mock for provider function ${args.token}`);
                }
                return handler(args.inputs);
            },
        },
        "multiarch",
        "dev",
        options.dryRun ?? false,
    );
    // setMocks hands `newResource` no resource options; read them from the request.
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterResourceRequest, callback: unknown): unknown };
    const registerResource = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        pendingDependencies.set(`${req.getType()}::${req.getName()}`, req.getDependenciesList());
        pendingOptions.set(`${req.getType()}::${req.getName()}`, {
            retainOnDelete: req.hasRetainondelete() ? req.getRetainondelete() : undefined,
            protect: req.hasProtect() ? req.getProtect() : undefined,
            deleteBeforeReplace: req.getDeletebeforereplace(),
            ignoreChanges: req.getIgnorechangesList(),
            replaceOnChanges: req.getReplaceonchangesList(),
        });
        return registerResource(req, callback);
    };
}

/** The value of an output, once the mock engine has resolved it. */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/** Waits until every registration the program started has reached the mocks. */
export async function settle(...outputs: pulumi.Output<unknown>[]): Promise<void> {
    await Promise.all(outputs.map((o) => promiseOf(o)));
    await new Promise((resolve) => setImmediate(resolve));
}

/** The registrations of one resource type. */
export function registered(type: string): Registration[] {
    return registrations.filter((r) => r.type === type);
}

/** The one registration with this type and name; fails the test when there is not exactly one. */
export function theOne(type: string, name: string): Registration {
    const found = registrations.filter((r) => r.type === type && r.name === name);
    if (found.length !== 1) {
        const seen = registrations.map((r) => `${r.type} ${r.name}`).join("\n  ");
        throw new Error(`expected one ${type} named ${name}, found ${found.length}; registered:\n  ${seen}`);
    }
    return found[0];
}

/** The marker Pulumi wraps a secret value in when it reaches the engine. */
const SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

/** True when a registered input value was sent to the engine as a secret. */
export function isSecretInput(value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIGNATURE;
}

/** A registered input with every secret wrapper removed, for comparing values. */
export function reveal(value: EngineValue): EngineValue {
    if (isSecretInput(value)) {
        return reveal(value.value);
    }
    if (Array.isArray(value)) {
        return value.map(reveal);
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
    }
    return value;
}

/** Paths in a registered input where a secret appears outside a secret wrapper (in a key or a value). */
export function leaks(value: unknown, secret: string, where: string): string[] {
    if (isSecretInput(value)) {
        return [];
    }
    if (typeof value === "string") {
        return value.includes(secret) ? [where] : [];
    }
    if (Array.isArray(value)) {
        return value.flatMap((v, i) => leaks(v, secret, `${where}[${i}]`));
    }
    if (typeof value === "object" && value !== null) {
        return Object.entries(value).flatMap(([k, v]) => [...(k.includes(secret) ? [`${where} (key)`] : []), ...leaks(v, secret, `${where}.${k}`)]);
    }
    return [];
}
