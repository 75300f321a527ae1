// The table `multiarch preflight` ends with: one row per platform, then the reasons.
import { PreflightResult } from "./preflight";

/** The result as the table preflight ends with. */
export function formatTable(result: PreflightResult): string {
    const rows = [
        ["platform", "digest", "build", "arch seen", "verdict"],
        ...result.platforms.map((r) => [
            r.platform,
            r.digest ?? "-",
            r.buildSeconds === undefined ? "-" : `${r.buildSeconds.toFixed(1)}s`,
            r.seen ?? "-",
            r.ok ? "ok" : "FAIL",
        ]),
    ];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    const lines = rows.map((row) =>
        row
            .map((cell, i) => cell.padEnd(widths[i]))
            .join("  ")
            .trimEnd(),
    );
    lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
    for (const r of result.platforms.filter((p) => !p.ok)) {
        lines.push(`${r.platform}: ${r.reason}`);
    }
    return lines.join("\n");
}
