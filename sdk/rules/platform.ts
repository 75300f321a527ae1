// Parsing and normalising container platforms (`os/arch[/variant]`), and mapping
// between platforms, image tag suffixes and EC2 architectures.

/** The Linux platforms docker-build can build (its `Platform` enum), in canonical form. */
export const SUPPORTED_PLATFORMS = [
    "linux/386",
    "linux/amd64",
    "linux/arm",
    "linux/arm64",
    "linux/mips64",
    "linux/mips64le",
    "linux/ppc64le",
    "linux/riscv64",
    "linux/s390x",
] as const;

/** The platforms built when none are given: Intel/AMD and ARM (Graviton, Apple silicon). */
export const DEFAULT_PLATFORMS = ["linux/amd64", "linux/arm64"];

// Spellings users write (uname -m, Go, Debian, EC2) mapped to the OCI architecture.
const ARCH_ALIASES: Record<string, string> = {
    amd64: "amd64",
    x86_64: "amd64",
    "x86-64": "amd64",
    x64: "amd64",
    arm64: "arm64",
    aarch64: "arm64",
    i386: "386",
    i686: "386",
    "386": "386",
    x86: "386",
    arm: "arm",
    armhf: "arm",
    armel: "arm",
    armv7l: "arm",
    mips64: "mips64",
    mips64le: "mips64le",
    mips64el: "mips64le",
    ppc64le: "ppc64le",
    ppc64el: "ppc64le",
    riscv64: "riscv64",
    s390x: "s390x",
};

// Variants that name the architecture's only supported form and so add nothing.
const REDUNDANT_VARIANTS: Record<string, string[]> = {
    arm64: ["v8"],
    amd64: ["v1"],
};

/** The outcome of parsing one platform spelling. */
export type ParsedPlatform =
    | {
          /** The canonical platform, `os/arch[/variant]`. */
          platform: string;
      }
    | {
          /** What is wrong with the spelling, and what is allowed. */
          error: string;
      };

/**
 * Parses a platform as users write it (`amd64`, `x86_64`, `aarch64`, `linux/arm64/v8`,
 * `LINUX/AMD64`) into canonical `os/arch`, or says what is wrong with it.
 */
export function parsePlatform(spelling: string): ParsedPlatform {
    const allowed = `expected os/arch[/variant] or an architecture, one of ${SUPPORTED_PLATFORMS.join(", ")} (aliases such as x86_64, aarch64 and linux/arm64/v8 are accepted)`;
    if (typeof spelling !== "string" || spelling.trim() === "") {
        return { error: allowed };
    }
    const parts = spelling.trim().toLowerCase().split("/");
    if (parts.length > 3 || parts.some((p) => p === "" || !/^[a-z0-9_.-]+$/.test(p))) {
        return { error: allowed };
    }
    const [os, rawArch, variant] = parts.length === 1 ? ["linux", parts[0], undefined] : parts;
    if (os !== "linux") {
        return { error: `only linux images are built; ${allowed}` };
    }
    // Own keys only: `constructor` or `__proto__` must not resolve to Object.prototype's.
    const arch = Object.hasOwn(ARCH_ALIASES, rawArch) ? ARCH_ALIASES[rawArch] : undefined;
    if (arch === undefined) {
        return { error: allowed };
    }
    if (variant !== undefined && !(REDUNDANT_VARIANTS[arch] ?? []).includes(variant)) {
        return { error: `variant "${variant}" of ${arch} is not supported by docker-build; ${allowed}` };
    }
    return { platform: `linux/${arch}` };
}

/** Like `parsePlatform`, but throws on a bad spelling. */
export function normalisePlatform(spelling: string): string {
    const parsed = parsePlatform(spelling);
    if ("error" in parsed) {
        throw new Error(`platform ${JSON.stringify(spelling)}: ${parsed.error}`);
    }
    return parsed.platform;
}

/** The outcome of normalising a list of platforms: the canonical list and any problems. */
export interface NormalisedPlatforms {
    /** The canonical platforms, in the order given, without duplicates. */
    platforms: string[];
    /** What is wrong with the list, one entry per problem. */
    problems: PlatformProblem[];
}

/** A problem with one platform of a list, or with the list itself. */
export interface PlatformProblem {
    /** The platform's index in the list, or -1 for a problem with the list as a whole. */
    index: number;
    /** The value received. */
    value: unknown;
    /** What is wrong and what is allowed. */
    reason: string;
}

/**
 * Normalises a list of platform spellings, keeping order, and reports malformed,
 * unsupported and duplicate (after normalising) entries.
 */
export function normalisePlatforms(spellings: readonly string[]): NormalisedPlatforms {
    const platforms: string[] = [];
    const problems: NormalisedPlatforms["problems"] = [];
    const firstIndex = new Map<string, number>();
    if (spellings.length === 0) {
        problems.push({ index: -1, value: spellings, reason: `expected at least one platform, e.g. ${JSON.stringify(DEFAULT_PLATFORMS)}` });
    }
    spellings.forEach((spelling, index) => {
        const parsed = parsePlatform(spelling);
        if ("error" in parsed) {
            problems.push({ index, value: spelling, reason: parsed.error });
            return;
        }
        const earlier = firstIndex.get(parsed.platform);
        if (earlier !== undefined) {
            problems.push({ index, value: spelling, reason: `duplicates [${earlier}] (both are ${parsed.platform}); list each platform once` });
            return;
        }
        firstIndex.set(parsed.platform, index);
        platforms.push(parsed.platform);
    });
    return { platforms, problems };
}

/** The architecture part of a canonical platform, used in tags: `linux/amd64` → `amd64`. */
export function archOf(platform: string): string {
    return platform.split("/")[1];
}

/** The OCI platform of an EC2 architecture (`supportedArchitectures` entries). */
export function platformForEc2Architecture(architecture: string): string | undefined {
    const byEc2: Record<string, string> = { x86_64: "linux/amd64", arm64: "linux/arm64", i386: "linux/386" };
    return byEc2[architecture];
}

/** What `uname -m` prints on a host or in a container of this platform. */
export function unameMachine(platform: string): string | undefined {
    const byPlatform: Record<string, string> = {
        "linux/amd64": "x86_64",
        "linux/arm64": "aarch64",
        "linux/386": "i686",
        "linux/arm": "armv7l",
        "linux/ppc64le": "ppc64le",
        "linux/s390x": "s390x",
        "linux/riscv64": "riscv64",
        "linux/mips64": "mips64",
        "linux/mips64le": "mips64",
    };
    return byPlatform[platform];
}
