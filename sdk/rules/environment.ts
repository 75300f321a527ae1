// The container's environment as the hosts receive it: a Docker env file, checked
// for what an SSM parameter and `docker run --env-file` accept.
import * as pulumi from "@pulumi/pulumi";
import { environmentVariableProblem, environmentFile } from "./bootScript";

// SSM Standard parameters hold at most 4 KB.
const MAX_ENVIRONMENT_BYTES = 4096;

/**
 * The environment as the env file the SSM parameter holds. Throws an
 * `InputPropertyError` for what an env file cannot carry, never showing the value.
 */
export function environmentParameterValue(environment: Record<string, string>): string {
    const entries = Object.entries(environment ?? {});
    for (const [key, value] of entries) {
        const problem = environmentVariableProblem(key, value);
        if (problem !== undefined) {
            throw new pulumi.InputPropertyError({ propertyPath: `environment.${key}`, reason: problem });
        }
    }
    // SSM refuses an empty value; Docker skips comment lines.
    const file = entries.length === 0 ? "# no variables\n" : environmentFile(environment);
    if (Buffer.byteLength(file, "utf8") > MAX_ENVIRONMENT_BYTES) {
        throw new pulumi.InputPropertyError({
            propertyPath: "environment",
            reason: `\`environment\` takes ${Buffer.byteLength(file, "utf8")} bytes as an env file, over the ${MAX_ENVIRONMENT_BYTES} an SSM parameter holds: keep large values in S3 or Secrets Manager and pass their names`,
        });
    }
    return file;
}
