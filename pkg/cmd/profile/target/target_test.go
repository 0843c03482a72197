package target

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSet(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		set  []string
		want map[string]string
		err  string
	}{
		{name: "none", want: map[string]string{}},
		{name: "values keep their = and spaces", set: []string{"A=1", "TITLE=Team builds", "EXPR=a=b"}, want: map[string]string{"A": "1", "TITLE": "Team builds", "EXPR": "a=b"}},
		{name: "empty value", set: []string{"A="}, want: map[string]string{"A": ""}},
		{name: "last wins", set: []string{"A=1", "A=2"}, want: map[string]string{"A": "2"}},
		{name: "no =", set: []string{"A"}, err: `--set "A": want VAR=VALUE`},
		{name: "no name", set: []string{"=1"}, err: "want VAR=VALUE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSet(tc.set)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
