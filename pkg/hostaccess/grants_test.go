package hostaccess

import (
	"slices"
	"testing"
)

func TestServiceReadRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"one", []string{"postgres"}, []string{"postgres"}},
		{"sorted, once each", []string{"redis", "postgres", "redis"}, []string{"postgres", "redis"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rules := ServiceReadRules(tt.names)
			if len(rules) != 1 {
				t.Fatalf("rules = %+v, want one", rules)
			}
			r := rules[0]
			if !slices.Equal(r.ResourceNames, tt.want) || !slices.Equal(r.Verbs, []string{"get", "list", "watch"}) ||
				!slices.Equal(r.Resources, []string{"services", "endpoints"}) || !slices.Equal(r.APIGroups, []string{""}) {
				t.Errorf("rule = %+v: want read-only on services and endpoints named %v", r, tt.want)
			}
		})
	}
	if r := NodeReadRules(); len(r) != 1 || !slices.Equal(r[0].Verbs, []string{"get", "list", "watch"}) || !slices.Equal(r[0].Resources, []string{"nodes"}) {
		t.Errorf("NodeReadRules() = %+v, want read-only on nodes", r)
	}
}
