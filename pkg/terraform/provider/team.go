package provider

import (
	"context"
	"errors"
	"fmt"
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

// teamWithMembers is a team as the hub returns it, in two calls.
type teamWithMembers struct {
	store.Team
	members []store.TeamMember
}

func (m *teamModel) set(t *teamWithMembers) {
	m.ID, m.TenantID, m.Name = types.StringValue(t.ID), types.StringValue(t.TenantID), types.StringValue(t.Name)
	m.Description = types.StringValue(t.Description)
	m.ResourceVersion = types.Int64Value(t.ResourceVersion)
	ids := make([]string, 0, len(t.members))
	for _, mb := range t.members {
		ids = append(ids, mb.UserID)
	}
	m.Members = stringSet(ids)
}

func newTeamResource() resource.Resource {
	return &crud[teamModel, teamWithMembers]{
		name: "team", what: "the team",
		schema: schema.Schema{
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
		},
		attrs:         []string{"name", "description", "tenant_id", "members"},
		importLayouts: [][]string{{"tenant_id", "id"}},
		create: func(ctx context.Context, hub *client.Client, plan *teamModel) (*teamWithMembers, error) {
			tenantID := plan.TenantID.ValueString()
			t, err := hub.CreateTeam(ctx, tenantID, api.CreateTeamRequest{Name: plan.Name.ValueString(), Description: plan.Description.ValueString()})
			if err != nil {
				return nil, err
			}
			members, err := syncMembers(ctx, hub, tenantID, t.ID, stringsOf(plan.Members))
			if err != nil {
				// No state for a failed create: take the half-made team back.
				err = fmt.Errorf("add the team's members: %w", err)
				if derr := hub.DeleteTeam(ctx, tenantID, t.ID, 0); derr != nil && !client.IsNotFound(derr) {
					err = errors.Join(err, fmt.Errorf("remove the half-made team %s: %w", t.ID, derr))
				}
				return nil, err
			}
			return &teamWithMembers{Team: *t, members: members}, nil
		},
		get: func(ctx context.Context, hub *client.Client, state *teamModel) (*teamWithMembers, error) {
			t, err := hub.GetTeam(ctx, state.TenantID.ValueString(), state.ID.ValueString())
			if err != nil {
				return nil, err
			}
			members, err := hub.ListTeamMembers(ctx, t.TenantID, t.ID)
			if err != nil {
				return nil, err
			}
			return &teamWithMembers{Team: *t, members: members}, nil
		},
		update: func(ctx context.Context, hub *client.Client, plan, state *teamModel) (*teamWithMembers, error) {
			tenantID, id := state.TenantID.ValueString(), state.ID.ValueString()
			var t *store.Team
			var err error
			if plan.Description.ValueString() != state.Description.ValueString() {
				t, err = hub.UpdateTeam(ctx, tenantID, id, api.UpdateTeamRequest{Description: plan.Description.ValueString(), ResourceVersion: state.ResourceVersion.ValueInt64()})
			} else { // only the members change
				t, err = hub.GetTeam(ctx, tenantID, id)
			}
			if err != nil {
				return nil, err
			}
			members, err := syncMembers(ctx, hub, tenantID, id, stringsOf(plan.Members))
			if err != nil {
				return nil, fmt.Errorf("update the team's members: %w", err)
			}
			return &teamWithMembers{Team: *t, members: members}, nil
		},
		remove: func(ctx context.Context, hub *client.Client, state *teamModel) error {
			return hub.DeleteTeam(ctx, state.TenantID.ValueString(), state.ID.ValueString(), state.ResourceVersion.ValueInt64())
		},
		set: (*teamModel).set,
	}
}

// syncMembers adds and removes users so that the team has exactly want,
// and returns its members.
func syncMembers(ctx context.Context, hub *client.Client, tenantID, teamID string, want []string) ([]store.TeamMember, error) {
	have, err := hub.ListTeamMembers(ctx, tenantID, teamID)
	if err != nil {
		return nil, err
	}
	changed := false
	for _, m := range have {
		if !slices.Contains(want, m.UserID) {
			if err := hub.RemoveTeamMember(ctx, tenantID, teamID, m.UserID); err != nil && !client.IsNotFound(err) {
				return nil, err
			}
			changed = true
		}
	}
	for _, u := range want {
		if !slices.ContainsFunc(have, func(m store.TeamMember) bool { return m.UserID == u }) {
			if _, err := hub.AddTeamMember(ctx, tenantID, teamID, u); err != nil {
				return nil, err
			}
			changed = true
		}
	}
	if !changed {
		return have, nil
	}
	return hub.ListTeamMembers(ctx, tenantID, teamID)
}
