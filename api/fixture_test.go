package api

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"sohoa/api/reuse"
	"sohoa/audit"
	"sohoa/internal/openapicheck"
	"sohoa/internal/testenv"
	"sohoa/ocr"
	"sohoa/signing"
	"sohoa/storage"
	"sohoa/storage/mem"
)

// Fixture holders: their IDs and names must never appear in logs or audit.
var holders = []struct{ id, name string }{
	{"001199012345", "Nguyễn Thị Ánh Tuyết"},
	{"079203004567", "Trần Văn Bình"},
}

// recordingAuditor remembers every committed record by request ID and
// delegates to the real audit log.
type recordingAuditor struct {
	next Auditor
	mu   sync.Mutex
	recs map[string]audit.Record
}

func (a *recordingAuditor) Append(ctx context.Context, r audit.Record) (audit.Record, error) {
	r, err := a.next.Append(ctx, r)
	if err == nil {
		a.mu.Lock()
		a.recs[r.RequestID] = r
		a.mu.Unlock()
	}
	return r, err
}

func (a *recordingAuditor) get(id string) (audit.Record, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.recs[id]
	return r, ok
}

// cred is one way of calling the API: a client certificate and/or a bearer
// token. The API accepts a token once, so token mints the one for each
// request (a fresh jti for the valid credentials; the refused ones may
// repeat theirs).
type cred struct {
	cert   *tls.Certificate
	token  func() string
	client string // the client ID it authenticates as, for access handles
}

// fixed is a token minter that always answers tok.
func fixed(tok string) func() string { return func() string { return tok } }

var b64 = base64.RawURLEncoding

type fixture struct {
	t        testing.TB
	srv      *httptest.Server
	dev      DevFiles
	bucket   storage.Bucket
	repo     *storage.Repository
	log      *audit.Log
	rec      *recordingAuditor
	logs     *testenv.Buffer
	serverCA *x509.CertPool
	auditKey []byte
	qrKey    []byte
	now      time.Time

	// Result codes: gks[0], gplx[0] belong to holder 0; gks[1] to holder 1;
	// revoked is holder 0's revoked GKS.
	gks, gplx []string
	revoked   string
	sha       map[string]string
	pdfs      map[string][]byte

	creds map[string]cred
}

type fixtureOpts struct {
	bucket    storage.Bucket // nil: storage/mem
	rps       float64        // rate limit of the main clients; 0: 1000
	verifyPDF PDFVerifier
	// verifyAgencyPDF is Options.VerifyAgencyPDF.
	verifyAgencyPDF PDFVerifier
	authFail        RateLimit // zero: 1e6/s
}

const (
	testProcedure = "1.001234.000.00.00.H29"
	testDossier   = "000.00.31.H29-251122-0001"
	agency        = "000.00.31.H29"
	agencyName    = "Trung tâm Phục vụ hành chính công phường Bến Nghé"
	authorityName = "ỦY BAN NHÂN DÂN PHƯỜNG BẾN NGHÉ"
	otherAgency   = "000.00.00.H00"
)

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	if o.rps == 0 {
		o.rps = 1000
	}
	if o.authFail.RPS == 0 {
		o.authFail = RateLimit{RPS: 1e6, Burst: 1e6}
	}
	f := &fixture{t: t, logs: &testenv.Buffer{}, sha: map[string]string{}, pdfs: map[string][]byte{}, creds: map[string]cred{}}
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	dev, err := EnsureDevClients(dir, "000.00.31.H29")
	if err != nil {
		t.Fatalf("EnsureDevClients: %v", err)
	}
	f.dev = dev
	if f.auditKey, err = ReadHexKey(dev.AuditKey); err != nil {
		t.Fatal(err)
	}
	if f.qrKey, err = ReadHexKey(dev.QRKey); err != nil {
		t.Fatal(err)
	}

	// Extra clients: from the dev CA, a rogue CA, and an ES256 JWT client.
	caCert, caKey := loadCA(t, dev.ClientCA, dev.ClientCAKey)
	now := time.Now()
	limitedCert := issueClientCert(t, caCert, caKey, "limited-agency", now.Add(-time.Hour), now.Add(time.Hour))
	rogueKey, rogueCA, err := signing.NewDevCA("rogue CA", now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rogueCert := issueClientCert(t, rogueCA, rogueKey, DevClient, now.Add(-time.Hour), now.Add(time.Hour))
	esKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	esPub, _ := x509.MarshalPKIXPublicKey(&esKey.PublicKey)

	var cfg ClientsFile
	b, _ := os.ReadFile(dev.ClientsJSON)
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Clients[0].RateLimit = RateLimit{RPS: o.rps, Burst: int(o.rps)}
	cfg.Clients = append(cfg.Clients,
		ClientConfig{ID: "limited-agency", Name: "Birth registry reader", AgencyCode: agency,
			CertSHA256: fingerprint(limitedCert.Leaf), Scopes: []string{ScopeSearch, ScopeReadPDF, ScopeVerify},
			DocTypes: []string{"GKS"}, RateLimit: RateLimit{RPS: o.rps, Burst: int(o.rps)}},
		// Registered by fingerprint, but from a CA we do not trust: must
		// still be refused.
		ClientConfig{ID: "rogue", Name: "Rogue", AgencyCode: agency, CertSHA256: fingerprint(rogueCert.Leaf),
			Scopes: []string{ScopeSearch, ScopeReadPDF, ScopeVerify, ScopeRevoke}, RateLimit: RateLimit{RPS: 1000, Burst: 1000}},
		ClientConfig{ID: "search-only", Name: "Search only (ES256)", AgencyCode: agency, JWTAlg: AlgES256,
			JWTPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: esPub})),
			Scopes:       []string{ScopeSearch}, RateLimit: RateLimit{RPS: o.rps, Burst: int(o.rps)}},
		ClientConfig{ID: "archive", Name: "Own archive (reads by code)", AgencyCode: agency, JWTAlg: AlgES256,
			JWTPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: esPub})),
			Scopes:       []string{ScopeReadPDF, ScopeReadByCode}, RateLimit: RateLimit{RPS: o.rps, Burst: int(o.rps)}},
		// Pre-fill scopes: only name and date of birth; none at all.
		ClientConfig{ID: "prefill-narrow", Name: "Name and birth date only", AgencyCode: agency, JWTAlg: AlgES256,
			JWTPublicKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: esPub})),
			Scopes:        []string{ScopeSearch},
			PrefillFields: []string{"full_name", "date_of_birth"}, RateLimit: RateLimit{RPS: o.rps, Burst: int(o.rps)}},
		ClientConfig{ID: "slow", Name: "Rate limited", AgencyCode: agency, JWTAlg: AlgES256,
			JWTPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: esPub})),
			Scopes:       []string{ScopeSearch}, RateLimit: RateLimit{RPS: 1, Burst: 2}},
		// Revokers of another agency than the fixture results'.
		ClientConfig{ID: "other-agency", Name: "Another agency", AgencyCode: otherAgency, JWTAlg: AlgES256,
			JWTPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: esPub})),
			Scopes:       []string{ScopeSearch, ScopeRevoke}, RateLimit: RateLimit{RPS: o.rps, Burst: int(o.rps)}},
		ClientConfig{ID: "supervisor", Name: "Supervising department", AgencyCode: otherAgency, JWTAlg: AlgES256,
			JWTPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: esPub})),
			Scopes:       []string{ScopeRevoke, ScopeRevokeAny}, RateLimit: RateLimit{RPS: o.rps, Burst: int(o.rps)}},
	)
	cb, _ := json.Marshal(cfg)
	clients, err := ParseClients(cb, dir)
	if err != nil {
		t.Fatalf("ParseClients: %v", err)
	}
	clientCAs, err := signing.LoadCertPool(dev.ClientCA)
	if err != nil {
		t.Fatal(err)
	}

	// Repository with results.
	f.bucket = o.bucket
	if f.bucket == nil {
		f.bucket = mem.New()
	}
	k := func(c byte) []byte { return bytes.Repeat([]byte{c}, 32) }
	f.repo, err = storage.New(f.bucket, storage.Options{Logger: logger, Keys: storage.Keys{
		IndexKeys: map[string][]byte{"k1": k(1)}, IndexKID: "k1", SealKeys: map[string][]byte{"s1": k(2)}, SealKID: "s1"}})
	if err != nil {
		t.Fatal(err)
	}
	f.file("GKS", "Giấy khai sinh", 0, 1)
	f.file("GPLX", "Giấy phép lái xe", 0, 2)
	f.file("GKS", "Giấy khai sinh", 1, 3)
	f.file("GKS", "Giấy khai sinh", 0, 4)
	f.revoked = f.gks[2]
	f.gks = f.gks[:2]
	if err := f.repo.AppendStatus(t.Context(), f.revoked, storage.StatusEvent{At: time.Now(),
		Status: storage.StatusRevoked, DecisionRef: "QD-12/2025", ReasonCode: "ERROR"}); err != nil {
		t.Fatalf("AppendStatus: %v", err)
	}

	f.log, err = audit.Open(t.Context(), audit.Options{Store: f.bucket, WALDir: filepath.Join(dir, "wal"),
		MaxBatch: 200, MaxDelay: 500 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatalf("audit.Open: %v", err)
	}
	f.rec = &recordingAuditor{next: f.log, recs: map[string]audit.Record{}}
	vocab, err := reuse.DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	pb, err := os.ReadFile("testdata/procedures.json")
	if err != nil {
		t.Fatal(err)
	}
	procs, err := reuse.ParseProcedures(pb, vocab)
	if err != nil {
		t.Fatal(err)
	}
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, dt := range layouts.Types() {
		l, _ := layouts.Layout(dt)
		names[dt] = l.Name
	}
	h, err := New(Options{Repo: f.repo, Clients: clients, ClientCAs: clientCAs, Audit: f.rec, Vocabulary: vocab, Procedures: procs, DocTypeNames: names,
		AuditKey: f.auditKey, QRKey: f.qrKey, Logger: logger, VerifyPDF: o.verifyPDF, VerifyAgencyPDF: o.verifyAgencyPDF,
		PublicRateLimit: RateLimit{RPS: o.rps, Burst: int(o.rps)}, AuthFailRateLimit: o.authFail,
		Agency: storage.Agency{Code: agency, Name: agencyName}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Every answer the tests get is checked against api/openapi.json.
	f.srv = httptest.NewUnstartedServer(openapicheck.Handler(t, openapicheck.MustParse(t, OpenAPI()), "reuse", h))
	f.srv.TLS, err = ServerTLSConfig(dev.ServerCert, dev.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Config.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	f.srv.StartTLS()
	t.Cleanup(func() {
		f.srv.Close()
		f.log.Close(context.Background())
	})
	if f.serverCA, err = signing.LoadCertPool(dev.ServerCA); err != nil {
		t.Fatal(err)
	}

	demo, err := tls.LoadX509KeyPair(dev.ClientCert, dev.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := tls.LoadX509KeyPair(dev.ExpiredCert, dev.ExpiredCertKey)
	if err != nil {
		t.Fatal(err)
	}
	edKey, err := ReadPrivateKey(dev.JWTKey)
	if err != nil {
		t.Fatal(err)
	}
	f.creds["demo-mtls"] = cred{cert: &demo, client: DevClient}
	f.creds["demo-jwt"] = cred{token: minter(t, edKey, AlgEdDSA, DevClient, DevAudience), client: DevClient}
	f.creds["limited"] = cred{cert: limitedCert, client: "limited-agency"}
	f.creds["search-only"] = cred{token: minter(t, esKey, AlgES256, "search-only", DevAudience), client: "search-only"}
	f.creds["archive"] = cred{token: minter(t, esKey, AlgES256, "archive", DevAudience), client: "archive"}
	f.creds["prefill-narrow"] = cred{token: minter(t, esKey, AlgES256, "prefill-narrow", DevAudience), client: "prefill-narrow"}
	f.creds["slow"] = cred{token: minter(t, esKey, AlgES256, "slow", DevAudience), client: "slow"}
	f.creds["other-agency"] = cred{token: minter(t, esKey, AlgES256, "other-agency", DevAudience), client: "other-agency"}
	f.creds["supervisor"] = cred{token: minter(t, esKey, AlgES256, "supervisor", DevAudience), client: "supervisor"}
	f.creds["none"] = cred{}
	f.creds["wrong-ca"] = cred{cert: rogueCert}
	f.creds["expired-cert"] = cred{cert: &expired}
	f.creds["alg-none"] = cred{token: fixed(unsigned(t, `{"alg":"none","typ":"JWT"}`, DevClient, DevAudience, ""))}
	pubPEM, _ := os.ReadFile(dev.JWTPublicKey)
	f.creds["alg-hs256"] = cred{token: fixed(hs256(t, pubPEM, DevClient, DevAudience))}
	f.creds["wrong-aud"] = cred{token: minter(t, edKey, AlgEdDSA, DevClient, "someone-else")}
	f.creds["expired-jwt"] = cred{token: fixed(mint(t, edKey, AlgEdDSA, DevClient, DevAudience, time.Now().Add(-2*time.Hour)))}
	f.creds["alg-swap"] = cred{token: minter(t, esKey, AlgES256, DevClient, DevAudience)}
	f.creds["mismatch"] = cred{cert: &demo, token: f.creds["search-only"].token}
	return f
}

// resultCode is the code of the fixture's result n.
func resultCode(n int) string { return fmt.Sprintf("%s-250718-%04d-KQ1", agency, n) }

// file files result n of holder with a stand-in PDF naming its code.
func (f *fixture) file(docType, docName string, holder, n int) {
	f.t.Helper()
	f.fileWith(docType, docName, holder, n, []byte(fmt.Sprintf("%%PDF-1.7\n%% result %s\n%%%%EOF\n", resultCode(n))))
}

// fileWith files pdf as result n of holder.
func (f *fixture) fileWith(docType, docName string, holder, n int, pdf []byte) {
	f.t.Helper()
	f.fileResult(f.manifest(docType, docName, n), holder, pdf, nil)
}

// manifest is the manifest fixture result n is filed with.
func (f *fixture) manifest(docType, docName string, n int) storage.Manifest {
	code := resultCode(n)
	until := storage.Date{Year: 2099, Month: 1, Day: 1}
	return storage.Manifest{ResultCode: code, DossierCode: strings.TrimSuffix(code, "-KQ1"), ResultSeq: 1, ProcedureCode: testProcedure,
		DocType: docType, DocTypeName: docName, ConvertingAgency: storage.Agency{Code: agency, Name: agencyName},
		IssuingAuthority: &storage.Authority{Name: authorityName},
		IssuedAt:         storage.Date{Year: 2025, Month: 7, Day: 18}, ValidUntil: &until, Origin: storage.OriginDigitizedOnReceipt,
		Digitization: &storage.Digitization{ScannedAt: time.Date(2025, 7, 18, 2, 41, 7, 0, time.UTC), DPI: 300, Color: true, Pages: 1,
			SourceScanSHA256: storage.SHA256Hex([]byte("scan of " + code))}}
}

// fileResult files pdf under m for holder, with extracted fields.
func (f *fixture) fileResult(m storage.Manifest, holder int, pdf []byte, extracted map[string]storage.ExtractedField) {
	f.t.Helper()
	m, err := f.repo.File(f.t.Context(), storage.NewResult{PDF: pdf, HolderIDType: "CCCD",
		HolderID: holders[holder].id, HolderName: holders[holder].name, Actor: "test", Manifest: m, Extracted: extracted})
	if err != nil {
		f.t.Fatalf("File %s: %v", m.ResultCode, err)
	}
	code := m.ResultCode
	f.sha[code] = m.File.SHA256
	f.pdfs[code] = pdf
	if m.DocType == "GKS" {
		f.gks = append(f.gks, code)
	} else {
		f.gplx = append(f.gplx, code)
	}
}

func loadCA(t testing.TB, certFile, keyFile string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ReadPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func issueClientCert(t testing.TB, ca *x509.Certificate, caKey crypto.Signer, cn string, from, until time.Time) *tls.Certificate {
	t.Helper()
	k, c, err := signing.NewDevCert(ca, caKey, devLeaf(cn, from, until, x509.ExtKeyUsageClientAuth))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k, Leaf: c}
}

func fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// mint signs a 30-minute client-credentials token issued at iat, with a
// fresh jti.
func mint(t testing.TB, key crypto.Signer, alg, client, aud string, iat time.Time) string {
	t.Helper()
	tok, err := SignJWT(key, alg, Claims{Issuer: client, Subject: client, Audience: jwt.ClaimStrings{aud},
		IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(30 * time.Minute)), ID: NewTokenID()})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// minter mints a new token, issued now, each time it is called.
func minter(t testing.TB, key crypto.Signer, alg, client, aud string) func() string {
	return func() string { return mint(t, key, alg, client, aud, time.Now()) }
}

func unsigned(t testing.TB, header, client, aud, sig string) string {
	t.Helper()
	c, _ := json.Marshal(Claims{Issuer: client, Subject: client, Audience: jwt.ClaimStrings{aud},
		IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(10 * time.Minute)), ID: NewTokenID()})
	return b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(c) + "." + sig
}

// hs256 is the classic key-confusion attack: HMAC with the public key.
func hs256(t testing.TB, secret []byte, client, aud string) string {
	t.Helper()
	in := unsigned(t, `{"alg":"HS256","typ":"JWT"}`, client, aud, "")
	in = strings.TrimSuffix(in, ".")
	m := hmacSHA256(secret, []byte(in))
	return in + "." + b64.EncodeToString(m)
}

// client returns an HTTP client presenting c's certificate, if any.
func (f *fixture) client(c cred) *http.Client {
	tc := &tls.Config{RootCAs: f.serverCA, MinVersion: tls.VersionTLS12}
	if c.cert != nil {
		tc.Certificates = []tls.Certificate{*c.cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 4}, Timeout: 30 * time.Second}
}

type call struct {
	method, path, ctype string
	body                []byte
	noPurpose           bool
	// access adds the access handle a search would have returned to this
	// client for the result in path (/v1/results/{code}…).
	access bool
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(hc *http.Client, c cred, k call) reply {
	f.t.Helper()
	path := k.path
	if k.access {
		code := strings.SplitN(strings.TrimPrefix(path, "/v1/results/"), "/", 2)[0]
		tok, _ := newAccessKeys(f.auditKey).issue(c.client, code, audit.CitizenHash(f.auditKey, "CCCD", holders[0].id), time.Now())
		path += "?access=" + tok
	}
	req, err := http.NewRequest(k.method, f.srv.URL+path, bytes.NewReader(k.body))
	if err != nil {
		f.t.Fatal(err)
	}
	if k.body != nil {
		ct := k.ctype
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.token != nil {
		req.Header.Set("Authorization", "Bearer "+c.token())
	}
	if !k.noPurpose {
		req.Header.Set("X-Purpose-Procedure", testProcedure)
		req.Header.Set("X-Purpose-Dossier", testDossier)
	}
	resp, err := hc.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", k.method, k.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func searchBody(holder int, extra string) []byte {
	return []byte(fmt.Sprintf(`{"holder_id_type":"CCCD","holder_id":"%s"%s}`, holders[holder].id, extra))
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// accessAt is the access handle a search at time at would have returned to
// client for code (holder 0).
func (f *fixture) accessAt(client, code string, at time.Time) (string, time.Time) {
	return newAccessKeys(f.auditKey).issue(client, code, audit.CitizenHash(f.auditKey, "CCCD", holders[0].id), at)
}
