// Package cmd holds what every nest CLI verb shares; each verb lives in its
// own package below and only turns flags into calls of the library.
package cmd

import (
	"io"
	"log/slog"

	nestlog "github.com/nestcluster/nest/pkg/log"
)

// IOStreams are the standard streams of a command.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// GlobalFlags are the flags of the root command that every verb reads.
type GlobalFlags struct {
	Verbosity int
	Quiet     bool
}

// Logger returns the progress logger for a command: on stderr, so that
// stdout stays for results that scripts read.
func (g *GlobalFlags) Logger(streams IOStreams) *slog.Logger {
	v := g.Verbosity
	if g.Quiet {
		v = -1
	}
	return nestlog.New(streams.ErrOut, v)
}
