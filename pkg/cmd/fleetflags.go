package cmd

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/nestcluster/nest/pkg/fleet"
)

// FleetFlags choose where a lifecycle verb acts: on the hub of `nest
// login` (in its default tenant and project, or the ones given), or with
// --local (or when not logged in) on the local runtime.
type FleetFlags struct {
	sel fleet.Selection
}

// AddTo registers the flags on fs.
func (f *FleetFlags) AddTo(fs *pflag.FlagSet) {
	fs.BoolVar(&f.sel.Local, "local", false, "use the local runtime even when logged in to a hub")
	fs.StringVar(&f.sel.Tenant, "tenant", "", "hub tenant, by name or id (default: the one of nest login)")
	fs.StringVar(&f.sel.Project, "project", "", "hub project, by name or id (default: the one of nest login)")
}

// Open returns the fleet the flags choose.
func (f *FleetFlags) Open(ctx context.Context, globals *GlobalFlags, streams IOStreams) (fleet.Fleet, error) {
	return fleet.Open(ctx, f.sel, globals.Logger(streams))
}
