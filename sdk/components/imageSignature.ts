// Image signatures as Pulumi resources: `ImageSignature` signs image digests with cosign
// during `pulumi up` (MultiArchImage's `signing`), `SignatureCheck` refuses a digest
// whose signature does not verify before anything runs it (VmDeployment's
// `requireSignature`). Both are dynamic resources over `signing.ts`, so no provider
// plugin is needed; cosign must be on the PATH of the machine that runs `pulumi up`.
import * as crypto from "crypto";
import * as fs from "fs";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { kmsKeyArnProblem } from "../rules/awsNames";
import { InputProblems } from "../rules/errors";
import { holdsUnknown } from "../rules/unknownInputs";
import * as signing from "../clients/cosign";
import { contentDigest, registryOf } from "../rules/imageReference";
import { parseRepositoryUrl } from "../rules/ecr";

/** How MultiArchImage signs what it builds. */
export interface ImageSigningArgs {
    /**
     * The ARN of an AWS KMS key that signs.
     *
     * An asymmetric key with usage SIGN_VERIFY (e.g. ECC_NIST_P256), by its key ARN
     * (`arn:aws:kms:<region>:<account>:key/<id>`) or an alias ARN (`…:alias/<name>`): the
     * alias picks the key that signs. A verifier names the key itself (`requireSignature`
     * refuses an alias). cosign reaches KMS with the AWS credentials of the process that
     * runs `pulumi up` (environment, `AWS_PROFILE`, instance role), which need `kms:Sign`
     * and `kms:GetPublicKey`. Give this or `privateKey`. Equivalent to
     * `cosign sign --key awskms:///<arn>`.
     */
    kmsKeyArn?: pulumi.Input<string>;
    /**
     * A cosign private key, the PEM text of `cosign.key` from `cosign generate-key-pair`.
     *
     * Kept as a secret: pass it with `config.requireSecret(...)`. It reaches cosign
     * through its environment, never its arguments or a file. Give this or `kmsKeyArn`.
     * Equivalent to `cosign sign --key cosign.key`.
     */
    privateKey?: pulumi.Input<string>;
    /**
     * The private key's password.
     *
     * Kept as a secret. Only with `privateKey`. Defaults to none (a key without a
     * password). Equivalent to `COSIGN_PASSWORD`.
     */
    password?: pulumi.Input<string>;
    /**
     * Whether to attach a signed provenance statement to each image too.
     *
     * An in-toto statement of what the program knows for certain about the build (the
     * context hash, the Dockerfile's digest, build arg names, target, platforms,
     * builder, each platform's digest), signed with the same key. Defaults to `false`.
     * Equivalent to `cosign attest --type <uri> --predicate <file>`.
     */
    provenance?: boolean;
}

/** The key a deployed image's signature must verify with. */
export interface SignatureRequirement {
    /**
     * A public key, PEM (`cosign.pub`, or a MultiArchImage's `signingPublicKey`).
     *
     * Give this or `kmsKeyArn`. Equivalent to `cosign verify --key cosign.pub`.
     */
    publicKey?: pulumi.Input<string>;
    /**
     * The ARN of the AWS KMS key that signs: a key ARN, `arn:aws:kms:<region>:<account>:key/<id>`.
     *
     * Not an alias: whoever may `kms:UpdateAlias` could point an alias at a key of their
     * own, whose signatures would then verify (refused before anything is created; an
     * output, when the check runs, before anything is verified or deployed). Its public
     * key is read from KMS with the credentials of the process that runs `pulumi up`
     * (`kms:GetPublicKey`). Give this or `publicKey`. Equivalent to
     * `cosign verify --key awskms:///<arn>`.
     */
    kmsKeyArn?: pulumi.Input<string>;
}

/** What the ImageSignature resource is given. */
interface SignatureInputs {
    refs: string[];
    kmsKeyArn?: string;
    privateKey?: string;
    password?: string;
    registries: signing.RegistryCredentials[];
    provenance?: signing.Provenance;
}

/** What it records: no key material, no credentials. */
interface SignatureState {
    refs: string[];
    keyId: string;
    publicKey: string;
    signatureTags: string[];
    provenanceType?: string;
    provenanceDigest?: string;
}

// Serialised into the program's state and run by the dynamic-provider host: it captures
// only the `signing` module (serialised by value), `signatureState` and `holdsUnknown`.
/** @internal The provider that signs, exported so tests run it against a real registry. */
export const signatureProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: SignatureInputs) {
        const outs = await signatureState(inputs);
        return {
            id: crypto
                .createHash("sha256")
                .update(`${outs.keyId}\n${outs.refs.join("\n")}`)
                .digest("hex")
                .slice(0, 32),
            outs,
        };
    },
    async read(id: string, props: SignatureState) {
        return { id, props };
    },
    async diff(_id: string, olds: SignatureState, news: SignatureInputs) {
        // In a preview that rebuilds an image its digest is unknown: `refs`, or one of
        // them, and the provenance over the digests arrive as the placeholder; so may a
        // KMS key created in the same program. Any of them unknown is an update: a
        // signature is never replaced, so the unknown part cannot change that outcome.
        // The registry credentials are not compared, so theirs cannot either.
        if ([news.refs, news.kmsKeyArn, news.privateKey, news.provenance].some(holdsUnknown)) {
            return { changes: true, replaces: [], deleteBeforeReplace: false };
        }
        const refs = [...new Set(news.refs.map(signing.digestRef))].sort();
        const changes =
            JSON.stringify([...(olds.refs ?? [])].sort()) !== JSON.stringify(refs) ||
            olds.keyId !== signing.keyIdOf(news) ||
            olds.provenanceDigest !== signing.provenanceDigest(news.provenance);
        return { changes, replaces: [], deleteBeforeReplace: false };
    },
    async update(_id: string, _olds: SignatureState, news: SignatureInputs) {
        return { outs: await signatureState(news) };
    },
    // Signatures stay with the images they sign: deleting this resource deletes nothing.
    async delete() {
        return;
    },
};

async function signatureState(inputs: SignatureInputs): Promise<SignatureState> {
    const key = { kmsKeyArn: inputs.kmsKeyArn || undefined, privateKey: inputs.privateKey || undefined, password: inputs.password };
    const result = await signing.signImages({ refs: inputs.refs, key, registries: inputs.registries, provenance: inputs.provenance });
    const refs = [...new Set(inputs.refs.map(signing.digestRef))];
    return {
        refs,
        keyId: signing.keyIdOf(inputs),
        publicKey: result.publicKey,
        signatureTags: refs.map(signing.signatureTag),
        ...(inputs.provenance ? { provenanceType: inputs.provenance.predicateType, provenanceDigest: signing.provenanceDigest(inputs.provenance) } : {}),
    };
}

/** The inputs of an ImageSignature. */
export interface ImageSignatureArgs {
    /** The images to sign, each by digest (`<repository>@sha256:…`, a tag before the digest is dropped). */
    refs: pulumi.Input<pulumi.Input<string>[]>;
    /** The key. */
    signing: ImageSigningArgs;
    /** Credentials of the registry the images are in. */
    registry?: pulumi.Input<{ address: pulumi.Input<string>; username: pulumi.Input<string>; password: pulumi.Input<string> }>;
    /** The provenance statement to attest on each image, when `signing.provenance`. */
    provenance?: pulumi.Input<signing.Provenance>;
}

/**
 * cosign signatures of image digests, made during `pulumi up` (`cosign sign
 * --tlog-upload=false`). A digest that already carries a signature by the key is left
 * alone, and an unchanged set of digests signs nothing. Deleting it deletes no signature.
 */
export class ImageSignature extends pulumi.dynamic.Resource {
    /** The images signed, `<repository>@sha256:…`. */
    declare readonly refs: pulumi.Output<string[]>;
    /** The public key of the signing key, PEM: give it to verifiers. */
    declare readonly publicKey: pulumi.Output<string>;
    /** The tags cosign wrote the signatures under, `sha256-<hex>.sig`. */
    declare readonly signatureTags: pulumi.Output<string[]>;

    constructor(name: string, args: ImageSignatureArgs, opts?: pulumi.CustomResourceOptions) {
        const registry = args.registry === undefined ? undefined : pulumi.output(args.registry);
        super(
            signatureProvider,
            name,
            {
                refs: args.refs,
                kmsKeyArn: args.signing.kmsKeyArn,
                privateKey: args.signing.privateKey === undefined ? undefined : pulumi.secret(args.signing.privateKey),
                password: args.signing.password === undefined ? undefined : pulumi.secret(args.signing.password),
                registries:
                    registry === undefined ? [] : [{ address: registry.address, username: registry.username, password: pulumi.secret(registry.password) }],
                provenance: args.provenance,
                keyId: undefined,
                publicKey: undefined,
                signatureTags: undefined,
            },
            // keyId is a digest of the private key's (encrypted) text: no key material, kept secret all the same.
            { ...opts, additionalSecretOutputs: ["keyId"] },
        );
    }
}

/** Checks `signing` without ever showing a key or password. */
export function signingProblems(value: ImageSigningArgs | undefined, problems: InputProblems, path = "signing"): void {
    if (value === undefined) {
        return;
    }
    if (typeof value !== "object" || value === null) {
        problems.invalid(path, value, "expected { kmsKeyArn } or { privateKey, password }");
        return;
    }
    if ((value.kmsKeyArn === undefined) === (value.privateKey === undefined)) {
        problems.add(
            path,
            `\`${path}\` needs exactly one key: \`kmsKeyArn\` (an AWS KMS key that signs) or \`privateKey\` (a cosign private key, as a secret), ${value.kmsKeyArn === undefined ? "and has neither" : "not both"}`,
        );
    }
    const keyProblem = typeof value.kmsKeyArn === "string" ? kmsKeyArnProblem(value.kmsKeyArn, "signing") : undefined;
    if (keyProblem !== undefined) {
        problems.invalid(`${path}.kmsKeyArn`, value.kmsKeyArn, keyProblem);
    }
    if (typeof value.privateKey === "string" && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value.privateKey)) {
        problems.add(
            `${path}.privateKey`,
            `\`${path}.privateKey\` is not a PEM private key (its value is not shown): expected the text of the cosign.key that \`cosign generate-key-pair\` writes`,
        );
    }
    if (value.password !== undefined && value.kmsKeyArn !== undefined && value.privateKey === undefined) {
        problems.add(`${path}.password`, `\`${path}.password\` goes with \`privateKey\`: a KMS key has no password; leave it out`);
    }
    if (value.provenance !== undefined && typeof value.provenance !== "boolean") {
        problems.invalid(`${path}.provenance`, value.provenance, "expected true or false");
    }
}

/** Checks `requireSignature`. */
export function requirementProblems(value: SignatureRequirement | undefined, problems: InputProblems, path = "requireSignature"): void {
    if (value === undefined) {
        return;
    }
    if (typeof value !== "object" || value === null || (value.publicKey === undefined) === (value.kmsKeyArn === undefined)) {
        problems.add(
            path,
            `\`${path}\` needs exactly one key: \`publicKey\` (PEM, e.g. a MultiArchImage's \`signingPublicKey\`) or \`kmsKeyArn\` (the AWS KMS key that signs)`,
        );
        return;
    }
    const keyProblem = typeof value.kmsKeyArn === "string" ? kmsKeyArnProblem(value.kmsKeyArn, "verification") : undefined;
    if (keyProblem !== undefined) {
        problems.invalid(`${path}.kmsKeyArn`, value.kmsKeyArn, keyProblem);
    }
    if (typeof value.publicKey === "string") {
        try {
            crypto.createPublicKey(value.publicKey);
        } catch {
            problems.invalid(`${path}.publicKey`, value.publicKey, "expected a PEM public key, the text of the cosign.pub `cosign generate-key-pair` writes");
        }
    }
}

/** What MultiArchImage knows for certain about a build, as the provenance predicate. */
export interface BuildFacts {
    contextHash: string;
    dockerfile: string;
    buildArgNames: string[];
    target?: string;
    platforms: string[];
    builder: string;
    repositoryUrl: string;
    platformDigests: Record<string, string>;
    indexDigest: string;
}

/** The provenance predicate of a build: facts only, no values of build args, no secrets. */
export function provenancePredicate(facts: BuildFacts): Record<string, unknown> {
    let dockerfileDigest: string | undefined;
    try {
        dockerfileDigest = contentDigest(fs.readFileSync(facts.dockerfile));
    } catch {
        dockerfileDigest = undefined;
    }
    return {
        buildType: "multiarch:index:MultiArchImage",
        context: { hash: facts.contextHash },
        dockerfile: { path: facts.dockerfile, ...(dockerfileDigest ? { digest: dockerfileDigest } : {}) },
        buildArgNames: [...facts.buildArgNames].sort(),
        ...(facts.target ? { target: facts.target } : {}),
        platforms: facts.platforms,
        builder: facts.builder,
        repository: facts.repositoryUrl,
        platformDigests: facts.platformDigests,
        indexDigest: facts.indexDigest,
    };
}

/** What the SignatureCheck resource is given. */
interface CheckInputs {
    ref: string;
    publicKey?: string;
    kmsKeyArn?: string;
    registries: signing.RegistryCredentials[];
    context: string;
}

/** What it records. */
interface CheckState {
    ref: string;
    publicKey?: string;
    kmsKeyArn?: string;
    key: string;
}

async function checkState(inputs: CheckInputs): Promise<CheckState> {
    const key = { publicKey: inputs.publicKey || undefined, kmsKeyArn: inputs.kmsKeyArn || undefined };
    // A plain `requireSignature.kmsKeyArn` was refused before anything was created
    // (`requirementProblems`); an output one (an `aws.kms.Alias`'s `arn`, say) is known only
    // here, and an alias is not a key to trust whatever it points at today.
    const keyProblem = key.kmsKeyArn === undefined ? undefined : kmsKeyArnProblem(key.kmsKeyArn, "verification");
    if (keyProblem !== undefined) {
        throw new Error(`${inputs.context}: \`requireSignature.kmsKeyArn\` is ${JSON.stringify(key.kmsKeyArn)}: ${keyProblem}; nothing was verified`);
    }
    const outcome = await signing.verifySignature(inputs.ref, key, inputs.registries);
    if (!outcome.ok) {
        throw new Error(signing.verificationFailure(inputs.ref, key, outcome, inputs.context));
    }
    return {
        ref: signing.digestRef(inputs.ref),
        ...(key.publicKey ? { publicKey: key.publicKey } : { kmsKeyArn: key.kmsKeyArn }),
        key: signing.describeKey(key),
    };
}

/** @internal The provider that verifies, exported so tests run it against a real registry. */
export const checkProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: CheckInputs) {
        const outs = await checkState(inputs);
        return { id: outs.ref.split("@")[1], outs };
    },
    async read(id: string, props: CheckState) {
        return { id, props };
    },
    async diff(_id: string, olds: CheckState, news: CheckInputs) {
        // The digest to verify is unknown in a preview that rebuilds it, and a public key
        // that is another resource's output is unknown while that resource updates. Either
        // is an update: a check is never replaced, so the unknown part cannot change that
        // outcome; the registry credentials and the context are not compared.
        if ([news.ref, news.publicKey, news.kmsKeyArn].some(holdsUnknown)) {
            return { changes: true, replaces: [], deleteBeforeReplace: false };
        }
        const changes =
            olds.ref !== signing.digestRef(news.ref) || (olds.publicKey ?? "") !== (news.publicKey ?? "") || (olds.kmsKeyArn ?? "") !== (news.kmsKeyArn ?? "");
        return { changes, replaces: [], deleteBeforeReplace: false };
    },
    async update(_id: string, _olds: CheckState, news: CheckInputs) {
        return { outs: await checkState(news) };
    },
    async delete() {
        return;
    },
};

/** The inputs of a SignatureCheck. */
export interface SignatureCheckArgs {
    /** The image by digest. */
    ref: pulumi.Input<string>;
    /** The key its signature must verify with. */
    requirement: SignatureRequirement;
    /** Credentials of the registry the image is in. */
    registry?: pulumi.Input<{ address: pulumi.Input<string>; username: pulumi.Input<string>; password: pulumi.Input<string> }>;
    /** Credentials of the registries, as a list (kept secret whole); instead of `registry`, empty for anonymous access. */
    registries?: pulumi.Input<signing.RegistryCredentials[]>;
    /** Who asks, for messages: `VmDeployment "api"`. */
    context: string;
}

/**
 * A verified image signature: during `pulumi up` it runs `cosign verify` on the digest
 * and fails, naming the digest, the key and what to do, when no signature by the key
 * over that digest verifies. Resources that depend on it are not created or updated then.
 */
export class SignatureCheck extends pulumi.dynamic.Resource {
    /** The image verified, `<repository>@sha256:…`. */
    declare readonly ref: pulumi.Output<string>;
    /** The key it verified with, as messages name it. */
    declare readonly key: pulumi.Output<string>;

    constructor(name: string, args: SignatureCheckArgs, opts?: pulumi.CustomResourceOptions) {
        const registry = args.registry === undefined ? undefined : pulumi.output(args.registry);
        super(
            checkProvider,
            name,
            {
                ref: args.ref,
                publicKey: args.requirement.publicKey,
                kmsKeyArn: args.requirement.kmsKeyArn,
                registries:
                    args.registries !== undefined
                        ? pulumi.secret(args.registries)
                        : registry === undefined
                          ? []
                          : [{ address: registry.address, username: registry.username, password: pulumi.secret(registry.password) }],
                context: args.context,
                key: undefined,
            },
            opts,
        );
    }
}

/**
 * The check VmDeployment adds with `requireSignature`: verifies the ECR image it would
 * pin, with a registry token for that image's own registry and region.
 */
export function requireSignedImage(name: string, imageRef: pulumi.Output<string>, requirement: SignatureRequirement, parent: pulumi.Resource): SignatureCheck {
    const location = imageRef.apply((ref) => {
        const ecr = parseRepositoryUrl(ref.split("@")[0]);
        return { registry: registryOf(ref), registryId: ecr?.registryId, region: ecr?.region };
    });
    const token = aws.ecr.getAuthorizationTokenOutput({ registryId: location.registryId, region: location.region }, { parent });
    return new SignatureCheck(
        `${name}-signature-check`,
        {
            ref: imageRef,
            requirement,
            registry: { address: location.registry, username: token.userName, password: pulumi.secret(token.password) },
            context: `VmDeployment "${name}"`,
        },
        { parent },
    );
}
