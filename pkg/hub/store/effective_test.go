package store_test

import (
	"reflect"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/store"
)

func TestEffectiveProfiles(t *testing.T) {
	t.Parallel()
	a, b, c := store.ProfileRef{ProfileID: "a"}, store.ProfileRef{ProfileID: "b"}, store.ProfileRef{ProfileID: "c"}
	bPinned := store.ProfileRef{ProfileID: "b", Version: "2", Variables: map[string]string{"X": "1"}}
	tests := []struct {
		name       string
		group, own []store.ProfileRef
		want       []store.ProfileRef
	}{
		{"none", nil, nil, []store.ProfileRef{}},
		{"group only", []store.ProfileRef{a, b}, nil, []store.ProfileRef{a, b}},
		{"group then own", []store.ProfileRef{a}, []store.ProfileRef{c, b}, []store.ProfileRef{a, c, b}},
		{"own replaces the group's in place", []store.ProfileRef{a, b}, []store.ProfileRef{c, bPinned}, []store.ProfileRef{a, bPinned, c}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := store.EffectiveProfiles(tc.group, tc.own); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
