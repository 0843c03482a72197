package syncer

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestRecentCreates(t *testing.T) {
	t.Parallel()
	refresh := time.Now().Add(time.Hour)
	tests := []struct {
		name   string
		setUp  func(r *recentCreates)
		ask    string
		uid    types.UID
		wantOK bool
	}{
		{"none recorded", func(*recentCreates) {}, "pod/a", "u1", false},
		{"just created", func(r *recentCreates) { r.add("pod/a", "u1", refresh) }, "pod/a", "u1", true},
		{"for another object of the name", func(r *recentCreates) { r.add("pod/a", "u1", refresh) }, "pod/a", "u2", false},
		{"another kind of the name", func(r *recentCreates) { r.add("token/a", "u1", refresh) }, "pod/a", "u1", false},
		{"the informer showed it", func(r *recentCreates) { r.add("pod/a", "u1", refresh); r.forget("pod/a") }, "pod/a", "u1", false},
		{"older than recentTTL", func(r *recentCreates) {
			r.add("pod/a", "u1", refresh)
			c := r.m["pod/a"]
			c.at = c.at.Add(-2 * recentTTL)
			r.m["pod/a"] = c
		}, "pod/a", "u1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r recentCreates
			tt.setUp(&r)
			c, ok := r.get(tt.ask, tt.uid)
			if ok != tt.wantOK {
				t.Fatalf("get(%s, %s) = %v, want %v", tt.ask, tt.uid, ok, tt.wantOK)
			}
			if ok && !c.refresh.Equal(refresh) {
				t.Fatalf("refresh %v, want %v", c.refresh, refresh)
			}
		})
	}
}
