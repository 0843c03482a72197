package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

func FuzzParse(f *testing.F) {
	full, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(full),
		"",
		"{}",
		"controlPlane: {controllers: {enabled: []}}",
		"sync: {toHost: {pods: {selector: {matchLabels: {}, matchExpressions: [{key: a, operator: Exists, values: []}]}}}}",
		"sync: {toHost: {foo: null}, customResources: [null, {}]}",
		"datastore: {endpoint: 'postgres://u:p@h/db'}\ncontrolPlane: {apiServer: {extraArgs: {}}}",
		`{"sync": {"fromHost": {"events": {"mode": "fake"}}}}`,
		`datastore: {endpoint: "\N\_\L\P"}`,
		`controlPlane: {apiServer: {extraArgs: {v: "\x7f\uffff\U0010FFFF\0"}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		valid := c.Validate() == nil

		// The YAML parser rejects or rewrites control and unassigned
		// characters (U+0085 becomes a line break), so configs holding them
		// cannot round-trip; Validate must reject them instead.
		jsonOut, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal parsed config: %v", err)
		}
		if !isPrintable(string(jsonOut)) {
			if valid {
				t.Fatalf("Validate accepted unprintable characters: %s", jsonOut)
			}
			return
		}
		yamlOut, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("marshal parsed config: %v", err)
		}
		for _, out := range [][]byte{yamlOut, jsonOut} {
			again, err := Parse(out)
			if err != nil {
				t.Fatalf("re-parse marshalled config: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(c, again) {
				t.Fatalf("round trip changed the config:\nfirst:  %#v\nsecond: %#v\nmarshalled:\n%s", c, again, out)
			}
		}
	})
}
