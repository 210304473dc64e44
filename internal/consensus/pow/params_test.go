package pow

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/naivechain/naivechain/internal/block"
)

// retargetParams retarget every 10 blocks of 1s by at most 2 bits: a
// window of 10 blocks spans 9 intervals, so the expected time is 9000ms.
func retargetParams() Params {
	return Params{BlockInterval: time.Second, RetargetBlocks: 10, MaxStep: 2, StartDifficulty: 16, MaxFutureDrift: time.Minute}
}

func TestNextDifficulty(t *testing.T) {
	p := retargetParams()
	p3 := p
	p3.MaxStep = 3
	const e = 9000 // expected window time, ms
	tests := []struct {
		name        string
		p           Params
		height      uint64
		parent      uint8
		first, last int64
		want        uint8
	}{
		{"genesis height", p, 0, 30, 0, 0, 16},
		{"block 1 takes the start difficulty", p, 1, 30, 0, 0, 16},
		{"block 2 keeps its parent's", p, 2, 30, 0, 1, 30},
		{"block 10 keeps its parent's", p, 10, 30, 0, 1, 30},
		{"block 12 keeps its parent's", p, 12, 30, 0, 1, 30},
		{"block 20 keeps its parent's", p, 20, 30, 0, 1, 30},
		{"non-retarget ignores the times", p, 15, 30, 1000, 0, 30},

		{"on time", p, 11, 20, 0, e, 20},
		{"on time, window anywhere", p, 21, 20, 1_700_000_000_000, 1_700_000_000_000 + e, 20},
		{"on time, negative timestamps", p, 31, 20, -5000, -5000 + e, 20},
		{"twice as fast", p, 11, 20, 0, e / 2, 21},
		{"four times as fast", p, 11, 20, 0, e / 4, 22},
		{"a hundred times as fast: clamped", p, 11, 20, 0, e / 100, 22},
		{"a hundred times as fast, step 3", p3, 11, 20, 0, e / 100, 23},
		{"eight times as fast, step 3", p3, 11, 20, 0, e / 8, 23},
		{"twice as slow", p, 11, 20, 0, 2 * e, 19},
		{"four times as slow", p, 11, 20, 0, 4 * e, 18},
		{"a thousand times as slow: clamped", p, 11, 20, 0, 1000 * e, 18},

		// Rounding: the step changes where expected/actual crosses
		// 2^(k±1/2). 9000/sqrt2 = 6363.96, 9000/2^1.5 = 3181.98,
		// 9000/2^2.5 = 1590.99, 9000*sqrt2 = 12727.92, 9000*2^1.5 =
		// 25455.84.
		{"ratio just over sqrt2", p, 11, 20, 0, 6363, 21},
		{"ratio just under sqrt2", p, 11, 20, 0, 6364, 20},
		{"ratio just over 2^1.5", p, 11, 20, 0, 3181, 22},
		{"ratio just under 2^1.5", p, 11, 20, 0, 3182, 21},
		{"ratio just over 2^2.5, step 3", p3, 11, 20, 0, 1590, 23},
		{"ratio just under 2^2.5, step 3", p3, 11, 20, 0, 1591, 22},
		{"ratio just over 1/sqrt2", p, 11, 20, 0, 12727, 20},
		{"ratio just under 1/sqrt2", p, 11, 20, 0, 12728, 19},
		{"ratio just over 2^-1.5", p, 11, 20, 0, 25455, 19},
		{"ratio just under 2^-1.5", p, 11, 20, 0, 25456, 18},

		{"no time at all", p, 11, 20, 5000, 5000, 22},
		{"time going back", p, 11, 20, 5000, 4000, 22},
		{"time going far back", p, 11, 20, math.MaxInt64, math.MinInt64, 22},
		{"a window wider than int64", p, 11, 20, math.MinInt64 + 1, 1_700_000_000_000, 18},
		{"the widest window", p, 11, 20, math.MinInt64, math.MaxInt64, 18},

		{"floor: slower at the minimum", p, 11, block.MinDifficulty, 0, 2 * e, block.MinDifficulty},
		{"floor: two bits down from one above", p, 11, block.MinDifficulty + 1, 0, 1000 * e, block.MinDifficulty},
		{"floor: faster at the minimum", p, 11, block.MinDifficulty, 0, e / 2, block.MinDifficulty + 1},
		{"ceiling: two bits up from 254", p, 11, 254, 0, e / 4, 255},
		{"ceiling: faster at 255", p, 11, 255, 0, e / 100, 255},
		{"ceiling: slower at 255", p, 11, 255, 0, 2 * e, 254},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.NextDifficulty(tc.height, tc.parent, tc.first, tc.last); got != tc.want {
				t.Fatalf("NextDifficulty(%d, %d, %d, %d) = %d, want %d", tc.height, tc.parent, tc.first, tc.last, got, tc.want)
			}
		})
	}
}

func TestRetargets(t *testing.T) {
	p := retargetParams()
	for h, want := range map[uint64]bool{0: false, 1: false, 2: false, 9: false, 10: false, 11: true, 12: false, 20: false, 21: true, 31: true, 1001: true, 1002: false} {
		if got := p.Retargets(h); got != want {
			t.Errorf("R=10: Retargets(%d) = %v, want %v", h, got, want)
		}
	}
	p.RetargetBlocks = 2
	for h, want := range map[uint64]bool{1: false, 2: false, 3: true, 4: false, 5: true, 7: true} {
		if got := p.Retargets(h); got != want {
			t.Errorf("R=2: Retargets(%d) = %v, want %v", h, got, want)
		}
	}
}

func TestMedianTime(t *testing.T) {
	tests := []struct {
		in   []int64
		want int64
	}{
		{nil, math.MinInt64},
		{[]int64{}, math.MinInt64},
		{[]int64{7}, 7},
		{[]int64{3, 1, 2}, 2},
		{[]int64{9, -4, 5, 5, 0}, 5},
		{[]int64{4, 1, 3, 2}, 3}, // even: the upper of the two middles
		{[]int64{10, 20}, 20},
		{[]int64{11, 1, 10, 2, 9, 3, 8, 4, 7, 5, 6}, 6},
	}
	for _, tc := range tests {
		in := slices.Clone(tc.in)
		if got := MedianTime(in); got != tc.want {
			t.Errorf("MedianTime(%v) = %d, want %d", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("MedianTime reordered its input: %v, was %v", in, tc.in)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := retargetParams()
	ok.BlockInterval, ok.RetargetBlocks, ok.MaxStep, ok.StartDifficulty, ok.MaxFutureDrift = time.Millisecond, 2, 1, block.MinDifficulty, time.Nanosecond
	for _, p := range []Params{DefaultParams(time.Second), DefaultParams(time.Millisecond), ok} {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", p, err)
		}
	}
	tests := []struct {
		field string
		edit  func(*Params)
	}{
		{"interval", func(p *Params) { p.BlockInterval = time.Millisecond - 1 }},
		{"interval", func(p *Params) { p.BlockInterval = 0 }},
		{"interval", func(p *Params) { p.BlockInterval = -time.Second }},
		{"retarget", func(p *Params) { p.RetargetBlocks = 1 }},
		{"retarget", func(p *Params) { p.RetargetBlocks = 0 }},
		{"step", func(p *Params) { p.MaxStep = 0 }},
		{"step", func(p *Params) { p.MaxStep = -1 }},
		{"start difficulty", func(p *Params) { p.StartDifficulty = block.MinDifficulty - 1 }},
		{"start difficulty", func(p *Params) { p.StartDifficulty = 0 }},
		{"drift", func(p *Params) { p.MaxFutureDrift = 0 }},
		{"drift", func(p *Params) { p.MaxFutureDrift = -time.Second }},
	}
	for _, tc := range tests {
		p := DefaultParams(time.Second)
		tc.edit(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("Validate(%+v) = %v, want an error about the %s", p, err, tc.field)
		}
	}
}

func TestRulesNameEveryParam(t *testing.T) {
	base := DefaultParams(time.Second)
	edits := []func(*Params){
		func(p *Params) { p.BlockInterval++ },
		func(p *Params) { p.RetargetBlocks++ },
		func(p *Params) { p.MaxStep++ },
		func(p *Params) { p.StartDifficulty++ },
		func(p *Params) { p.MaxFutureDrift++ },
	}
	for i, edit := range edits {
		p := base
		edit(&p)
		if p.Rules() == base.Rules() {
			t.Errorf("edit %d: Rules() does not tell %+v from %+v", i, p, base)
		}
	}
}

// TestNextDifficultyProperty: a retarget moves at most MaxStep bits, stays
// within [MinDifficulty, 255], and never rises when blocks came slower.
func TestNextDifficultyProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := Params{
			BlockInterval:   time.Duration(rapid.Int64Range(1, 1_000_000).Draw(t, "interval_ms")) * time.Millisecond,
			RetargetBlocks:  rapid.Uint64Range(2, 1000).Draw(t, "retarget"),
			MaxStep:         rapid.IntRange(1, 10).Draw(t, "step"),
			StartDifficulty: block.MinDifficulty,
			MaxFutureDrift:  time.Minute,
		}
		window := rapid.Uint64Range(0, 1000).Draw(t, "window")
		height := rapid.OneOf(
			rapid.Just(window*p.RetargetBlocks+1), // a retarget height (or 1)
			rapid.Uint64Range(2, 1_000_000),       // any height
		).Draw(t, "height")
		parent := uint8(rapid.IntRange(block.MinDifficulty, 255).Draw(t, "parent"))
		first := rapid.Int64().Draw(t, "first")
		last := rapid.Int64().Draw(t, "last")
		later := rapid.Int64().Draw(t, "later") // another last

		got := p.NextDifficulty(height, parent, first, last)
		if height <= 1 {
			if got != p.StartDifficulty {
				t.Fatalf("block %d: %d, want the start difficulty", height, got)
			}
			return
		}
		if d := int(got) - int(parent); d > p.MaxStep || d < -p.MaxStep {
			t.Fatalf("height %d: %d → %d moves more than %d bits", height, parent, got, p.MaxStep)
		}
		if got < block.MinDifficulty {
			t.Fatalf("height %d: %d below the minimum", height, got)
		}
		if !p.Retargets(height) && got != parent {
			t.Fatalf("height %d does not retarget, yet %d → %d", height, parent, got)
		}
		lo, hi := min(last, later), max(last, later)
		if a, b := p.NextDifficulty(height, parent, first, lo), p.NextDifficulty(height, parent, first, hi); a < b {
			t.Fatalf("height %d from %d: window ending at %d gives %d, a longer one ending at %d gives more, %d", height, first, lo, a, hi, b)
		}
	})
}
