// Values compared by content: JSON with object keys sorted.
/** A value as JSON with object keys sorted, for comparing recorded inputs. */
export function canonical(value: unknown): string {
    return (
        JSON.stringify(value, (_key, v) =>
            v && typeof v === "object" && !Array.isArray(v)
                ? Object.fromEntries(
                      Object.keys(v)
                          .sort()
                          .map((k) => [k, v[k]]),
                  )
                : v,
        ) ?? "undefined"
    );
}
