package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// nest_project: a project of a tenant. Import ID: TENANT_ID/PROJECT_ID.

type projectModel struct {
	ID              types.String `tfsdk:"id"`
	TenantID        types.String `tfsdk:"tenant_id"`
	Name            types.String `tfsdk:"name"`
	DisplayName     types.String `tfsdk:"display_name"`
	ResourceVersion types.Int64  `tfsdk:"resource_version"`
}

func (m *projectModel) set(p *store.Project) {
	m.ID, m.TenantID, m.Name = types.StringValue(p.ID), types.StringValue(p.TenantID), types.StringValue(p.Name)
	m.DisplayName = types.StringValue(p.DisplayName)
	m.ResourceVersion = types.Int64Value(p.ResourceVersion)
}

type projectResource struct{ hubResource }

var (
	_ resource.ResourceWithConfigure   = (*projectResource)(nil)
	_ resource.ResourceWithImportState = (*projectResource)(nil)
)

func newProjectResource() resource.Resource { return &projectResource{} }

func (r *projectResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project"
}

func (r *projectResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A project of a tenant: it groups virtual clusters and the role bindings on them. Import ID: TENANT_ID/PROJECT_ID.",
		Attributes: map[string]schema.Attribute{
			"id":               idAttribute(),
			"tenant_id":        parentAttribute("The id of the project's tenant. Changing it replaces the project.", true),
			"name":             nameAttribute("project"),
			"display_name":     textAttribute("A human-readable name (at most 256 characters)."),
			"resource_version": resourceVersionAttribute(),
		},
	}
}

var projectAttrs = []string{"name", "display_name", "tenant_id"}

func (r *projectResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan projectModel
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...); resp.Diagnostics.HasError() {
		return
	}
	p, err := r.hub.CreateProject(ctx, plan.TenantID.ValueString(),
		api.CreateProjectRequest{Name: plan.Name.ValueString(), DisplayName: plan.DisplayName.ValueString()})
	if err != nil {
		addHubError(&resp.Diagnostics, "create the project", err, projectAttrs...)
		return
	}
	plan.set(p)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *projectResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state projectModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	p, err := r.hub.GetProject(ctx, state.TenantID.ValueString(), state.ID.ValueString())
	if client.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addHubError(&resp.Diagnostics, "read the project", err)
		return
	}
	state.set(p)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *projectResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state projectModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	p, err := r.hub.UpdateProject(ctx, state.TenantID.ValueString(), state.ID.ValueString(),
		api.UpdateProjectRequest{DisplayName: plan.DisplayName.ValueString(), ResourceVersion: state.ResourceVersion.ValueInt64()})
	if err != nil {
		addHubError(&resp.Diagnostics, "update the project", err, projectAttrs...)
		return
	}
	plan.set(p)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *projectResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state projectModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	err := r.hub.DeleteProject(ctx, state.TenantID.ValueString(), state.ID.ValueString(), state.ResourceVersion.ValueInt64())
	if err != nil && !client.IsNotFound(err) {
		addHubError(&resp.Diagnostics, "delete the project", err)
	}
}

func (r *projectResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importIDs(ctx, req, resp, []string{"tenant_id", "id"})
}

// Data source nest_project: a project found by id or by name.

type projectDataSource struct{ hubDataSource }

func newProjectDataSource() datasource.DataSource { return &projectDataSource{} }

func (d *projectDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project"
}

func (d *projectDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = dsschema.Schema{
		Description: "Looks up a project of a tenant by id or by name.",
		Attributes: map[string]dsschema.Attribute{
			"tenant_id":        dsschema.StringAttribute{Required: true, Description: "The id of the project's tenant."},
			"id":               dsschema.StringAttribute{Optional: true, Computed: true, Description: "The project's id; give id or name."},
			"name":             dsschema.StringAttribute{Optional: true, Computed: true, Description: "The project's name; give id or name."},
			"display_name":     dsschema.StringAttribute{Computed: true, Description: "The project's human-readable name."},
			"resource_version": dsschema.Int64Attribute{Computed: true, Description: "The project's resourceVersion."},
		},
	}
}

func (d *projectDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m projectModel
	if resp.Diagnostics.Append(req.Config.Get(ctx, &m)...); resp.Diagnostics.HasError() {
		return
	}
	tenantID := m.TenantID.ValueString()
	var p *store.Project
	var err error
	switch {
	case m.ID.ValueString() != "" && m.Name.ValueString() != "", m.ID.ValueString() == "" && m.Name.ValueString() == "":
		resp.Diagnostics.AddAttributeError(path.Root("id"), "Give id or name", "Exactly one of id and name finds the project.")
		return
	case m.ID.ValueString() != "":
		p, err = d.hub.GetProject(ctx, tenantID, m.ID.ValueString())
	default:
		var page store.Page[store.Project]
		page, err = d.hub.ListProjects(ctx, tenantID, client.ListOptions{Filters: map[string]string{"name": m.Name.ValueString()}})
		if err == nil && len(page.Items) == 0 {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "No such project", "Tenant "+tenantID+" has no project named "+m.Name.ValueString()+".")
			return
		}
		if err == nil {
			p = &page.Items[0]
		}
	}
	if err != nil {
		addHubError(&resp.Diagnostics, "read the project", err)
		return
	}
	m.set(p)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
