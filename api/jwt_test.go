package api

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTokenVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	esKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherEd, _, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	base := Claims{Issuer: "c1", Subject: "c1", Audience: Audience{"api"}, IssuedAt: now.Unix(), ExpiresAt: now.Add(10 * time.Minute).Unix()}
	with := func(f func(*Claims)) Claims { c := base; f(&c); return c }
	ed := func(c Claims) string { tok, _ := SignJWT(edKey, AlgEdDSA, c); return tok }
	es := func(c Claims) string { tok, _ := SignJWT(esKey, AlgES256, c); return tok }
	tests := []struct {
		name  string
		tok   string
		alg   string
		key   any
		want  error
		parse bool // want a parse failure
	}{
		{"EdDSA ok", ed(base), AlgEdDSA, edPub, nil, false},
		{"ES256 ok", es(base), AlgES256, &esKey.PublicKey, nil, false},
		{"aud array ok", ed(with(func(c *Claims) { c.Audience = Audience{"x", "api"} })), AlgEdDSA, edPub, nil, false},
		{"alg none", unsignedTok(`{"alg":"none"}`, base, ""), AlgEdDSA, edPub, errTokenAlg, false},
		{"alg pinned, token ES256", es(base), AlgEdDSA, edPub, errTokenAlg, false},
		{"wrong key", ed(base), AlgEdDSA, otherEd, errTokenSignature, false},
		{"P-384 key for ES256", es(base), AlgES256, &p384.PublicKey, errTokenSignature, false},
		{"wrong audience", ed(with(func(c *Claims) { c.Audience = Audience{"other"} })), AlgEdDSA, edPub, errTokenAudience, false},
		{"no audience", ed(with(func(c *Claims) { c.Audience = nil })), AlgEdDSA, edPub, errTokenAudience, false},
		{"expired", ed(with(func(c *Claims) {
			c.IssuedAt = now.Add(-time.Hour).Unix()
			c.ExpiresAt = now.Add(-2 * time.Minute).Unix()
		})), AlgEdDSA, edPub, errTokenExpired, false},
		{"no exp", ed(with(func(c *Claims) { c.ExpiresAt = 0 })), AlgEdDSA, edPub, errTokenMalformed, false},
		{"nbf future", ed(with(func(c *Claims) { c.NotBefore = now.Add(5 * time.Minute).Unix() })), AlgEdDSA, edPub, errTokenNotYet, false},
		{"iat future", ed(with(func(c *Claims) { c.IssuedAt = now.Add(5 * time.Minute).Unix() })), AlgEdDSA, edPub, errTokenNotYet, false},
		{"lifetime too long", ed(with(func(c *Claims) { c.ExpiresAt = now.Add(3 * time.Hour).Unix() })), AlgEdDSA, edPub, errTokenLifetime, false},
		{"truncated signature", ed(base)[:len(ed(base))-6], AlgEdDSA, edPub, errTokenSignature, false},
		{"two segments", "a.b", AlgEdDSA, edPub, nil, true},
		{"padding", ed(base) + "=", AlgEdDSA, edPub, nil, true},
		{"header not json", b64.EncodeToString([]byte("x")) + ".e30.", AlgEdDSA, edPub, nil, true},
		{"typ not JWT", unsignedTok(`{"alg":"EdDSA","typ":"JWE"}`, base, ""), AlgEdDSA, edPub, nil, true},
		{"oversized", strings.Repeat("a", maxTokenLen+1), AlgEdDSA, edPub, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := parseToken(tc.tok)
			if tc.parse {
				if err == nil {
					t.Fatal("got a parsed token, want a parse error")
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = tok.verify(tc.alg, tc.key, "api", now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func unsignedTok(header string, c Claims, sig string) string {
	cb, _ := json.Marshal(c)
	return b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(cb) + "." + sig
}

// FuzzToken: parsing and verifying arbitrary tokens never panics, and a
// token that verifies carries exactly the header and claims that were
// signed (ECDSA signatures are malleable, so only the signed part is
// compared).
func FuzzToken(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	c := Claims{Issuer: "c1", Subject: "c1", Audience: Audience{"api"}, IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Minute).Unix()}
	good, _ := SignJWT(key, AlgEdDSA, c)
	signed := good[:strings.LastIndex(good, ".")]
	f.Add(good)
	f.Add(unsignedTok(`{"alg":"none"}`, c, ""))
	f.Add(unsignedTok(`{"alg":"HS256"}`, c, "AAAA"))
	f.Add("..")
	f.Add("e30.e30.")
	f.Add(good[:len(good)-3])
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := parseToken(s)
		if err != nil {
			return
		}
		if err := tok.verify(AlgEdDSA, pub, "api", now); err == nil && string(tok.signingInput) != signed {
			t.Fatalf("forged token verified: %q", s)
		}
	})
}

func TestParseClients(t *testing.T) {
	tests := []struct {
		name, json, wantErr string
	}{
		{"ok", `{"audience":"a","clients":[{"id":"x","cert_sha256":"` + strings.Repeat("ab", 32) + `","scopes":["search"],"rate_limit":{"rps":1,"burst":1}}]}`, ""},
		{"no audience", `{"clients":[]}`, "audience"},
		{"unknown field", `{"audience":"a","clients":[],"extra":1}`, "unknown field"},
		{"bad scope", `{"audience":"a","clients":[{"id":"x","cert_subject":"CN=x","scopes":["admin"],"rate_limit":{"rps":1,"burst":1}}]}`, "unknown scope"},
		{"no identity", `{"audience":"a","clients":[{"id":"x","scopes":["search"],"rate_limit":{"rps":1,"burst":1}}]}`, "identity"},
		{"no rate limit", `{"audience":"a","clients":[{"id":"x","cert_subject":"CN=x","scopes":["search"]}]}`, "rate_limit"},
		{"HS256", `{"audience":"a","clients":[{"id":"x","jwt_alg":"HS256","jwt_public_key":"secret","scopes":["search"],"rate_limit":{"rps":1,"burst":1}}]}`, "PUBLIC KEY"},
		{"duplicate", `{"audience":"a","clients":[{"id":"x","cert_subject":"CN=x","scopes":["search"],"rate_limit":{"rps":1,"burst":1}},{"id":"x","cert_subject":"CN=y","scopes":["search"],"rate_limit":{"rps":1,"burst":1}}]}`, "duplicate"},
		{"bad fingerprint", `{"audience":"a","clients":[{"id":"x","cert_sha256":"zz","scopes":["search"],"rate_limit":{"rps":1,"burst":1}}]}`, "64 hex"},
	}
	for _, tc := range tests {
		_, err := ParseClients([]byte(tc.json), t.TempDir())
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: got %v, want nil", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestParseClientsAlgMustFitKey(t *testing.T) {
	dev, err := EnsureDevClients(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := LoadClients(dev.ClientsJSON)
	if err != nil {
		t.Fatalf("dev clients.json: %v", err)
	}
	c, ok := cs.ByID(DevClient)
	if !ok || !c.HasScope(ScopeRevoke) || !c.AllowsDocType("anything") {
		t.Fatalf("got %+v, want the demo client with every scope and type", c)
	}
	js := `{"audience":"a","clients":[{"id":"x","jwt_alg":"ES256","jwt_public_key_file":"demo-agency-jwt.pub","scopes":["search"],"rate_limit":{"rps":1,"burst":1}}]}`
	if _, err := ParseClients([]byte(js), dev.Dir); err == nil || !strings.Contains(err.Error(), "Ed25519") {
		t.Errorf("ES256 pinned on an Ed25519 key: got %v, want a mismatch error", err)
	}
	// Second call leaves the files alone.
	before, _ := LoadClients(dev.ClientsJSON)
	if _, err := EnsureDevClients(dev.Dir); err != nil {
		t.Fatal(err)
	}
	after, _ := LoadClients(dev.ClientsJSON)
	b1, _ := before.ByID(DevClient)
	a1, _ := after.ByID(DevClient)
	if b1.CertSHA256 != a1.CertSHA256 {
		t.Error("EnsureDevClients regenerated existing credentials")
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2)
	rl := RateLimit{RPS: 2, Burst: 3}
	t0 := time.Unix(0, 0)
	var got []bool
	for range 4 {
		ok, _ := l.allow("a", rl, t0)
		got = append(got, ok)
	}
	if want := []bool{true, true, true, false}; !equalBools(got, want) {
		t.Errorf("burst: got %v, want %v", got, want)
	}
	if _, wait := l.allow("a", rl, t0); wait != 500*time.Millisecond {
		t.Errorf("got wait %v, want 500ms", wait)
	}
	if ok, _ := l.allow("a", rl, t0.Add(500*time.Millisecond)); !ok {
		t.Error("after refill: got denied, want allowed")
	}
	if ok, _ := l.allow("b", rl, t0); !ok {
		t.Error("other key: got denied, want allowed")
	}
	l.allow("c", rl, t0.Add(time.Hour)) // evicts idle buckets
	if n := len(l.buckets); n > 2 {
		t.Errorf("got %d buckets, want at most 2", n)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEnsureDevClientsKeepsExistingQRKey(t *testing.T) {
	dir := t.TempDir()
	want := "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	if err := os.WriteFile(filepath.Join(dir, "qr.key"), []byte(want), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := EnsureDevClients(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(f.QRKey)
	if string(got) != want {
		t.Errorf("got qr.key %q, want the existing key kept", got)
	}
	if k, err := ReadHexKey(f.AuditKey); err != nil || len(k) != 32 {
		t.Errorf("got audit key %d bytes, err %v; want 32 bytes", len(k), err)
	}
}
