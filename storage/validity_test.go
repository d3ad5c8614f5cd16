package storage

import (
	"testing"
	"time"
)

func TestValidAt(t *testing.T) {
	vn := Vietnam()
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04:05", s, vn)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	date := func(s string) *Date {
		d, err := ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	base := Manifest{IssuedAt: *date("2025-07-18"), ValidUntil: date("2030-07-17")}
	issued := StatusEvent{At: at("2025-07-18 09:41:07"), Status: StatusActive, ReasonCode: ReasonCodeIssued}
	revoked := StatusEvent{At: at("2026-03-01 10:00:00"), Status: StatusRevoked, DecisionRef: "12/QĐ-UBND"}
	suspended := StatusEvent{At: at("2026-02-01 08:00:00"), Status: StatusSuspended, DecisionRef: "7/QĐ-UBND"}
	reinstated := StatusEvent{At: at("2026-02-15 08:00:00"), Status: StatusActive, DecisionRef: "9/QĐ-UBND"}
	superseded := StatusEvent{At: at("2026-04-01 00:00:00"), Status: StatusSuperseded, SupersededBy: "000.00.31.H29-260401-0001-KQ1"}
	sigInvalid := StatusEvent{At: at("2026-05-01 00:00:00"), Status: StatusRevoked, DecisionRef: "CA-CRL", ReasonCode: ReasonSignatureInvalid}
	backfilled := base
	backfilled.IssuedAt, backfilled.ValidUntil = *date("2015-01-05"), nil
	effLater := base
	effLater.EffectiveFrom = date("2025-08-01")

	tests := []struct {
		name      string
		m         Manifest
		events    []StatusEvent
		t         time.Time
		want      bool
		reason    string
		status    string
		supersede string
	}{
		{"active within validity", base, []StatusEvent{issued}, at("2026-01-01 12:00:00"), true, "", StatusActive, ""},
		{"first instant of effective day", base, []StatusEvent{issued}, at("2025-07-18 00:00:00"), true, "", StatusActive, ""},
		{"before effective (issued_at)", base, nil, at("2025-07-17 23:59:59"), false, ReasonNotYetEffective, StatusActive, ""},
		{"before explicit effective_from", effLater, []StatusEvent{issued}, at("2025-07-31 23:59:59"), false, ReasonNotYetEffective, StatusActive, ""},
		{"on explicit effective_from", effLater, []StatusEvent{issued}, at("2025-08-01 00:00:00"), true, "", StatusActive, ""},
		{"last second of valid_until (inclusive)", base, []StatusEvent{issued}, at("2030-07-17 23:59:59"), true, "", StatusActive, ""},
		{"expired one second later", base, []StatusEvent{issued}, at("2030-07-18 00:00:00"), false, ReasonExpired, StatusActive, ""},
		{"valid_until judged in Vietnam, not UTC", base, []StatusEvent{issued}, time.Date(2030, 7, 17, 17, 0, 0, 0, time.UTC), false, ReasonExpired, StatusActive, ""},
		{"UTC instant still 17 July in Vietnam", base, []StatusEvent{issued}, time.Date(2030, 7, 17, 16, 59, 59, 0, time.UTC), true, "", StatusActive, ""},
		{"no expiry", backfilled, nil, at("2099-01-01 00:00:00"), true, "", StatusActive, ""},
		{"backfilled: valid before its issued event", backfilled, []StatusEvent{{At: at("2026-01-01 00:00:00"), Status: StatusActive, ReasonCode: ReasonCodeIssued}}, at("2020-06-01 00:00:00"), true, "", StatusActive, ""},
		{"revoked after revocation", base, []StatusEvent{issued, revoked}, at("2026-03-01 10:00:00"), false, ReasonRevoked, StatusRevoked, ""},
		{"valid just before revocation", base, []StatusEvent{issued, revoked}, at("2026-03-01 09:59:59"), true, "", StatusActive, ""},
		{"revoked beats expired", base, []StatusEvent{issued, revoked}, at("2031-01-01 00:00:00"), false, ReasonRevoked, StatusRevoked, ""},
		{"suspended", base, []StatusEvent{issued, suspended}, at("2026-02-10 00:00:00"), false, ReasonSuspended, StatusSuspended, ""},
		{"reinstated after suspension", base, []StatusEvent{issued, suspended, reinstated}, at("2026-02-20 00:00:00"), true, "", StatusActive, ""},
		{"events out of order are sorted by time", base, []StatusEvent{reinstated, issued, suspended}, at("2026-02-10 00:00:00"), false, ReasonSuspended, StatusSuspended, ""},
		{"superseded", base, []StatusEvent{issued, superseded}, at("2026-04-02 00:00:00"), false, ReasonSuperseded, StatusSuperseded, superseded.SupersededBy},
		{"valid before supersession", base, []StatusEvent{issued, superseded}, at("2026-03-31 23:59:59"), true, "", StatusActive, ""},
		{"signature invalidated", base, []StatusEvent{issued, sigInvalid}, at("2026-06-01 00:00:00"), false, ReasonSignatureInvalid, StatusRevoked, ""},
		{"unknown stored status is never valid", base, []StatusEvent{issued, {At: at("2026-01-01 00:00:00"), Status: "bogus"}}, at("2026-02-01 00:00:00"), false, ReasonRevoked, "bogus", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ValidAt(tc.m, tc.events, tc.t)
			if got.Valid != tc.want || got.Reason != tc.reason || got.Status != tc.status || got.SupersededBy != tc.supersede {
				t.Errorf("ValidAt = {valid %v reason %q status %q superseded_by %q}, want {%v %q %q %q}",
					got.Valid, got.Reason, got.Status, got.SupersededBy, tc.want, tc.reason, tc.status, tc.supersede)
			}
			if !got.EvaluatedAt.Equal(tc.t) {
				t.Errorf("EvaluatedAt = %v, want %v", got.EvaluatedAt, tc.t)
			}
		})
	}
}

func TestValidAtDoesNotReorderCallerEvents(t *testing.T) {
	later := StatusEvent{At: time.Unix(200, 0), Status: StatusRevoked, DecisionRef: "x"}
	earlier := StatusEvent{At: time.Unix(100, 0), Status: StatusActive}
	evs := []StatusEvent{later, earlier}
	ValidAt(Manifest{IssuedAt: Date{1970, 1, 1}}, evs, time.Unix(300, 0))
	if evs[0] != later {
		t.Errorf("ValidAt reordered its argument: first event is now %+v, want %+v", evs[0], later)
	}
}

func TestTransitionAllowed(t *testing.T) {
	tests := []struct {
		from string
		e    StatusEvent
		want bool
	}{
		{StatusActive, StatusEvent{Status: StatusSuspended}, true},
		{StatusActive, StatusEvent{Status: StatusRevoked}, true},
		{StatusActive, StatusEvent{Status: StatusSuperseded}, true},
		{StatusActive, StatusEvent{Status: StatusActive}, false},
		{StatusActive, StatusEvent{Status: StatusActive, Supersedes: "X-KQ1"}, true},
		{StatusSuspended, StatusEvent{Status: StatusActive}, true},
		{StatusSuspended, StatusEvent{Status: StatusRevoked}, true},
		{StatusRevoked, StatusEvent{Status: StatusActive}, false},
		{StatusRevoked, StatusEvent{Status: StatusSuspended}, false},
		{StatusSuperseded, StatusEvent{Status: StatusActive}, false},
		{StatusSuperseded, StatusEvent{Status: StatusRevoked}, false},
	}
	for _, tc := range tests {
		if got := transitionAllowed(tc.from, tc.e); got != tc.want {
			t.Errorf("transitionAllowed(%s, %+v) = %v, want %v", tc.from, tc.e, got, tc.want)
		}
	}
}

func TestStatusEventCheck(t *testing.T) {
	now := time.Unix(1, 0)
	tests := []struct {
		name string
		e    StatusEvent
		ok   bool
	}{
		{"revoke with decision", StatusEvent{At: now, Status: StatusRevoked, DecisionRef: "1/QĐ"}, true},
		{"revoke without decision", StatusEvent{At: now, Status: StatusRevoked}, false},
		{"suspend without decision", StatusEvent{At: now, Status: StatusSuspended}, false},
		{"reinstate without decision", StatusEvent{At: now, Status: StatusActive}, false},
		{"supersedes link needs no decision", StatusEvent{At: now, Status: StatusActive, Supersedes: "A-KQ1"}, true},
		{"superseded needs superseded_by", StatusEvent{At: now, Status: StatusSuperseded}, false},
		{"superseded with new code", StatusEvent{At: now, Status: StatusSuperseded, SupersededBy: "B-KQ1"}, true},
		{"expired is never stored", StatusEvent{At: now, Status: "expired", DecisionRef: "x"}, false},
		{"zero time", StatusEvent{Status: StatusRevoked, DecisionRef: "x"}, false},
	}
	for _, tc := range tests {
		if err := tc.e.check(); (err == nil) != tc.ok {
			t.Errorf("%s: check() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
