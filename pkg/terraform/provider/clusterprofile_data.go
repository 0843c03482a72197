package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// Data source nest_cluster_profile: a cluster profile found by id or by
// name, with its current version's layers and the list of its versions.

type clusterProfileDataSource struct{ hubDataSource }

func newClusterProfileDataSource() datasource.DataSource { return &clusterProfileDataSource{} }

type clusterProfileDataModel struct {
	ID              types.String `tfsdk:"id"`
	Name            types.String `tfsdk:"name"`
	Description     types.String `tfsdk:"description"`
	Version         types.String `tfsdk:"version"`
	Versions        types.List   `tfsdk:"versions"`
	Variables       types.Map    `tfsdk:"variables"`
	Layers          types.List   `tfsdk:"layers"`
	ResourceVersion types.Int64  `tfsdk:"resource_version"`
}

var profileDataLayerAttrTypes = map[string]attr.Type{"name": types.StringType, "kind": types.StringType, "namespace": types.StringType,
	"manifests": types.StringType, "chart_sha256": types.StringType, "values": types.StringType, "release": types.StringType}

func (d *clusterProfileDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_profile"
}

func (d *clusterProfileDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	c := func(d string) dsschema.StringAttribute {
		return dsschema.StringAttribute{Computed: true, Description: d}
	}
	resp.Schema = dsschema.Schema{
		Description: "Looks up a cluster profile by id or by name, with its current version's layers and all its versions.",
		Attributes: map[string]dsschema.Attribute{
			"id":          dsschema.StringAttribute{Optional: true, Computed: true, Description: "The profile's id; give id or name."},
			"name":        dsschema.StringAttribute{Optional: true, Computed: true, Description: "The profile's name; give id or name."},
			"description": c("The profile's description."),
			"version":     c("The current version (the one virtual clusters that follow the latest get)."),
			"versions":    dsschema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "Every version, oldest first."},
			"variables":   dsschema.MapAttribute{Computed: true, ElementType: types.StringType, Description: "The variables with their defaults."},
			"layers": dsschema.ListNestedAttribute{Computed: true, Description: "The current version's layers, in order.",
				NestedObject: dsschema.NestedAttributeObject{Attributes: map[string]dsschema.Attribute{
					"name":         c("The layer's name."),
					"kind":         c("manifests or helm."),
					"namespace":    c("The layer's namespace (null: default)."),
					"manifests":    c("The manifests of a manifests layer."),
					"chart_sha256": c("The SHA-256 of a helm layer's chart archive."),
					"values":       c("The Helm values of a helm layer."),
					"release":      c("The Helm release name (null: the layer's name)."),
				}}},
			"resource_version": dsschema.Int64Attribute{Computed: true, Description: "The profile's resourceVersion."},
		},
	}
}

func (d *clusterProfileDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m clusterProfileDataModel
	if resp.Diagnostics.Append(req.Config.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	found, ok := byIDOrName(ctx, &resp.Diagnostics, "cluster profile", m.ID, m.Name, d.hub.GetClusterProfile,
		func(ctx context.Context, o client.ListOptions) (store.Page[store.ClusterProfile], error) {
			return d.hub.ListClusterProfiles(ctx, o)
		})
	if !ok {
		return
	}
	// Lists leave the layers out: read the profile itself.
	p, err := d.hub.GetClusterProfile(ctx, found.ID)
	if err != nil {
		addHubError(&resp.Diagnostics, "read the cluster profile", err)
		return
	}
	spec, err := specOf(p)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the cluster profile", err.Error())
		return
	}
	vs, err := d.hub.ListClusterProfileVersions(ctx, p.ID)
	if err != nil {
		addHubError(&resp.Diagnostics, "list the versions of the cluster profile", err)
		return
	}
	versions := make([]string, 0, len(vs))
	for _, v := range vs {
		versions = append(versions, v.Version)
	}
	layers := make([]attr.Value, 0, len(spec.Layers))
	for _, l := range spec.Layers {
		sum := types.StringNull()
		if l.Chart != nil {
			sum = types.StringValue(digest(l.Chart.Archive))
		}
		layers = append(layers, types.ObjectValueMust(profileDataLayerAttrTypes, map[string]attr.Value{
			"name": types.StringValue(l.Name), "kind": types.StringValue(string(l.Kind)), "namespace": optionalString(l.Namespace),
			"manifests": optionalString(l.Manifests), "chart_sha256": sum, "values": optionalString(l.Values), "release": optionalString(l.Release),
		}))
	}
	vl, diags := types.ListValueFrom(ctx, types.StringType, versions)
	resp.Diagnostics.Append(diags...)
	m = clusterProfileDataModel{ID: types.StringValue(p.ID), Name: types.StringValue(p.Name), Description: types.StringValue(p.Description),
		Version: types.StringValue(p.Version), Versions: vl, Variables: stringMapValue(types.MapNull(types.StringType), spec.Variables),
		Layers:          types.ListValueMust(types.ObjectType{AttrTypes: profileDataLayerAttrTypes}, layers),
		ResourceVersion: types.Int64Value(p.ResourceVersion)}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
