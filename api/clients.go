package api

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"sohoa/api/reuse"
)

// Scopes a client may hold.
const (
	ScopeSearch  = "search"
	ScopeReadPDF = "read_pdf"
	ScopeVerify  = "verify"
	ScopeRevoke  = "revoke"
	// ScopeRevokeAny lets a client holding ScopeRevoke change the validity
	// of results any agency issued (a supervising body); without it, only
	// of those its own agency (agency_code) issued.
	ScopeRevokeAny = "revoke_any_agency"
)

// ClientConfig is one calling system, as written in clients.json.
type ClientConfig struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	AgencyCode string `json:"agency_code"`
	// mTLS identity: the leaf certificate's SHA-256 fingerprint (hex of the
	// DER) and/or its subject (x509 Name.String(), e.g. "CN=demo-agency,O=…").
	CertSHA256  string `json:"cert_sha256,omitempty"`
	CertSubject string `json:"cert_subject,omitempty"`
	// JWT identity: the pinned algorithm and public key (PEM, inline or a
	// file path relative to clients.json).
	JWTAlg           string   `json:"jwt_alg,omitempty"`
	JWTPublicKey     string   `json:"jwt_public_key,omitempty"`
	JWTPublicKeyFile string   `json:"jwt_public_key_file,omitempty"`
	Scopes           []string `json:"scopes"`
	DocTypes         []string `json:"doc_types,omitempty"` // empty: every type
	// PrefillFields are the vocabulary fields (api/reuse/vocabulary.json)
	// POST /v1/prefill may release to this client; empty: none, and every
	// field asked for is answered as withheld.
	PrefillFields []string  `json:"prefill_fields,omitempty"`
	RateLimit     RateLimit `json:"rate_limit"`
}

// RateLimit is a token bucket: RPS tokens per second, Burst at most.
type RateLimit struct {
	RPS   float64 `json:"rps"`
	Burst int     `json:"burst"`
}

// ClientsFile is the whole clients.json.
type ClientsFile struct {
	// Audience is the aud every JWT must carry (this API's identifier).
	Audience string         `json:"audience"`
	Clients  []ClientConfig `json:"clients"`
}

// Client is a loaded, validated client.
type Client struct {
	ClientConfig
	jwtKey crypto.PublicKey
}

// HasScope reports whether the client holds scope.
func (c *Client) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// MayChangeValidity reports whether the client may revoke (or otherwise
// change the validity of) a result the agency issuer issued: its own
// agency's, or any with ScopeRevokeAny.
func (c *Client) MayChangeValidity(issuer string) bool {
	return c.AgencyCode != "" && c.AgencyCode == issuer || c.HasScope(ScopeRevokeAny)
}

// MayReceiveField reports whether POST /v1/prefill may release the
// vocabulary field name to the client.
func (c *Client) MayReceiveField(name string) bool { return slices.Contains(c.PrefillFields, name) }

// AllowsDocType reports whether the client may see results of docType.
func (c *Client) AllowsDocType(docType string) bool {
	return len(c.DocTypes) == 0 || slices.Contains(c.DocTypes, docType)
}

// Clients is the registry of calling systems.
type Clients struct {
	audience  string
	byID      map[string]*Client
	byCert    map[string]*Client
	bySubject map[string]*Client
}

var (
	clientIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	hex64Re    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// LoadClients reads and validates a clients.json file.
func LoadClients(path string) (*Clients, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("clients: %w", err)
	}
	return ParseClients(b, filepath.Dir(path))
}

// ParseClients validates a clients.json document; relative key files are
// read from baseDir.
func ParseClients(data []byte, baseDir string) (*Clients, error) {
	var f ClientsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("clients: decode: %w", err)
	}
	if f.Audience == "" {
		return nil, errors.New("clients: audience is required")
	}
	cs := &Clients{audience: f.Audience, byID: map[string]*Client{},
		byCert: map[string]*Client{}, bySubject: map[string]*Client{}}
	for i, cc := range f.Clients {
		c, err := loadClient(cc, baseDir)
		if err != nil {
			return nil, fmt.Errorf("clients[%d] %q: %w", i, cc.ID, err)
		}
		if _, dup := cs.byID[c.ID]; dup {
			return nil, fmt.Errorf("clients[%d]: duplicate id %q", i, c.ID)
		}
		cs.byID[c.ID] = c
		if c.CertSHA256 != "" {
			if _, dup := cs.byCert[c.CertSHA256]; dup {
				return nil, fmt.Errorf("clients[%d] %q: duplicate cert_sha256", i, c.ID)
			}
			cs.byCert[c.CertSHA256] = c
		}
		if c.CertSubject != "" {
			if _, dup := cs.bySubject[c.CertSubject]; dup {
				return nil, fmt.Errorf("clients[%d] %q: duplicate cert_subject", i, c.ID)
			}
			cs.bySubject[c.CertSubject] = c
		}
	}
	return cs, nil
}

func loadClient(cc ClientConfig, baseDir string) (*Client, error) {
	c := &Client{ClientConfig: cc}
	c.CertSHA256 = strings.ToLower(strings.ReplaceAll(c.CertSHA256, ":", ""))
	switch {
	case !clientIDRe.MatchString(c.ID):
		return nil, errors.New("id must match " + clientIDRe.String())
	case c.CertSHA256 != "" && !hex64Re.MatchString(c.CertSHA256):
		return nil, errors.New("cert_sha256 must be 64 hex digits")
	case c.CertSHA256 == "" && c.CertSubject == "" && c.JWTAlg == "":
		return nil, errors.New("needs a certificate identity or a JWT key")
	case len(c.Scopes) == 0:
		return nil, errors.New("needs at least one scope")
	case c.RateLimit.RPS <= 0 || c.RateLimit.Burst <= 0:
		return nil, errors.New("rate_limit rps and burst must be positive")
	}
	for _, s := range c.Scopes {
		switch s {
		case ScopeSearch, ScopeReadPDF, ScopeVerify, ScopeRevoke, ScopeRevokeAny, ScopeReadByCode:
		default:
			return nil, fmt.Errorf("unknown scope %q", s)
		}
	}
	if hasDuplicate(c.PrefillFields) {
		return nil, errors.New("prefill_fields lists a field twice")
	}
	if c.JWTAlg == "" {
		if c.JWTPublicKey != "" || c.JWTPublicKeyFile != "" {
			return nil, errors.New("jwt key given without jwt_alg")
		}
		return c, nil
	}
	pemData := []byte(c.JWTPublicKey)
	if c.JWTPublicKeyFile != "" {
		p := c.JWTPublicKeyFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("jwt key: %w", err)
		}
		pemData = b
	}
	key, err := parsePublicKeyPEM(pemData)
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if c.JWTAlg != AlgES256 || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("jwt_alg %q does not fit a %s ECDSA key; want ES256 with P-256", c.JWTAlg, k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		if c.JWTAlg != AlgEdDSA {
			return nil, fmt.Errorf("jwt_alg %q does not fit an Ed25519 key; want EdDSA", c.JWTAlg)
		}
	default:
		return nil, fmt.Errorf("jwt key type %T not supported (ES256 or EdDSA only)", key)
	}
	c.jwtKey = key
	return c, nil
}

func parsePublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("jwt key: want a PEM \"PUBLIC KEY\" block")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("jwt key: %w", err)
	}
	return k, nil
}

func hasDuplicate(s []string) bool {
	seen := make(map[string]bool, len(s))
	for _, x := range s {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}

// checkPrefillFields reports the first client whose prefill_fields names
// a field vocab does not have.
func (cs *Clients) checkPrefillFields(vocab *reuse.Vocabulary) error {
	ids := make([]string, 0, len(cs.byID))
	for id := range cs.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		for _, f := range cs.byID[id].PrefillFields {
			if _, ok := vocab.Field(f); !ok {
				return fmt.Errorf("clients %q: prefill_fields: %q is not a field of the pre-fill vocabulary", id, f)
			}
		}
	}
	return nil
}

// Audience is the aud value every JWT must carry.
func (cs *Clients) Audience() string { return cs.audience }

// ByID returns the client with id.
func (cs *Clients) ByID(id string) (*Client, bool) {
	c, ok := cs.byID[id]
	return c, ok
}

func (cs *Clients) byCertificate(fp, subject string) (*Client, bool) {
	if c, ok := cs.byCert[fp]; ok {
		return c, true
	}
	c, ok := cs.bySubject[subject]
	return c, ok
}
