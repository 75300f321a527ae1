// How much of a platform's build ran under QEMU emulation, and the note preflight
// prints when emulated `RUN` steps dominate it.
import { archOf } from "../rules/platform";
import { BuildStep } from "./buildProgress";
import { DockerfileStage } from "./dockerfile";

/** Emulated `RUN` time of one platform's build. */
export interface EmulatedRunTime {
    /** Seconds the build spent in `RUN` steps that ran under emulation. */
    seconds: number;
    /** Those steps' names. */
    steps: string[];
}

/**
 * Sums the `RUN` steps of a build for `platform` that ran on a platform the builder
 * cannot run natively (`native`: the host's, or each builder node's). A step's platform
 * is the one its vertex name is prefixed with, else its stage's (`$BUILDPLATFORM`
 * stages run natively), else the built platform. A one-stage Dockerfile's steps carry
 * no stage name; BuildKit names unnamed stages of a longer file `stage-<index>`.
 */
export function emulatedRunSeconds(steps: BuildStep[], stages: DockerfileStage[], platform: string, native: string[], target?: string): EmulatedRunTime {
    const isNative = (p: string) => native.some((n) => archOf(n) === archOf(p));
    const fallbackStage = stages.length === 1 ? stages[0] : (stages.find((s) => s.name === target?.toLowerCase()) ?? stages[stages.length - 1]);
    let seconds = 0;
    const names: string[] = [];
    for (const step of steps) {
        if (step.instruction !== "RUN" || step.cached || step.seconds === 0) {
            continue;
        }
        let runsOn: string;
        if (step.platform !== undefined) {
            runsOn = step.platform;
        } else {
            const stage = step.stage === undefined ? fallbackStage : stages.find((s) => s.name === step.stage);
            const where = stage?.runsOn ?? "target";
            runsOn = where === "build" ? native[0] : where === "target" ? platform : where;
        }
        if (!isNative(runsOn)) {
            seconds += step.seconds;
            names.push(step.name);
        }
    }
    return { seconds: Math.round(seconds * 10) / 10, steps: names };
}

/** Share of a build's time above which emulated `RUN` steps get a note. */
export const EMULATION_NOTE_SHARE = 0.5;

/**
 * A note when emulated `RUN` steps took most (over half) of a platform's build, naming
 * the platform, the time and the share, and the two fixes; undefined otherwise.
 */
export function emulationNote(platform: string, emulated: EmulatedRunTime, buildSeconds: number): string | undefined {
    if (buildSeconds <= 0 || emulated.seconds / buildSeconds <= EMULATION_NOTE_SHARE) {
        return undefined;
    }
    const share = Math.min(100, Math.round((emulated.seconds / buildSeconds) * 100));
    return (
        `${platform}: ${emulated.seconds.toFixed(1)}s of the ${buildSeconds.toFixed(1)}s build (${share}%) ran in emulated RUN steps ` +
        `(${emulated.steps.join("; ")}). Run that work natively: move it to a \`FROM --platform=$BUILDPLATFORM\` stage ` +
        `that cross-compiles for \`TARGETOS\`/\`TARGETARCH\` and COPY the result into the ${platform} stage, ` +
        `or build on a builder with a native ${platform} node (BuildxBuilder \`nodes\`, one per platform).`
    );
}
