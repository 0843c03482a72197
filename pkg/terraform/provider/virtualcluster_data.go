package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// Data source nest_virtual_cluster: a virtual cluster of a project, found
// by id or by name (never its kubeconfig: see
// nest_virtual_cluster_kubeconfig).

type virtualClusterDataSource struct{ hubDataSource }

func newVirtualClusterDataSource() datasource.DataSource { return &virtualClusterDataSource{} }

type virtualClusterDataModel struct {
	ID                types.String `tfsdk:"id"`
	TenantID          types.String `tfsdk:"tenant_id"`
	ProjectID         types.String `tfsdk:"project_id"`
	Name              types.String `tfsdk:"name"`
	ClusterGroupID    types.String `tfsdk:"cluster_group_id"`
	KubernetesVersion types.String `tfsdk:"kubernetes_version"`
	Quota             types.Object `tfsdk:"quota"`
	Profiles          types.List   `tfsdk:"profiles"`
	Config            types.String `tfsdk:"config"`
	Paused            types.Bool   `tfsdk:"paused"`
	HostClusterID     types.String `tfsdk:"host_cluster_id"`
	Namespace         types.String `tfsdk:"namespace"`
	Endpoint          types.String `tfsdk:"endpoint"`
	Phase             types.String `tfsdk:"phase"`
	Message           types.String `tfsdk:"message"`
	ResourceVersion   types.Int64  `tfsdk:"resource_version"`
}

func (d *virtualClusterDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_virtual_cluster"
}

func (d *virtualClusterDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	c := func(d string) dsschema.StringAttribute {
		return dsschema.StringAttribute{Computed: true, Description: d}
	}
	dim := func(d string) dsschema.Attribute { return dsschema.StringAttribute{Computed: true, Description: d} }
	resp.Schema = dsschema.Schema{
		Description: "Looks up a virtual cluster of a project by id or by name, with its status.",
		Attributes: map[string]dsschema.Attribute{
			"tenant_id":          dsschema.StringAttribute{Required: true, Description: "The id of the tenant of the project."},
			"project_id":         dsschema.StringAttribute{Required: true, Description: "The id of the project."},
			"id":                 dsschema.StringAttribute{Optional: true, Computed: true, Description: "The virtual cluster's id; give id or name."},
			"name":               dsschema.StringAttribute{Optional: true, Computed: true, Description: "The virtual cluster's name; give id or name."},
			"cluster_group_id":   c("The id of its cluster group."),
			"kubernetes_version": c("Its Kubernetes version."),
			"quota": dsschema.SingleNestedAttribute{Computed: true, Description: "Its quota.",
				Attributes: map[string]dsschema.Attribute{"cpu": dim("CPU."), "memory": dim("Memory."), "storage": dim("Storage."), "pods": dim("Pods.")}},
			"profiles":         profileRefsDataAttribute("Its own cluster profiles, in order: {id, version, variables}."),
			"config":           c("Its nest.yaml."),
			"paused":           dsschema.BoolAttribute{Computed: true, Description: "Whether it is paused."},
			"host_cluster_id":  c("The id of the host cluster it runs on."),
			"namespace":        c("Its host namespace."),
			"endpoint":         c("The URL of its apiserver."),
			"phase":            c("The reconciler's phase."),
			"message":          c("The reconciler's last message."),
			"resource_version": dsschema.Int64Attribute{Computed: true, Description: "Its resourceVersion."},
		},
	}
}

func (d *virtualClusterDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m virtualClusterDataModel
	if resp.Diagnostics.Append(req.Config.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	tenantID, projectID := m.TenantID.ValueString(), m.ProjectID.ValueString()
	vc, ok := byIDOrName(ctx, &resp.Diagnostics, "virtual cluster", m.ID, m.Name,
		func(ctx context.Context, id string) (*store.VirtualCluster, error) {
			return d.hub.GetVirtualCluster(ctx, client.VirtualClusterRef{TenantID: tenantID, ProjectID: projectID, ID: id})
		},
		func(ctx context.Context, o client.ListOptions) (store.Page[store.VirtualCluster], error) {
			return d.hub.ListVirtualClusters(ctx, tenantID, projectID, o)
		})
	if !ok {
		return
	}
	var full virtualClusterModel
	full.Quota, full.Timeouts, full.Kubeconfig = types.ObjectNull(quotaTypes), types.ObjectNull(timeoutsAttrTypes), types.StringNull()
	full.set(&virtualCluster{vc: vc})
	m = virtualClusterDataModel{ID: full.ID, TenantID: full.TenantID, ProjectID: full.ProjectID, Name: full.Name,
		ClusterGroupID: full.ClusterGroupID, KubernetesVersion: full.KubernetesVersion, Quota: full.Quota, Profiles: full.Profiles,
		Config: full.Config, Paused: full.Paused, HostClusterID: full.HostClusterID, Namespace: full.Namespace, Endpoint: full.Endpoint,
		Phase: full.Phase, Message: full.Message, ResourceVersion: full.ResourceVersion}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Data source nest_virtual_cluster_kubeconfig: the admin kubeconfig of a
// Ready virtual cluster (each read is a download the hub audits).

type kubeconfigDataSource struct{ hubDataSource }

func newVirtualClusterKubeconfigDataSource() datasource.DataSource { return &kubeconfigDataSource{} }

type kubeconfigDataModel struct {
	TenantID         types.String `tfsdk:"tenant_id"`
	ProjectID        types.String `tfsdk:"project_id"`
	VirtualClusterID types.String `tfsdk:"virtual_cluster_id"`
	Kubeconfig       types.String `tfsdk:"kubeconfig"`
}

func (d *kubeconfigDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_virtual_cluster_kubeconfig"
}

func (d *kubeconfigDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = dsschema.Schema{
		Description: "Downloads the admin kubeconfig of a Ready virtual cluster; the hub records each download in its audit log.",
		Attributes: map[string]dsschema.Attribute{
			"tenant_id":          dsschema.StringAttribute{Required: true, Description: "The id of the tenant of the project."},
			"project_id":         dsschema.StringAttribute{Required: true, Description: "The id of the project."},
			"virtual_cluster_id": dsschema.StringAttribute{Required: true, Description: "The id of the virtual cluster."},
			"kubeconfig":         dsschema.StringAttribute{Computed: true, Sensitive: true, Description: "The admin kubeconfig (YAML)."},
		},
	}
}

func (d *kubeconfigDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m kubeconfigDataModel
	if resp.Diagnostics.Append(req.Config.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	kc, err := d.hub.GetVirtualClusterKubeconfig(ctx, client.VirtualClusterRef{TenantID: m.TenantID.ValueString(),
		ProjectID: m.ProjectID.ValueString(), ID: m.VirtualClusterID.ValueString()})
	if err != nil {
		addHubError(&resp.Diagnostics, "download the kubeconfig", err)
		return
	}
	m.Kubeconfig = types.StringValue(kc.Kubeconfig)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
