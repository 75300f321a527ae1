// Where things are in this repository, for every test: one place instead of
// `path.join(__dirname, "..", "..", …)` chains that break when a test file moves.
import * as path from "path";

/** The repository root (the folder holding package.json). */
export const ROOT = path.resolve(__dirname, "..");

/** `tests/fixtures`: Docker contexts, recorded progress and the other files tests read. */
export const FIXTURES = path.join(ROOT, "tests", "fixtures");

/** The example application the README deploys and the preflight tests build, `examples/app`. */
export const EXAMPLE_APP = path.join(ROOT, "examples", "app");

/** A path below `tests/fixtures`: `fixture("hello")` is the smallest Docker context. */
export function fixture(...parts: string[]): string {
    return path.join(FIXTURES, ...parts);
}
