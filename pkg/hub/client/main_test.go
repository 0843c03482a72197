package client_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/hubtest"
)

// theHub serves every test of the package: each makes its own tenant.
var theHub *hubtest.Hub

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "nest-hub-client-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	h, stop, err := hubtest.Start(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "start a hub: %v\n", err)
		return 1
	}
	defer func() {
		if err := stop(); err != nil {
			fmt.Fprintf(os.Stderr, "the hub stopped with: %v\n", err)
		}
	}()
	theHub = h
	return m.Run()
}

func hub(*testing.T) *hubtest.Hub { return theHub }
