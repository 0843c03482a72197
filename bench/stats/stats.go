// Package stats summarizes benchmark samples: nearest-rank percentiles and
// the mean, with nothing but sort.
package stats

import (
	"math"
	"sort"
	"time"
)

// Summary of a set of samples, in the samples' unit.
type Summary struct {
	N             int
	P50, P90, P99 float64
	Mean          float64
	Min, Max      float64
}

// Summarize returns the summary of samples; the zero Summary for none.
func Summarize(samples []float64) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return Summary{
		N:    len(s),
		P50:  Percentile(s, 50),
		P90:  Percentile(s, 90),
		P99:  Percentile(s, 99),
		Mean: sum / float64(len(s)),
		Min:  s[0],
		Max:  s[len(s)-1],
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted samples: the smallest sample with at least p% of the samples at or
// below it. It never interpolates, so it is always a measured value.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// Seconds converts durations to float seconds, the unit Summarize works in
// for times.
func Seconds(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}

// Ratio is a/b, or NaN when b is zero.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}
