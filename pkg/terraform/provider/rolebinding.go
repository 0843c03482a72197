package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// nest_role_binding: a role granted to a user or team at a scope. The hub
// cannot change a binding: every change replaces it. Import ID:
// BINDING_ID (global), TENANT_ID/BINDING_ID or
// TENANT_ID/PROJECT_ID/BINDING_ID.

type roleBindingModel struct {
	ID              types.String `tfsdk:"id"`
	TenantID        types.String `tfsdk:"tenant_id"`
	ProjectID       types.String `tfsdk:"project_id"`
	Name            types.String `tfsdk:"name"`
	Role            types.String `tfsdk:"role"`
	SubjectKind     types.String `tfsdk:"subject_kind"`
	SubjectID       types.String `tfsdk:"subject_id"`
	ResourceVersion types.Int64  `tfsdk:"resource_version"`
}

func (m *roleBindingModel) scope() client.Scope {
	return client.Scope{TenantID: m.TenantID.ValueString(), ProjectID: m.ProjectID.ValueString()}
}

// boundRole is a binding with the name of its role: the hub keeps the
// role's id, configurations name the role.
type boundRole struct {
	store.RoleBinding
	role string
}

func (m *roleBindingModel) set(b *boundRole) {
	m.ID, m.Name = types.StringValue(b.ID), types.StringValue(b.Name)
	m.TenantID, m.ProjectID = optionalString(b.TenantID), optionalString(b.ProjectID)
	m.Role, m.SubjectKind, m.SubjectID = types.StringValue(b.role), types.StringValue(b.SubjectKind), types.StringValue(b.SubjectID)
	m.ResourceVersion = types.Int64Value(b.ResourceVersion)
}

// roleBindingResource adds a check of the scope to the common resource.
type roleBindingResource struct {
	*crud[roleBindingModel, boundRole]
}

var _ resource.ResourceWithValidateConfig = roleBindingResource{}

func replaced(description string, validators ...validator.String) schema.StringAttribute {
	return schema.StringAttribute{Required: true, Description: description + " Changing it replaces the binding.",
		Validators: validators, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}}
}

func newRoleBindingResource() resource.Resource {
	return roleBindingResource{&crud[roleBindingModel, boundRole]{
		name: "role_binding", what: "the role binding",
		schema: schema.Schema{
			Description: "Grants a role to a user or a team at a scope: hub-wide (no tenant_id), a tenant (and all its projects) or one project. " +
				"One can only grant permissions one holds at that scope. Import ID: BINDING_ID, TENANT_ID/BINDING_ID or TENANT_ID/PROJECT_ID/BINDING_ID.",
			Attributes: map[string]schema.Attribute{
				"id":               idAttribute(),
				"tenant_id":        parentAttribute("The tenant the binding applies to; unset for a hub-wide binding. Changing it replaces the binding.", false),
				"project_id":       parentAttribute("The project (of tenant_id) the binding applies to; unset for a tenant or hub-wide binding. Changing it replaces the binding.", false),
				"name":             nameAttribute("binding"),
				"role":             replaced("The name of the role granted (built-in such as project-viewer, or custom).", dnsLabel{}),
				"subject_kind":     replaced("user or team.", oneOf{store.SubjectUser, store.SubjectTeam}),
				"subject_id":       replaced("The id of the user or team (a team of the binding's tenant)."),
				"resource_version": schema.Int64Attribute{Computed: true, Description: resourceVersionAttribute().Description, PlanModifiers: keepVersion()},
			},
		},
		attrs:         []string{"name", "role", "subject_kind", "subject_id", "tenant_id", "project_id"},
		importLayouts: [][]string{{"id"}, {"tenant_id", "id"}, {"tenant_id", "project_id", "id"}},
		create: func(ctx context.Context, hub *client.Client, plan *roleBindingModel) (*boundRole, error) {
			b, err := hub.CreateRoleBinding(ctx, plan.scope(), api.CreateRoleBindingRequest{Name: plan.Name.ValueString(),
				Role: plan.Role.ValueString(), SubjectKind: plan.SubjectKind.ValueString(), SubjectID: plan.SubjectID.ValueString()})
			if err != nil {
				return nil, err
			}
			return &boundRole{RoleBinding: *b, role: plan.Role.ValueString()}, nil
		},
		get: func(ctx context.Context, hub *client.Client, state *roleBindingModel) (*boundRole, error) {
			b, err := hub.GetRoleBinding(ctx, state.scope(), state.ID.ValueString())
			if err != nil {
				return nil, err
			}
			role, err := hub.GetRole(ctx, b.RoleID)
			if err != nil {
				return nil, fmt.Errorf("role %s of the binding: %w", b.RoleID, err)
			}
			return &boundRole{RoleBinding: *b, role: role.Name}, nil
		},
		// The hub cannot change a binding: every attribute replaces it.
		update: nil,
		remove: func(ctx context.Context, hub *client.Client, state *roleBindingModel) error {
			return hub.DeleteRoleBinding(ctx, state.scope(), state.ID.ValueString(), state.ResourceVersion.ValueInt64())
		},
		set: (*roleBindingModel).set,
	}}
}

func (r roleBindingResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m roleBindingModel
	if resp.Diagnostics.Append(req.Config.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	if !m.ProjectID.IsNull() && !m.ProjectID.IsUnknown() && m.TenantID.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("tenant_id"), "Missing tenant_id", "A project binding names the project's tenant too.")
	}
	if m.SubjectKind.ValueString() == store.SubjectTeam && m.TenantID.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("tenant_id"), "Missing tenant_id", "Teams belong to a tenant and are bound in it: set tenant_id.")
	}
}
