// Package components runs the upstream Kubernetes components (from the pinned
// k8s.io/kubernetes) and the datastores, in-process, with their usual
// command-line flags. It is the only package that reaches into
// k8s.io/kubernetes/cmd: the local host runs each component as a child
// process (`nest component NAME FLAGS...`) and the virtual control plane runs
// several of them in one process, both through these functions.
package components

import (
	"context"
	"fmt"
	"sort"

	"github.com/spf13/pflag"
	"k8s.io/component-base/cli/globalflag"

	"github.com/nestcluster/nest/pkg/simmetrics"
)

// Runner runs one component with flags until ctx ends.
type Runner func(ctx context.Context, args []string) error

// Names of the components that `nest component` can run.
const (
	APIServer         = "kube-apiserver"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	Kine              = "kine"
	Etcd              = "etcd"
	// Metrics is the local host's simulated metrics API (pkg/simmetrics).
	Metrics = simmetrics.Service
)

// Registry maps component names to their runners.
func Registry() map[string]Runner {
	return map[string]Runner{
		APIServer:         RunAPIServer,
		ControllerManager: RunControllerManager,
		Scheduler:         RunScheduler,
		Kine:              RunKine,
		Etcd:              RunEtcd,
		Metrics:           simmetrics.Run,
	}
}

// Names lists the registered component names, sorted.
func Names() []string {
	var names []string
	for n := range Registry() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// parseFlags parses args into the flag sets of one component, plus the
// global klog flags (-v and friends) every Kubernetes component accepts.
func parseFlags(component string, sets map[string]*pflag.FlagSet, args []string) error {
	fs := pflag.NewFlagSet(component, pflag.ContinueOnError)
	for _, s := range sets {
		fs.AddFlagSet(s)
	}
	global := pflag.NewFlagSet("global", pflag.ContinueOnError)
	globalflag.AddGlobalFlags(global, component)
	global.VisitAll(func(f *pflag.Flag) {
		if fs.Lookup(f.Name) == nil {
			fs.AddFlag(f)
		}
	})
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s flags: %w", component, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s takes no arguments, got %q", component, fs.Args())
	}
	return nil
}
