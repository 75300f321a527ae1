// The production stack, in the production account (and another region): PromotedImage
// copies the build stack's index by digest into a repository of this account, through
// an ordinary AWS provider for it, and Graviton hosts run the arm64 digest from there.
//
// In your own program, import from "multiarch" instead of the local SDK.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PromotedImage, VmDeployment } from "../../../sdk";

const config = new pulumi.Config();
const build = new pulumi.StackReference(config.require("buildStack"));

// The account and region production runs in. The copy, its destination repository and
// the hosts all go through this provider; the build repository grants it pull.
const production = new aws.Provider("production", {
    region: config.get("region") ?? "eu-west-1",
    assumeRoles: [{ roleArn: config.require("deployRoleArn"), sessionName: "multiarch-promote" }],
});

const image = new PromotedImage(
    "api",
    {
        indexRef: build.requireOutput("indexRef").apply((ref) => String(ref)),
        platforms: ["linux/amd64", "linux/arm64"],
        tag: "prod",
    },
    { provider: production },
);

// waitForRollout: false, because the rollout wait runs the AWS CLI with the credentials
// `pulumi` runs with (the build account's here), which cannot see production's group:
// follow rollouts with `aws autoscaling describe-instance-refreshes` as the deploy role.
const hosts = new VmDeployment(
    "api",
    { image, instanceType: "t4g.small", ports: [{ host: 80, container: 8080 }], waitForRollout: false },
    { provider: production },
);

/** The index in the production repository: the build's index digest, under `prod`. */
export const promotedIndexRef = image.indexRef;
/** Each platform's digest in production: the same as the build's. */
export const platformDigests = image.platformDigests;
/** What the hosts run: `<production repo>@sha256:<arm64 digest>`. */
export const imageRef = hosts.imageRef;
