package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// nest_host_cluster: a Kubernetes cluster registered in the hub by its
// kubeconfig. The kubeconfig is write-only: the hub stores it encrypted
// and never returns it, so it is in neither the plan nor the state and
// never drifts; changing kubeconfig_version sends it again. Import ID:
// HOST_CLUSTER_ID.

type hostClusterModel struct {
	ID                types.String `tfsdk:"id"`
	Name              types.String `tfsdk:"name"`
	Description       types.String `tfsdk:"description"`
	Kubeconfig        types.String `tfsdk:"kubeconfig"`
	KubeconfigVersion types.String `tfsdk:"kubeconfig_version"`
	Phase             types.String `tfsdk:"phase"`
	KubernetesVersion types.String `tfsdk:"kubernetes_version"`
	Nodes             types.Int64  `tfsdk:"nodes"`
	ResourceVersion   types.Int64  `tfsdk:"resource_version"`
}

func (m *hostClusterModel) set(h *store.HostCluster) {
	m.ID, m.Name, m.Description = types.StringValue(h.ID), types.StringValue(h.Name), types.StringValue(h.Description)
	m.Kubeconfig = types.StringNull() // write-only: never in the state
	m.Phase, m.KubernetesVersion = types.StringValue(h.Status.Phase), types.StringValue(h.Status.KubernetesVersion)
	m.Nodes, m.ResourceVersion = types.Int64Value(int64(h.Status.Nodes)), types.Int64Value(h.ResourceVersion)
}

func newHostClusterResource() resource.Resource {
	return &crud[hostClusterModel, store.HostCluster]{
		name: "host_cluster", what: "the host cluster",
		schema: schema.Schema{
			Description: "A host cluster: a Kubernetes cluster the hub places virtual clusters on, registered by kubeconfig. Import ID: HOST_CLUSTER_ID.",
			Attributes: map[string]schema.Attribute{
				"id":          idAttribute(),
				"name":        nameAttribute("host cluster"),
				"description": textAttribute("A description (at most 1024 characters)."),
				"kubeconfig": schema.StringAttribute{Required: true, Sensitive: true, WriteOnly: true,
					Description: "The host cluster's kubeconfig (YAML), used from its current context. Write-only (Terraform 1.11 or later): the hub stores it encrypted and never returns it, so it is neither in the state nor compared; change kubeconfig_version to send a new one."},
				"kubeconfig_version": schema.StringAttribute{Optional: true,
					Description: "Any value; changing it sends the kubeconfig to the hub again (a rotated credential, say)."},
				"phase":              schema.StringAttribute{Computed: true, Description: "The hub's last health check: Pending, Ready or Unreachable."},
				"kubernetes_version": schema.StringAttribute{Computed: true, Description: "The host's Kubernetes version, as last seen."},
				"nodes":              schema.Int64Attribute{Computed: true, Description: "The host's number of nodes, as last seen."},
				"resource_version":   resourceVersionAttribute(),
			},
		},
		attrs:         []string{"name", "description", "kubeconfig"},
		importLayouts: [][]string{{"id"}},
		writeOnly: func(ctx context.Context, cfg tfsdk.Config, m *hostClusterModel) diag.Diagnostics {
			return cfg.GetAttribute(ctx, path.Root("kubeconfig"), &m.Kubeconfig)
		},
		create: func(ctx context.Context, hub *client.Client, plan *hostClusterModel) (*store.HostCluster, error) {
			h, err := hub.CreateHostCluster(ctx, api.CreateHostClusterRequest{Name: plan.Name.ValueString(),
				Description: plan.Description.ValueString(), Kubeconfig: plan.Kubeconfig.ValueString()})
			if err != nil {
				return nil, err
			}
			return firstCheck(ctx, hub, h), nil
		},
		get: func(ctx context.Context, hub *client.Client, state *hostClusterModel) (*store.HostCluster, error) {
			return hub.GetHostCluster(ctx, state.ID.ValueString())
		},
		update: func(ctx context.Context, hub *client.Client, plan, state *hostClusterModel) (*store.HostCluster, error) {
			req := api.UpdateHostClusterRequest{Description: plan.Description.ValueString(), ResourceVersion: state.ResourceVersion.ValueInt64()}
			if !plan.KubeconfigVersion.Equal(state.KubeconfigVersion) {
				req.Kubeconfig = plan.Kubeconfig.ValueString()
			}
			// The health checker writes the host's status all along:
			// update from a fresh read when only that changed.
			if fresh, err := hub.GetHostCluster(ctx, state.ID.ValueString()); err == nil && fresh.Description == state.Description.ValueString() {
				req.ResourceVersion = fresh.ResourceVersion
			}
			return hub.UpdateHostCluster(ctx, state.ID.ValueString(), req)
		},
		remove: func(ctx context.Context, hub *client.Client, state *hostClusterModel) error {
			return hub.DeleteHostCluster(ctx, state.ID.ValueString(), 0)
		},
		set: (*hostClusterModel).set,
	}
}

// firstCheckTimeout bounds the wait for a new host's first health check.
const firstCheckTimeout = 2 * time.Minute

// firstCheck waits until the hub checked a new host once (it places
// virtual clusters only on Ready hosts, so a virtual cluster created in the
// same apply finds it), and returns the host as last read. A host still
// Pending after firstCheckTimeout, or Unreachable, is no error: its phase
// says so.
func firstCheck(ctx context.Context, hub *client.Client, h *store.HostCluster) *store.HostCluster {
	deadline := time.Now().Add(firstCheckTimeout)
	for h.Status.Phase == store.HostPending && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return h
		case <-time.After(500 * time.Millisecond):
		}
		fresh, err := hub.GetHostCluster(ctx, h.ID)
		if err != nil {
			return h
		}
		h = fresh
	}
	return h
}

// Data source nest_host_cluster: a host cluster found by id or by name.

type hostClusterDataSource struct{ hubDataSource }

func newHostClusterDataSource() datasource.DataSource { return &hostClusterDataSource{} }

func (d *hostClusterDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_host_cluster"
}

type hostClusterDataModel struct {
	ID                types.String `tfsdk:"id"`
	Name              types.String `tfsdk:"name"`
	Description       types.String `tfsdk:"description"`
	Phase             types.String `tfsdk:"phase"`
	KubernetesVersion types.String `tfsdk:"kubernetes_version"`
	Nodes             types.Int64  `tfsdk:"nodes"`
	ResourceVersion   types.Int64  `tfsdk:"resource_version"`
}

func (d *hostClusterDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = dsschema.Schema{
		Description: "Looks up a host cluster by id or by name (never its kubeconfig).",
		Attributes: map[string]dsschema.Attribute{
			"id":                 dsschema.StringAttribute{Optional: true, Computed: true, Description: "The host cluster's id; give id or name."},
			"name":               dsschema.StringAttribute{Optional: true, Computed: true, Description: "The host cluster's name; give id or name."},
			"description":        dsschema.StringAttribute{Computed: true, Description: "The host cluster's description."},
			"phase":              dsschema.StringAttribute{Computed: true, Description: "Pending, Ready or Unreachable."},
			"kubernetes_version": dsschema.StringAttribute{Computed: true, Description: "The host's Kubernetes version."},
			"nodes":              dsschema.Int64Attribute{Computed: true, Description: "The host's number of nodes."},
			"resource_version":   dsschema.Int64Attribute{Computed: true, Description: "The host cluster's resourceVersion."},
		},
	}
}

func (d *hostClusterDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m hostClusterDataModel
	if resp.Diagnostics.Append(req.Config.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	h, ok := byIDOrName(ctx, &resp.Diagnostics, "host cluster", m.ID, m.Name, d.hub.GetHostCluster,
		func(ctx context.Context, o client.ListOptions) (store.Page[store.HostCluster], error) {
			return d.hub.ListHostClusters(ctx, o)
		})
	if !ok {
		return
	}
	var full hostClusterModel
	full.set(h)
	m = hostClusterDataModel{ID: full.ID, Name: full.Name, Description: full.Description, Phase: full.Phase,
		KubernetesVersion: full.KubernetesVersion, Nodes: full.Nodes, ResourceVersion: full.ResourceVersion}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// byIDOrName finds a hub-wide object by id, or by name through its list.
func byIDOrName[T any](ctx context.Context, diags *diag.Diagnostics, what string, id, name types.String,
	get func(context.Context, string) (*T, error), list func(context.Context, client.ListOptions) (store.Page[T], error),
) (*T, bool) {
	switch {
	case id.ValueString() != "" && name.ValueString() != "", id.ValueString() == "" && name.ValueString() == "":
		diags.AddAttributeError(path.Root("id"), "Give id or name", "Exactly one of id and name finds the "+what+".")
		return nil, false
	case id.ValueString() != "":
		o, err := get(ctx, id.ValueString())
		if err != nil {
			addHubError(diags, "read the "+what, err)
			return nil, false
		}
		return o, true
	}
	page, err := list(ctx, client.ListOptions{Filters: map[string]string{"name": name.ValueString()}})
	if err != nil {
		addHubError(diags, "read the "+what, err)
		return nil, false
	}
	if len(page.Items) == 0 {
		diags.AddAttributeError(path.Root("name"), "No such "+what, "The hub has no "+what+" named "+name.ValueString()+".")
		return nil, false
	}
	return &page.Items[0], true
}
