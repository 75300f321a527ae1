// One image, two fleets: MultiArchImage builds examples/app for linux/amd64 and
// linux/arm64 under one index, and two VmDeployments run it on x86_64 (t3.small) and
// Graviton (t4g.small) hosts. Each fleet reads its architecture from EC2 and pins that
// platform's digest, so the same program serves both without naming an architecture.
//
// In your own program, import from "multiarch" instead of the local SDK.
import * as path from "path";
import { MultiArchImage, VmDeployment } from "../../sdk";

const image = new MultiArchImage("app", {
    context: path.join(__dirname, "..", "app"),
    platforms: ["linux/amd64", "linux/arm64"],
    tag: "v1",
});

const x86 = new VmDeployment("app-x86", {
    image,
    instanceType: "t3.small",
    ports: [{ host: 80, container: 8080 }],
    environment: { APP_MODE: "x86-fleet" },
});

const graviton = new VmDeployment("app-graviton", {
    image,
    instanceType: "t4g.small",
    ports: [{ host: 80, container: 8080 }],
    environment: { APP_MODE: "graviton-fleet" },
});

/** The multi-platform tag both fleets' digests come from. */
export const indexRef = image.indexRef;
/** `linux/amd64` and the amd64 digest. */
export const x86Fleet = { platform: x86.platform, imageRef: x86.imageRef, group: x86.autoScalingGroupName };
/** `linux/arm64` and the arm64 digest. */
export const gravitonFleet = { platform: graviton.platform, imageRef: graviton.imageRef, group: graviton.autoScalingGroupName };
