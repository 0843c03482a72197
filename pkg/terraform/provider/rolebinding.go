package provider

import (
	"context"

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

func (m *roleBindingModel) set(b *store.RoleBinding, role string) {
	m.ID, m.Name = types.StringValue(b.ID), types.StringValue(b.Name)
	m.TenantID, m.ProjectID = optionalString(b.TenantID), optionalString(b.ProjectID)
	m.Role, m.SubjectKind, m.SubjectID = types.StringValue(role), types.StringValue(b.SubjectKind), types.StringValue(b.SubjectID)
	m.ResourceVersion = types.Int64Value(b.ResourceVersion)
}

type roleBindingResource struct{ hubResource }

var (
	_ resource.ResourceWithConfigure      = (*roleBindingResource)(nil)
	_ resource.ResourceWithImportState    = (*roleBindingResource)(nil)
	_ resource.ResourceWithValidateConfig = (*roleBindingResource)(nil)
)

func newRoleBindingResource() resource.Resource { return &roleBindingResource{} }

func (r *roleBindingResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role_binding"
}

func replaced(description string, validators ...validator.String) schema.StringAttribute {
	return schema.StringAttribute{Required: true, Description: description + " Changing it replaces the binding.",
		Validators: validators, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}}
}

func (r *roleBindingResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
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
	}
}

func (r *roleBindingResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
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

var roleBindingAttrs = []string{"name", "role", "subject_kind", "subject_id", "tenant_id", "project_id"}

func (r *roleBindingResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan roleBindingModel
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...); resp.Diagnostics.HasError() {
		return
	}
	b, err := r.hub.CreateRoleBinding(ctx, plan.scope(), api.CreateRoleBindingRequest{Name: plan.Name.ValueString(),
		Role: plan.Role.ValueString(), SubjectKind: plan.SubjectKind.ValueString(), SubjectID: plan.SubjectID.ValueString()})
	if err != nil {
		addHubError(&resp.Diagnostics, "create the role binding", err, roleBindingAttrs...)
		return
	}
	plan.set(b, plan.Role.ValueString())
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *roleBindingResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state roleBindingModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	b, err := r.hub.GetRoleBinding(ctx, state.scope(), state.ID.ValueString())
	if client.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	var role *store.Role
	if err == nil {
		// The hub keeps the role's id; configurations name it.
		role, err = r.hub.GetRole(ctx, b.RoleID)
	}
	if err != nil {
		addHubError(&resp.Diagnostics, "read the role binding", err)
		return
	}
	state.set(b, role.Name)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never called with a change: every attribute replaces the
// binding. It keeps the state as planned.
func (r *roleBindingResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan roleBindingModel
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...); resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *roleBindingResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state roleBindingModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	err := r.hub.DeleteRoleBinding(ctx, state.scope(), state.ID.ValueString(), state.ResourceVersion.ValueInt64())
	if err != nil && !client.IsNotFound(err) {
		addHubError(&resp.Diagnostics, "delete the role binding", err)
	}
}

func (r *roleBindingResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importIDs(ctx, req, resp, []string{"id"}, []string{"tenant_id", "id"}, []string{"tenant_id", "project_id", "id"})
}
