package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"sohoa/storage"
)

// TestRevokeRules: a client revokes only results its own agency issued
// (unless its scope says otherwise), only with an effective date inside the
// result's life, and only once.
func TestRevokeRules(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	revoke := func(credName, code, body string) reply {
		c := f.creds[credName]
		return f.do(f.client(c), c, call{method: "POST", path: "/v1/results/" + code + "/revoke", body: []byte(body)})
	}
	decision := func(ref, at string) string {
		if at == "" {
			return fmt.Sprintf(`{"decision_ref":%q}`, ref)
		}
		return fmt.Sprintf(`{"decision_ref":%q,"effective_at":%q}`, ref, at)
	}
	code := f.gks[1]
	tests := []struct {
		name, cred, code, body string
		status                 int
		errCode, rule          string
	}{
		{"another agency's client", "other-agency", code, decision("QD-5/2026", ""), http.StatusForbidden, "forbidden", "not_issuing_agency"},
		{"before the result was issued", "demo-jwt", code, decision("QD-5/2026", "2025-07-17T12:00:00+07:00"), http.StatusBadRequest, "bad_effective_at", "bad_effective_at"},
		{"on 9999-12-31", "demo-jwt", code, decision("QD-5/2026", "9999-12-31T00:00:00+07:00"), http.StatusBadRequest, "bad_effective_at", "bad_effective_at"},
		{"two years ahead", "demo-jwt", code, decision("QD-5/2026", time.Now().AddDate(2, 0, 0).Format(time.RFC3339)), http.StatusBadRequest, "bad_effective_at", "bad_effective_at"},
		{"its own agency's result", "demo-jwt", code, decision("QD-5/2026", ""), http.StatusOK, "", "scope:revoke"},
		{"the same revocation again", "demo-jwt", code, decision("QD-5/2026", ""), http.StatusConflict, "already_revoked", "already_recorded"},
		{"a second revocation", "demo-jwt", code, decision("QD-6/2026", ""), http.StatusConflict, "invalid_transition", "invalid_transition"},
		{"a supervising client, any agency", "supervisor", f.gplx[0], decision("QD-7/2026", time.Now().AddDate(0, 1, 0).Format(time.RFC3339)), http.StatusOK, "", "scope:revoke"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := revoke(tc.cred, tc.code, tc.body)
			if got.status != tc.status {
				t.Fatalf("got %d %s, want %d", got.status, got.body, tc.status)
			}
			if tc.errCode != "" && errCode(t, got.body) != tc.errCode {
				t.Errorf("error code %s, want %s", errCode(t, got.body), tc.errCode)
			}
			if rec, ok := f.rec.get(got.header.Get("X-Request-Id")); !ok || rec.Rule != tc.rule {
				t.Errorf("audit rule %q, want %q", rec.Rule, tc.rule)
			}
		})
	}
	// What was refused changed nothing: one revocation of gks[1], one
	// scheduled for gplx[0], which is still valid today.
	evs, err := f.repo.Events(t.Context(), code)
	if err != nil || len(evs) != 2 || evs[1].DecisionRef != "QD-5/2026" {
		t.Errorf("events of %s = %+v, %v; want the issue and one revocation", code, evs, err)
	}
	if v, err := f.repo.Validity(t.Context(), f.gplx[0], time.Now()); err != nil || !v.Valid {
		t.Errorf("validity of %s today = %+v, %v; want valid until the scheduled revocation", f.gplx[0], v, err)
	}
	if v, _ := f.repo.Validity(t.Context(), f.gplx[0], time.Now().AddDate(0, 2, 0)); v.Reason != storage.ReasonRevoked {
		t.Errorf("validity of %s in two months = %+v, want REVOKED", f.gplx[0], v)
	}
}
