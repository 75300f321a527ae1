// The build stack, in the build account: MultiArchImage builds examples/app for
// linux/amd64 and linux/arm64 and lets the production account pull it (a repository
// policy with the three pull actions only). The production stack reads the exports
// below through a StackReference.
//
// In your own program, import from "multiarch" instead of the local SDK.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MultiArchImage } from "../../../sdk";

const config = new pulumi.Config();

const image = new MultiArchImage("api", {
    context: path.join(__dirname, "..", "..", "app"),
    tag: "v1",
    pullPrincipals: [config.require("productionAccount")],
});

/** The multi-platform index by digest, `<repo>:v1@sha256:…`: what production promotes. */
export const indexRef = image.indexRef;
/** Each platform's image by digest. */
export const platformRefs = image.platformRefs;
/** The platforms built. */
export const platforms = image.platforms;
