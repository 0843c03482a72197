package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/kubeconfig"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// RuntimeHub is the Runtime of the clusters a hub lists.
const RuntimeHub = "hub"

// pollInterval is how often a wait reads the virtual cluster again.
var pollInterval = time.Second

// hub is the fleet of one project on a Nest hub.
type hub struct {
	c                   *client.Client
	url                 string
	tenantID, projectID string
	project             string // for messages
	log                 *slog.Logger
}

// idPattern is the shape of the hub's object ids.
var idPattern = regexp.MustCompile(`^[0-9a-f]{28}$`)

// ResolveTenant finds a tenant by id or, failing that, by name.
func ResolveTenant(ctx context.Context, c *client.Client, ref string) (*store.Tenant, error) {
	if t, err := c.GetTenant(ctx, ref); err == nil {
		return t, nil
	} else if !client.IsNotFound(err) && !client.IsForbidden(err) && !client.IsInvalid(err) {
		return nil, err
	}
	page, err := c.ListTenants(ctx, client.ListOptions{Filters: map[string]string{"name": ref}})
	if client.IsForbidden(err) && idPattern.MatchString(ref) {
		// A key scoped to a project may not read its tenant: take the id
		// as given; the project's routes check it.
		return &store.Tenant{Meta: store.Meta{ID: ref, Name: ref}}, nil
	}
	if err != nil && !client.IsForbidden(err) {
		return nil, err
	}
	if len(page.Items) != 1 {
		return nil, fmt.Errorf("tenant %q: not found, or not visible to this key (give its id)", ref)
	}
	return &page.Items[0], nil
}

// ResolveProject finds a tenant's project by id or, failing that, by name.
func ResolveProject(ctx context.Context, c *client.Client, tenantID, ref string) (*store.Project, error) {
	if p, err := c.GetProject(ctx, tenantID, ref); err == nil {
		return p, nil
	} else if !client.IsNotFound(err) && !client.IsForbidden(err) && !client.IsInvalid(err) {
		return nil, err
	}
	page, err := c.ListProjects(ctx, tenantID, client.ListOptions{Filters: map[string]string{"name": ref}})
	if err != nil && !client.IsForbidden(err) {
		return nil, err
	}
	if len(page.Items) != 1 {
		return nil, fmt.Errorf("project %q: not found in the tenant, or not visible to this key (give its id)", ref)
	}
	return &page.Items[0], nil
}

// ResolveGroup finds a cluster group by id or, failing that, by name.
func ResolveGroup(ctx context.Context, c *client.Client, ref string) (string, error) {
	if g, err := c.GetClusterGroup(ctx, ref); err == nil {
		return g.ID, nil
	} else if !client.IsNotFound(err) && !client.IsForbidden(err) && !client.IsInvalid(err) {
		return "", err
	}
	page, err := c.ListClusterGroups(ctx, client.ListOptions{Filters: map[string]string{"name": ref}})
	if client.IsForbidden(err) {
		// Not allowed to read groups: the hub checks the id at create.
		return ref, nil
	}
	if err != nil {
		return "", err
	}
	if len(page.Items) != 1 {
		return "", fmt.Errorf("cluster group %q: not found", ref)
	}
	return page.Items[0].ID, nil
}

func newHub(ctx context.Context, login *Login, sel Selection, log *slog.Logger) (Fleet, error) {
	c, err := login.Client()
	if err != nil {
		return nil, err
	}
	h := &hub{c: c, url: login.URL, tenantID: login.TenantID, projectID: login.ProjectID, project: login.ProjectName, log: log}
	if sel.Tenant != "" {
		t, err := ResolveTenant(ctx, c, sel.Tenant)
		if err != nil {
			return nil, err
		}
		if t.ID != h.tenantID {
			h.tenantID, h.projectID, h.project = t.ID, "", ""
		}
	}
	if sel.Project != "" {
		if h.tenantID == "" {
			return nil, errors.New("--project needs a tenant: give --tenant, or log in with one")
		}
		p, err := ResolveProject(ctx, c, h.tenantID, sel.Project)
		if err != nil {
			return nil, err
		}
		h.projectID, h.project = p.ID, p.Name
	}
	return h, nil
}

// ref names a virtual cluster of the login's project.
func (h *hub) ref(id string) client.VirtualClusterRef {
	return client.VirtualClusterRef{TenantID: h.tenantID, ProjectID: h.projectID, ID: id}
}

func (h *hub) Where() string {
	return fmt.Sprintf("hub %s, project %s", h.url, h.project)
}

func (h *hub) scoped() error {
	if h.tenantID == "" || h.projectID == "" {
		return fmt.Errorf("logged in to the hub %s without a project: give --tenant T --project P (or log in with them), or --local", h.url)
	}
	return nil
}

// find returns the project's virtual cluster of that name.
func (h *hub) find(ctx context.Context, name string) (*store.VirtualCluster, error) {
	if err := h.scoped(); err != nil {
		return nil, err
	}
	page, err := h.c.ListVirtualClusters(ctx, h.tenantID, h.projectID, client.ListOptions{Filters: map[string]string{"name": name}})
	if err != nil {
		return nil, err
	}
	if len(page.Items) == 0 {
		return nil, fmt.Errorf("virtual cluster %q: %w", name, ErrNotFound)
	}
	return &page.Items[0], nil
}

// describe shows a hub's virtual cluster as the local verbs show theirs.
func describe(vc *store.VirtualCluster) lifecycle.Cluster {
	version := vc.Status.KubernetesVersion
	if version == "" {
		version = vc.KubernetesVersion
	}
	return lifecycle.Cluster{Name: vc.Name, State: lifecycle.State(vc.Status.Phase), Runtime: RuntimeHub, KubernetesVersion: version,
		Host: vc.Status.HostClusterID, HostNamespace: vc.Status.HostNamespace, Endpoint: vc.Status.Endpoint, Created: vc.CreatedAt}
}

func ready(vc *store.VirtualCluster) bool {
	return vc.Status.Phase == store.VCReady && vc.Status.ObservedGeneration == vc.Generation
}

// wait reads the virtual cluster until done says so; gone (404) is done
// when done accepts nil.
func (h *hub) wait(ctx context.Context, id, what string, timeout time.Duration, done func(*store.VirtualCluster) bool) (*store.VirtualCluster, error) {
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		vc, err := h.c.GetVirtualCluster(ctx, h.ref(id))
		if client.IsNotFound(err) {
			vc, err = nil, nil
		}
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if err == nil {
			if done(vc) {
				return vc, nil
			}
			if vc != nil && vc.Status.Phase != last {
				h.log.Info("Waiting for the virtual cluster", "name", vc.Name, "want", what, "phase", vc.Status.Phase, "message", vc.Status.Message)
				last = vc.Status.Phase
			}
			if vc != nil && vc.Status.Phase == store.VCFailed && vc.Status.ObservedGeneration == vc.Generation {
				return nil, fmt.Errorf("virtual cluster %q failed: %s", vc.Name, vc.Status.Message)
			}
		}
		select {
		case <-ctx.Done():
			phase := "gone"
			if vc != nil {
				phase = vc.Status.Phase + ": " + vc.Status.Message
			}
			return nil, fmt.Errorf("virtual cluster not %s after %s (%s)", what, timeout, phase)
		case <-time.After(pollInterval):
		}
	}
}

func (h *hub) Create(ctx context.Context, name string, opts CreateOptions) (*lifecycle.Cluster, error) {
	if err := h.scoped(); err != nil {
		return nil, err
	}
	if opts.Group == "" {
		return nil, errors.New("--group is required on a hub: the cluster group to place the virtual cluster on")
	}
	group, err := ResolveGroup(ctx, h.c, opts.Group)
	if err != nil {
		return nil, err
	}
	vc, err := h.c.CreateVirtualCluster(ctx, h.tenantID, h.projectID, api.CreateVirtualClusterRequest{Name: name, ClusterGroupID: group,
		VirtualClusterSpec: api.VirtualClusterSpec{KubernetesVersion: opts.Local.Config.KubernetesVersion, Quota: opts.Quota, Config: opts.ConfigText}})
	if err != nil {
		return nil, fmt.Errorf("create %q on the hub: %w", name, err)
	}
	h.log.Info("Virtual cluster requested", "name", name, "id", vc.ID, "project", h.project)
	if opts.Wait {
		if vc, err = h.wait(ctx, vc.ID, "Ready", opts.Local.Timeout, func(vc *store.VirtualCluster) bool { return vc != nil && ready(vc) }); err != nil {
			return nil, err
		}
	}
	c := describe(vc)
	return &c, nil
}

func (h *hub) List(ctx context.Context) ([]lifecycle.Cluster, error) {
	if err := h.scoped(); err != nil {
		return nil, err
	}
	vcs, err := client.All(ctx, client.ListOptions{Limit: store.MaxLimit},
		func(ctx context.Context, o client.ListOptions) (store.Page[store.VirtualCluster], error) {
			return h.c.ListVirtualClusters(ctx, h.tenantID, h.projectID, o)
		})
	if err != nil {
		return nil, err
	}
	out := make([]lifecycle.Cluster, 0, len(vcs))
	for i := range vcs {
		out = append(out, describe(&vcs[i]))
	}
	return out, nil
}

func (h *hub) Kubeconfig(ctx context.Context, name string) (*clientcmdapi.Config, error) {
	vc, err := h.find(ctx, name)
	if err != nil {
		return nil, err
	}
	kc, err := h.c.GetVirtualClusterKubeconfig(ctx, h.ref(vc.ID))
	if err != nil {
		return nil, fmt.Errorf("download the kubeconfig of %q: %w", name, err)
	}
	cfg, err := clientcmd.Load([]byte(kc.Kubeconfig))
	if err != nil {
		return nil, fmt.Errorf("the hub's kubeconfig of %q: %w", name, err)
	}
	cur, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("the hub's kubeconfig of %q has no current context", name)
	}
	n := lifecycle.ContextName(name)
	out := clientcmdapi.NewConfig()
	out.Clusters[n] = cfg.Clusters[cur.Cluster]
	out.AuthInfos[n] = cfg.AuthInfos[cur.AuthInfo]
	out.Contexts[n] = &clientcmdapi.Context{Cluster: n, AuthInfo: n, Namespace: cur.Namespace}
	out.CurrentContext = n
	return out, nil
}

// setPaused changes paused and waits for the phase, retrying on a
// concurrent change of the cluster.
func (h *hub) setPaused(ctx context.Context, name string, paused bool, timeout time.Duration) (*store.VirtualCluster, error) {
	for attempt := 0; ; attempt++ {
		vc, err := h.find(ctx, name)
		if err != nil {
			return nil, err
		}
		if vc.Paused != paused {
			vc, err = h.c.UpdateVirtualCluster(ctx, h.ref(vc.ID), api.UpdateVirtualClusterRequest{
				VirtualClusterSpec: api.VirtualClusterSpec{KubernetesVersion: vc.KubernetesVersion, Quota: vc.Quota, Config: vc.Config,
					Paused: paused, Profiles: vc.Profiles},
				ResourceVersion: vc.ResourceVersion})
			if client.IsConflict(err) && attempt < 3 {
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		want, what := store.VCReady, "Ready"
		if paused {
			want, what = store.VCPaused, "Paused"
		}
		return h.wait(ctx, vc.ID, what, timeout, func(vc *store.VirtualCluster) bool {
			return vc != nil && vc.Status.Phase == want && vc.Status.ObservedGeneration == vc.Generation
		})
	}
}

func (h *hub) Pause(ctx context.Context, name string) error {
	_, err := h.setPaused(ctx, name, true, 0)
	return err
}

func (h *hub) Resume(ctx context.Context, name string, timeout time.Duration) (*lifecycle.Cluster, error) {
	vc, err := h.setPaused(ctx, name, false, timeout)
	if err != nil {
		return nil, err
	}
	c := describe(vc)
	return &c, nil
}

func (h *hub) Delete(ctx context.Context, name string) error {
	vc, err := h.find(ctx, name)
	if err != nil {
		return err
	}
	if !vc.Deleting {
		if err := h.c.DeleteVirtualCluster(ctx, h.ref(vc.ID), 0); err != nil && !client.IsNotFound(err) {
			return fmt.Errorf("delete %q on the hub: %w", name, err)
		}
	}
	if _, err := h.wait(ctx, vc.ID, "deleted", 0, func(vc *store.VirtualCluster) bool { return vc == nil }); err != nil {
		return err
	}
	n := lifecycle.ContextName(name)
	if err := kubeconfig.Remove(kubeconfig.DefaultPath(), n, n, n); err != nil {
		return fmt.Errorf("remove the context %s: %w", n, err)
	}
	return nil
}
