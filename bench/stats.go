package bench

import (
	"math"
	"slices"
)

// Spread is one figure over several repetitions: the median is the figure,
// Min and Max show how much it moved.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Reps are the per-repetition values, in the order they were measured.
	Reps []float64 `json:"reps"`
}

// spreadOf summarises per-repetition values. An empty input gives a zero
// Spread that is not Valid, so a missing figure can never pass a budget.
func spreadOf(values []float64) Spread {
	if len(values) == 0 {
		return Spread{}
	}
	sorted := slices.Sorted(slices.Values(values))
	return Spread{
		Median: percentile(sorted, 50),
		Min:    sorted[0],
		Max:    sorted[len(sorted)-1],
		Reps:   slices.Clone(values),
	}
}

// Valid reports whether the spread holds at least one measurement.
func (s Spread) Valid() bool { return len(s.Reps) > 0 }

// percentile interpolates linearly between the closest ranks of sorted
// values (p in [0, 100]), so p50 of an even count is the mean of the two
// middle values.
func percentile(sorted []float64, p float64) float64 {
	switch len(sorted) {
	case 0:
		return math.NaN()
	case 1:
		return sorted[0]
	}
	rank := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	frac := rank - float64(lo)
	return sorted[lo] + (sorted[hi]-sorted[lo])*frac
}

// percentilesOf sorts a copy of values and returns the requested percentiles.
func percentilesOf(values []float64, ps ...float64) []float64 {
	sorted := slices.Sorted(slices.Values(values))
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = percentile(sorted, p)
	}
	return out
}
