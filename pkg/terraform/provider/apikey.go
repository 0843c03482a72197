package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

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

// nest_api_key: an API key of the provider's own user (user_id unset) or,
// for user administrators, of any user. The secret is shown once, at
// creation, and kept (sensitive) in the state. A key cannot change: every
// change replaces (revokes and re-creates) it. Import ID: KEY_ID (the
// caller's key) or USER_ID/KEY_ID; an imported key has no secret.

type apiKeyModel struct {
	ID              types.String `tfsdk:"id"`
	UserID          types.String `tfsdk:"user_id"`
	Name            types.String `tfsdk:"name"`
	ExpiresAt       types.String `tfsdk:"expires_at"`
	Key             types.String `tfsdk:"key"`
	Prefix          types.String `tfsdk:"prefix"`
	ResourceVersion types.Int64  `tfsdk:"resource_version"`
}

func (m *apiKeyModel) set(k *createdKey) {
	if k.secret != "" {
		m.Key = types.StringValue(k.secret)
	}
	m.ID, m.Name, m.Prefix = types.StringValue(k.ID), types.StringValue(k.Name), types.StringValue(k.Prefix)
	m.ResourceVersion = types.Int64Value(k.ResourceVersion)
	// The same instant written another way (an offset, fewer digits) is
	// not a change: keep the configuration's spelling.
	if k.ExpiresAt.IsZero() {
		m.ExpiresAt = types.StringNull()
	} else if t, err := time.Parse(time.RFC3339, m.ExpiresAt.ValueString()); err != nil || !t.Equal(k.ExpiresAt) {
		m.ExpiresAt = types.StringValue(k.ExpiresAt.UTC().Format(time.RFC3339Nano))
	}
}

// createdKey is a key with its secret when it was just made.
type createdKey struct {
	store.APIKey
	secret string
}

func newAPIKeyResource() resource.Resource {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	return &crud[apiKeyModel, createdKey]{
		name: "api_key", what: "the API key",
		schema: schema.Schema{
			Description: "An API key. The secret (key) is returned once by the hub and kept, sensitive, in the state; a key cannot change, so every change replaces it (the old one is revoked). " +
				"Import ID: KEY_ID or USER_ID/KEY_ID (an imported key has no secret).",
			Attributes: map[string]schema.Attribute{
				"id":      idAttribute(),
				"user_id": parentAttribute("The id of the key's user; unset for the provider's own user. Needs user.update for another user. Changing it replaces the key.", false),
				"name":    nameAttribute("key"),
				"expires_at": schema.StringAttribute{Optional: true,
					Description: "When the key stops working, an RFC 3339 time in the future (2030-01-02T15:04:05Z); unset for never. Changing it replaces the key.",
					Validators:  []validator.String{rfc3339{}}, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
				"key": schema.StringAttribute{Computed: true, Sensitive: true, PlanModifiers: keep,
					Description: "The secret (nest_...), to send as \"Authorization: Bearer KEY\". Shown once by the hub; null for an imported key."},
				"prefix":           schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "The key's first characters, to recognise it in lists."},
				"resource_version": schema.Int64Attribute{Computed: true, Description: resourceVersionAttribute().Description, PlanModifiers: keepVersion()},
			},
		},
		attrs:         []string{"name", "expires_at", "user_id"},
		importLayouts: [][]string{{"id"}, {"user_id", "id"}},
		create:        createAPIKey,
		get: func(ctx context.Context, hub *client.Client, state *apiKeyModel) (*createdKey, error) {
			k, err := hub.GetAPIKey(ctx, state.UserID.ValueString(), state.ID.ValueString())
			if err != nil {
				return nil, err
			}
			if !k.RevokedAt.IsZero() {
				// Revoked outside Terraform: gone, to be created again.
				return nil, &client.Error{Status: http.StatusNotFound, Code: client.CodeNotFound, Message: "the API key was revoked"}
			}
			return &createdKey{APIKey: *k}, nil
		},
		// A key cannot change: every attribute replaces it.
		update: nil,
		remove: func(ctx context.Context, hub *client.Client, state *apiKeyModel) error {
			_, err := hub.RevokeAPIKey(ctx, state.UserID.ValueString(), state.ID.ValueString())
			return err
		},
		set: (*apiKeyModel).set,
	}
}

func createAPIKey(ctx context.Context, hub *client.Client, plan *apiKeyModel) (*createdKey, error) {
	body := api.CreateAPIKeyRequest{Name: plan.Name.ValueString()}
	if s := plan.ExpiresAt.ValueString(); s != "" {
		body.ExpiresAt, _ = time.Parse(time.RFC3339, s) // validated
	}
	userID := plan.UserID.ValueString()
	k, err := hub.CreateAPIKey(ctx, userID, body)
	if client.IsAlreadyExists(err) {
		page, lerr := hub.ListAPIKeys(ctx, userID, client.ListOptions{Filters: map[string]string{"name": body.Name}})
		if lerr == nil && len(page.Items) == 1 && !page.Items[0].RevokedAt.IsZero() {
			return nil, &attributeError{"name", fmt.Sprintf("The name %q is held by the revoked key %s: the hub keeps revoked keys (for the audit log) and their names. "+
				"Give the new key another name, for instance one that includes its expiry.", body.Name, page.Items[0].ID)}
		}
	}
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(k.Key, "nest_") {
		// A retry that the hub answered with the first response, whose
		// secret it does not repeat: the key is of no use, revoke it.
		err := fmt.Errorf("the hub made key %s but its secret was lost on the way (a retried request); the key is revoked: apply again", k.ID)
		if _, rerr := hub.RevokeAPIKey(ctx, userID, k.ID); rerr != nil {
			err = errors.Join(err, fmt.Errorf("revoke key %s: %w", k.ID, rerr))
		}
		return nil, err
	}
	return &createdKey{APIKey: k.APIKey, secret: k.Key}, nil
}

// rfc3339 checks a time attribute.
type rfc3339 struct{}

func (rfc3339) Description(context.Context) string {
	return "must be an RFC 3339 time such as 2030-01-02T15:04:05Z"
}
func (v rfc3339) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v rfc3339) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := time.Parse(time.RFC3339, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid time", fmt.Sprintf("%q %s", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}
