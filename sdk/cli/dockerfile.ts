// The little of a Dockerfile preflight reads: its stages, and the platform each
// stage's steps run on (`FROM --platform=...`).
import { normalisePlatform } from "../rules/platform";

/** A Dockerfile stage and the platform its steps run on. */
export interface DockerfileStage {
    /** `FROM … AS <name>`, lower-cased as BuildKit does, or `stage-<index>`. */
    name: string;
    /**
     * Where its steps run: `build` for `--platform=$BUILDPLATFORM` (always native to the
     * builder node), `target` for none or `$TARGETPLATFORM`, or a fixed platform.
     */
    runsOn: "build" | "target" | string;
}

/** The stages of a Dockerfile, in order, with the platform each one's steps run on. */
export function dockerfileStages(text: string): DockerfileStage[] {
    const stages: DockerfileStage[] = [];
    const logical = text.replace(/\\\r?\n/g, " ").split(/\r?\n/);
    for (const line of logical) {
        const from = /^\s*FROM\s+(.*)$/i.exec(line);
        if (!from) {
            continue;
        }
        const words = from[1].trim().split(/\s+/);
        let platform: string | undefined;
        while (words[0]?.startsWith("--")) {
            const flag = words.shift()!;
            const eq = /^--platform=(.*)$/i.exec(flag);
            if (eq) {
                platform = eq[1];
            } else if (/^--platform$/i.test(flag)) {
                platform = words.shift();
            }
        }
        const base = words[0] ?? "";
        const as = words.length >= 3 && /^as$/i.test(words[1]) ? words[2].toLowerCase() : undefined;
        const parent = stages.find((s) => s.name === base.toLowerCase());
        let runsOn: string;
        const unquoted = platform?.replace(/^["']|["']$/g, "");
        if (unquoted === undefined) {
            runsOn = parent?.runsOn ?? "target";
        } else if (/^\$\{?BUILDPLATFORM\}?$/.test(unquoted)) {
            runsOn = "build";
        } else if (/^\$\{?TARGETPLATFORM\}?$/.test(unquoted) || unquoted.includes("$")) {
            runsOn = "target";
        } else {
            runsOn = canonical(unquoted) ?? "target";
        }
        stages.push({ name: as ?? `stage-${stages.length}`, runsOn });
    }
    return stages;
}

export function canonical(spelling: string): string | undefined {
    try {
        return normalisePlatform(spelling);
    } catch {
        return undefined;
    }
}
