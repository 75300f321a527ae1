// Which transport the registry client may use for a host, and where credentials may go:
// https unless the host is listed as insecure or is this machine, and basic credentials
// to a token realm only over https or to the loopback registry's own host.
import { RegistryError } from "../rules/registryError";
import { describeValue, isValidRegistryHost } from "../rules/imageReference";

/** Whether a registry host (`host[:port]`) is this machine: 127.0.0.0/8, `localhost` or `[::1]`. */
export function isLoopbackRegistry(registry: string): boolean {
    let host: string;
    try {
        host = new URL(`http://${registry}`).hostname.toLowerCase();
    } catch {
        return false;
    }
    return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Normalises a list of insecure registry hosts (`host[:port]`, as Docker's
 * `insecure-registries` writes them) for `isInsecureHost`: lower-cased, with the http
 * default port `:80` dropped. Throws an error that names the argument, the value and the
 * allowed form.
 */
export function normaliseInsecureHosts(insecure: unknown): string[] {
    const allowed =
        'expected a list of registry hosts with optional ports, e.g. ["registry.lan:5000"], like Docker\'s insecure-registries (loopback hosts need no entry)';
    if (!Array.isArray(insecure)) {
        throw new Error(`RegistryClient: insecure ${describeValue(insecure)} is not valid: ${allowed}`);
    }
    return insecure.map((entry: unknown, i) => {
        if (typeof entry !== "string" || !isValidRegistryHost(entry.toLowerCase())) {
            throw new Error(`RegistryClient: insecure[${i}] ${describeValue(entry)} is not a registry host: ${allowed}`);
        }
        return new URL(`http://${entry.toLowerCase()}`).host;
    });
}

/** Whether `host[:port]` is one of the (normalised) insecure hosts; loopback hosts are not listed here. */
function isInsecureHost(host: string, insecure: readonly string[]): boolean {
    let normal: string;
    try {
        normal = new URL(`http://${host}`).host;
    } catch {
        return false;
    }
    return insecure.includes(normal);
}

/**
 * The URL scheme used to reach a registry: `https`, except `http` for loopback
 * registries (which local test registries serve without TLS, and which Docker treats as
 * insecure by default) and for the hosts listed in `insecure`.
 */
export function registryScheme(registry: string, insecure: readonly string[] = []): "http" | "https" {
    return isLoopbackRegistry(registry) || isInsecureHost(registry, insecure) ? "http" : "https";
}

/**
 * Throws unless a URL the client is about to request (a registry endpoint, a token
 * realm, a redirect target) may be used: plain http only to loopback hosts and to the
 * hosts listed in `insecure`.
 */
export function assertTransportAllowed(url: URL, insecure: readonly string[] = []): void {
    if (url.protocol === "https:") {
        return;
    }
    if (url.protocol !== "http:") {
        throw new RegistryError("insecure", `refusing to request ${url.href}: only https and http URLs are supported`);
    }
    if (!isLoopbackRegistry(url.host) && !isInsecureHost(url.host, insecure)) {
        throw new RegistryError(
            "insecure",
            `refusing to send a request to ${url.host} over plain http (${url.origin}${url.pathname}): http is allowed only for loopback hosts (127.0.0.0/8, localhost, [::1]) and the hosts listed in insecure; use https, or add "${url.host}" to insecure if it really has no TLS`,
        );
    }
}

/**
 * Whether a registry's basic credentials may go to the bearer-token realm it names.
 * Over https, yes, on any host: that is what Docker does (moby's
 * `staticCredentialStore.Basic` in `registry/auth.go` ignores the realm's URL), and
 * registries such as Docker Hub name a separate auth host (`registry-1.docker.io` →
 * `https://auth.docker.io/token`). Over plain http, only to a realm on the registry's
 * own host when that host is loopback: credentials never cross a network in clear text,
 * nor go to another host over http (even one on loopback).
 */
export function realmMayReceiveCredentials(registry: string, realm: URL): boolean {
    if (realm.protocol === "https:") {
        return true;
    }
    if (realm.protocol !== "http:" || !isLoopbackRegistry(registry) || !isLoopbackRegistry(realm.host)) {
        return false;
    }
    try {
        return new URL(`http://${registry}`).hostname.toLowerCase() === realm.hostname.toLowerCase();
    } catch {
        return false;
    }
}
