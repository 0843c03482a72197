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

type roleResource struct{ hubResource }

var (
	_ resource.ResourceWithConfigure   = (*roleResource)(nil)
	_ resource.ResourceWithImportState = (*roleResource)(nil)
)

func newRoleResource() resource.Resource { return &roleResource{} }

func (r *roleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role"
}

func (r *roleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A custom role: a named set of permissions (resource.verb) that role bindings grant. Import ID: ROLE_ID. Built-in roles cannot be managed.",
		Attributes: map[string]schema.Attribute{
			"id":          idAttribute(),
			"name":        nameAttribute("role"),
			"description": textAttribute("What the role is for (at most 1024 characters)."),
			"permissions": schema.SetAttribute{ElementType: types.StringType, Required: true,
				Description: "The permissions the role grants, such as project.get or virtualcluster.create (GET /api/v1/permissions lists them; no wildcards)."},
			"resource_version": resourceVersionAttribute(),
		},
	}
}

var roleAttrs = []string{"name", "description", "permissions"}

func (r *roleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan roleModel
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...); resp.Diagnostics.HasError() {
		return
	}
	perms := setStrings(ctx, plan.Permissions, &resp.Diagnostics)
	role, err := r.hub.CreateRole(ctx, api.CreateRoleRequest{Name: plan.Name.ValueString(), Description: plan.Description.ValueString(), Permissions: perms})
	if err != nil {
		addHubError(&resp.Diagnostics, "create the role", err, roleAttrs...)
		return
	}
	plan.set(role)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *roleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state roleModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	role, err := r.hub.GetRole(ctx, state.ID.ValueString())
	if client.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addHubError(&resp.Diagnostics, "read the role", err)
		return
	}
	if role.Builtin {
		resp.Diagnostics.AddError("Cannot manage a built-in role", role.Name+" is kept by the hub: only custom roles are resources.")
		return
	}
	state.set(role)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *roleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state roleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	role, err := r.hub.UpdateRole(ctx, state.ID.ValueString(), api.UpdateRoleRequest{Description: plan.Description.ValueString(),
		Permissions: setStrings(ctx, plan.Permissions, &resp.Diagnostics), ResourceVersion: state.ResourceVersion.ValueInt64()})
	if err != nil {
		addHubError(&resp.Diagnostics, "update the role", err, roleAttrs...)
		return
	}
	plan.set(role)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *roleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state roleModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	err := r.hub.DeleteRole(ctx, state.ID.ValueString(), state.ResourceVersion.ValueInt64())
	if err != nil && !client.IsNotFound(err) {
		addHubError(&resp.Diagnostics, "delete the role", err)
	}
}

func (r *roleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importIDs(ctx, req, resp, []string{"id"})
}
