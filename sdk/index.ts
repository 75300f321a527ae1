// The package's public API, by name. Everything exported here is a semver promise and
// is recorded in etc/multiarch.api.md (`npm run api` updates it; `npm test` fails when
// it differs). Internals stay in their modules and are not exported from the root.

// The components, their arguments and outputs.
export { BuilderDriver, BuildxBuilder } from "./components/buildxBuilder";

export type { BuilderNode, BuilderNodeArgs, BuildxBuilderArgs } from "./components/buildxBuilder";

export { MultiArchImage } from "./components/multiArchImage";

export type { EcrRepositoryArgs, MultiArchImageArgs, OciRepositoryArgs, RepositoryLifecycleArgs } from "./components/multiArchImage";

export type {
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
} from "./rules/buildPlan";

export type { BakeSecret } from "./rules/bake";

export { PromotedImage } from "./components/promotedImage";

export type { PromotableImage, PromotedImageArgs, SourceCredentials } from "./components/promotedImage";

export { VmDeployment } from "./components/vmDeployment";

export type { DeployableImage, HealthCheck, HttpHealthCheck, PortMapping, VmDeploymentArgs } from "./components/vmDeployment";

export type { ImageSigningArgs, SignatureRequirement } from "./components/imageSignature";

export type { SignResult, SigningKey, VerificationKey } from "./clients/cosign";

// The programmatic preflight: what `multiarch preflight` runs.
export { preflight } from "./cli/preflight";

export { PreflightError } from "./rules/preflightError";

export { formatTable } from "./cli/resultsTable";

export type { BuildStep } from "./cli/buildProgress";

export type { PlatformResult, PreflightOptions, PreflightResult } from "./cli/preflight";

export type { BasicAuth, RegistryAuth, TokenAuth } from "./clients/registryClient";
