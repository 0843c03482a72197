package provider

import (
	"context"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// nest_team: a team of a tenant with its members. Import ID:
// TENANT_ID/TEAM_ID.

type teamModel struct {
	ID              types.String `tfsdk:"id"`
	TenantID        types.String `tfsdk:"tenant_id"`
	Name            types.String `tfsdk:"name"`
	Description     types.String `tfsdk:"description"`
	Members         types.Set    `tfsdk:"members"`
	ResourceVersion types.Int64  `tfsdk:"resource_version"`
}

func (m *teamModel) set(t *store.Team, members []store.TeamMember) {
	m.ID, m.TenantID, m.Name = types.StringValue(t.ID), types.StringValue(t.TenantID), types.StringValue(t.Name)
	m.Description = types.StringValue(t.Description)
	m.ResourceVersion = types.Int64Value(t.ResourceVersion)
	ids := make([]string, 0, len(members))
	for _, mb := range members {
		ids = append(ids, mb.UserID)
	}
	m.Members = stringSet(ids)
}

type teamResource struct{ hubResource }

var (
	_ resource.ResourceWithConfigure   = (*teamResource)(nil)
	_ resource.ResourceWithImportState = (*teamResource)(nil)
)

func newTeamResource() resource.Resource { return &teamResource{} }

func (r *teamResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_team"
}

func (r *teamResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A team of a tenant: a set of users that role bindings name as one subject. Import ID: TENANT_ID/TEAM_ID.",
		Attributes: map[string]schema.Attribute{
			"id":          idAttribute(),
			"tenant_id":   parentAttribute("The id of the team's tenant. Changing it replaces the team.", true),
			"name":        nameAttribute("team"),
			"description": textAttribute("What the team is for (at most 1024 characters)."),
			"members": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default:     setdefault.StaticValue(stringSet(nil)),
				Description: "The ids of the team's users. Members added outside Terraform show as drift and are removed by the next apply."},
			"resource_version": resourceVersionAttribute(),
		},
	}
}

var teamAttrs = []string{"name", "description", "tenant_id", "members"}

// syncMembers adds and removes users so that the team has exactly want.
func (r *teamResource) syncMembers(ctx context.Context, tenantID, teamID string, want []string) ([]store.TeamMember, error) {
	have, err := r.hub.ListTeamMembers(ctx, tenantID, teamID)
	if err != nil {
		return nil, err
	}
	changed := false
	for _, m := range have {
		if !slices.Contains(want, m.UserID) {
			if err := r.hub.RemoveTeamMember(ctx, tenantID, teamID, m.UserID); err != nil && !client.IsNotFound(err) {
				return nil, err
			}
			changed = true
		}
	}
	for _, u := range want {
		if !slices.ContainsFunc(have, func(m store.TeamMember) bool { return m.UserID == u }) {
			if _, err := r.hub.AddTeamMember(ctx, tenantID, teamID, u); err != nil {
				return nil, err
			}
			changed = true
		}
	}
	if !changed {
		return have, nil
	}
	return r.hub.ListTeamMembers(ctx, tenantID, teamID)
}

func (r *teamResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan teamModel
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...); resp.Diagnostics.HasError() {
		return
	}
	want := setStrings(ctx, plan.Members, &resp.Diagnostics)
	tenantID := plan.TenantID.ValueString()
	t, err := r.hub.CreateTeam(ctx, tenantID, api.CreateTeamRequest{Name: plan.Name.ValueString(), Description: plan.Description.ValueString()})
	if err != nil {
		addHubError(&resp.Diagnostics, "create the team", err, teamAttrs...)
		return
	}
	members, err := r.syncMembers(ctx, tenantID, t.ID, want)
	if err != nil {
		// No state for a failed create: take the half-made team back.
		addHubError(&resp.Diagnostics, "add the team's members", err, teamAttrs...)
		if derr := r.hub.DeleteTeam(ctx, tenantID, t.ID, 0); derr != nil && !client.IsNotFound(derr) {
			addHubError(&resp.Diagnostics, "remove the half-made team "+t.ID, derr)
		}
		return
	}
	plan.set(t, members)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *teamResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state teamModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	tenantID := state.TenantID.ValueString()
	t, err := r.hub.GetTeam(ctx, tenantID, state.ID.ValueString())
	if client.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	var members []store.TeamMember
	if err == nil {
		members, err = r.hub.ListTeamMembers(ctx, tenantID, t.ID)
	}
	if err != nil {
		addHubError(&resp.Diagnostics, "read the team", err)
		return
	}
	state.set(t, members)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *teamResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state teamModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	tenantID, id := state.TenantID.ValueString(), state.ID.ValueString()
	var t *store.Team
	var err error
	if plan.Description.ValueString() != state.Description.ValueString() {
		t, err = r.hub.UpdateTeam(ctx, tenantID, id, api.UpdateTeamRequest{Description: plan.Description.ValueString(), ResourceVersion: state.ResourceVersion.ValueInt64()})
	} else { // only the members change
		t, err = r.hub.GetTeam(ctx, tenantID, id)
	}
	if err != nil {
		addHubError(&resp.Diagnostics, "update the team", err, teamAttrs...)
		return
	}
	members, err := r.syncMembers(ctx, tenantID, id, setStrings(ctx, plan.Members, &resp.Diagnostics))
	if err != nil {
		addHubError(&resp.Diagnostics, "update the team's members", err, teamAttrs...)
		return
	}
	plan.set(t, members)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *teamResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state teamModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	err := r.hub.DeleteTeam(ctx, state.TenantID.ValueString(), state.ID.ValueString(), state.ResourceVersion.ValueInt64())
	if err != nil && !client.IsNotFound(err) {
		addHubError(&resp.Diagnostics, "delete the team", err)
	}
}

func (r *teamResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importIDs(ctx, req, resp, []string{"tenant_id", "id"})
}
