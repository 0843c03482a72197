// Package provider is terraform-provider-nest: a Terraform provider, on
// terraform-plugin-framework, that manages the hub's objects through the
// hub's API only (pkg/hub/client).
//
// Every resource follows the same rules (see docs/terraform/index.md):
//   - id is the hub's id of the object; the import ID is the ids along the
//     object's API path joined with "/" (TENANT_ID/PROJECT_ID for a
//     project, ROLE_ID for a role...);
//   - a failed create leaves no state (a half-made object is removed);
//   - Read normalises what the hub returns so that a second plan is empty,
//     and an object changed outside Terraform shows as a diff (deleted
//     outside Terraform: planned for creation again);
//   - fields the hub cannot change are RequiresReplace;
//   - creates carry an Idempotency-Key, so the client's retries after a
//     network failure never make a second object;
//   - updates and deletes carry the resourceVersion read, so a concurrent
//     change fails with a conflict rather than being overwritten.
package provider

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/client"
)

// Environment variables the provider falls back to.
const (
	EnvHubURL   = "NEST_HUB_URL"
	EnvAPIKey   = "NEST_API_KEY"
	EnvCACert   = "NEST_HUB_CA_CERT"
	EnvInsecure = "NEST_HUB_INSECURE"
)

// TypeName is the provider's name: its types are nest_*.
const TypeName = "nest"

// New returns a constructor of the provider, as providerserver wants it.
func New(version string) func() provider.Provider {
	return NewWithEnv(version, os.Getenv)
}

// NewWithEnv is New with the environment the provider falls back to
// given by getenv: a provider served inside another program (a test, a
// benchmark) gets its own settings without changing that program's
// environment.
func NewWithEnv(version string, getenv func(string) string) func() provider.Provider {
	return func() provider.Provider { return &nestProvider{version: version, getenv: getenv} }
}

type nestProvider struct {
	version string
	getenv  func(string) string
}

var _ provider.Provider = (*nestProvider)(nil)

type providerModel struct {
	HubURL   types.String `tfsdk:"hub_url"`
	APIKey   types.String `tfsdk:"api_key"`
	CACert   types.String `tfsdk:"ca_cert"`
	Insecure types.Bool   `tfsdk:"insecure"`
	Timeout  types.String `tfsdk:"timeout"`
}

func (p *nestProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName, resp.Version = TypeName, p.version
}

func (p *nestProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages a Nest hub's objects (projects, teams, roles, role bindings, API keys, host clusters, cluster groups, cluster profiles, virtual clusters) through its API.",
		Attributes: map[string]schema.Attribute{
			"hub_url": schema.StringAttribute{Optional: true,
				Description: "The hub's URL, such as https://hub.example.com:8443. Default: $" + EnvHubURL + "."},
			"api_key": schema.StringAttribute{Optional: true, Sensitive: true,
				Description: "The API key to call the hub with (nest_...). Default: $" + EnvAPIKey + "."},
			"ca_cert": schema.StringAttribute{Optional: true,
				Description: "PEM certificate(s) of the authority that signed the hub's certificate (or the hub's self-signed certificate), or a path to a PEM file. Default: $" + EnvCACert + "; else the system's roots."},
			"insecure": schema.BoolAttribute{Optional: true,
				Description: "Skip the verification of the hub's certificate (throwaway hubs only). Default: $" + EnvInsecure + ", else false."},
			"timeout": schema.StringAttribute{Optional: true,
				Description: "Timeout of one request to the hub, as a Go duration (default 30s)."},
		},
	}
}

func (p *nestProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for name, v := range map[string]interface{ IsUnknown() bool }{"hub_url": m.HubURL, "api_key": m.APIKey, "ca_cert": m.CACert, "insecure": m.Insecure, "timeout": m.Timeout} {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(name), "Unknown provider setting",
				name+" depends on a value known only after apply: the provider needs it to plan. Set it from a known value.")
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	cfg := client.Config{
		URL:       stringOr(m.HubURL, p.getenv(EnvHubURL)),
		APIKey:    stringOr(m.APIKey, p.getenv(EnvAPIKey)),
		UserAgent: "terraform-provider-nest/" + p.version,
	}
	if cfg.URL == "" {
		resp.Diagnostics.AddAttributeError(path.Root("hub_url"), "Missing hub URL", "Set hub_url in the provider block or $"+EnvHubURL+".")
	}
	if cfg.APIKey == "" {
		resp.Diagnostics.AddAttributeError(path.Root("api_key"), "Missing API key", "Set api_key in the provider block or $"+EnvAPIKey+".")
	}
	if ca := stringOr(m.CACert, p.getenv(EnvCACert)); ca != "" {
		if strings.Contains(ca, "-----BEGIN") {
			cfg.CACert = []byte(ca)
		} else if data, err := os.ReadFile(ca); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("ca_cert"), "Cannot read the CA certificate", err.Error())
		} else {
			cfg.CACert = data
		}
	}
	if !m.Insecure.IsNull() {
		cfg.Insecure = m.Insecure.ValueBool()
	} else if v := p.getenv(EnvInsecure); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("insecure"), "Invalid $"+EnvInsecure, "want true or false: "+err.Error())
		}
		cfg.Insecure = b
	}
	if t := m.Timeout.ValueString(); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			resp.Diagnostics.AddAttributeError(path.Root("timeout"), "Invalid timeout", fmt.Sprintf("want a positive Go duration such as 30s, got %q", t))
		}
		cfg.Timeout = d
	}
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := client.New(cfg)
	if err != nil {
		resp.Diagnostics.AddError("Invalid provider configuration", err.Error())
		return
	}
	resp.ResourceData, resp.DataSourceData = c, c
}

func stringOr(v types.String, fallback string) string {
	if v.IsNull() || v.ValueString() == "" {
		return fallback
	}
	return v.ValueString()
}

func (p *nestProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newProjectResource,
		newTeamResource,
		newRoleResource,
		newRoleBindingResource,
		newAPIKeyResource,
		newHostClusterResource,
		newClusterGroupResource,
		newVirtualClusterResource,
		newClusterProfileResource,
	}
}

func (p *nestProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		newProjectDataSource,
		newHostClusterDataSource,
		newClusterGroupDataSource,
		newVirtualClusterDataSource,
		newVirtualClusterKubeconfigDataSource,
		newClusterProfileDataSource,
	}
}

// Address is the provider's source address, as configurations name it in
// required_providers (source = "nestcluster/nest").
const Address = "registry.terraform.io/nestcluster/nest"
