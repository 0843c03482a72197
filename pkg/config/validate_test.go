package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	full, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		input      string
		wantErrs   []string // substrings; none means valid
		wantAbsent string   // must not appear in the error
	}{
		{name: "valid full file", input: string(full)},
		{name: "defaults", input: ""},
		{
			name:     "bad kubernetesVersion",
			input:    "kubernetesVersion: v1.33.0",
			wantErrs: []string{`kubernetesVersion: Unsupported value: "v1.33.0": supported values: "v1.34.4"`},
		},
		{
			name:     "bad apiVersion and kind",
			input:    "apiVersion: nest.dev/v1\nkind: Cluster",
			wantErrs: []string{`apiVersion: Unsupported value: "nest.dev/v1"`, `kind: Unsupported value: "Cluster"`},
		},
		{name: "sqlite endpoint", input: "datastore: {endpoint: 'sqlite:///var/lib/nest/state.db?_journal=WAL'}"},
		{name: "postgres endpoint", input: "datastore: {endpoint: 'postgres://nest:pw@db:5432/nest?sslmode=disable'}"},
		{
			name:     "bad endpoint",
			input:    "datastore: {endpoint: 'mysql://db/nest'}",
			wantErrs: []string{`datastore.endpoint: Invalid value: "mysql://db/nest": unsupported scheme "mysql"`},
		},
		{
			name:       "bad endpoint hides the password",
			input:      "datastore: {endpoint: 'postgres://nest:hunter2@:5432/nest'}",
			wantErrs:   []string{"datastore.endpoint: Invalid value", "missing the host"},
			wantAbsent: "hunter2",
		},
		{
			name:  "bad toHost kind",
			input: "sync: {toHost: {foo: {enabled: true}}}",
			wantErrs: []string{
				`sync.toHost.foo: Unsupported value: "foo": supported values: "configmaps", "endpoints", "endpointslices", "ingresses", "networkpolicies", "persistentvolumeclaims", "persistentvolumes", "poddisruptionbudgets", "pods", "priorityclasses", "secrets", "serviceaccounts", "services", "storageclasses"`,
			},
		},
		{
			name:     "bad fromHost kind",
			input:    "sync: {fromHost: {pods: {}}}",
			wantErrs: []string{`sync.fromHost.pods: Unsupported value: "pods": supported values: "events", "ingressclasses", "nodes", "priorityclasses", "storageclasses"`},
		},
		{
			name:     "mode on a kind other than nodes",
			input:    "sync: {fromHost: {events: {mode: real}}}",
			wantErrs: []string{"sync.fromHost.events.mode: Forbidden"},
		},
		{
			name:     "bad node mode",
			input:    "sync: {fromHost: {nodes: {mode: virtual}}}",
			wantErrs: []string{`sync.fromHost.nodes.mode: Unsupported value: "virtual": supported values: "real", "fake"`},
		},
		{name: "every host node", input: "sync: {fromHost: {nodes: {all: true}}}"},
		{name: "every host node with real data", input: "sync: {fromHost: {nodes: {all: true, mode: real}}}"},
		{name: "the host nodes of a label", input: "sync: {fromHost: {nodes: {all: true, selector: {matchLabels: {pool: tenants}}}}}"},
		{name: "virtual scheduler on every host node", input: "controlPlane: {scheduler: {enabled: true}}\nsync: {fromHost: {nodes: {all: true, mode: real}}}"},
		{name: "virtual scheduler off", input: "controlPlane: {scheduler: {enabled: false}}"},
		{
			name:     "virtual scheduler without every host node",
			input:    "controlPlane: {scheduler: {enabled: true}}",
			wantErrs: []string{`controlPlane.scheduler.enabled: Invalid value: true: needs sync.fromHost.nodes.enabled and sync.fromHost.nodes.all: true`},
		},
		{
			name:     "virtual scheduler with nodes not synced",
			input:    "controlPlane: {scheduler: {enabled: true}}\nsync: {fromHost: {nodes: {enabled: false}}}",
			wantErrs: []string{`controlPlane.scheduler.enabled: Invalid value: true: needs sync.fromHost.nodes.enabled`},
		},
		{
			name:     "all on a kind other than nodes",
			input:    "sync: {fromHost: {storageclasses: {enabled: true, all: true}}}",
			wantErrs: []string{"sync.fromHost.storageclasses.all: Forbidden: only sync.fromHost.nodes has all"},
		},
		{
			name:     "all host nodes without syncing nodes",
			input:    "sync: {fromHost: {nodes: {enabled: false, all: true}}}",
			wantErrs: []string{"sync.fromHost.nodes.all: Invalid value: true: needs sync.fromHost.nodes.enabled"},
		},
		{
			name:     "a node selector without all",
			input:    "sync: {fromHost: {nodes: {selector: {matchLabels: {pool: tenants}}}}}",
			wantErrs: []string{`sync.fromHost.nodes.selector: Invalid value: "pool=tenants": needs sync.fromHost.nodes.all: true`},
		},
		{
			name:     "a bad node selector",
			input:    "sync: {fromHost: {nodes: {all: true, selector: {matchLabels: {'bad key!': x}}}}}",
			wantErrs: []string{"sync.fromHost.nodes.selector.matchLabels"},
		},
		{name: "storage classes and volumes down, priority classes up", input: "sync: {toHost: {storageclasses: {enabled: true}, persistentvolumes: {enabled: true}}, fromHost: {priorityclasses: {enabled: true}}}"},
		{
			name:     "a class both ways",
			input:    "sync: {toHost: {storageclasses: {enabled: true}, priorityclasses: {enabled: true}}, fromHost: {storageclasses: {enabled: true}, priorityclasses: {enabled: true}}}",
			wantErrs: []string{"sync.toHost.priorityclasses.enabled: Invalid value: true: cannot sync to the host while sync.fromHost.priorityclasses is enabled", "sync.toHost.storageclasses.enabled: Invalid value: true: cannot sync to the host while sync.fromHost.storageclasses is enabled"},
		},
		{name: "a class read from the host", input: "sync: {fromHost: {storageclasses: {enabled: true}, ingressclasses: {enabled: true}}}"},
		{
			name:     "endpoint slices without their services",
			input:    "sync: {toHost: {services: {enabled: false}, endpoints: {enabled: false}}}",
			wantErrs: []string{"sync.toHost.endpointslices.enabled: Invalid value: true: needs sync.toHost.services.enabled"},
		},
		{
			name:     "endpoints without their services",
			input:    "sync: {toHost: {services: {enabled: false}, endpointslices: {enabled: false}}}",
			wantErrs: []string{"sync.toHost.endpoints.enabled: Invalid value: true: needs sync.toHost.services.enabled"},
		},
		{name: "services off with what goes with them", input: "sync: {toHost: {services: {enabled: false}, endpoints: {enabled: false}, endpointslices: {enabled: false}}}"},
		{
			name:     "bad selector",
			input:    "sync: {toHost: {pods: {selector: {matchExpressions: [{key: a, operator: Near}]}}}}",
			wantErrs: []string{"sync.toHost.pods.selector.matchExpressions[0].operator"},
		},
		{
			name:     "bad controller name",
			input:    "controlPlane: {controllers: {enabled: ['*', node-lifecycle, -taint-eviction-controller]}}",
			wantErrs: []string{`controlPlane.controllers.enabled[1]: Unsupported value: "node-lifecycle"`, `controlPlane.controllers.enabled[2]: Unsupported value: "-taint-eviction-controller"`},
		},
		{
			name:     "disabling the wildcard",
			input:    "controlPlane: {controllers: {enabled: ['-*']}}",
			wantErrs: []string{`controlPlane.controllers.enabled[0]: Unsupported value: "-*"`},
		},
		{
			name:     "controller enabled and disabled",
			input:    "controlPlane: {controllers: {enabled: [job, -job]}}",
			wantErrs: []string{`controlPlane.controllers.enabled[1]: Duplicate value: "-job"`},
		},
		{
			name:     "control characters in a flag value",
			input:    `controlPlane: {apiServer: {extraArgs: {v: "2\n--x=y"}}}`,
			wantErrs: []string{"controlPlane.apiServer.extraArgs.v: Invalid value: \"\": must contain only printable characters"},
		},
		{
			name:     "control characters in the endpoint",
			input:    `datastore: {endpoint: "postgres://db/x\u0085"}`,
			wantErrs: []string{"datastore.endpoint: Invalid value: \"\": must contain only printable characters"},
		},
		{
			name:     "bad flag names",
			input:    "controlPlane: {apiServer: {extraArgs: {--v: '2', Foo: x}}}",
			wantErrs: []string{"controlPlane.apiServer.extraArgs.--v: Invalid value", "controlPlane.apiServer.extraArgs.Foo: Invalid value"},
		},
		{name: "short certificate validity", input: "controlPlane: {certificates: {validity: 3m}}"},
		{
			name:     "certificate validity not a duration",
			input:    "controlPlane: {certificates: {validity: 1y}}",
			wantErrs: []string{`controlPlane.certificates.validity: Invalid value: "1y": must be a duration such as "8760h"`},
		},
		{
			name:     "certificate validity too short",
			input:    "controlPlane: {certificates: {validity: 10s}}",
			wantErrs: []string{`controlPlane.certificates.validity: Invalid value: "10s": must be between 1m0s and 87600h0m0s`},
		},
		{name: "restricted pod security", input: "isolation: {podSecurity: restricted}"},
		{
			name:     "unknown pod security level",
			input:    "isolation: {podSecurity: strict}",
			wantErrs: []string{`isolation.podSecurity: Unsupported value: "strict": supported values: "privileged", "baseline", "restricted"`},
		},
		{
			name:     "custom resource missing fields",
			input:    "sync: {customResources: [{}]}",
			wantErrs: []string{"sync.customResources[0].group: Required", "sync.customResources[0].version: Required", "sync.customResources[0].kind: Required"},
		},
		{
			name: "custom resource in built-in groups",
			input: "sync: {customResources: [" +
				"{group: apps, version: v1, kind: Deployment}," +
				"{group: networking.k8s.io, version: v1, kind: Ingress}]}",
			wantErrs: []string{
				`sync.customResources[0].group: Invalid value: "apps": is a built-in API group`,
				`sync.customResources[1].group: Invalid value: "networking.k8s.io": is a built-in API group`,
			},
		},
		{
			name:     "service mappings without names",
			input:    "sync: {serviceMappings: {fromHost: [{}], toHost: [{}]}}",
			wantErrs: []string{"sync.serviceMappings.fromHost[0].from: Required", "sync.serviceMappings.fromHost[0].to: Required", "sync.serviceMappings.toHost[0].from: Required", "sync.serviceMappings.toHost[0].to: Required"},
		},
		{
			name:  "service mappings with bad names",
			input: "sync: {serviceMappings: {fromHost: [{from: postgres, to: default/Db}], toHost: [{from: default/web, to: other/web}]}}",
			wantErrs: []string{
				`sync.serviceMappings.fromHost[0].from: Invalid value: "postgres": must be "namespace/name" of a service`,
				`sync.serviceMappings.fromHost[0].to: Invalid value: "default/Db": name: a DNS-1035 label`,
				`sync.serviceMappings.toHost[0].to: Invalid value: "other/web": must be a service name only`,
			},
		},
		{
			name:     "service mappings onto one name twice",
			input:    "sync: {serviceMappings: {fromHost: [{from: a/x, to: default/db}, {from: b/y, to: default/db}], toHost: [{from: default/a, to: web}, {from: default/b, to: web}]}}",
			wantErrs: []string{`sync.serviceMappings.fromHost[1].to: Duplicate value: "default/db"`, `sync.serviceMappings.toHost[1].to: Duplicate value: "web"`},
		},
		{name: "service mappings", input: "sync: {serviceMappings: {fromHost: [{from: kube-system/kube-dns, to: default/dns}], toHost: [{from: default/web, to: web}]}}"},
		{name: "custom resource in a k8s.io CRD group", input: "sync: {customResources: [{group: gateway.networking.k8s.io, version: v1, kind: HTTPRoute}]}"},
		{
			name: "custom resource bad names",
			input: "sync: {customResources: [" +
				"{group: example, version: v1, kind: Widget}," +
				"{group: Example.COM, version: V1, kind: Wid_get}]}",
			wantErrs: []string{
				`sync.customResources[0].group: Invalid value: "example": must be a domain with at least one dot`,
				`sync.customResources[1].group: Invalid value: "Example.COM"`,
				`sync.customResources[1].version: Invalid value: "V1"`,
				`sync.customResources[1].kind: Invalid value: "Wid_get"`,
			},
		},
		{
			name:     "custom resource listed twice",
			input:    "sync: {customResources: [{group: tekton.dev, version: v1, kind: Task}, {group: tekton.dev, version: v1beta1, kind: Task}]}",
			wantErrs: []string{`sync.customResources[1]: Duplicate value: "Task.tekton.dev"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(tt.input))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			err = c.Validate()
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatalf("Validate() error = %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.wantErrs)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() error = %v\nwant it to contain %q", err, want)
				}
			}
			if tt.wantAbsent != "" && strings.Contains(err.Error(), tt.wantAbsent) {
				t.Errorf("Validate() error = %v, must not contain %q", err, tt.wantAbsent)
			}
		})
	}
}
