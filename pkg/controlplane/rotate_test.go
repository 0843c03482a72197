package controlplane

import (
	"testing"
	"time"
)

func TestClientReloadInterval(t *testing.T) {
	tests := []struct {
		validity, want time.Duration
	}{
		{0, 5 * time.Minute},                    // default validity: client-go's default
		{365 * 24 * time.Hour, 5 * time.Minute}, // long validity: same
		{2 * time.Minute, 12 * time.Second},     // a tenth of a short one
		{5 * time.Second, time.Second},          // never below a second
	}
	for _, tc := range tests {
		if got := clientReloadInterval(tc.validity); got != tc.want {
			t.Errorf("clientReloadInterval(%s) = %s, want %s", tc.validity, got, tc.want)
		}
	}
}

func TestRotationSignal(t *testing.T) {
	s := newRotationSignal()
	first := s.next()
	select {
	case <-first:
		t.Fatal("closed before any rotation")
	default:
	}
	s.fire()
	select {
	case <-first:
	default:
		t.Fatal("not closed by a rotation")
	}
	select {
	case <-s.next():
		t.Fatal("the next channel is already closed")
	default:
	}
}
