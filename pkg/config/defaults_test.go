package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDefaultsTableMatchesDefault keeps the generated docs honest: every
// documented default must be what Default() actually sets.
func TestDefaultsTableMatchesDefault(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, entry := range DefaultsTable() {
		t.Run(entry.Field, func(t *testing.T) {
			t.Parallel()
			if entry.Meaning == "" {
				t.Error("missing meaning")
			}
			if strings.Contains(entry.Field, "*") {
				return // a pattern, not one field
			}
			value, found := lookup(doc, strings.Split(entry.Field, "."))
			if !found {
				// omitempty leaves empty values out of the marshalled config.
				if !isEmptyLiteral(entry.Default) {
					t.Errorf("field not set by Default(), documented default %s", entry.Default)
				}
				return
			}
			got, err := json.Marshal(value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != entry.Default {
				t.Errorf("Default() sets %s, documented default %s", got, entry.Default)
			}
		})
	}
}

func lookup(doc map[string]any, path []string) (any, bool) {
	value, ok := doc[path[0]]
	if !ok || len(path) == 1 {
		return value, ok
	}
	child, ok := value.(map[string]any)
	if !ok {
		return nil, false
	}
	return lookup(child, path[1:])
}

func isEmptyLiteral(s string) bool {
	switch s {
	case `""`, "{}", "[]", "null", "false":
		return true
	}
	return false
}

func TestDefaultsTableCoversEveryKind(t *testing.T) {
	t.Parallel()
	documented := make(map[string]bool)
	for _, entry := range DefaultsTable() {
		documented[entry.Field] = true
	}
	tests := []struct {
		name      string
		direction string
		kinds     []string
	}{
		{name: "toHost", direction: "toHost", kinds: ToHostKinds()},
		{name: "fromHost", direction: "fromHost", kinds: FromHostKinds()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, kind := range tt.kinds {
				if field := "sync." + tt.direction + "." + kind + ".enabled"; !documented[field] {
					t.Errorf("%s is not documented", field)
				}
			}
		})
	}
}

func TestSyncEnabledFallsBackToDefaults(t *testing.T) {
	t.Parallel()
	var empty Sync // not defaulted
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{name: "toHost pods", got: empty.ToHostEnabled("pods"), want: true},
		{name: "toHost ingresses", got: empty.ToHostEnabled("ingresses"), want: false},
		{name: "toHost unknown", got: empty.ToHostEnabled("widgets"), want: false},
		{name: "fromHost nodes", got: empty.FromHostEnabled("nodes"), want: true},
		{name: "fromHost priorityclasses", got: empty.FromHostEnabled("priorityclasses"), want: false},
		{name: "fromHost storageclasses (a cluster-scoped grant)", got: empty.FromHostEnabled("storageclasses"), want: false},
		{name: "fromHost ingressclasses (a cluster-scoped grant)", got: empty.FromHostEnabled("ingressclasses"), want: false},
		{name: "toHost endpointslices", got: empty.ToHostEnabled("endpointslices"), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestReadsHostNodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		nodes     *FromHostSync // nil: not in the file
		wantRead  bool
		wantShown bool // every host node shown
	}{
		{name: "defaults", nodes: nil},
		{name: "fake nodes of the cluster's pods", nodes: &FromHostSync{Mode: NodeModeFake}},
		{name: "real nodes of the cluster's pods", nodes: &FromHostSync{Mode: NodeModeReal}, wantRead: true},
		{name: "every host node, fake", nodes: &FromHostSync{All: true}, wantRead: true, wantShown: true},
		{name: "every host node, real", nodes: &FromHostSync{All: true, Mode: NodeModeReal}, wantRead: true, wantShown: true},
		{name: "nodes not synced", nodes: &FromHostSync{Enabled: ptrTo(false), Mode: NodeModeReal, All: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Config{}
			if tt.nodes != nil {
				c.Sync.FromHost = map[string]FromHostSync{"nodes": *tt.nodes}
			}
			c.ApplyDefaults()
			if got := c.Sync.ReadsHostNodes(); got != tt.wantRead {
				t.Errorf("ReadsHostNodes() = %v, want %v", got, tt.wantRead)
			}
			if got := c.Sync.ShowsAllHostNodes(); got != tt.wantShown {
				t.Errorf("ShowsAllHostNodes() = %v, want %v", got, tt.wantShown)
			}
		})
	}
}
