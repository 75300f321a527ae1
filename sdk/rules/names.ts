// The rules for names: what an environment variable may be called, and how any text
// becomes a name that only holds lowercase letters, digits and a few separators (a
// repository path component, a container, a builder). Pure and import-free: the
// builder's provider is serialised with what it imports.

/**
 * The names an environment variable may have: a shell identifier, letters, digits and
 * `_`, not starting with a digit. Build secret ids are read from the variable of the
 * same name, so they follow it too.
 */
export const ENVIRONMENT_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `value` lowercased, with each run of characters other than `a-z`, `0-9` and those in
 * `keep` turned into one `-`, and the separators (`-` and those in `keep`) trimmed from
 * both ends: `slug(" My App! ")` is `"my-app"`, `slug("Api_v2..x", "._-")` is
 * `"api_v2..x"`. The result may be empty. Each name's own limits (length, first
 * character, separators in a row) are its caller's.
 */
export function slug(value: string, keep = ""): string {
    const escape = (chars: string) => chars.replace(/[\\\]^-]/g, "\\$&");
    const kept = escape(keep);
    const separators = escape(keep.includes("-") ? keep : `${keep}-`);
    return value
        .toLowerCase()
        .replace(new RegExp(`[^a-z0-9${kept}]+`, "g"), "-")
        .replace(new RegExp(`^[${separators}]+|[${separators}]+$`, "g"), "");
}
