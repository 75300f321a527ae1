// The `WWW-Authenticate` header grammar (RFC 9110 section 11.6.1): the challenges a
// registry answers 401 with.
/** One challenge of a `WWW-Authenticate` header: its scheme (lower-cased) and parameters. */
export interface AuthChallenge {
    /** The auth scheme, lower-cased: `bearer` or `basic`. */
    scheme: string;
    /** The challenge's parameters, e.g. `realm`, `service`, `scope`. */
    params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235), including several challenges joined
 * by commas, e.g. `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`.
 * Parameter names are lower-cased; quoted values are unescaped.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
    const challenges: AuthChallenge[] = [];
    let i = 0;
    const skip = (chars: RegExp) => {
        while (i < header.length && chars.test(header[i])) i++;
    };
    const readToken = (): string => {
        const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]*/.exec(header.slice(i))![0];
        i += token.length;
        return token;
    };
    for (;;) {
        skip(/[\s,]/);
        const scheme = readToken();
        if (scheme === "") {
            break;
        }
        const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
        challenges.push(challenge);
        for (;;) {
            skip(/[\s,]/);
            const start = i;
            const name = readToken();
            skip(/ /);
            if (name === "" || header[i] !== "=") {
                // Not `name=value`: the next challenge's scheme starts here.
                i = start;
                break;
            }
            i++;
            skip(/ /);
            let value = "";
            if (header[i] === '"') {
                for (i++; i < header.length && header[i] !== '"'; i++) {
                    if (header[i] === "\\" && i + 1 < header.length) i++;
                    value += header[i];
                }
                i++;
            } else {
                value = readToken();
            }
            challenge.params[name.toLowerCase()] = value;
        }
    }
    return challenges;
}
