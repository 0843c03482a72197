package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// unreachableKubeconfig is a valid kubeconfig of a host nobody serves: the
// hub accepts it and its health check marks the host Unreachable.
const unreachableKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: h
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: h
  context:
    cluster: h
    user: u
current-context: h
users:
- name: u
  user:
    token: not-a-secret
`

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%x", prefix, time.Now().UnixNano()&0xffffffffff)
}

func TestHostClusterLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := admin(t)
	name := uniqueName("host")
	h, err := c.CreateHostCluster(ctx, api.CreateHostClusterRequest{Name: name, Description: "d", Kubeconfig: unreachableKubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	if h.ID == "" || h.Name != name || h.Description != "d" {
		t.Fatalf("created %+v", h)
	}
	got, err := c.GetHostCluster(ctx, h.ID)
	if err != nil || got.Name != name {
		t.Fatalf("get = %+v, %v", got, err)
	}
	page, err := c.ListHostClusters(ctx, client.ListOptions{Filters: map[string]string{"name": name}})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != h.ID {
		t.Fatalf("list = %+v, %v", page, err)
	}
	up, err := c.UpdateHostCluster(ctx, h.ID, api.UpdateHostClusterRequest{Description: "e", ResourceVersion: got.ResourceVersion})
	if err != nil || up.Description != "e" {
		t.Fatalf("update = %+v, %v", up, err)
	}
	if _, err := c.UpdateHostCluster(ctx, h.ID, api.UpdateHostClusterRequest{Description: "f", ResourceVersion: got.ResourceVersion}); !client.IsConflict(err) {
		t.Fatalf("stale update = %v, want a conflict", err)
	}
	if err := c.DeleteHostCluster(ctx, h.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetHostCluster(ctx, h.ID); !client.IsNotFound(err) {
		t.Fatalf("get after delete = %v", err)
	}
}

func TestClusterGroupLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := admin(t)
	h, err := c.CreateHostCluster(ctx, api.CreateHostClusterRequest{Name: uniqueName("host"), Kubeconfig: unreachableKubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	name := uniqueName("group")
	g, err := c.CreateClusterGroup(ctx, api.CreateClusterGroupRequest{Name: name, ClusterGroupSpec: api.ClusterGroupSpec{
		HostClusterIDs: []string{h.ID}, Quota: store.Resources{CPU: "2", Pods: "10"}}})
	if err != nil {
		t.Fatal(err)
	}
	if g.EndpointType != store.EndpointLocal || g.Quota.CPU != "2" {
		t.Fatalf("created %+v", g)
	}
	page, err := c.ListClusterGroups(ctx, client.ListOptions{Filters: map[string]string{"name": name}})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("list = %+v, %v", page, err)
	}
	up, err := c.UpdateClusterGroup(ctx, g.ID, api.UpdateClusterGroupRequest{ClusterGroupSpec: api.ClusterGroupSpec{
		HostClusterIDs: []string{h.ID}, Quota: store.Resources{CPU: "4"}}, ResourceVersion: g.ResourceVersion})
	if err != nil || up.Quota.CPU != "4" {
		t.Fatalf("update = %+v, %v", up, err)
	}
	if err := c.DeleteHostCluster(ctx, h.ID, 0); err == nil {
		t.Fatal("deleted a host cluster that is in a group")
	}
	if err := c.DeleteClusterGroup(ctx, g.ID, up.ResourceVersion); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteHostCluster(ctx, h.ID, 0); err != nil {
		t.Fatal(err)
	}
}

func TestFleetErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := admin(t)
	tn := newTenant(t, c)
	p, err := c.CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		call      func() error
		wantField string
		check     func(error) bool
	}{
		{"host without kubeconfig", func() error {
			_, err := c.CreateHostCluster(ctx, api.CreateHostClusterRequest{Name: uniqueName("h")})
			return err
		}, "kubeconfig", client.IsInvalid},
		{"host with a bad kubeconfig", func() error {
			_, err := c.CreateHostCluster(ctx, api.CreateHostClusterRequest{Name: uniqueName("h"), Kubeconfig: "nope: ["})
			return err
		}, "kubeconfig", client.IsInvalid},
		{"group with a bad quota", func() error {
			_, err := c.CreateClusterGroup(ctx, api.CreateClusterGroupRequest{Name: uniqueName("g"), ClusterGroupSpec: api.ClusterGroupSpec{
				Quota: store.Resources{CPU: "lots"}}})
			return err
		}, "quota.cpu", client.IsInvalid},
		{"unknown group", func() error {
			_, err := c.CreateVirtualCluster(ctx, tn.ID, p.ID, api.CreateVirtualClusterRequest{Name: "dev", ClusterGroupID: "nope"})
			return err
		}, "clusterGroupId", client.IsInvalid},
		{"unknown virtual cluster", func() error {
			_, err := c.GetVirtualCluster(ctx, client.VirtualClusterRef{TenantID: tn.ID, ProjectID: p.ID, ID: "nope"})
			return err
		}, "", client.IsNotFound},
		{"kubeconfig of an unknown virtual cluster", func() error {
			_, err := c.GetVirtualClusterKubeconfig(ctx, client.VirtualClusterRef{TenantID: tn.ID, ProjectID: p.ID, ID: "nope"})
			return err
		}, "", client.IsNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !tc.check(err) {
				t.Fatalf("err = %v", err)
			}
			if e := client.AsError(err); tc.wantField != "" && e.Field() != tc.wantField {
				t.Fatalf("field = %q, want %q (%v)", e.Field(), tc.wantField, err)
			}
		})
	}
}

func TestWaitVirtualCluster(t *testing.T) {
	t.Parallel()
	c := admin(t)
	tn := newTenant(t, c)
	ref := client.VirtualClusterRef{TenantID: tn.ID, ProjectID: "none", ID: "none"}
	tests := []struct {
		name    string
		timeout time.Duration
		pred    client.WaitPredicate
		wantErr string
	}{
		{"gone at once", time.Minute, client.Gone, ""},
		{"settled fails when gone", time.Minute, client.Settled, "gone"},
		{"timeout", 1500 * time.Millisecond, func(*store.VirtualCluster) (bool, error) { return false, nil }, "deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			vc, err := c.WaitVirtualCluster(ctx, ref, tc.pred)
			if vc != nil {
				t.Fatalf("vc = %+v", vc)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestSettled(t *testing.T) {
	t.Parallel()
	vc := func(phase string, paused bool, gen, observed int64) *store.VirtualCluster {
		return &store.VirtualCluster{Paused: paused, Generation: gen,
			Status: store.VirtualClusterStatus{Phase: phase, ObservedGeneration: observed, Message: "the reason"}}
	}
	tests := []struct {
		name     string
		vc       *store.VirtualCluster
		done     bool
		wantFail bool
	}{
		{"pending", vc(store.VCPending, false, 1, 0), false, false},
		{"ready", vc(store.VCReady, false, 1, 1), true, false},
		{"ready, older generation", vc(store.VCReady, false, 2, 1), false, false},
		{"ready but asked to pause", vc(store.VCReady, true, 2, 2), false, false},
		{"paused", vc(store.VCPaused, true, 2, 2), true, false},
		{"failed", vc(store.VCFailed, false, 1, 0), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			done, err := client.Settled(tc.vc)
			if done != tc.done || (err != nil) != tc.wantFail {
				t.Fatalf("Settled = %v, %v", done, err)
			}
			if tc.wantFail && (!errors.Is(err, client.ErrVirtualClusterFailed) || !strings.Contains(err.Error(), "the reason")) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
