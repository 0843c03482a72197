// Package fleet is the one seam between the lifecycle verbs of the CLI
// (create, list, connect, pause, resume, delete) and where virtual
// clusters live: the local runtime (pkg/lifecycle) or a Nest hub
// (pkg/hub/client) the user logged in to with `nest login`. Open chooses
// once; the verbs only call the Fleet.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/kubeconfig"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// ErrNotFound is a virtual cluster that does not exist (the same error as
// the lifecycle's, so errors.Is works on both).
var ErrNotFound = lifecycle.ErrNotFound

// Fleet is where the lifecycle verbs create and manage virtual clusters.
type Fleet interface {
	// Where names the fleet for messages: "local" or the hub's URL with
	// its tenant and project.
	Where() string
	// Create makes a virtual cluster; it waits until it is ready when the
	// fleet is local or opts.Wait is set.
	Create(ctx context.Context, name string, opts CreateOptions) (*lifecycle.Cluster, error)
	// List returns every virtual cluster (of the project, on a hub).
	List(ctx context.Context) ([]lifecycle.Cluster, error)
	// Kubeconfig returns the admin kubeconfig of a virtual cluster, its
	// context, cluster and user named lifecycle.ContextName(name).
	Kubeconfig(ctx context.Context, name string) (*clientcmdapi.Config, error)
	// Pause stops a virtual cluster keeping its state.
	Pause(ctx context.Context, name string) error
	// Resume starts a paused or stopped one and waits until it is ready.
	Resume(ctx context.Context, name string, timeout time.Duration) (*lifecycle.Cluster, error)
	// Delete deletes a virtual cluster and its context in the user's
	// kubeconfig; ErrNotFound when it does not exist.
	Delete(ctx context.Context, name string) error
}

// CreateOptions are the settings of a new virtual cluster. Local uses
// Local; a hub uses the rest (and Local.Timeout when waiting).
type CreateOptions struct {
	Local lifecycle.CreateOptions
	// Group is the hub's cluster group, by name or id.
	Group string
	// Quota asks for less than the group's default quota.
	Quota store.Resources
	// ConfigText is the nest.yaml text sent to the hub.
	ConfigText string
	// Wait waits on a hub until the cluster is Ready (local always does).
	Wait bool
}

// Selection chooses the fleet: Local forces the local runtime; otherwise
// a hub login in the Nest home makes it the hub, with Tenant and Project
// (names or ids) overriding the login's defaults.
type Selection struct {
	Local   bool
	Tenant  string
	Project string
}

// Open returns the fleet sel chooses, for the default Nest home.
func Open(ctx context.Context, sel Selection, log *slog.Logger) (Fleet, error) {
	dir, err := nesthome.DefaultDir()
	if err != nil {
		return nil, err
	}
	return OpenIn(ctx, dir, sel, log)
}

// OpenIn is Open for the Nest home at dir.
func OpenIn(ctx context.Context, dir string, sel Selection, log *slog.Logger) (Fleet, error) {
	hubFlags := sel.Tenant != "" || sel.Project != ""
	if sel.Local {
		if hubFlags {
			return nil, errors.New("--tenant and --project name a hub's project: not with --local")
		}
		return openLocal(dir, log)
	}
	login, err := LoadLogin(dir)
	switch {
	case errors.Is(err, ErrNotLoggedIn) && !hubFlags:
		return openLocal(dir, log)
	case err != nil:
		return nil, err
	}
	return newHub(ctx, login, sel, log)
}

func openLocal(dir string, log *slog.Logger) (Fleet, error) {
	home, err := nesthome.Open(dir)
	if err != nil {
		return nil, err
	}
	p, err := lifecycle.NewProvider(home, lifecycle.WithLogger(log))
	if err != nil {
		return nil, err
	}
	return &local{p: p}, nil
}

// Connect merges the virtual cluster's context into the kubeconfig at
// target ("" is the user's default) and makes it current; it returns the
// backup made of the previous file, if any.
func Connect(ctx context.Context, f Fleet, name, target string) (backup string, err error) {
	cfg, err := f.Kubeconfig(ctx, name)
	if err != nil {
		return "", err
	}
	if target == "" {
		target = kubeconfig.DefaultPath()
	}
	backup, err = kubeconfig.Merge(target, cfg, true)
	if err != nil {
		return "", fmt.Errorf("connect %q: %w", name, err)
	}
	return backup, nil
}

// WhereLocal is the Where of the local runtime.
const WhereLocal = "local"

// local is the fleet of the local runtime.
type local struct{ p *lifecycle.Provider }

func (l *local) Where() string { return WhereLocal }

func (l *local) Create(ctx context.Context, name string, opts CreateOptions) (*lifecycle.Cluster, error) {
	return l.p.Create(ctx, name, opts.Local)
}

func (l *local) List(ctx context.Context) ([]lifecycle.Cluster, error) { return l.p.List(ctx) }

func (l *local) Kubeconfig(ctx context.Context, name string) (*clientcmdapi.Config, error) {
	return l.p.Kubeconfig(ctx, name)
}

func (l *local) Pause(ctx context.Context, name string) error { return l.p.Pause(ctx, name) }

func (l *local) Resume(ctx context.Context, name string, timeout time.Duration) (*lifecycle.Cluster, error) {
	return l.p.Start(ctx, name, timeout)
}

func (l *local) Delete(ctx context.Context, name string) error { return l.p.Delete(ctx, name) }
