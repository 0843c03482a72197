// Package version tells which Nest this is; `make` stamps Version.
package version

// Version of Nest, set at build time with -ldflags.
var Version = "dev"
