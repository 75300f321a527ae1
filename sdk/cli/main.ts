// The `multiarch` command line: `multiarch preflight <context> …`.
import * as fs from "fs";
import { parseArgs } from "util";
import { NetworkMode, SshArgs } from "../rules/buildPlan";
import { BakeSecret } from "../rules/bake";
import { DEFAULT_PLATFORMS } from "../rules/platform";
import { DEFAULT_BUILDER, DEFAULT_REGISTRY, preflight } from "./preflight";
import { PreflightError } from "../rules/preflightError";
import { formatTable } from "./resultsTable";
import { SigningKey, VerificationKey } from "../clients/cosign";
import { kmsKeyArnProblem } from "../rules/awsNames";

const HELP = `Usage: multiarch preflight <context> [options]
       multiarch preflight --bake-file FILE [options]

Builds the Dockerfile in <context> for every platform (one build per platform, in
parallel), pushes each to a registry, joins them under one tag, reads each platform's
digest back from the registry, then runs each image by digest as its platform and
checks that it reports that architecture. Exits non-zero when any platform fails.

Options:
  --platforms LIST    comma-separated platforms (default ${DEFAULT_PLATFORMS.join(",")})
  --dockerfile PATH   the Dockerfile (default <context>/Dockerfile)
  --registry HOST     registry to push to (default ${DEFAULT_REGISTRY}, the local one)
  --repository NAME   repository in that registry (default multiarch-preflight/<context folder>)
  --tag TAG           index tag; platforms get <tag>-<arch> (default preflight)
  --builder NAME      buildx builder (default: the engine's ${DEFAULT_BUILDER} builder); a
                      docker-container builder that cannot start falls back to it
  --check CMD         shell command run in each image instead of the uname -m check;
                      passes when it exits 0
  --build-arg K=V     build argument (repeatable)
  --target STAGE      Dockerfile stage to build
  --no-cache          neither read nor write the per-platform registry caches
  --secret SPEC       build secret by reference, id=ID,env=VARIABLE or id=ID,src=FILE
                      (repeatable); its value never appears in the output
  --ssh SPEC          SSH agent socket or keys, default or ID=PATH[,PATH] (repeatable)
  --build-context N=L named build context: a directory, URL or docker-image://REF
                      (repeatable)
  --network MODE      network of RUN steps: default, host or none (default default)
  --add-host HOST:IP  extra /etc/hosts entry for RUN steps (repeatable)
  --pull              always pull base images again
  --bake-file FILE    build exactly the targets of a Bake file as MultiArchImage's
                      bakeFile output writes it (pulumi stack output --json |
                      jq -r .bakeFile > plan.json), pushed to --registry/--repository
                      (default repository multiarch-preflight/<context folder>);
                      replaces <context> and the build options above
  --sign-key KEY      sign each platform's digest and the index with cosign, as
                      MultiArchImage's \`signing\` does: a cosign.key file (its password
                      in COSIGN_PASSWORD) or awskms:///<key or alias ARN>
  --verify-key KEY    verify each platform's digest and the index: a cosign.pub file or
                      awskms:///<key ARN> (not an alias, which kms:UpdateAlias can
                      repoint); a digest that does not verify fails the run
  -h, --help          show this help

Reading the registry back and signing use MULTIARCH_REGISTRY_USER and
MULTIARCH_REGISTRY_PASSWORD when they are set (pushes use the docker CLI's own login).`;

/** `KEY=VALUE` split at the first `=`; throws naming the flag when there is none. */
function keyValue(flag: string, pair: string, form: string): [string, string] {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
        throw new Error(`${flag} is ${JSON.stringify(pair)}: expected ${form}`);
    }
    return [pair.slice(0, eq), pair.slice(eq + 1)];
}

/** `--secret id=ID,env=VARIABLE` or `id=ID,src=FILE`, as buildx spells it (`source` for `src` too). */
function parseSecret(spec: string): BakeSecret {
    const form = "id=ID,env=VARIABLE or id=ID,src=FILE";
    const parts = spec.split(",").map((part) => [part.slice(0, Math.max(0, part.indexOf("="))), part.slice(part.indexOf("=") + 1)]);
    const fields: Record<string, string> = Object.fromEntries(parts);
    const { id, env, ...rest } = fields;
    const src = rest.src ?? rest.source;
    delete rest.src;
    delete rest.source;
    if (!id || parts.some(([key]) => key === "") || Object.keys(rest).length > 0 || (env !== undefined && src !== undefined)) {
        // Only the field names: a mistyped flag may hold a secret's value.
        throw new Error(`--secret has the fields ${JSON.stringify(parts.map(([key]) => key))}: expected ${form}`);
    }
    return { id, ...(env !== undefined ? { env } : {}), ...(src !== undefined ? { src } : {}) };
}

/** `--ssh default` or `--ssh ID=PATH[,PATH…]`, as buildx spells it. */
function parseSsh(spec: string): SshArgs {
    const eq = spec.indexOf("=");
    return eq < 0 ? { id: spec } : { id: spec.slice(0, eq), paths: spec.slice(eq + 1).split(",") };
}

/** Runs the command line with these arguments; resolves to the exit code. */
export async function main(argv: string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
    let parsed;
    try {
        parsed = parseArgs({
            args: argv,
            allowPositionals: true,
            options: {
                platforms: { type: "string" },
                dockerfile: { type: "string" },
                registry: { type: "string" },
                repository: { type: "string" },
                tag: { type: "string" },
                builder: { type: "string" },
                check: { type: "string" },
                "build-arg": { type: "string", multiple: true },
                target: { type: "string" },
                "no-cache": { type: "boolean" },
                secret: { type: "string", multiple: true },
                ssh: { type: "string", multiple: true },
                "build-context": { type: "string", multiple: true },
                network: { type: "string" },
                "add-host": { type: "string", multiple: true },
                pull: { type: "boolean" },
                "bake-file": { type: "string" },
                "sign-key": { type: "string" },
                "verify-key": { type: "string" },
                help: { type: "boolean", short: "h" },
            },
        });
    } catch (error) {
        err(`multiarch: ${(error as Error).message}\n\n${HELP}`);
        return 2;
    }
    const [command, context, ...rest] = parsed.positionals;
    if (parsed.values.help || command === undefined || command === "help") {
        out(HELP);
        return parsed.values.help || command === "help" ? 0 : 2;
    }
    if (command !== "preflight") {
        err(`multiarch: unknown command ${JSON.stringify(command)}; expected "preflight"\n\n${HELP}`);
        return 2;
    }
    const bakeFile = parsed.values["bake-file"];
    if (bakeFile !== undefined ? context !== undefined : context === undefined || rest.length > 0) {
        const expected = bakeFile !== undefined ? "no <context> with --bake-file" : "exactly one <context> directory";
        err(`multiarch preflight: expected ${expected}, got ${JSON.stringify(parsed.positionals.slice(1))}\n\n${HELP}`);
        return 2;
    }
    let secrets: BakeSecret[] | undefined;
    let ssh: SshArgs[] | undefined;
    let contexts: Record<string, string> | undefined;
    try {
        secrets = parsed.values.secret?.map(parseSecret);
        ssh = parsed.values.ssh?.map(parseSsh);
        contexts =
            parsed.values["build-context"] &&
            Object.fromEntries(parsed.values["build-context"].map((pair) => keyValue("--build-context", pair, "NAME=LOCATION")));
    } catch (error) {
        err(`multiarch preflight: ${(error as Error).message}`);
        return 2;
    }
    const buildArgs: Record<string, string> = {};
    for (const pair of parsed.values["build-arg"] ?? []) {
        const eq = pair.indexOf("=");
        if (eq <= 0) {
            err(`multiarch preflight: --build-arg is ${JSON.stringify(pair)}: expected KEY=VALUE`);
            return 2;
        }
        buildArgs[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    let signingKey: SigningKey | undefined;
    let verifyKey: VerificationKey | undefined;
    try {
        signingKey = keyOption("--sign-key", parsed.values["sign-key"], "signing", (text) => ({
            privateKey: text,
            password: process.env.COSIGN_PASSWORD ?? "",
        }));
        verifyKey = keyOption("--verify-key", parsed.values["verify-key"], "verification", (text) => ({ publicKey: text }));
    } catch (error) {
        err(`multiarch preflight: ${(error as Error).message}`);
        return 2;
    }
    const user = process.env.MULTIARCH_REGISTRY_USER;
    const password = process.env.MULTIARCH_REGISTRY_PASSWORD;
    try {
        const result = await preflight({
            context,
            dockerfile: parsed.values.dockerfile,
            platforms: parsed.values.platforms?.split(",").map((p) => p.trim()),
            registry: parsed.values.registry,
            repository: parsed.values.repository,
            tag: parsed.values.tag,
            builder: parsed.values.builder,
            check: parsed.values.check,
            cache: parsed.values["no-cache"] ? false : undefined,
            buildArgs: bakeFile !== undefined && Object.keys(buildArgs).length === 0 ? undefined : buildArgs,
            target: parsed.values.target,
            secrets,
            ssh,
            contexts,
            network: parsed.values.network as NetworkMode | undefined,
            addHosts: parsed.values["add-host"],
            pull: parsed.values.pull,
            bakeFile,
            registryAuth: user && password ? { username: user, password } : undefined,
            signingKey,
            verifyKey,
            log: (line) => out(`  ${line}`),
        });
        out("");
        out(formatTable(result));
        for (const note of result.notes) {
            out(`note: ${note}`);
        }
        if (result.indexRef) {
            out(`index: ${result.indexRef}`);
        }
        out(result.ok ? `preflight passed: ${result.platforms.length} platforms build and run as themselves` : "preflight FAILED");
        return result.ok ? 0 : 1;
    } catch (error) {
        if (error instanceof PreflightError) {
            err(`multiarch preflight: ${error.message}`);
            return 2;
        }
        err(`multiarch preflight: ${(error as Error).message ?? error}`);
        return 1;
    }
}

/** A key flag: `awskms:///<arn>` (an alias only for signing), or a key file read here (its text never printed). */
function keyOption<K>(
    flag: string,
    value: string | undefined,
    use: "signing" | "verification",
    fromFile: (text: string) => K,
): K | { kmsKeyArn: string } | undefined {
    if (value === undefined) {
        return undefined;
    }
    if (value.startsWith("awskms:///")) {
        const kmsKeyArn = value.slice("awskms:///".length);
        const problem = kmsKeyArnProblem(kmsKeyArn, use);
        if (problem !== undefined) {
            throw new Error(`${flag} is ${JSON.stringify(value)}: ${problem}`);
        }
        return { kmsKeyArn };
    }
    try {
        return fromFile(fs.readFileSync(value, "utf8"));
    } catch (error) {
        throw new Error(
            `${flag} is ${JSON.stringify(value)}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); expected a key file or awskms:///<key ARN>`,
        );
    }
}
