package components

import (
	"context"
	"fmt"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	controllermanageroptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	scheduleroptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
)

// RunAPIServer runs kube-apiserver, as its upstream command does, but bound
// to ctx instead of process signals so that it can share a process.
func RunAPIServer(ctx context.Context, args []string) error {
	s := apiserveroptions.NewServerRunOptions()
	named := s.Flags()
	if err := parseFlags(APIServer, named.FlagSets, args); err != nil {
		return err
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return fmt.Errorf("kube-apiserver feature gates: %w", err)
	}
	// The loopback clients should not log warnings they caused themselves.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	completed, err := s.Complete(ctx)
	if err != nil {
		return fmt.Errorf("complete kube-apiserver options: %w", err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return fmt.Errorf("kube-apiserver options: %w", utilerrors.NewAggregate(errs))
	}
	return apiserver.Run(ctx, completed)
}

// RunControllerManager runs kube-controller-manager bound to ctx.
func RunControllerManager(ctx context.Context, args []string) error {
	run, err := NewControllerManager(args)
	if err != nil {
		return err
	}
	return run(ctx)
}

// NewControllerManager parses kube-controller-manager's flags and returns a
// function that runs it. In a process that also runs kube-apiserver, call it
// before the apiserver parses its flags: building the controller manager's
// flags changes a feature gate default, which is only allowed before any
// component has added the gates to a flag set.
func NewControllerManager(args []string) (func(ctx context.Context) error, error) {
	s, err := controllermanageroptions.NewKubeControllerManagerOptions()
	if err != nil {
		return nil, fmt.Errorf("kube-controller-manager options: %w", err)
	}
	known := controllermanager.KnownControllers()
	disabled := controllermanager.ControllersDisabledByDefault()
	aliases := controllermanager.ControllerAliases()
	named := s.Flags(known, disabled, aliases)
	s.ParsedFlags = &named
	if err := parseFlags(ControllerManager, named.FlagSets, args); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if err := s.ComponentGlobalsRegistry.Set(); err != nil {
			return fmt.Errorf("kube-controller-manager feature gates: %w", err)
		}
		rest.SetDefaultWarningHandler(rest.NoWarnings{})
		c, err := s.Config(ctx, known, disabled, aliases)
		if err != nil {
			return fmt.Errorf("kube-controller-manager config: %w", err)
		}
		return controllermanager.Run(ctx, c.Complete())
	}, nil
}

// RunScheduler runs kube-scheduler bound to ctx.
func RunScheduler(ctx context.Context, args []string) error {
	run, err := NewScheduler(args)
	if err != nil {
		return err
	}
	return run(ctx)
}

// NewScheduler parses kube-scheduler's flags and returns a function that
// runs it. In a process that also runs kube-apiserver and
// kube-controller-manager, call it after NewControllerManager and before
// the apiserver parses its flags (see NewControllerManager).
func NewScheduler(args []string) (func(ctx context.Context) error, error) {
	opts := scheduleroptions.NewOptions()
	if err := parseFlags(Scheduler, opts.Flags.FlagSets, args); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if err := opts.ComponentGlobalsRegistry.Set(); err != nil {
			return fmt.Errorf("kube-scheduler feature gates: %w", err)
		}
		cc, sched, err := scheduler.Setup(ctx, opts)
		if err != nil {
			return fmt.Errorf("set up kube-scheduler: %w", err)
		}
		return scheduler.Run(ctx, cc, sched)
	}, nil
}
