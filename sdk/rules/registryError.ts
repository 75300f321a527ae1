// The one error the registry client and the manifest rules raise, with its kind.
/**
 * What went wrong talking to a registry, for callers that branch on it:
 *
 * - `auth`: the registry refused the credentials, or wants some and none were given for it (401, 403).
 * - `not-found`: the repository, tag, manifest or blob does not exist (404).
 * - `media-type`: a manifest's media type (its `mediaType` field, else its Content-Type) is
 *   missing or not one of `ACCEPTED_MANIFEST_TYPES`.
 * - `digest-mismatch`: a body does not hash to the digest asked for or announced.
 * - `too-large`: a body is larger than `maxBodyBytes`.
 * - `timeout`: no full answer within `timeoutMs`.
 * - `unreachable`: the connection was refused or dropped, or the host does not resolve.
 * - `unavailable`: 429 or 5xx answers outlasted the retries.
 * - `insecure`: a request would use plain http to a host that is neither loopback nor listed in
 *   `insecure`, or send credentials to a token realm that may not have them.
 * - `protocol`: an answer this client cannot use: another HTTP status, a token response
 *   without a token, a body that is not JSON, or JSON that is not a well-formed manifest or
 *   index (see `validateManifest`), an index listing one platform twice, a config without a platform.
 */
export type RegistryErrorKind =
    "auth" | "not-found" | "media-type" | "digest-mismatch" | "too-large" | "timeout" | "unreachable" | "unavailable" | "insecure" | "protocol";

/** An error from a registry exchange; `kind` says which, the message says what to do. */
export class RegistryError extends Error {
    constructor(
        /** What kind of failure it was, for callers that handle some kinds. */
        public readonly kind: RegistryErrorKind,
        message: string,
        /** The HTTP status the registry answered, when it answered. */
        public readonly status?: number,
    ) {
        super(message);
        this.name = "RegistryError";
    }
}
