// The seed's scenario: a developer on an arm64 laptop builds an image that must run on
// x86_64 VMs. MultiArchImage builds it for linux/amd64 and linux/arm64 (one build per
// platform), pushes both to a new ECR repository, joins them under one tag and exports
// each platform's digest, and deploys it onto x86_64 hosts that run the amd64 digest:
// the instance type's architecture picks the digest, so no host gets the arm64 image.
//
// In your own program, import from "multiarch" instead of the local SDK.
import * as path from "path";
import { MultiArchImage, VmDeployment } from "../../sdk";

const image = new MultiArchImage("app", {
    context: path.join(__dirname, "..", "app"),
    platforms: ["linux/amd64", "linux/arm64"],
    tag: "v1",
});

/** The multi-platform tag: `docker pull` on any machine gets its own architecture. */
export const indexRef = image.indexRef;
/** Each platform's manifest digest, e.g. `{ "linux/amd64": "sha256:…" }`. */
export const platformDigests = image.platformDigests;
/** What an x86_64 VM should run: the amd64 image, pinned by digest. */
export const amd64Ref = image.refFor("linux/amd64");
/** The same build as a Bake file, for `docker buildx bake -f bake.json` on a laptop. */
export const bakeFile = image.bakeFile;

const vms = new VmDeployment("app", {
    image,
    instanceType: "t3.small",
    desiredCount: 2,
});

/** The platform the hosts run, from the instance type's architecture: `linux/amd64`. */
export const hostPlatform = vms.platform;
/** The digest the hosts pulled; a rebuild changes it and rolls the hosts. */
export const deployedRef = vms.imageRef;
/** The hosts' group, e.g. for `aws autoscaling describe-instance-refreshes`. */
export const autoScalingGroupName = vms.autoScalingGroupName;
