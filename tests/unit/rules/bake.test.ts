import * as assert from "assert";
import { cacheOption } from "../../../sdk/rules/bake";
import { CACHE_TO_OPTIONS, CacheFromArgs, CacheToArgs } from "../../../sdk/rules/buildPlan";

describe("Bake cache options", () => {
    const cases: [string, CacheFromArgs | CacheToArgs, string][] = [
        ["an inline cache", { inline: {} }, "type=inline"],
        ["a registry cache read", { registry: { ref: "r.example.com/c:main" } }, "type=registry,ref=r.example.com/c:main"],
        [
            "a registry cache written with every setting",
            { registry: { ociMediaTypes: false, imageManifest: true, mode: "min", ref: "r.example.com/c" } },
            "type=registry,ref=r.example.com/c,mode=min,image-manifest=true,oci-mediatypes=false",
        ],
        ["a local cache read", { local: { src: "/tmp/c/amd64" } }, "type=local,src=/tmp/c/amd64"],
        ["a local cache written", { local: { mode: "max", dest: "/tmp/c/amd64" } }, "type=local,dest=/tmp/c/amd64,mode=max"],
        [
            "an S3 cache with every setting",
            {
                s3: {
                    mode: "max",
                    usePathStyle: true,
                    manifestsPrefix: "m/",
                    blobsPrefix: "b/",
                    endpointUrl: "http://minio:9000",
                    name: "api-amd64",
                    bucket: "caches",
                    region: "eu-west-1",
                },
            },
            "type=s3,region=eu-west-1,bucket=caches,name=api-amd64,endpoint_url=http://minio:9000,blobs_prefix=b/,manifests_prefix=m/,use_path_style=true,mode=max",
        ],
        ["an S3 cache with the required settings", { s3: { region: "eu-west-1", bucket: "caches" } }, "type=s3,region=eu-west-1,bucket=caches"],
        ["a GitHub Actions cache", { gha: { mode: "max", url: "http://cache", scope: "api-arm64" } }, "type=gha,scope=api-arm64,url=http://cache,mode=max"],
        ["a GitHub Actions cache with no settings", { gha: {} }, "type=gha"],
        ["no cache", {}, ""],
    ];
    for (const [what, entry, expected] of cases) {
        it(`writes ${what} as ${JSON.stringify(expected)}`, () => {
            assert.strictEqual(cacheOption(entry), expected);
        });
    }

    it("writes the registry cache export options as buildx's string form of CACHE_TO_OPTIONS", () => {
        assert.strictEqual(
            cacheOption({ registry: { ref: "r.example.com/api:cache-arm64", ...CACHE_TO_OPTIONS } }),
            "type=registry,ref=r.example.com/api:cache-arm64,mode=max,image-manifest=true,oci-mediatypes=true",
        );
    });
});
