package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// nest_cluster_group: a pool of host clusters with the quota and defaults
// of the virtual clusters placed on it. Import ID: CLUSTER_GROUP_ID.

type clusterGroupModel struct {
	ID                      types.String `tfsdk:"id"`
	Name                    types.String `tfsdk:"name"`
	Description             types.String `tfsdk:"description"`
	HostClusterIDs          types.Set    `tfsdk:"host_cluster_ids"`
	Quota                   types.Object `tfsdk:"quota"`
	MaxVirtualClusters      types.Int64  `tfsdk:"max_virtual_clusters"`
	OversubscriptionPercent types.Int64  `tfsdk:"oversubscription_percent"`
	EndpointType            types.String `tfsdk:"endpoint_type"`
	DefaultConfig           types.String `tfsdk:"default_config"`
	Profiles                types.List   `tfsdk:"profiles"`
	ResourceVersion         types.Int64  `tfsdk:"resource_version"`
}

func (m *clusterGroupModel) set(g *store.ClusterGroup) {
	ctx := context.Background()
	m.ID, m.Name, m.Description = types.StringValue(g.ID), types.StringValue(g.Name), types.StringValue(g.Description)
	m.HostClusterIDs = stringSet(g.HostClusterIDs)
	if g.Quota == (store.Resources{}) && m.Quota.IsNull() {
		m.Quota = types.ObjectNull(quotaTypes)
	} else {
		m.Quota = quotaValue(ctx, m.Quota, g.Quota)
	}
	m.MaxVirtualClusters, m.OversubscriptionPercent = types.Int64Value(int64(g.MaxVirtualClusters)), types.Int64Value(int64(g.OversubscriptionPercent))
	m.EndpointType = types.StringValue(g.EndpointType)
	m.DefaultConfig = yamlValue(m.DefaultConfig, g.DefaultConfig)
	if m.DefaultConfig.IsNull() {
		m.DefaultConfig = types.StringValue("")
	}
	m.Profiles = profileRefsValue(ctx, m.Profiles, g.Profiles)
	m.ResourceVersion = types.Int64Value(g.ResourceVersion)
}

func (m *clusterGroupModel) spec(ctx context.Context) (api.ClusterGroupSpec, error) {
	quota, diags := quotaOf(ctx, m.Quota)
	if diags.HasError() {
		return api.ClusterGroupSpec{}, &attributeError{"quota", "cannot read the quota"}
	}
	profiles, err := profileRefsOf(ctx, m.Profiles)
	if err != nil {
		return api.ClusterGroupSpec{}, err
	}
	return api.ClusterGroupSpec{Profiles: profiles, Description: m.Description.ValueString(), HostClusterIDs: stringsOf(m.HostClusterIDs), Quota: quota,
		MaxVirtualClusters: int(m.MaxVirtualClusters.ValueInt64()), OversubscriptionPercent: int(m.OversubscriptionPercent.ValueInt64()),
		EndpointType: m.EndpointType.ValueString(), DefaultConfig: m.DefaultConfig.ValueString()}, nil
}

func newClusterGroupResource() resource.Resource {
	return &crud[clusterGroupModel, store.ClusterGroup]{
		name: "cluster_group", what: "the cluster group",
		schema: schema.Schema{
			Description: "A cluster group: host clusters that virtual clusters are placed on, with each virtual cluster's default (and largest) quota and default nest.yaml. Import ID: CLUSTER_GROUP_ID.",
			Attributes: map[string]schema.Attribute{
				"id":          idAttribute(),
				"name":        nameAttribute("cluster group"),
				"description": textAttribute("A description (at most 1024 characters)."),
				"host_cluster_ids": schema.SetAttribute{Optional: true, Computed: true, ElementType: types.StringType,
					Default:     setdefault.StaticValue(types.SetValueMust(types.StringType, []attr.Value{})),
					Description: "The ids of the group's host clusters."},
				"quota": schema.SingleNestedAttribute{Optional: true, Description: "The quota of each virtual cluster in the group: its default, and the most one may ask for. Quantities are compared by value (1000m is 1).",
					Attributes: map[string]schema.Attribute{
						"cpu":     schema.StringAttribute{Optional: true, Description: "CPU (requests), as a Kubernetes quantity.", Validators: []validator.String{quantityValidator{}}},
						"memory":  schema.StringAttribute{Optional: true, Description: "Memory (requests), as a Kubernetes quantity.", Validators: []validator.String{quantityValidator{}}},
						"storage": schema.StringAttribute{Optional: true, Description: "Storage (requests of persistent volume claims), as a Kubernetes quantity.", Validators: []validator.String{quantityValidator{}}},
						"pods":    schema.StringAttribute{Optional: true, Description: "Number of pods, as a Kubernetes quantity.", Validators: []validator.String{quantityValidator{}}},
					}},
				"max_virtual_clusters": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(0),
					Description: "The most virtual clusters the group holds; 0 is no limit."},
				"oversubscription_percent": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(0),
					Description: "How far (0 to 1000 percent) the quotas placed on a host may exceed its capacity."},
				"endpoint_type": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(store.EndpointLocal),
					Validators:  []validator.String{oneOf{store.EndpointLocal, store.EndpointNodePort, store.EndpointLoadBalancer, store.EndpointIngress}},
					Description: "How tenants reach the virtual apiservers: Local (default), NodePort, LoadBalancer or Ingress."},
				"default_config": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
					Validators:  []validator.String{yamlValidator{}},
					Description: "nest.yaml text every virtual cluster of the group starts from. Compared by meaning: whitespace, comments and key order are no change."},
				"profiles":         profileRefsAttribute("The cluster profiles applied to every virtual cluster of the group, in order, before the virtual cluster's own: each {id, version, variables}. Changing them updates in place."),
				"resource_version": resourceVersionAttribute(),
			},
		},
		attrs:         []string{"name", "description", "host_cluster_ids", "quota", "max_virtual_clusters", "oversubscription_percent", "endpoint_type", "default_config", "profiles"},
		importLayouts: [][]string{{"id"}},
		create: func(ctx context.Context, hub *client.Client, plan *clusterGroupModel) (*store.ClusterGroup, error) {
			spec, err := plan.spec(ctx)
			if err != nil {
				return nil, err
			}
			return hub.CreateClusterGroup(ctx, api.CreateClusterGroupRequest{Name: plan.Name.ValueString(), ClusterGroupSpec: spec})
		},
		get: func(ctx context.Context, hub *client.Client, state *clusterGroupModel) (*store.ClusterGroup, error) {
			return hub.GetClusterGroup(ctx, state.ID.ValueString())
		},
		update: func(ctx context.Context, hub *client.Client, plan, state *clusterGroupModel) (*store.ClusterGroup, error) {
			spec, err := plan.spec(ctx)
			if err != nil {
				return nil, err
			}
			return hub.UpdateClusterGroup(ctx, state.ID.ValueString(), api.UpdateClusterGroupRequest{ClusterGroupSpec: spec,
				ResourceVersion: state.ResourceVersion.ValueInt64()})
		},
		remove: func(ctx context.Context, hub *client.Client, state *clusterGroupModel) error {
			return hub.DeleteClusterGroup(ctx, state.ID.ValueString(), state.ResourceVersion.ValueInt64())
		},
		set: (*clusterGroupModel).set,
	}
}

// Data source nest_cluster_group: a cluster group found by id or by name.

type clusterGroupDataSource struct{ hubDataSource }

func newClusterGroupDataSource() datasource.DataSource { return &clusterGroupDataSource{} }

func (d *clusterGroupDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_group"
}

func (d *clusterGroupDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	dim := func(d string) dsschema.Attribute { return dsschema.StringAttribute{Computed: true, Description: d} }
	resp.Schema = dsschema.Schema{
		Description: "Looks up a cluster group by id or by name.",
		Attributes: map[string]dsschema.Attribute{
			"id":               dsschema.StringAttribute{Optional: true, Computed: true, Description: "The cluster group's id; give id or name."},
			"name":             dsschema.StringAttribute{Optional: true, Computed: true, Description: "The cluster group's name; give id or name."},
			"description":      dsschema.StringAttribute{Computed: true, Description: "The group's description."},
			"host_cluster_ids": dsschema.SetAttribute{Computed: true, ElementType: types.StringType, Description: "The ids of the group's host clusters."},
			"quota": dsschema.SingleNestedAttribute{Computed: true, Description: "Each virtual cluster's default and largest quota.",
				Attributes: map[string]dsschema.Attribute{"cpu": dim("CPU."), "memory": dim("Memory."), "storage": dim("Storage."), "pods": dim("Pods.")}},
			"max_virtual_clusters":     dsschema.Int64Attribute{Computed: true, Description: "The most virtual clusters the group holds (0: no limit)."},
			"oversubscription_percent": dsschema.Int64Attribute{Computed: true, Description: "How far quotas may exceed a host's capacity."},
			"endpoint_type":            dsschema.StringAttribute{Computed: true, Description: "How tenants reach the virtual apiservers."},
			"default_config":           dsschema.StringAttribute{Computed: true, Description: "The group's default nest.yaml."},
			"profiles":                 profileRefsDataAttribute("The cluster profiles applied to every virtual cluster of the group, in order: {id, version, variables}."),
			"resource_version":         dsschema.Int64Attribute{Computed: true, Description: "The group's resourceVersion."},
		},
	}
}

func (d *clusterGroupDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m clusterGroupModel
	if resp.Diagnostics.Append(req.Config.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	g, ok := byIDOrName(ctx, &resp.Diagnostics, "cluster group", m.ID, m.Name, d.hub.GetClusterGroup,
		func(ctx context.Context, o client.ListOptions) (store.Page[store.ClusterGroup], error) {
			return d.hub.ListClusterGroups(ctx, o)
		})
	if !ok {
		return
	}
	m.set(g)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
