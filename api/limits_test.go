package api

import (
	"fmt"
	"testing"
	"time"
)

// TestLimiterFullKeepsTheBusiestKeys: when the failed-login limiter is full,
// it forgets the longest-idle half, not every address: an address being
// throttled stays throttled however many other addresses appear.
func TestLimiterFullKeepsTheBusiestKeys(t *testing.T) {
	l := newLimiter(100)
	rl := RateLimit{RPS: 0.001, Burst: 2} // idle buckets never refill within the test
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 99 {
		l.allow(fmt.Sprint("idle-", i), rl, t0.Add(time.Duration(i)*time.Millisecond))
	}
	at := t0.Add(time.Second)
	l.allow("attacker", rl, at)
	l.allow("attacker", rl, at)
	if ok, _ := l.allow("attacker", rl, at); ok {
		t.Fatal("attacker not throttled after its burst")
	}
	for i := range 500 { // many new addresses fill the map again and again
		l.allow(fmt.Sprint("new-", i), rl, at.Add(time.Duration(i)*time.Millisecond))
		l.allow("attacker", rl, at.Add(time.Duration(i)*time.Millisecond))
	}
	if ok, _ := l.allow("attacker", rl, at.Add(time.Second)); ok {
		t.Error("the full limiter forgot a throttled address")
	}
	if n := len(l.buckets); n > 100 {
		t.Errorf("limiter holds %d keys, want at most 100", n)
	}
}

func TestPurposeProcedureIsAProcedureCode(t *testing.T) {
	for s, want := range map[string]bool{
		"1.004873": true, "2.000123": true, "1.001234.000.00.00.H29": true,
		"x": false, "": false, "00109987.2198": false, "1.00487": false, "1.004873.0": false,
		"001099872198": false, "1.004873 ": false, "1.004873.000.00.00.h29": false,
	} {
		if got := validProcedure(s); got != want {
			t.Errorf("validProcedure(%q) = %v, want %v", s, got, want)
		}
	}
}
