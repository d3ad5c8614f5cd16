package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"sohoa/audit"
	"sohoa/internal/openapicheck"
	"sohoa/storage"
)

func TestTokenVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := jwt.NewNumericDate
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	esKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherEd, _, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	base := Claims{Issuer: "c1", Subject: "c1", Audience: jwt.ClaimStrings{"api"}, IssuedAt: at(now),
		ExpiresAt: at(now.Add(10 * time.Minute)), ID: "t-1"}
	with := func(f func(*Claims)) Claims { c := base; f(&c); return c }
	ed := func(c Claims) string { tok, _ := SignJWT(edKey, AlgEdDSA, c); return tok }
	es := func(c Claims) string { tok, _ := SignJWT(esKey, AlgES256, c); return tok }
	tests := []struct {
		name string
		tok  string
		alg  string
		key  any
		want error
	}{
		{"EdDSA ok", ed(base), AlgEdDSA, edPub, nil},
		{"ES256 ok", es(base), AlgES256, &esKey.PublicKey, nil},
		{"aud array ok", ed(with(func(c *Claims) { c.Audience = jwt.ClaimStrings{"x", "api"} })), AlgEdDSA, edPub, nil},
		{"alg none", unsignedTok(`{"alg":"none"}`, base, ""), AlgEdDSA, edPub, errTokenAlg},
		{"alg unknown", unsignedTok(`{"alg":"XS999"}`, base, "AAAA"), AlgEdDSA, edPub, errTokenAlg},
		{"alg pinned, token ES256", es(base), AlgEdDSA, edPub, errTokenAlg},
		{"wrong key", ed(base), AlgEdDSA, otherEd, errTokenSignature},
		{"P-384 key for ES256", es(base), AlgES256, &p384.PublicKey, errTokenSignature},
		{"wrong audience", ed(with(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other"} })), AlgEdDSA, edPub, errTokenAudience},
		{"no audience", ed(with(func(c *Claims) { c.Audience = nil })), AlgEdDSA, edPub, errTokenAudience},
		{"other issuer", ed(with(func(c *Claims) { c.Issuer, c.Subject = "c2", "c2" })), AlgEdDSA, edPub, errTokenClient},
		{"expired", ed(with(func(c *Claims) {
			c.IssuedAt = at(now.Add(-time.Hour))
			c.ExpiresAt = at(now.Add(-2 * time.Minute))
		})), AlgEdDSA, edPub, errTokenExpired},
		{"expired within leeway ok", ed(with(func(c *Claims) { c.ExpiresAt = at(now.Add(-30 * time.Second)) })), AlgEdDSA, edPub, nil},
		{"no exp", ed(with(func(c *Claims) { c.ExpiresAt = nil })), AlgEdDSA, edPub, errTokenMalformed},
		{"nbf future", ed(with(func(c *Claims) { c.NotBefore = at(now.Add(5 * time.Minute)) })), AlgEdDSA, edPub, errTokenNotYet},
		{"iat future", ed(with(func(c *Claims) { c.IssuedAt = at(now.Add(5 * time.Minute)) })), AlgEdDSA, edPub, errTokenNotYet},
		{"lifetime too long", ed(with(func(c *Claims) { c.ExpiresAt = at(now.Add(3 * time.Hour)) })), AlgEdDSA, edPub, errTokenLifetime},
		{"lifetime too long, no iat", ed(with(func(c *Claims) {
			c.IssuedAt = nil
			c.ExpiresAt = at(now.Add(2 * time.Hour))
		})), AlgEdDSA, edPub, errTokenLifetime},
		{"no jti", ed(with(func(c *Claims) { c.ID = "" })), AlgEdDSA, edPub, errTokenNoID},
		{"jti too long", ed(with(func(c *Claims) { c.ID = strings.Repeat("j", maxTokenIDLen+1) })), AlgEdDSA, edPub, errTokenNoID},
		{"truncated signature", ed(base)[:len(ed(base))-6], AlgEdDSA, edPub, errTokenSignature},
		{"two segments", "a.b", AlgEdDSA, edPub, errTokenMalformed},
		{"padding", ed(base) + "=", AlgEdDSA, edPub, errTokenMalformed},
		{"header not json", b64.EncodeToString([]byte("x")) + ".e30.", AlgEdDSA, edPub, errTokenMalformed},
		{"typ not JWT", unsignedTok(`{"alg":"EdDSA","typ":"JWE"}`, base, ""), AlgEdDSA, edPub, errTokenMalformed},
		{"exp not a number", unsignedTok(`{"alg":"EdDSA"}`, base, "", `"exp":"soon"`), AlgEdDSA, edPub, errTokenMalformed},
		{"oversized", strings.Repeat("a", maxTokenLen+1), AlgEdDSA, edPub, errTokenMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := verifyToken(tc.tok, tc.alg, tc.key, "c1", "api", now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil && (c.ID != base.ID || c.Issuer != "c1") {
				t.Errorf("got claims %+v, want the signed ones", c)
			}
		})
	}
}

// TestTokenClient: the client a token names is its iss, which must equal its
// sub (client credentials); nothing is verified yet.
func TestTokenClient(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	mk := func(iss, sub string) string {
		tok, _ := SignJWT(key, AlgEdDSA, Claims{Issuer: iss, Subject: sub, ID: "x"})
		return tok
	}
	tests := []struct {
		name, tok, want string
		err             error
	}{
		{"client", mk("c1", "c1"), "c1", nil},
		{"sub differs", mk("c1", "c2"), "", errTokenClient},
		{"no iss", mk("", ""), "", errTokenClient},
		{"unknown alg still names its client", unsignedTok(`{"alg":"XS999"}`, Claims{Issuer: "c1", Subject: "c1"}, "AAAA"), "c1", nil},
		{"garbage", "a.b.c", "", errTokenMalformed},
		{"oversized", strings.Repeat("a", maxTokenLen+1), "", errTokenMalformed},
	}
	for _, tc := range tests {
		got, err := tokenClient(tc.tok)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

// unsignedTok builds a token with the given header, the claims c (extra
// JSON members replace or add claims) and the raw signature segment sig.
func unsignedTok(header string, c Claims, sig string, extra ...string) string {
	cb, _ := json.Marshal(c)
	if len(extra) > 0 {
		var m map[string]json.RawMessage
		json.Unmarshal(cb, &m)
		for _, kv := range extra {
			var one map[string]json.RawMessage
			json.Unmarshal([]byte("{"+kv+"}"), &one)
			for k, v := range one {
				m[k] = v
			}
		}
		cb, _ = json.Marshal(m)
	}
	return b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(cb) + "." + sig
}

// FuzzToken: verifying arbitrary tokens never panics, and a token that
// verifies carries exactly the header and claims that were signed (ECDSA
// signatures are malleable, so only the signed part is compared).
func FuzzToken(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	c := Claims{Issuer: "c1", Subject: "c1", Audience: jwt.ClaimStrings{"api"}, IssuedAt: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)), ID: "j1"}
	good, _ := SignJWT(key, AlgEdDSA, c)
	signed := good[:strings.LastIndex(good, ".")]
	f.Add(good)
	f.Add(unsignedTok(`{"alg":"none"}`, c, ""))
	f.Add(unsignedTok(`{"alg":"HS256"}`, c, "AAAA"))
	f.Add("..")
	f.Add("e30.e30.")
	f.Add(good[:len(good)-3])
	f.Fuzz(func(t *testing.T, s string) {
		tokenClient(s)
		if _, err := verifyToken(s, AlgEdDSA, pub, "c1", "api", now); err == nil && s[:strings.LastIndex(s, ".")] != signed {
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
	dev, err := EnsureDevClients(t.TempDir(), "000.00.31.H29")
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
	if _, err := EnsureDevClients(dev.Dir, "000.00.31.H29"); err != nil {
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
	f, err := EnsureDevClients(dir, "000.00.31.H29")
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

// TestJWTAcceptedOnce: a token is accepted once per its lifetime, whichever
// API process sees it: two handlers over one bucket (two `sohoa serve`
// processes) both refuse its second use, and the record of its use holds no
// jti in clear.
func TestJWTAcceptedOnce(t *testing.T) { checkJWTAcceptedOnce(t, nil) }

// checkJWTAcceptedOnce is TestJWTAcceptedOnce over bucket (nil: in memory).
func checkJWTAcceptedOnce(t *testing.T, bucket storage.Bucket) {
	f := newFixture(t, fixtureOpts{bucket: bucket})
	other := f.otherHandler(t, f.bucket)
	key, err := ReadPrivateKey(f.dev.JWTKey)
	if err != nil {
		t.Fatal(err)
	}
	const jti = "jti-001199012345-nguyen" // a jti a client filled with data
	now := time.Now()
	tok, err := SignJWT(key, AlgEdDSA, Claims{Issuer: DevClient, Subject: DevClient, Audience: jwt.ClaimStrings{DevAudience},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)), ID: jti})
	if err != nil {
		t.Fatal(err)
	}
	status := call{method: "GET", path: "/v1/results/" + f.gks[0] + "/status"}
	hc := f.client(cred{})
	if got := f.do(hc, cred{token: fixed(tok)}, status); got.status != 200 {
		t.Fatalf("first use: got %d %s, want 200", got.status, got.body)
	}
	for name, send := range map[string]func() (int, string, []byte){
		"same server": func() (int, string, []byte) {
			got := f.do(hc, cred{token: fixed(tok)}, status)
			return got.status, got.header.Get("X-Request-Id"), got.body
		},
		"other server": func() (int, string, []byte) {
			rr := other.serve(tok, status)
			return rr.Code, rr.Header().Get("X-Request-Id"), rr.Body.Bytes()
		},
		"with the client certificate": func() (int, string, []byte) {
			c := cred{cert: f.creds["demo-mtls"].cert, token: fixed(tok)}
			got := f.do(f.client(c), c, status)
			return got.status, got.header.Get("X-Request-Id"), got.body
		},
	} {
		code, reqID, body := send()
		if code != http.StatusUnauthorized || errCode(t, body) != "unauthenticated" {
			t.Errorf("replay to the %s: got %d %s, want 401 unauthenticated", name, code, body)
		}
		rec, ok := f.rec.get(reqID)
		if !ok {
			rec, ok = other.rec.get(reqID)
		}
		if !ok || rec.Rule != "jwt_replayed" || rec.Decision != audit.Deny {
			t.Errorf("replay to the %s: got audit record %+v (found %v), want deny jwt_replayed", name, rec, ok)
		}
	}
	// A new token of the same client is fine on either server.
	fresh, err := DevToken(f.dev, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rr := other.serve(fresh, status); rr.Code != 200 {
		t.Errorf("fresh token on the other server: got %d %s, want 200", rr.Code, rr.Body)
	}
	// The record of the use is a keyed hash: no jti, no part of it.
	var n int
	err = f.bucket.List(t.Context(), "jti/", func(oi storage.ObjectInfo) error {
		n++
		b, _, err := f.bucket.Get(t.Context(), oi.Key)
		if strings.Contains(oi.Key+string(b), "1199") || strings.Contains(oi.Key+string(b), "nguyen") {
			t.Errorf("token record %s %s shows the jti", oi.Key, b)
		}
		return errors.Join(err, storage.CheckKey(oi.Key))
	})
	if err != nil || n != 2 {
		t.Errorf("got %d token records (%v), want 2 (the replayed token once, the fresh one)", n, err)
	}
}

// TestJWTStoreDownFailsClosed: when the use of a token cannot be recorded,
// the request is refused with 503, never answered unchecked.
func TestJWTStoreDownFailsClosed(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	h := f.otherHandler(t, failingPuts{f.bucket})
	tok, err := DevToken(f.dev, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rr := h.serve(tok, call{method: "GET", path: "/v1/results/" + f.gks[0] + "/status"})
	if rr.Code != http.StatusServiceUnavailable || errCode(t, rr.Body.Bytes()) != "unavailable" {
		t.Fatalf("got %d %s, want 503 unavailable", rr.Code, rr.Body)
	}
	if rec, ok := h.rec.get(rr.Header().Get("X-Request-Id")); !ok || rec.Rule != "jwt_replay_check_failed" {
		t.Errorf("got audit record %+v, want jwt_replay_check_failed", rec)
	}
}

// failingPuts is a bucket whose writes fail.
type failingPuts struct{ storage.Bucket }

func (failingPuts) Upload(context.Context, string, io.Reader, int64, string) error {
	return errors.New("S3 unreachable")
}

// handler is a second API handler, as another `sohoa serve` process runs it.
type handler struct {
	h   http.Handler
	rec *recordingAuditor
}

// otherHandler builds a handler of its own (repository, audit log, limits)
// over bucket, with the fixture's clients and keys.
func (f *fixture) otherHandler(t *testing.T, bucket storage.Bucket) handler {
	t.Helper()
	k := func(c byte) []byte { return bytes.Repeat([]byte{c}, 32) }
	repo, err := storage.New(bucket, storage.Options{Keys: storage.Keys{
		IndexKeys: map[string][]byte{"k1": k(1)}, IndexKID: "k1", SealKeys: map[string][]byte{"s1": k(2)}, SealKID: "s1"}})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := LoadClients(f.dev.ClientsJSON)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingAuditor{next: f.rec, recs: map[string]audit.Record{}}
	h, err := New(Options{Repo: repo, Clients: cs, Audit: rec, AuditKey: f.auditKey, QRKey: f.qrKey})
	if err != nil {
		t.Fatal(err)
	}
	// Its answers are checked against api/openapi.json too.
	return handler{h: openapicheck.Handler(t, openapicheck.MustParse(t, OpenAPI()), "reuse", h), rec: rec}
}

func (h handler) serve(token string, k call) *httptest.ResponseRecorder {
	req := httptest.NewRequest(k.method, k.path, bytes.NewReader(k.body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Purpose-Procedure", testProcedure)
	req.Header.Set("X-Purpose-Dossier", testDossier)
	rr := httptest.NewRecorder()
	h.h.ServeHTTP(rr, req)
	return rr
}
