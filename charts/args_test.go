// An external test package: pkg/cmd reaches this package through the pod
// runtime (lifecycle → chartrelease → charts), so only charts_test may
// import both.
package charts_test

import (
	"io"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/nestcluster/nest/charts"
	"github.com/nestcluster/nest/pkg/cmd"
	nestcmd "github.com/nestcluster/nest/pkg/cmd/nest"
)

// TestChartArgsAreNestControlplaneFlags: the StatefulSet's container args
// name `nest controlplane` and every flag parses, for the default values
// and for a LoadBalancer service with a custom config.
func TestChartArgsAreNestControlplaneFlags(t *testing.T) {
	t.Parallel()
	c, err := charts.Load(charts.NestChart)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		values map[string]any
	}{
		{"defaults", nil},
		{"load balancer", map[string]any{"service": map[string]any{"type": "LoadBalancer"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := charts.Render(c, charts.Release{Name: "dev", Namespace: "tenant-a", Values: tt.values})
			if err != nil {
				t.Fatal(err)
			}
			var sts appsv1.StatefulSet
			for _, o := range r.Objects {
				if o.GetKind() == "StatefulSet" {
					if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &sts); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(sts.Spec.Template.Spec.Containers) == 0 {
				t.Fatal("no StatefulSet with a container rendered")
			}
			args := sts.Spec.Template.Spec.Containers[0].Args
			root := nestcmd.NewCommand(cmd.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
			sub, rest, err := root.Find(args)
			if err != nil || sub.Name() != "controlplane" {
				t.Fatalf("args %v do not name `nest controlplane`: %v", args, err)
			}
			if err := sub.ParseFlags(rest); err != nil {
				t.Errorf("nest controlplane rejects the chart's args %v: %v", args, err)
			}
		})
	}
}
