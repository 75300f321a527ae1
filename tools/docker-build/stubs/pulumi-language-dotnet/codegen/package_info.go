// Package codegen holds the one type of the .NET code generator that docker-build's
// schema names: the C# package settings, serialised into the schema's language section
// (see ../../README.md).
package codegen

// CSharpPackageInfo is the schema's `language.csharp` section.
type CSharpPackageInfo struct {
	PackageReferences    map[string]string `json:"packageReferences,omitempty"`
	RespectSchemaVersion bool              `json:"respectSchemaVersion,omitempty"`
}
