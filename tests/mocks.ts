// One shared mock of the Pulumi engine for every unit test: it records each resource
// registration and each provider function call, and answers them with stable,
// realistic values (ECR URLs, sha256 digests) so tests can assert exact outputs.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";

/** A resource the program registered, as the engine saw it. */
export interface Registration {
    type: string;
    name: string;
    inputs: Record<string, any>;
    custom: boolean;
}

/** A provider function the program called (an "invoke"), as the engine saw it. */
export interface Invocation {
    token: string;
    inputs: Record<string, any>;
}

export const ACCOUNT = "123456789012";
export const REGION = "us-west-2";
export const REGISTRY = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
export const ECR_PASSWORD = "ecr-password-not-for-logs";

/** The fake sha256 digest the mock gives a resource of this name. */
export function fakeDigest(seed: string): string {
    return `sha256:${crypto.createHash("sha256").update(seed).digest("hex")}`;
}

type CallHandler = (inputs: Record<string, any>) => Record<string, any>;
type ResourceHandler = (args: pulumi.runtime.MockResourceArgs) => Record<string, any>;

const defaultCalls: Record<string, CallHandler> = {
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": (inputs) => ({
        authorizationToken: Buffer.from(`AWS:${ECR_PASSWORD}`).toString("base64"),
        expiresAt: "2030-01-01T00:00:00Z",
        password: ECR_PASSWORD,
        proxyEndpoint: `https://${REGISTRY}`,
        registryId: inputs.registryId ?? ACCOUNT,
        userName: "AWS",
        id: REGION,
    }),
    "aws:index/getRegion:getRegion": () => ({ name: REGION, region: REGION, id: REGION }),
    "aws:index/getCallerIdentity:getCallerIdentity": () => ({ accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/test`, id: ACCOUNT, userId: "test" }),
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
    "docker-build:index:Image": ({ name, inputs }) => {
        const digest = fakeDigest(name);
        const tag: string | undefined = inputs.tags?.[0];
        return { ...inputs, digest, ref: tag ? `${tag}@${digest}` : digest, contextHash: fakeDigest(`ctx-${name}`) };
    },
    "docker-build:index:Index": ({ name, inputs }) => {
        const digest = fakeDigest(name);
        return { ...inputs, ref: `${inputs.tag}@${digest}` };
    },
    // A BuildxBuilder's dynamic resource answers as its provider's create would for a
    // builder that has not started: buildx reports only the fixed platforms.
    "pulumi-nodejs:dynamic:Resource": ({ inputs }) => {
        const spec = inputs.spec;
        if (!spec || !Array.isArray(spec.nodes)) {
            return { ...inputs };
        }
        const nodes = spec.nodes.map((node: any) => ({
            name: node.name,
            endpoint: node.endpoint ?? "unix:///var/run/docker.sock",
            platforms: node.platforms,
            driverOptions: node.driverOptions,
            status: "inactive",
        }));
        const platforms = [...new Set(nodes.flatMap((node: any) => node.platforms))];
        return { ...inputs, name: spec.name, driver: spec.driver, platforms, nodes };
    },
};

/** Every registration since the last `resetMocks`, in order. */
export const registrations: Registration[] = [];
/** Every invoke since the last `resetMocks`, in order. */
export const invocations: Invocation[] = [];

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
    calls = { ...defaultCalls, ...options.calls };
    resources = { ...defaultResources, ...options.resources };
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                registrations.push({ type: args.type, name: args.name, inputs: args.inputs, custom: args.custom ?? false });
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
export function reveal(value: any): any {
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
