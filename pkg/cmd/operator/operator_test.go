package operator_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/operator"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

func TestCommand(t *testing.T) {
	want, err := v1alpha1.CRDYAML()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{name: "print the CRD", args: []string{"--print-crd"}, wantOut: string(want)},
		{name: "no workers", args: []string{"--workers", "0"}, wantErr: "--workers must be at least 1, got 0"},
		{name: "arguments", args: []string{"extra"}, wantErr: `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			c := operator.NewCommand(cmd.IOStreams{Out: &out, ErrOut: &errOut}, &cmd.GlobalFlags{})
			c.SetArgs(tt.args)
			c.SetOut(&out)
			c.SetErr(&errOut)
			err := c.ExecuteContext(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.wantOut {
				t.Errorf("output differs from the CRD:\n%s", out.String())
			}
		})
	}
}
