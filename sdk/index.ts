// The package's public API, by name. Everything exported here is a semver promise and
// is recorded in etc/multiarch.api.md (`npm run api` updates it; `npm test` fails when
// it differs). Internals stay in their modules and are not exported from the root.

// The components, their arguments and outputs.
export { BuilderDriver, BuildxBuilder } from "./builder";
export type { BuilderNode, BuilderNodeArgs, BuildxBuilderArgs } from "./builder";
export { MultiArchImage } from "./multiArchImage";
export type { EcrRepositoryArgs, MultiArchImageArgs, RepositoryLifecycleArgs } from "./multiArchImage";
export type {
    BakeSecret,
    CacheFromArgs,
    CacheToArgs,
    GhaCacheFromArgs,
    GhaCacheToArgs,
    InlineCacheToArgs,
    LocalCacheFromArgs,
    LocalCacheToArgs,
    NetworkMode,
    RegistryCacheFromArgs,
    RegistryCacheToArgs,
    S3CacheFromArgs,
    S3CacheToArgs,
    SshArgs,
} from "./plan";
export { PromotedImage } from "./promotedImage";
export type { PromotableImage, PromotedImageArgs, SourceCredentials } from "./promotedImage";
export { VmDeployment } from "./vmDeployment";
export type { DeployableImage, HealthCheck, HttpHealthCheck, PortMapping, VmDeploymentArgs } from "./vmDeployment";
export type { ImageSigningArgs, SignatureRequirement } from "./imageSignature";
export type { SignResult, SigningKey, VerificationKey } from "./signing";

// The programmatic preflight: what `multiarch preflight` runs.
export { formatTable, preflight, PreflightError } from "./preflight";
export type { BuildStep, PlatformResult, PreflightOptions, PreflightResult } from "./preflight";
export type { BasicAuth, RegistryAuth, TokenAuth } from "./registry";
