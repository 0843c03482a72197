package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// nest_role: a custom role, a named set of permissions. Import ID: ROLE_ID.

type roleModel struct {
	ID              types.String `tfsdk:"id"`
	Name            types.String `tfsdk:"name"`
	Description     types.String `tfsdk:"description"`
	Permissions     types.Set    `tfsdk:"permissions"`
	ResourceVersion types.Int64  `tfsdk:"resource_version"`
}

func (m *roleModel) set(r *store.Role) {
	m.ID, m.Name, m.Description = types.StringValue(r.ID), types.StringValue(r.Name), types.StringValue(r.Description)
	m.Permissions = stringSet(r.Permissions)
	m.ResourceVersion = types.Int64Value(r.ResourceVersion)
}

func newRoleResource() resource.Resource {
	return &crud[roleModel, store.Role]{
		name: "role", what: "the role",
		schema: schema.Schema{
			Description: "A custom role: a named set of permissions (resource.verb) that role bindings grant. Import ID: ROLE_ID. Built-in roles cannot be managed.",
			Attributes: map[string]schema.Attribute{
				"id":          idAttribute(),
				"name":        nameAttribute("role"),
				"description": textAttribute("What the role is for (at most 1024 characters)."),
				"permissions": schema.SetAttribute{ElementType: types.StringType, Required: true,
					Description: "The permissions the role grants, such as project.get or virtualcluster.create (GET /api/v1/permissions lists them; no wildcards)."},
				"resource_version": resourceVersionAttribute(),
			},
		},
		attrs:         []string{"name", "description", "permissions"},
		importLayouts: [][]string{{"id"}},
		create: func(ctx context.Context, hub *client.Client, plan *roleModel) (*store.Role, error) {
			return hub.CreateRole(ctx, api.CreateRoleRequest{Name: plan.Name.ValueString(), Description: plan.Description.ValueString(),
				Permissions: stringsOf(plan.Permissions)})
		},
		get: func(ctx context.Context, hub *client.Client, state *roleModel) (*store.Role, error) {
			r, err := hub.GetRole(ctx, state.ID.ValueString())
			if err == nil && r.Builtin {
				return nil, &attributeError{"id", r.Name + " is a built-in role, kept by the hub: only custom roles are resources"}
			}
			return r, err
		},
		update: func(ctx context.Context, hub *client.Client, plan, state *roleModel) (*store.Role, error) {
			return hub.UpdateRole(ctx, state.ID.ValueString(), api.UpdateRoleRequest{Description: plan.Description.ValueString(),
				Permissions: stringsOf(plan.Permissions), ResourceVersion: state.ResourceVersion.ValueInt64()})
		},
		remove: func(ctx context.Context, hub *client.Client, state *roleModel) error {
			return hub.DeleteRole(ctx, state.ID.ValueString(), state.ResourceVersion.ValueInt64())
		},
		set: (*roleModel).set,
	}
}
