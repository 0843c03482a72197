package cplog

import (
	"testing"
	"time"
)

const sample = `I1125 19:37:00.000000   25792 flags.go:64] FLAG: --foo="bar"
time=2025-11-25T19:37:00.412Z level=INFO msg="Datastore is serving" virtualCluster=dev elapsed=312ms
W1125 19:37:00.500000   25792 something.go:1] msg="not ours" elapsed=1s
time=2025-11-25T20:37:01.600+01:00 level=INFO msg="Virtual apiserver is ready" virtualCluster=dev elapsed=1.5s
`

func TestParse(t *testing.T) {
	p, err := Parse(sample)
	if err != nil {
		t.Fatal(err)
	}
	if p.Datastore.Elapsed != 312*time.Millisecond || p.APIServer.Elapsed != 1500*time.Millisecond {
		t.Errorf("elapsed: %+v", p)
	}
	wantStart := time.Date(2025, 11, 25, 19, 37, 0, 100e6, time.UTC)
	if !p.Datastore.RunStart().Equal(wantStart) || !p.APIServer.RunStart().Equal(wantStart) {
		t.Errorf("run start: %v, %v; want %v", p.Datastore.RunStart(), p.APIServer.RunStart(), wantStart)
	}
	if _, err := Parse("nothing here\n"); err == nil {
		t.Error("want an error for a log without phases")
	}
}

func TestFields(t *testing.T) {
	kv := Fields(`time=x level=INFO msg="a \"quoted\" b=c" k=v empty=""`)
	want := map[string]string{"time": "x", "level": "INFO", "msg": `a "quoted" b=c`, "k": "v", "empty": ""}
	for k, v := range want {
		if kv[k] != v {
			t.Errorf("%s = %q, want %q", k, kv[k], v)
		}
	}
}
