package bench

import (
	"math"
	"testing"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		p      float64
		want   float64
	}{
		{"one value is every percentile", []float64{7}, 99, 7},
		{"median of an odd count is the middle", []float64{3, 1, 2}, 50, 2},
		{"median of an even count is the mean of the middle two", []float64{4, 1, 3, 2}, 50, 2.5},
		{"p0 is the minimum", []float64{5, 9, 1}, 0, 1},
		{"p100 is the maximum", []float64{5, 9, 1}, 100, 9},
		{"p90 interpolates between ranks", []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110}, 90, 100},
		{"p99 of 0..100 is 99", seq(101), 99, 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentilesOf(tt.values, tt.p)[0]; math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("p%v of %v = %v, want %v", tt.p, tt.values, got, tt.want)
			}
		})
	}
	t.Run("no values give NaN", func(t *testing.T) {
		if got := percentile(nil, 50); !math.IsNaN(got) {
			t.Errorf("percentile(nil) = %v, want NaN", got)
		}
	})
}

func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i)
	}
	return out
}

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		name             string
		values           []float64
		valid            bool
		median, min, max float64
	}{
		{"nothing measured is not valid", nil, false, 0, 0, 0},
		{"one repetition", []float64{4}, true, 4, 4, 4},
		{"several repetitions", []float64{5, 1, 9, 3, 7}, true, 5, 1, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spreadOf(tt.values)
			if s.Valid() != tt.valid || s.Median != tt.median || s.Min != tt.min || s.Max != tt.max {
				t.Errorf("spreadOf(%v) = %+v (valid %v), want valid %v median %v min %v max %v",
					tt.values, s, s.Valid(), tt.valid, tt.median, tt.min, tt.max)
			}
			if len(s.Reps) != len(tt.values) {
				t.Errorf("Reps = %v, want the %d values in order", s.Reps, len(tt.values))
			}
			for i := range s.Reps {
				if s.Reps[i] != tt.values[i] {
					t.Errorf("Reps = %v, want %v in measurement order", s.Reps, tt.values)
				}
			}
		})
	}
}
