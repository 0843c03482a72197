package main

import (
	"context"
	"slices"
	"testing"
)

func TestSelectBenchmarks(t *testing.T) {
	all, err := selectBenchmarks("")
	if err != nil || !slices.Equal(names(all), benchmarkNames()) {
		t.Fatalf("empty --only: %v, %v", names(all), err)
	}
	got, err := selectBenchmarks("api-latency, host-startup")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"host-startup", "api-latency"}; !slices.Equal(names(got), want) {
		t.Errorf("got %v, want %v (run order)", names(got), want)
	}
	if _, err := selectBenchmarks("nope"); err == nil {
		t.Error("want an error for an unknown benchmark")
	}
}

func TestCleanupsRunNewestFirstAndOnce(t *testing.T) {
	var c cleanups
	var order []string
	step := func(name string) func(context.Context) error {
		return func(context.Context) error { order = append(order, name); return nil }
	}
	c.Add("a", step("a"))
	runB := c.Add("b", step("b"))
	c.Add("c", step("c"))
	runB()
	runB()
	c.RunAll()
	c.RunAll()
	if want := []string{"b", "c", "a"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
}
