package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nestcluster/nest/pkg/hub/store"
)

func TestSameQuantity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"equal text", "2", "2", true},
		{"millis", "1000m", "1", true},
		{"binary units", "1Gi", "1024Mi", true},
		{"different", "500m", "1", false},
		{"unparsable compared as text", "lots", "lots", true},
		{"unparsable differs", "lots", "1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sameQuantity(tc.a, tc.b); got != tc.want {
				t.Fatalf("sameQuantity(%q, %q) = %v", tc.a, tc.b, got)
			}
		})
	}
}

func TestSameYAML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"whitespace and comments", "a: 1\nb: x\n", "# c\nb:   x\n\na: 1", true},
		{"quoting", "a: \"x\"", "a: x", true},
		{"nested key order", "a: {x: 1, y: 2}", "a:\n  y: 2\n  x: 1\n", true},
		{"value changed", "a: 1", "a: 2", false},
		{"list order matters", "a: [1, 2]", "a: [2, 1]", false},
		{"empty", "", "", true},
		{"invalid", "a: [", "a: 1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sameYAML(tc.a, tc.b); got != tc.want {
				t.Fatalf("sameYAML(%q, %q) = %v", tc.a, tc.b, got)
			}
		})
	}
}

func TestQuotaValue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prior := quotaValue(ctx, types.ObjectNull(quotaTypes), store.Resources{CPU: "1000m", Pods: "10"})
	tests := []struct {
		name      string
		hub       store.Resources
		cpu, pods string
		memory    types.String
	}{
		{"same value, hub's spelling", store.Resources{CPU: "1", Pods: "10"}, "1000m", "10", types.StringNull()},
		{"changed outside", store.Resources{CPU: "2", Pods: "10", Memory: "1Gi"}, "2", "10", types.StringValue("1Gi")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, diags := quotaOf(ctx, quotaValue(ctx, prior, tc.hub))
			if diags.HasError() {
				t.Fatal(diags)
			}
			if got.CPU != tc.cpu || got.Pods != tc.pods || got.Memory != tc.memory.ValueString() {
				t.Fatalf("quota = %+v", got)
			}
		})
	}
}
