// cosign as MultiArchImage's signing resource, VmDeployment's signature check and
// `multiarch preflight` drive it: sign image digests with an offline key (a cosign key
// pair or an AWS KMS key), attach a provenance statement, and verify before use.
//
// Secrets never reach argv, logs or messages: the private key and its password go to
// cosign through its environment (`--key env://COSIGN_PRIVATE_KEY`, `COSIGN_PASSWORD`),
// and registry credentials through a throwaway DOCKER_CONFIG (0700 directory, 0600 file)
// removed afterwards and on SIGINT, SIGTERM or exit meanwhile (`./dockerConfig`), so the
// user's own docker config is neither read nor written. A value with a NUL byte is
// refused, by name, before anything is written or run.
//
// Each image is a reference by digest (`digestRef`, the project's reference grammar) and
// follows `--`, so none is ever read as a flag: a ref `--output-signature=<path>@sha256:…`
// would otherwise make cosign write a file.
//
// Nothing goes to Sigstore's public services: signatures are not uploaded to the Rekor
// transparency log (`--tlog-upload=false`) and are verified without it
// (`--insecure-ignore-tlog=true`). What that gives up: no public, timestamped record
// that a signature existed, so a leaked key can sign images that verify (as with any
// offline key); revoke by rotating the key and re-signing.
//
// This module is serialised by value into a dynamic provider's closure, so it must stay
// self-contained: Node builtins and the project's own clients and rules, no Pulumi
// imports, no module-level Set or Map.
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { contentDigest, parseImageReference, splitTag } from "../rules/imageReference";
import { unpassableInput, withoutReceivedValue } from "./docker";
import { makeDockerConfig, makeTempDir, removeTempDir } from "./dockerConfig";

/** The key that signs: an AWS KMS key, or a cosign private key and its password. */
export interface SigningKey {
    /** An AWS KMS key (asymmetric, SIGN_VERIFY) by ARN, as `cosign --key awskms:///<arn>` uses it. */
    kmsKeyArn?: string;
    /** A cosign private key, the PEM text of the `cosign.key` `cosign generate-key-pair` writes. */
    privateKey?: string;
    /** The private key's password (`COSIGN_PASSWORD`); empty for a key without one. */
    password?: string;
}

/** The key a signature must verify with: a public key (PEM) or an AWS KMS key. */
export interface VerificationKey {
    /** A public key, PEM (`cosign.pub`). */
    publicKey?: string;
    /** An AWS KMS key by ARN; its public key is read from KMS (`kms:GetPublicKey`). */
    kmsKeyArn?: string;
}

/** Credentials for one registry, handed to cosign in a throwaway docker config. */
export interface RegistryCredentials {
    /** The registry host, e.g. `123456789012.dkr.ecr.us-west-2.amazonaws.com` or `127.0.0.1:5001`. */
    address: string;
    /** The user name; `AWS` for ECR. */
    username: string;
    /** The password; for ECR, the token `GetAuthorizationToken` returns. */
    password: string;
}

/** A provenance statement to attach to each signed image. */
export interface Provenance {
    /** The in-toto predicate type, a URI. */
    predicateType: string;
    /** The predicate: what the deploying program knows for certain about the build. */
    predicate: Record<string, unknown>;
}

/** What to sign. */
export interface SignRequest {
    /** The images, each by digest: `<repository>@sha256:…` (a tag before the digest is dropped). */
    refs: string[];
    /** The key that signs. */
    key: SigningKey;
    /** Credentials of the registries the images are in; anonymous when none. */
    registries?: RegistryCredentials[];
    /** A provenance statement to attest on each image too. */
    provenance?: Provenance;
}

/** What a signing run did. */
export interface SignResult {
    /** The public key of the signing key, PEM: what verifiers need. */
    publicKey: string;
    /** The refs signed by this run. */
    signed: string[];
    /** The refs that already carried a signature by this key, left alone. */
    alreadySigned: string[];
    /** The refs given a provenance statement by this run. */
    attested: string[];
}

/** How one verification ended. */
export interface VerifyOutcome {
    /** True when a signature by the key over this very digest verifies. */
    ok: boolean;
    /** Why not, in words, when it does not: `unsigned`, `another key`, `another digest`, or cosign's own words. */
    reason?: string;
    /** The kind of failure, for callers that act on it. */
    kind?: "unsigned" | "wrong-key" | "wrong-digest" | "error";
}

/** The predicate type of the provenance statement MultiArchImage attaches. */
export const PROVENANCE_PREDICATE_TYPE = "https://github.com/multiarch/multiarch/blob/main/README.md#provenance-v1";

/** How long one cosign call may take. */
export const COSIGN_TIMEOUT_MS = 180_000;

/** What an AWS KMS key ARN looks like (a key or an alias). */
export const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+$/;

const INSTALL_COSIGN =
    "install cosign 2.x (Debian 13: `apt-get install cosign`; scripts/docker-stack.sh installs it; elsewhere the release binary from https://github.com/sigstore/cosign/releases)";

/**
 * What identifies a signing key in state without holding it: the KMS key's ARN, or a
 * SHA-256 of the private key's (password-encrypted) PEM text.
 */
export function keyIdOf(key: SigningKey): string {
    if (key.kmsKeyArn) {
        return `awskms:///${key.kmsKeyArn}`;
    }
    return `private-key-sha256:${crypto
        .createHash("sha256")
        .update(key.privateKey ?? "")
        .digest("hex")}`;
}

/** A digest of a provenance statement's type and predicate, to tell whether it changed. */
export function provenanceDigest(provenance: Provenance | undefined): string | undefined {
    if (provenance === undefined) {
        return undefined;
    }
    return contentDigest(`${provenance.predicateType}\n${canonicalJson(provenance.predicate)}`);
}

/**
 * `<repository>@sha256:…` from a ref that may carry a tag too (`repo:tag@sha256:…`),
 * checked by the reference grammar (`parseImageReference`): a reference, never a flag.
 * Throws an error that shows the ref and the expected form.
 */
export function digestRef(ref: string): string {
    const digest = parseImageReference(ref).digest;
    if (digest === undefined) {
        throw new Error(`${JSON.stringify(ref)} is not an image by digest: expected <repository>@sha256:<64 hex>`);
    }
    return `${splitTag(ref.slice(0, ref.indexOf("@"))).repository}@${digest}`;
}

/** The tag cosign stores a digest's signatures under: `sha256-<hex>.sig`. */
export function signatureTag(ref: string): string {
    return `${digestRef(ref).split("@")[1].replace(":", "-")}.sig`;
}

/** A public key's fingerprint, `SHA256:<hex of the DER SubjectPublicKeyInfo>`, as messages name the key. */
export function publicKeyFingerprint(publicKeyPem: string): string {
    const der = crypto.createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
    return `SHA256:${crypto.createHash("sha256").update(der).digest("hex")}`;
}

/** A key as messages name it: the KMS ARN, or the public key's fingerprint. */
export function describeKey(key: VerificationKey): string {
    if (key.kmsKeyArn) {
        return `the KMS key ${key.kmsKeyArn}`;
    }
    try {
        return `the public key ${publicKeyFingerprint(key.publicKey ?? "")}`;
    } catch {
        return "the given public key (not a readable PEM public key)";
    }
}

/** Problems with a signing key, without ever showing its value. */
export function signingKeyProblems(key: SigningKey): string[] {
    const problems: string[] = [];
    if (key.kmsKeyArn !== undefined && key.privateKey !== undefined) {
        problems.push("give either a KMS key ARN or a private key, not both");
    } else if (key.kmsKeyArn === undefined && key.privateKey === undefined) {
        problems.push("give a KMS key ARN (`awskms:///` key in AWS KMS) or a cosign private key");
    }
    if (key.kmsKeyArn !== undefined && !KMS_KEY_ARN_PATTERN.test(key.kmsKeyArn)) {
        problems.push(`the KMS key is ${JSON.stringify(key.kmsKeyArn)}: expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id> or …:alias/<name>`);
    }
    if (key.privateKey !== undefined && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.privateKey)) {
        problems.push("the private key is not a PEM private key (expected the text of the cosign.key that `cosign generate-key-pair` writes)");
    }
    if (key.password !== undefined && key.kmsKeyArn !== undefined) {
        problems.push("a password goes with a private key, not with a KMS key");
    }
    return problems;
}

/** The value of `--key` and the environment that carries the key material. */
function keyArgument(key: SigningKey | VerificationKey): { keyRef: string; env: Record<string, string> } {
    if (key.kmsKeyArn) {
        return { keyRef: `awskms:///${key.kmsKeyArn}`, env: {} };
    }
    if ("privateKey" in key && key.privateKey !== undefined) {
        return { keyRef: "env://COSIGN_PRIVATE_KEY", env: { COSIGN_PRIVATE_KEY: key.privateKey, COSIGN_PASSWORD: key.password ?? "" } };
    }
    if ("publicKey" in key && key.publicKey !== undefined) {
        return { keyRef: "env://COSIGN_PUBLIC_KEY", env: { COSIGN_PUBLIC_KEY: key.publicKey } };
    }
    throw new Error("no key given: expected a KMS key ARN, a private key or a public key");
}

/** Removes every secret value from text that came back from cosign. */
function scrub(text: string, secrets: string[]): string {
    let out = text;
    for (const secret of secrets.filter((s) => s.length >= 4)) {
        out = out.split(secret).join("[secret]");
    }
    return out;
}

/** What a cosign call printed. */
export interface CosignOutput {
    stdout: string;
    stderr: string;
    /** The exit code; 0 when it succeeded. */
    code: number;
}

/**
 * Runs cosign without a shell, with these extra environment variables and a throwaway
 * DOCKER_CONFIG. Resolves to what it printed and its exit code (secrets scrubbed);
 * rejects only when cosign cannot be started (a NUL byte in an argument or a variable,
 * named, never shown; cosign missing) or took too long.
 */
export async function runCosign(argv: string[], env: Record<string, string>, registries: RegistryCredentials[] = []): Promise<CosignOutput> {
    const unpassable = unpassableInput("cosign", argv, env);
    if (unpassable !== undefined) {
        throw new Error(unpassable);
    }
    const secrets = [
        ...Object.values(env),
        ...registries.map((r) => r.password),
        ...registries.map((r) => Buffer.from(`${r.username}:${r.password}`).toString("base64")),
    ];
    const childEnv: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) {
        if (value !== undefined && !/^(COSIGN_|DOCKER_CONFIG$|SIGSTORE_)/.test(name)) {
            childEnv[name] = value;
        }
    }
    const dockerConfig = makeDockerConfig(
        registries.map((r) => ({ registry: r.address, username: r.username, password: r.password })),
        "multiarch-cosign-",
    );
    try {
        Object.assign(childEnv, env, { DOCKER_CONFIG: dockerConfig, COSIGN_YES: "true" });
        return await execCosign(argv, childEnv, secrets);
    } finally {
        removeTempDir(dockerConfig);
    }
}

function execCosign(argv: string[], env: Record<string, string>, secrets: string[]): Promise<CosignOutput> {
    const command = scrub(`\`cosign ${argv.join(" ")}\``, secrets);
    return new Promise<CosignOutput>((resolve, reject) => {
        const done = (error: Error | null, stdout: unknown, stderr: unknown) => {
            const out = { stdout: scrub(String(stdout), secrets), stderr: scrub(String(stderr), secrets) };
            if (!error) {
                resolve({ ...out, code: 0 });
                return;
            }
            const code = (error as NodeJS.ErrnoException).code;
            if (code === "ENOENT") {
                reject(new Error(`\`cosign ${argv[0]}\` failed: cosign was not found on PATH; ${INSTALL_COSIGN}`));
            } else if ((error as { killed?: boolean }).killed) {
                reject(
                    new Error(`${command} did not finish within ${COSIGN_TIMEOUT_MS / 1000}s and was stopped${out.stderr ? `:\n${out.stderr.trim()}` : ""}`),
                );
            } else if (typeof code === "number") {
                resolve({ ...out, code });
            } else {
                // Not an exit code: Node refused the call or its output (`maxBuffer`).
                resolve({ ...out, stderr: out.stderr || scrub(withoutReceivedValue(error.message), secrets), code: 1 });
            }
        };
        try {
            execFile("cosign", argv, { env, timeout: COSIGN_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, done);
        } catch (error) {
            reject(new Error(`cannot start ${command}: ${scrub(withoutReceivedValue((error as Error).message), secrets)}`));
        }
    });
}

/** cosign's own error line, without its warnings about the skipped transparency log. */
function cosignError(stderr: string): string {
    const lines = stderr
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "" && !l.startsWith("WARNING:") && !l.startsWith("error during command execution"));
    return lines.join("\n").replace(/^Error: /, "") || "cosign failed without a message";
}

/** The public key of a signing key, PEM (`cosign public-key`). */
export async function publicKeyOf(key: SigningKey): Promise<string> {
    const { keyRef, env } = keyArgument(key);
    const result = await runCosign(["public-key", "--key", keyRef], env);
    if (result.code !== 0) {
        const detail = cosignError(result.stderr);
        const hint = /decrypt/.test(detail)
            ? "the password does not open the private key (COSIGN_PASSWORD as given to `cosign generate-key-pair`)"
            : /pem/i.test(detail)
              ? "the private key is not a cosign private key (the cosign.key `cosign generate-key-pair` writes)"
              : key.kmsKeyArn
                ? "check that the KMS key exists, is asymmetric with usage SIGN_VERIFY, and that this process's AWS credentials allow kms:GetPublicKey and kms:Sign on it"
                : "";
        throw new Error(`cannot read the signing key${key.kmsKeyArn ? ` ${key.kmsKeyArn}` : ""}: ${detail}${hint ? `; ${hint}` : ""}`);
    }
    return result.stdout.trim() + "\n";
}

/** Classifies what `cosign verify` said when it refused. */
function classify(stderr: string): VerifyOutcome {
    const detail = cosignError(stderr);
    if (/no signatures found/i.test(detail)) {
        return { ok: false, kind: "unsigned", reason: "it has no signature at all" };
    }
    if (/invalid or missing digest in claim/i.test(detail)) {
        return {
            ok: false,
            kind: "wrong-digest",
            reason: `its signature was made over another digest (${detail}): it was copied from another image or tampered with`,
        };
    }
    if (/invalid signature|no matching signatures/i.test(detail)) {
        return {
            ok: false,
            kind: "wrong-key",
            reason: `no signature on it verifies with the key (${detail}): it was signed with another key, or its signature was altered`,
        };
    }
    return { ok: false, kind: "error", reason: detail };
}

/** Verifies that an image by digest carries a signature by the key over that digest (`cosign verify`). */
export async function verifySignature(ref: string, key: VerificationKey, registries: RegistryCredentials[] = []): Promise<VerifyOutcome> {
    const { keyRef, env } = keyArgument(key);
    const result = await runCosign(["verify", "--key", keyRef, "--insecure-ignore-tlog=true", "--output", "json", "--", digestRef(ref)], env, registries);
    return result.code === 0 ? { ok: true } : classify(result.stderr);
}

/**
 * The message when an image does not verify: the digest, the key, why, and what to do.
 * `context` says who asked (`VmDeployment "api"`).
 */
export function verificationFailure(ref: string, key: VerificationKey, outcome: VerifyOutcome, context: string): string {
    const image = digestRef(ref);
    const digest = image.split("@")[1];
    const fix =
        outcome.kind === "error"
            ? "check that the registry is reachable with these credentials and that the image exists"
            : `deploy a digest that MultiArchImage signed with this key (\`signing\`), or sign this one: \`cosign sign --key <key> --tlog-upload=false ${image}\`; if the key changed, give the new public key`;
    return `${context}: refusing ${digest} (${image}): it does not carry a valid signature by ${describeKey(key)}: ${outcome.reason}. To fix: ${fix}.`;
}

/** Verifies a provenance attestation of this type by the key, returning each statement's predicate. */
async function attestedPredicates(ref: string, key: VerificationKey, predicateType: string, registries: RegistryCredentials[]): Promise<unknown[]> {
    const { keyRef, env } = keyArgument(key);
    const result = await runCosign(
        ["verify-attestation", "--key", keyRef, "--insecure-ignore-tlog=true", "--type", predicateType, "--", digestRef(ref)],
        env,
        registries,
    );
    if (result.code !== 0) {
        return [];
    }
    return result.stdout
        .split("\n")
        .filter((line) => line.trim().startsWith("{"))
        .map((line) => {
            try {
                return JSON.parse(Buffer.from(JSON.parse(line).payload, "base64").toString("utf8")).predicate;
            } catch {
                return undefined;
            }
        });
}

/** JSON with sorted keys, so two equal predicates compare equal. */
function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) {
        return `[${value.map(canonicalJson).join(",")}]`;
    }
    if (value !== null && typeof value === "object") {
        return `{${Object.keys(value as object)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(value);
}

/**
 * Signs each image by digest (`cosign sign --tlog-upload=false`), skipping any that a
 * signature by this key already covers, so a second run writes nothing; then attests the
 * provenance statement (`cosign attest --replace`) where an equal one is not there yet.
 */
export async function signImages(request: SignRequest): Promise<SignResult> {
    const problems = signingKeyProblems(request.key);
    if (problems.length > 0) {
        throw new Error(`cannot sign: ${problems.join("; ")}`);
    }
    const refs = [...new Set(request.refs.map(digestRef))];
    const registries = request.registries ?? [];
    const publicKey = await publicKeyOf(request.key);
    const verifier: VerificationKey = { publicKey };
    const { keyRef, env } = keyArgument(request.key);
    // Verify first: a digest a signature by this key already covers is left alone.
    const verified = await Promise.all(refs.map(async (ref) => (await verifySignature(ref, verifier, registries)).ok));
    const alreadySigned = refs.filter((_, i) => verified[i]);
    const signed = refs.filter((_, i) => !verified[i]);
    if (signed.length > 0) {
        // One cosign call for all of them: the key is decrypted (scrypt) once, not per digest.
        const result = await runCosign(["sign", "--key", keyRef, "--tlog-upload=false", "--yes", "--", ...signed], env, registries);
        if (result.code !== 0) {
            throw new Error(`cannot sign ${signed.join(", ")}: ${cosignError(result.stderr)}`);
        }
    }
    const attested: string[] = [];
    const provenance = request.provenance;
    if (provenance) {
        const wanted = canonicalJson(provenance.predicate);
        await Promise.all(
            refs.map(async (ref) => {
                const existing = await attestedPredicates(ref, verifier, provenance.predicateType, registries);
                if (!existing.some((p) => canonicalJson(p) === wanted)) {
                    await attest(ref, keyRef, env, provenance, registries);
                    attested.push(ref);
                }
            }),
        );
    }
    const order = (list: string[]) => refs.filter((r) => list.includes(r));
    return { publicKey, signed, alreadySigned, attested: order(attested) };
}

async function attest(ref: string, keyRef: string, env: Record<string, string>, provenance: Provenance, registries: RegistryCredentials[]): Promise<void> {
    const dir = makeTempDir("multiarch-provenance-");
    try {
        const predicateFile = path.join(dir, "predicate.json");
        fs.writeFileSync(predicateFile, JSON.stringify(provenance.predicate), { mode: 0o600 });
        const result = await runCosign(
            [
                "attest",
                "--key",
                keyRef,
                "--tlog-upload=false",
                "--yes",
                "--replace",
                "--type",
                provenance.predicateType,
                "--predicate",
                predicateFile,
                "--",
                digestRef(ref),
            ],
            env,
            registries,
        );
        if (result.code !== 0) {
            throw new Error(`cannot attest the provenance of ${ref}: ${cosignError(result.stderr)}`);
        }
    } finally {
        removeTempDir(dir);
    }
}

/** What `signAndVerify` did: the signing run, and each ref that failed to verify. */
export interface SignAndVerifyResult {
    /** The signing run, when a signing key was given. */
    signing?: SignResult;
    /** The refs that verified, by label. */
    verified: string[];
    /** Why each label's ref failed to verify, by label. */
    failures: Record<string, string>;
}

/**
 * Signs (when `signingKey`) and then verifies (when `verifyKey`) images by label
 * (`linux/amd64`, `index`), as `multiarch preflight --sign-key/--verify-key` does.
 */
export async function signAndVerify(options: {
    refs: Record<string, string>;
    signingKey?: SigningKey;
    verifyKey?: VerificationKey;
    registries?: RegistryCredentials[];
    context: string;
    log?: (line: string) => void;
}): Promise<SignAndVerifyResult> {
    const log = options.log ?? (() => undefined);
    const registries = options.registries ?? [];
    const result: SignAndVerifyResult = { verified: [], failures: {} };
    if (options.signingKey) {
        const started = process.hrtime.bigint();
        result.signing = await signImages({ refs: Object.values(options.refs), key: options.signingKey, registries });
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        log(
            `signed ${result.signing.signed.length} digest(s), ${result.signing.alreadySigned.length} already signed by this key, in ${seconds.toFixed(1)}s (public key ${publicKeyFingerprint(result.signing.publicKey)})`,
        );
    }
    if (options.verifyKey) {
        const key = options.verifyKey;
        await Promise.all(
            Object.entries(options.refs).map(async ([label, ref]) => {
                const outcome = await verifySignature(ref, key, registries);
                if (outcome.ok) {
                    result.verified.push(label);
                } else {
                    result.failures[label] = verificationFailure(ref, key, outcome, options.context);
                }
            }),
        );
        log(`verified ${result.verified.length} of ${Object.keys(options.refs).length} digest(s) with ${describeKey(key)}`);
    }
    return result;
}
