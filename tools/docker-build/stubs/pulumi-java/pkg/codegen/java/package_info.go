// Package java holds the one type of pulumi-java's code generator that docker-build's
// schema names: the Java package settings, serialised into the schema's language
// section (see ../../../../README.md).
package java

// PackageInfo is the schema's `language.java` section.
type PackageInfo struct {
	BasePackage                     string            `json:"basePackage"`
	BuildFiles                      string            `json:"buildFiles"`
	Dependencies                    map[string]string `json:"dependencies,omitempty"`
	GradleNexusPublishPluginVersion string            `json:"gradleNexusPublishPluginVersion"`
	GradleTest                      string            `json:"gradleTest"`
}
