package provider

import (
	"context"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/store"
)

// Profile references: the profiles attribute of nest_virtual_cluster and
// nest_cluster_group, a list of {id, version, variables} mapped to
// store.ProfileRef{ProfileID, Version, Variables}.

type profileRefModel struct {
	ID        types.String `tfsdk:"id"`
	Version   types.String `tfsdk:"version"`
	Variables types.Map    `tfsdk:"variables"`
}

var (
	profileRefAttrTypes = map[string]attr.Type{"id": types.StringType, "version": types.StringType, "variables": types.MapType{ElemType: types.StringType}}
	profileRefType      = types.ObjectType{AttrTypes: profileRefAttrTypes}
)

// profileRefsAttribute is an ordered list of profile references, empty by
// default, changed in place.
func profileRefsAttribute(description string) schema.ListNestedAttribute {
	return schema.ListNestedAttribute{Optional: true, Computed: true, Description: description,
		Default: listdefault.StaticValue(types.ListValueMust(profileRefType, []attr.Value{})),
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Required: true, Description: "The id of the cluster profile (nest_cluster_profile.NAME.id)."},
			"version": schema.StringAttribute{Optional: true,
				Description: "The version to pin; unset follows the profile's latest version (each new version is applied)."},
			"variables": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				Description: "Values of the profile's variables (each must be declared by the profile); the others keep the profile's defaults."},
		}}}
}

// profileRefsDataAttribute is the same list in a data source.
func profileRefsDataAttribute(description string) dsschema.ListNestedAttribute {
	return dsschema.ListNestedAttribute{Computed: true, Description: description,
		NestedObject: dsschema.NestedAttributeObject{Attributes: map[string]dsschema.Attribute{
			"id":        dsschema.StringAttribute{Computed: true, Description: "The id of the cluster profile."},
			"version":   dsschema.StringAttribute{Computed: true, Description: "The pinned version; null follows the latest."},
			"variables": dsschema.MapAttribute{Computed: true, ElementType: types.StringType, Description: "The variables set."},
		}}}
}

// profileRefsOf reads the known references of a planned list.
func profileRefsOf(ctx context.Context, l types.List) ([]store.ProfileRef, error) {
	out := []store.ProfileRef{}
	if l.IsNull() || l.IsUnknown() {
		return out, nil
	}
	var refs []profileRefModel
	if diags := l.ElementsAs(ctx, &refs, false); diags.HasError() {
		return nil, &attributeError{"profiles", "cannot read the profile references: an id is not known yet"}
	}
	for _, r := range refs {
		if r.ID.IsUnknown() {
			return nil, &attributeError{"profiles", "a profile id is not known"}
		}
		ref := store.ProfileRef{ProfileID: r.ID.ValueString(), Version: r.Version.ValueString()}
		if !r.Variables.IsNull() && !r.Variables.IsUnknown() {
			vars := map[string]string{}
			if diags := r.Variables.ElementsAs(ctx, &vars, false); diags.HasError() {
				return nil, &attributeError{"profiles", "cannot read the variables of profile " + ref.ProfileID}
			}
			if len(vars) > 0 {
				ref.Variables = vars
			}
		}
		out = append(out, ref)
	}
	return out, nil
}

// profileRefsValue is the hub's references, keeping prior's spelling of
// what is the same: an empty map of variables and no variables are one
// value, so are an unset and an empty version.
func profileRefsValue(ctx context.Context, prior types.List, hub []store.ProfileRef) types.List {
	var before []profileRefModel
	if !prior.IsNull() && !prior.IsUnknown() {
		_ = prior.ElementsAs(ctx, &before, false)
	}
	vals := make([]attr.Value, 0, len(hub))
	for i, r := range hub {
		var p profileRefModel
		if i < len(before) {
			p = before[i]
		}
		version := optionalString(r.Version)
		if r.Version == "" && !p.Version.IsNull() && !p.Version.IsUnknown() && p.Version.ValueString() == "" {
			version = p.Version
		}
		var variables types.Map
		switch {
		case len(r.Variables) == 0 && !p.Variables.IsUnknown() && !p.Variables.IsNull() && len(p.Variables.Elements()) == 0:
			variables = p.Variables
		case len(r.Variables) == 0:
			variables = types.MapNull(types.StringType)
		default:
			elems := map[string]attr.Value{}
			for k, v := range maps.All(r.Variables) {
				elems[k] = types.StringValue(v)
			}
			variables = types.MapValueMust(types.StringType, elems)
		}
		vals = append(vals, types.ObjectValueMust(profileRefAttrTypes, map[string]attr.Value{
			"id": types.StringValue(r.ProfileID), "version": version, "variables": variables}))
	}
	return types.ListValueMust(profileRefType, vals)
}

// sameProfileRefs tells whether two lists of references ask for the same.
func sameProfileRefs(a, b []store.ProfileRef) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ProfileID != b[i].ProfileID || a[i].Version != b[i].Version || !maps.Equal(a[i].Variables, b[i].Variables) {
			return false
		}
	}
	return true
}
