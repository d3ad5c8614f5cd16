package api

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"sohoa/signing"
)

// DevPrefillFields are the pre-fill fields of the demo client: every field
// of the vocabulary except the sensitive ones (ethnicity, religion), which
// a real client receives only with a legal basis for it.
func DevPrefillFields() []string {
	return []string{"full_name", "date_of_birth", "sex", "nationality", "place_of_birth", "hometown",
		"residence", "temporary_residence", "marital_status", "spouse_name", "spouse_date_of_birth",
		"spouse_nationality", "spouse_residence", "father_name", "mother_name", "household_head",
		"relation_to_head", "business_name", "business_address", "business_line", "capital"}
}

// DevClient is the demo client EnsureDevClients creates.
const DevClient = "demo-agency"

// DevAudience is the JWT audience of the dev configuration.
const DevAudience = "sohoa-reuse-api"

// DevFiles are the paths of the development credentials.
type DevFiles struct {
	Dir            string
	ClientsJSON    string // clients.json with the demo client
	ClientCA       string // client CA certificate (PEM)
	ClientCAKey    string
	ClientCert     string // demo-agency client certificate (PEM)
	ClientKey      string
	JWTKey         string // demo-agency Ed25519 private key (PKCS#8 PEM)
	JWTPublicKey   string
	ServerCA       string // CA that signed the server certificate; curl --cacert
	ServerCert     string // for 127.0.0.1, ::1 and localhost
	ServerKey      string
	AuditKey       string // K_audit, 32 random bytes as hex
	QRKey          string // K_qr, 32 random bytes as hex
	ExpiredCert    string // an expired demo-agency certificate, for tests
	ExpiredCertKey string
}

func devPaths(dir string) DevFiles {
	j := func(n string) string { return filepath.Join(dir, n) }
	return DevFiles{Dir: dir, ClientsJSON: j("clients.json"), ClientCA: j("client-ca.pem"),
		ClientCAKey: j("client-ca.key"), ClientCert: j("demo-agency.pem"), ClientKey: j("demo-agency.key"),
		JWTKey: j("demo-agency-jwt.key"), JWTPublicKey: j("demo-agency-jwt.pub"), ServerCA: j("server-ca.pem"),
		ServerCert: j("server.pem"), ServerKey: j("server.key"), AuditKey: j("audit.key"), QRKey: j("qr.key"),
		ExpiredCert: j("demo-agency-expired.pem"), ExpiredCertKey: j("demo-agency-expired.key")}
}

func (f DevFiles) all() []string {
	return []string{f.ClientsJSON, f.ClientCA, f.ClientCAKey, f.ClientCert, f.ClientKey, f.JWTKey,
		f.JWTPublicKey, f.ServerCA, f.ServerCert, f.ServerKey, f.AuditKey, f.QRKey, f.ExpiredCert, f.ExpiredCertKey}
}

// EnsureDevClients creates, once, development credentials under dir
// (normally .local/keys): a client CA, a certificate and an Ed25519 JWT key
// for the demo client "demo-agency" of agency with every scope, a server certificate
// for loopback, K_audit and K_qr, and a clients.json that ties them
// together. Existing complete credentials are left untouched. Never use
// these outside a development machine.
func EnsureDevClients(dir, agency string) (DevFiles, error) {
	f := devPaths(dir)
	complete := true
	for _, p := range f.all() {
		if _, err := os.Stat(p); err != nil {
			complete = false
			break
		}
	}
	if complete {
		return f, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, fmt.Errorf("dev keys: %w", err)
	}
	now := time.Now()
	clientCAKey, clientCA, err := signing.NewDevCA("sohoa dev client CA", now.Add(-time.Hour))
	if err != nil {
		return f, fmt.Errorf("dev keys: %w", err)
	}
	serverCAKey, serverCA, err := signing.NewDevCA("sohoa dev server CA", now.Add(-time.Hour))
	if err != nil {
		return f, fmt.Errorf("dev keys: %w", err)
	}
	clientKey, clientCert, err := signing.NewDevCert(clientCA, clientCAKey, devLeaf(DevClient, now.Add(-time.Hour), now.AddDate(2, 0, 0), x509.ExtKeyUsageClientAuth))
	if err != nil {
		return f, fmt.Errorf("dev keys: %w", err)
	}
	expKey, expCert, err := signing.NewDevCert(clientCA, clientCAKey, devLeaf(DevClient, now.AddDate(0, 0, -30), now.AddDate(0, 0, -1), x509.ExtKeyUsageClientAuth))
	if err != nil {
		return f, fmt.Errorf("dev keys: %w", err)
	}
	server := devLeaf("localhost", now.Add(-time.Hour), now.AddDate(2, 0, 0), x509.ExtKeyUsageServerAuth)
	server.DNSNames = []string{"localhost"}
	server.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	serverKey, serverCert, err := signing.NewDevCert(serverCA, serverCAKey, server)
	if err != nil {
		return f, fmt.Errorf("dev keys: %w", err)
	}
	jwtPub, jwtPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return f, fmt.Errorf("dev keys: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(jwtPub)
	if err != nil {
		return f, fmt.Errorf("dev keys: %w", err)
	}
	fp := sha256.Sum256(clientCert.Raw)
	cfg := ClientsFile{Audience: DevAudience, Clients: []ClientConfig{{
		ID: DevClient, Name: "Demo agency (development only)", AgencyCode: agency,
		CertSHA256: hex.EncodeToString(fp[:]), JWTAlg: AlgEdDSA, JWTPublicKeyFile: filepath.Base(f.JWTPublicKey),
		Scopes:        []string{ScopeSearch, ScopeReadPDF, ScopeVerify, ScopeRevoke},
		PrefillFields: DevPrefillFields(),
		RateLimit:     RateLimit{RPS: 50, Burst: 100},
	}}}
	cfgJSON, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return f, fmt.Errorf("dev keys: %w", err)
	}
	files := []struct {
		path string
		data []byte
	}{
		{f.ClientCA, signing.PEMCert(clientCA)}, {f.ClientCAKey, signing.PEMKey(clientCAKey)},
		{f.ClientCert, signing.PEMCert(clientCert)}, {f.ClientKey, signing.PEMKey(clientKey)},
		{f.ExpiredCert, signing.PEMCert(expCert)}, {f.ExpiredCertKey, signing.PEMKey(expKey)},
		{f.ServerCA, signing.PEMCert(serverCA)}, {f.ServerCert, signing.PEMCert(serverCert)}, {f.ServerKey, signing.PEMKey(serverKey)},
		{f.JWTKey, signing.PEMKey(jwtPriv)},
		{f.JWTPublicKey, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})},
		{f.ClientsJSON, append(cfgJSON, '\n')}, // last: its presence means "complete"
	}
	// K_audit and K_qr are kept when present (the issuing stage may have
	// created qr.key already, and printed QR tokens depend on it).
	for _, p := range []string{f.AuditKey, f.QRKey} {
		if err := createOnce(p, randomHex()); err != nil {
			return f, err
		}
	}
	for _, w := range files {
		if w.data == nil {
			return f, errors.New("dev keys: encode " + filepath.Base(w.path))
		}
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return f, fmt.Errorf("dev keys: %w", err)
		}
	}
	return f, nil
}

// devLeaf is a development TLS certificate for cn, valid from..until, for
// one extended key usage (client or server authentication).
func devLeaf(cn string, from, until time.Time, eku x509.ExtKeyUsage) signing.CertSpec {
	return signing.CertSpec{CommonName: cn, NotBefore: from, NotAfter: until,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
}

func createOnce(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dev keys: %w", err)
	}
	_, err = fh.Write(data)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dev keys: %w", err)
	}
	return nil
}

// DevToken mints a 30-minute client-credentials JWT for the demo client
// with the dev key (for curl examples: SOHOA_TOKEN). Each token has a
// random jti and is accepted once.
func DevToken(f DevFiles, now time.Time) (string, error) {
	k, err := ReadPrivateKey(f.JWTKey)
	if err != nil {
		return "", err
	}
	return SignJWT(k, AlgEdDSA, Claims{Issuer: DevClient, Subject: DevClient, Audience: jwt.ClaimStrings{DevAudience},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(30 * time.Minute)), ID: NewTokenID()})
}

// ReadHexKey reads a key file holding hex (such as DevFiles.AuditKey).
func ReadHexKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	k, err := hex.DecodeString(string(trimSpace(b)))
	if err != nil || len(k) < 16 {
		return nil, errors.New("key file " + filepath.Base(path) + ": want at least 16 bytes as hex")
	}
	return k, nil
}

// ReadPrivateKey reads a PKCS#8 PEM private key (for SignJWT).
func ReadPrivateKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("private key: no PEM block in " + filepath.Base(path))
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key: %T is not a signer", k)
	}
	return s, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func randomHex() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return []byte(hex.EncodeToString(k) + "\n")
}
