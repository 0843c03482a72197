// Package app is the entry point of the nest binary: Main wires the process
// (signals, streams, exit code) and Run does the work, so tests can call Run.
package app

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/nest"
)

// Main runs nest with the process's arguments and exits with its status.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := cmd.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := Run(ctx, streams, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		stop()
		os.Exit(1)
	}
}

// Run runs nest with args.
func Run(ctx context.Context, streams cmd.IOStreams, args []string) error {
	root := nest.NewCommand(streams)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
