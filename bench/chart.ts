// The benchmark's picture: a hand-written SVG of horizontal bars (no dependencies),
// one panel per unit (build seconds; declaration milliseconds).

/** One bar. */
export interface Bar {
    label: string;
    value: number;
    /** A fill colour, e.g. "#4c78a8". */
    colour: string;
    /** Text after the bar; defaults to the value. */
    note?: string;
}

/** One panel: bars sharing a unit and a scale. */
export interface Panel {
    title: string;
    unit: string;
    bars: Bar[];
}

function escape(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Renders panels one under the other as an SVG document. */
export function barChart(title: string, subtitle: string, panels: Panel[]): string {
    const width = 900;
    const labelWidth = 330;
    const barArea = width - labelWidth - 170;
    const barHeight = 18;
    const gap = 6;
    const parts: string[] = [];
    let y = 28;
    parts.push(`<text x="16" y="${y}" font-size="17" font-weight="bold">${escape(title)}</text>`);
    y += 20;
    parts.push(`<text x="16" y="${y}" font-size="12" fill="#555">${escape(subtitle)}</text>`);
    y += 16;
    for (const panel of panels) {
        y += 22;
        parts.push(`<text x="16" y="${y}" font-size="14" font-weight="bold">${escape(panel.title)}</text>`);
        y += 10;
        const max = Math.max(...panel.bars.map((b) => b.value), 1e-9);
        for (const bar of panel.bars) {
            const w = Math.max(1, (bar.value / max) * barArea);
            parts.push(`<text x="${labelWidth - 8}" y="${y + barHeight - 5}" font-size="12" text-anchor="end">${escape(bar.label)}</text>`);
            parts.push(`<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${bar.colour}"/>`);
            const note = bar.note ?? `${bar.value.toFixed(2)} ${panel.unit}`;
            parts.push(`<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + barHeight - 5}" font-size="12">${escape(note)}</text>`);
            y += barHeight + gap;
        }
    }
    y += 12;
    return [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="Helvetica, Arial, sans-serif">`,
        `<rect width="100%" height="100%" fill="#fff"/>`,
        ...parts,
        `</svg>`,
        "",
    ].join("\n");
}

/** A plain-text table with aligned columns and a rule under the header. */
export function table(rows: string[][]): string {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
    const lines = rows.map((row) =>
        row
            .map((cell, i) => (cell ?? "").padEnd(widths[i]))
            .join("  ")
            .trimEnd(),
    );
    lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
    return lines.join("\n");
}
