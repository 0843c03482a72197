package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/client"
)

// hubResource is embedded by every resource and data source: it takes the
// provider's client.
type hubResource struct{ hub *client.Client }

func (r *hubResource) configure(data any, diags *diag.Diagnostics) {
	if data == nil { // before the provider is configured (validation)
		return
	}
	c, ok := data.(*client.Client)
	if !ok {
		diags.AddError("Provider bug", fmt.Sprintf("unexpected provider data %T", data))
		return
	}
	r.hub = c
}

func (r *hubResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.configure(req.ProviderData, &resp.Diagnostics)
}

// hubDataSource is hubResource for data sources.
type hubDataSource struct{ hubResource }

func (d *hubDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.configure(req.ProviderData, &resp.Diagnostics)
}

// addHubError reports a failed call of the hub: the hub's message, code and
// request id, on the attribute the hub named when the resource has it.
func addHubError(diags *diag.Diagnostics, action string, err error, attrs ...string) {
	summary := "Cannot " + action
	var ae *attributeError
	if errors.As(err, &ae) {
		diags.AddAttributeError(path.Root(ae.attr), summary, ae.msg)
		return
	}
	e := client.AsError(err)
	if e == nil {
		diags.AddError(summary, err.Error())
		return
	}
	var detail strings.Builder
	fmt.Fprintf(&detail, "The hub refused: %s\n\ncode: %s, HTTP status: %d", e.Message, e.Code, e.Status)
	if e.RequestID != "" {
		fmt.Fprintf(&detail, ", request id: %s", e.RequestID)
	}
	switch {
	case client.IsForbidden(err):
		detail.WriteString("\n\nThe provider's API key lacks the permission named above at this scope: bind a role that grants it.")
	case e.Code == client.CodeConflict && e.Field() == "resourceVersion":
		detail.WriteString("\n\nThe object was changed by someone else since Terraform read it: run terraform plan again to see the change, then apply.")
	}
	if err != error(e) { // wrapped: say what was being done
		fmt.Fprintf(&detail, "\n\nIn full: %v", err)
	}
	// A nested field (quota.cpu) is reported on its attribute when the
	// resource has the outer one.
	if parts := strings.Split(snake(e.Field()), "."); parts[0] != "" && slices.Contains(attrs, parts[0]) {
		p := path.Root(parts[0])
		for _, part := range parts[1:] {
			p = p.AtName(part)
		}
		diags.AddAttributeError(p, summary, detail.String())
		return
	}
	diags.AddError(summary, detail.String())
}

// attributeError is the provider's own refusal of one attribute's value.
type attributeError struct{ attr, msg string }

func (e *attributeError) Error() string { return e.attr + ": " + e.msg }

// snake turns the hub's field names (displayName) into attribute names
// (display_name).
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// importIDs reads an import ID: the ids along the object's API path joined
// with "/". Each layout names the attributes of one accepted form, by its
// number of parts; the first layout whose length matches wins.
func importIDs(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, layouts ...[]string) {
	parts := strings.Split(req.ID, "/")
	for _, layout := range layouts {
		if len(layout) != len(parts) {
			continue
		}
		for i, attr := range layout {
			if parts[i] == "" {
				break
			}
			resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), parts[i])...)
		}
		if !slices.Contains(parts, "") {
			return
		}
	}
	var forms []string
	for _, layout := range layouts {
		var f []string
		for _, attr := range layout {
			f = append(f, strings.ToUpper(attr))
		}
		forms = append(forms, strings.Join(f, "/"))
	}
	resp.Diagnostics.AddError("Invalid import ID",
		fmt.Sprintf("got %q; want the ids along the object's hub API path, joined with \"/\": %s", req.ID, strings.Join(forms, " or ")))
}

// Common attributes.

func idAttribute() schema.StringAttribute {
	return schema.StringAttribute{Computed: true, Description: "The hub's id of the object.",
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}}
}

func resourceVersionAttribute() schema.Int64Attribute {
	return schema.Int64Attribute{Computed: true,
		Description: "The object's resourceVersion as last read: updates and deletes send it, so a concurrent change fails instead of being overwritten."}
}

// keepVersion is for objects whose every field forces replacement.
func keepVersion() []planmodifier.Int64 {
	return []planmodifier.Int64{int64planmodifier.UseStateForUnknown()}
}

func nameAttribute(what string) schema.StringAttribute {
	return schema.StringAttribute{Required: true, Description: "The " + what + "'s name: a DNS label (lower-case letters, digits and -, at most 63). Changing it replaces the " + what + ".",
		Validators: []validator.String{dnsLabel{}}, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}}
}

// parentAttribute is the id of an enclosing object (a tenant, a project):
// moving an object replaces it.
func parentAttribute(description string, required bool) schema.StringAttribute {
	return schema.StringAttribute{Required: required, Optional: !required, Description: description,
		PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}}
}

// textAttribute is an optional free text the hub stores as "" when unset:
// "" is its default, so unset and empty are one value and never a diff.
func textAttribute(description string) schema.StringAttribute {
	return schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), Description: description}
}

// Validators.

var dnsLabelPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// dnsLabel checks names the way the hub does, so a plan already fails.
type dnsLabel struct{}

func (dnsLabel) Description(context.Context) string {
	return "must be a DNS label: lower-case letters, digits and -, at most 63, starting and ending with a letter or digit"
}
func (v dnsLabel) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v dnsLabel) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if s := req.ConfigValue.ValueString(); !dnsLabelPattern.MatchString(s) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid name", fmt.Sprintf("%q %s", s, v.Description(ctx)))
	}
}

// oneOf checks a string against a fixed list.
type oneOf []string

func (v oneOf) Description(context.Context) string {
	return "must be one of: " + strings.Join(v, ", ")
}
func (v oneOf) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v oneOf) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if !slices.Contains(v, req.ConfigValue.ValueString()) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid value", fmt.Sprintf("%q %s", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}

// Values.

// optionalString is a hub string that is "" when unset, for an optional
// attribute without a default: "" is null.
func optionalString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// stringSet is a set of strings from the hub (nil is the empty set).
func stringSet(items []string) types.Set {
	vals := make([]attr.Value, 0, len(items))
	for _, s := range items {
		vals = append(vals, types.StringValue(s))
	}
	return types.SetValueMust(types.StringType, vals)
}

// stringsOf returns the strings of a known set, sorted (planned sets of
// configured values are known).
func stringsOf(s types.Set) []string {
	out := []string{}
	for _, v := range s.Elements() {
		if str, ok := v.(types.String); ok && !str.IsNull() && !str.IsUnknown() {
			out = append(out, str.ValueString())
		}
	}
	slices.Sort(out)
	return out
}
