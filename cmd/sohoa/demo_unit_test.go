package main

import (
	"context"
	"errors"
	"testing"

	"sohoa/storage"
)

// TestFirstValid: the demo suggests the first result valid now, skipping
// expired and revoked ones, and none when none is.
func TestFirstValid(t *testing.T) {
	validity := map[string]storage.Validity{
		"A-KQ1": {Valid: false, Reason: storage.ReasonExpired},
		"B-KQ1": {Valid: false, Reason: storage.ReasonRevoked},
		"C-KQ1": {Valid: true},
		"D-KQ1": {Valid: true},
	}
	lookup := func(_ context.Context, code string) (storage.Validity, error) {
		v, ok := validity[code]
		if !ok {
			return v, errors.New("unknown")
		}
		return v, nil
	}
	tests := []struct {
		name string
		in   []demoResult
		want demoResult
	}{
		{"expired first", []demoResult{{"A-KQ1", "a.jpg"}, {"B-KQ1", "b.jpg"}, {"C-KQ1", "c.jpg"}, {"D-KQ1", "d.jpg"}}, demoResult{"C-KQ1", "c.jpg"}},
		{"valid first", []demoResult{{"D-KQ1", "d.jpg"}, {"A-KQ1", "a.jpg"}}, demoResult{"D-KQ1", "d.jpg"}},
		{"none valid", []demoResult{{"A-KQ1", "a.jpg"}, {"B-KQ1", "b.jpg"}}, demoResult{}},
		{"none", nil, demoResult{}},
	}
	for _, tc := range tests {
		got, err := firstValid(t.Context(), tc.in, lookup)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if _, err := firstValid(t.Context(), []demoResult{{"X-KQ1", "x.jpg"}}, lookup); err == nil {
		t.Error("a failed validity lookup: got no error")
	}
}
