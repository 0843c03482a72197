package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/profile"
)

// nest_cluster_profile: a cluster profile, its layers uploaded to the hub
// (Helm chart directories packaged by the provider). Each change of its
// content publishes a new version; a change of spelling only (YAML
// whitespace, key order) or of a chart's path to the same chart publishes
// nothing. Import ID: CLUSTER_PROFILE_ID.

type clusterProfileModel struct {
	ID              types.String `tfsdk:"id"`
	Name            types.String `tfsdk:"name"`
	Description     types.String `tfsdk:"description"`
	Version         types.String `tfsdk:"version"`
	Variables       types.Map    `tfsdk:"variables"`
	Layers          types.List   `tfsdk:"layers"`
	ResourceVersion types.Int64  `tfsdk:"resource_version"`
}

type profileLayerModel struct {
	Name        types.String `tfsdk:"name"`
	Namespace   types.String `tfsdk:"namespace"`
	Manifests   types.String `tfsdk:"manifests"`
	Chart       types.String `tfsdk:"chart"`
	ChartSHA256 types.String `tfsdk:"chart_sha256"`
	Values      types.String `tfsdk:"values"`
	Release     types.String `tfsdk:"release"`
}

var (
	profileLayerAttrTypes = map[string]attr.Type{"name": types.StringType, "namespace": types.StringType, "manifests": types.StringType,
		"chart": types.StringType, "chart_sha256": types.StringType, "values": types.StringType, "release": types.StringType}
	profileLayerType = types.ObjectType{AttrTypes: profileLayerAttrTypes}
)

// specOf decodes the profile version a hub object carries.
func specOf(o *store.ClusterProfile) (*profile.Profile, error) {
	var p profile.Profile
	if err := json.Unmarshal(o.Spec, &p); err != nil {
		return nil, fmt.Errorf("the spec of cluster profile %s: %w", o.ID, err)
	}
	return &p, nil
}

func (m *clusterProfileModel) set(o *store.ClusterProfile) {
	ctx := context.Background()
	m.ID, m.Name, m.Description = types.StringValue(o.ID), types.StringValue(o.Name), types.StringValue(o.Description)
	m.Version, m.ResourceVersion = types.StringValue(o.Version), types.Int64Value(o.ResourceVersion)
	p, err := specOf(o)
	if err != nil || len(o.Spec) == 0 {
		return // a list's summary: the layers stay as they were
	}
	m.Variables = stringMapValue(m.Variables, p.Variables)
	var prior []profileLayerModel
	if !m.Layers.IsNull() && !m.Layers.IsUnknown() {
		_ = m.Layers.ElementsAs(ctx, &prior, false)
	}
	layers := make([]attr.Value, 0, len(p.Layers))
	for i, l := range p.Layers {
		var pl profileLayerModel
		if i < len(prior) {
			pl = prior[i]
		}
		chartPath, sum := types.StringNull(), types.StringNull()
		if l.Chart != nil {
			// The hub has the archive only: the path stays the
			// configuration's, the digest says whether it is that chart.
			if !pl.Chart.IsUnknown() {
				chartPath = pl.Chart
			}
			sum = types.StringValue(digest(l.Chart.Archive))
		}
		layers = append(layers, types.ObjectValueMust(profileLayerAttrTypes, map[string]attr.Value{
			"name":         types.StringValue(l.Name),
			"namespace":    optionalString(l.Namespace),
			"manifests":    manifestsValue(pl.Manifests, l.Manifests),
			"chart":        chartPath,
			"chart_sha256": sum,
			"values":       yamlValue(pl.Values, l.Values),
			"release":      optionalString(l.Release),
		}))
	}
	m.Layers = types.ListValueMust(profileLayerType, layers)
}

// stringMapValue is the hub's map of strings, keeping prior when it is
// the same (an empty map and no map are one value).
func stringMapValue(prior types.Map, hub map[string]string) types.Map {
	if len(hub) == 0 {
		if !prior.IsNull() && !prior.IsUnknown() && len(prior.Elements()) == 0 {
			return prior
		}
		return types.MapNull(types.StringType)
	}
	elems := map[string]attr.Value{}
	for k, v := range hub {
		elems[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, elems)
}

// stringMapOf reads a known map of strings (nil when null or empty).
func stringMapOf(ctx context.Context, m types.Map) map[string]string {
	if m.IsNull() || m.IsUnknown() || len(m.Elements()) == 0 {
		return nil
	}
	out := map[string]string{}
	_ = m.ElementsAs(ctx, &out, false)
	return out
}

// profile builds the profile version the plan describes, its charts
// packaged; version is "" when not configured.
func (m *clusterProfileModel) profile(ctx context.Context) (*profile.Profile, error) {
	p := &profile.Profile{Name: m.Name.ValueString(), Description: m.Description.ValueString(), Variables: stringMapOf(ctx, m.Variables)}
	if !m.Version.IsUnknown() {
		p.Version = m.Version.ValueString()
	}
	var layers []profileLayerModel
	if diags := m.Layers.ElementsAs(ctx, &layers, false); diags.HasError() {
		return nil, &attributeError{"layers", "cannot read the layers: a value is not known yet"}
	}
	for i, lm := range layers {
		l := profile.Layer{Name: lm.Name.ValueString(), Namespace: lm.Namespace.ValueString(), Release: lm.Release.ValueString()}
		hasManifests, hasChart := !lm.Manifests.IsNull(), !lm.Chart.IsNull()
		switch {
		case hasManifests && hasChart:
			return nil, &attributeError{"layers", fmt.Sprintf("layers[%d] (%s): set manifests or chart, not both", i, l.Name)}
		case hasManifests:
			if !lm.Values.IsNull() || !lm.Release.IsNull() {
				return nil, &attributeError{"layers", fmt.Sprintf("layers[%d] (%s): values and release are for chart layers", i, l.Name)}
			}
			l.Kind, l.Manifests = profile.KindManifests, lm.Manifests.ValueString()
		case hasChart:
			data, err := chartArchive(lm.Chart.ValueString())
			if err != nil {
				return nil, &attributeError{"layers", fmt.Sprintf("layers[%d] (%s): %v", i, l.Name, err)}
			}
			l.Kind, l.Chart, l.Values = profile.KindHelm, &profile.Chart{Archive: data}, lm.Values.ValueString()
		default:
			return nil, &attributeError{"layers", fmt.Sprintf("layers[%d] (%s): set manifests (YAML documents) or chart (a chart directory or .tgz)", i, l.Name)}
		}
		p.Layers = append(p.Layers, l)
	}
	return p, nil
}

// sameProfile tells whether two profile versions have the same content
// (version aside): the same texts in meaning, the same chart archives.
func sameProfile(a, b *profile.Profile) bool {
	if a.Description != b.Description || !maps.Equal(a.Variables, b.Variables) || len(a.Layers) != len(b.Layers) {
		return false
	}
	for i := range a.Layers {
		la, lb := &a.Layers[i], &b.Layers[i]
		if la.Name != lb.Name || la.Kind != lb.Kind || la.Namespace != lb.Namespace || la.Release != lb.Release ||
			!sameManifests(la.Manifests, lb.Manifests) || !sameYAML(la.Values, lb.Values) ||
			(la.Chart == nil) != (lb.Chart == nil) || (la.Chart != nil && digest(la.Chart.Archive) != digest(lb.Chart.Archive)) {
			return false
		}
	}
	return true
}

// sameContent tells whether a plan keeps the profile's content: then no
// version is published (a chart path changed to the same chart, a YAML
// text respelled).
func sameContent(ctx context.Context, plan, state *clusterProfileModel) bool {
	if plan.Description.IsUnknown() || plan.Description.ValueString() != state.Description.ValueString() ||
		plan.Variables.IsUnknown() || !maps.Equal(stringMapOf(ctx, plan.Variables), stringMapOf(ctx, state.Variables)) || plan.Layers.IsUnknown() {
		return false
	}
	var pl, sl []profileLayerModel
	if plan.Layers.ElementsAs(ctx, &pl, false).HasError() || state.Layers.ElementsAs(ctx, &sl, false).HasError() || len(pl) != len(sl) {
		return false
	}
	for i := range pl {
		a, b := &pl[i], &sl[i]
		for _, v := range []types.String{a.Name, a.Namespace, a.Manifests, a.ChartSHA256, a.Values, a.Release} {
			if v.IsUnknown() {
				return false
			}
		}
		if !a.Name.Equal(b.Name) || a.Namespace.ValueString() != b.Namespace.ValueString() || a.Release.ValueString() != b.Release.ValueString() ||
			a.Manifests.IsNull() != b.Manifests.IsNull() || !sameManifests(a.Manifests.ValueString(), b.Manifests.ValueString()) ||
			!sameYAML(a.Values.ValueString(), b.Values.ValueString()) || !a.ChartSHA256.Equal(b.ChartSHA256) {
			return false
		}
	}
	return true
}

// clusterProfileResource adds the plan of the version to crud.
type clusterProfileResource struct {
	*crud[clusterProfileModel, store.ClusterProfile]
}

var _ resource.ResourceWithModifyPlan = (*clusterProfileResource)(nil)

// ModifyPlan plans the version: unchanged when the content is, else the
// configured one (which must then be new) or, unset, one the provider
// numbers at apply.
func (r *clusterProfileResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || req.State.Raw.IsNull() {
		return // destroy or create
	}
	var plan, state, config clusterProfileModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.Append(req.Config.Get(ctx, &config)...); resp.Diagnostics.HasError() {
		return
	}
	same := sameContent(ctx, &plan, &state)
	// A change of content is a new version, hence a new resourceVersion
	// (a chart changed on disk changes no configuration: say it here).
	newVersion := !config.Version.IsNull() && (config.Version.IsUnknown() || config.Version.ValueString() != state.Version.ValueString())
	rv := types.Int64Unknown()
	if same && !newVersion {
		rv = state.ResourceVersion
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("resource_version"), rv)...)
	if !config.Version.IsNull() {
		if !same && !config.Version.IsUnknown() && config.Version.ValueString() == state.Version.ValueString() {
			resp.Diagnostics.AddAttributeError(path.Root("version"), "A new version is needed",
				fmt.Sprintf("The profile's content changes, and versions are immutable: set version to a new one (not %q), or leave it unset and the provider numbers the versions.", state.Version.ValueString()))
		}
		return
	}
	v := types.StringUnknown()
	if same {
		v = state.Version
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("version"), v)...)
}

// chartDigest plans a layer's chart_sha256 from its chart: the digest of
// the archive the provider would upload.
type chartDigest struct{}

func (chartDigest) Description(context.Context) string {
	return "the SHA-256 of the chart archive uploaded"
}
func (m chartDigest) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }
func (chartDigest) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	chartAt := req.Path.ParentPath().AtName("chart")
	var chart types.String
	if diags := req.Config.GetAttribute(ctx, chartAt, &chart); diags.HasError() || chart.IsUnknown() {
		resp.PlanValue = types.StringUnknown()
		return
	}
	if chart.IsNull() {
		resp.PlanValue = types.StringNull()
		return
	}
	data, err := chartArchive(chart.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(chartAt, "Cannot read the chart", err.Error())
		return
	}
	resp.PlanValue = types.StringValue(digest(data))
}

// nextVersion numbers a new version: one more than the highest numbered
// version of the profile (or than the number of versions).
func nextVersion(ctx context.Context, hub *client.Client, id string) (string, error) {
	vs, err := hub.ListClusterProfileVersions(ctx, id)
	if err != nil {
		return "", fmt.Errorf("list the versions: %w", err)
	}
	highest := len(vs)
	for _, v := range vs {
		if n, err := strconv.Atoi(v.Version); err == nil && n > highest {
			highest = n
		}
	}
	return strconv.Itoa(highest + 1), nil
}

// profileCreateKey is the Idempotency-Key of a profile's create: the same
// request sends the same key.
func profileCreateKey(req api.ClusterProfileRequest) string {
	body, _ := json.Marshal(req)
	sum := sha256.Sum256(body)
	return "terraform-" + hex.EncodeToString(sum[:16])
}

func newClusterProfileResource() resource.Resource {
	str := func(d string, v ...validator.String) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Description: d, Validators: v}
	}
	return &clusterProfileResource{&crud[clusterProfileModel, store.ClusterProfile]{
		name: "cluster_profile", what: "the cluster profile",
		schema: schema.Schema{
			Description: "A cluster profile: ordered layers of manifests and Helm charts with variables, applied by the hub to the virtual clusters (and cluster groups) that refer to it. " +
				"Each change of its content publishes a new version. Import ID: CLUSTER_PROFILE_ID.",
			Attributes: map[string]schema.Attribute{
				"id":          idAttribute(),
				"name":        nameAttribute("profile"),
				"description": textAttribute("A description (at most 1024 characters)."),
				"version": schema.StringAttribute{Optional: true, Computed: true,
					Description: "The current version. Unset, the provider numbers the versions 1, 2, 3...; set, it must change with each change of the content (versions are immutable)."},
				"variables": schema.MapAttribute{Optional: true, ElementType: types.StringType,
					Description: "The variables the layers may refer to as ${NAME}, with their defaults; virtual clusters and groups may override them."},
				"layers": schema.ListNestedAttribute{Required: true, Description: "The layers, applied in order; each is manifests or a Helm chart.",
					Validators: []validator.List{minItems(1)},
					NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
						"name":      schema.StringAttribute{Required: true, Validators: []validator.String{dnsLabel{}}, Description: "The layer's name, a DNS label unique in the profile."},
						"namespace": str("For manifests, the namespace of namespaced objects that name none; for a chart, the release's namespace (created if missing). Default: default.", dnsLabel{}),
						"manifests": str("Multi-document YAML (Kubernetes objects; CustomResourceDefinitions are applied and Established first). Compared by meaning: whitespace, comments, key order are no change.", manifestsValidator{}),
						"chart":     str("A Helm chart: the path of a chart directory (packaged by the provider) or of a packaged chart (.tgz). The hub stores the archive."),
						"chart_sha256": schema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{chartDigest{}},
							Description: "The SHA-256 of the chart archive on the hub: a chart changed on disk, or on the hub, shows as a change of it."},
						"values":  str("Helm values (YAML) of a chart layer. Compared by meaning.", yamlValidator{}),
						"release": str("The Helm release name of a chart layer (default: the layer's name)."),
					}}},
				"resource_version": resourceVersionAttribute(),
			},
		},
		attrs:         []string{"name", "description", "version", "variables", "layers"},
		importLayouts: [][]string{{"id"}},
		create: func(ctx context.Context, hub *client.Client, plan *clusterProfileModel) (*store.ClusterProfile, error) {
			p, err := plan.profile(ctx)
			if err != nil {
				return nil, err
			}
			if p.Version == "" {
				p.Version = "1"
			}
			req := api.ClusterProfileRequest{Profile: *p}
			cp, err := hub.CreateClusterProfile(ctx, req, client.WithIdempotencyKey(profileCreateKey(req)))
			if err != nil {
				return nil, err
			}
			if _, err := hub.GetClusterProfile(ctx, cp.ID); client.IsNotFound(err) {
				// The key replayed the create of a profile deleted
				// since (the same configuration applied again after a
				// destroy): this is a new one.
				return hub.CreateClusterProfile(ctx, req)
			}
			return cp, nil
		},
		get: func(ctx context.Context, hub *client.Client, state *clusterProfileModel) (*store.ClusterProfile, error) {
			return hub.GetClusterProfile(ctx, state.ID.ValueString())
		},
		update: func(ctx context.Context, hub *client.Client, plan, state *clusterProfileModel) (*store.ClusterProfile, error) {
			id := state.ID.ValueString()
			p, err := plan.profile(ctx)
			if err != nil {
				return nil, err
			}
			cur, err := hub.GetClusterProfile(ctx, id)
			if err != nil {
				return nil, err
			}
			if have, err := specOf(cur); err == nil && sameProfile(have, p) && (p.Version == "" || p.Version == cur.Version) {
				return cur, nil // the same content: nothing to publish
			}
			if p.Version == "" {
				if p.Version, err = nextVersion(ctx, hub, id); err != nil {
					return nil, err
				}
			}
			return hub.UpdateClusterProfile(ctx, id, api.UpdateClusterProfileRequest{Profile: *p, ResourceVersion: state.ResourceVersion.ValueInt64()})
		},
		remove: func(ctx context.Context, hub *client.Client, state *clusterProfileModel) error {
			return hub.DeleteClusterProfile(ctx, state.ID.ValueString(), state.ResourceVersion.ValueInt64(), false)
		},
		set: (*clusterProfileModel).set,
	}}
}

// minItems checks a list's length.
type minItems int

func (v minItems) Description(context.Context) string {
	return fmt.Sprintf("must have at least %d element(s)", int(v))
}
func (v minItems) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v minItems) ValidateList(ctx context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if len(req.ConfigValue.Elements()) < int(v) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid value", v.Description(ctx))
	}
}
