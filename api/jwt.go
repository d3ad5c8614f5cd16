package api

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Signing algorithms a client may be pinned to. Nothing else is accepted:
// not "none", not HS* (a shared secret would let the server mint tokens).
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

const (
	maxTokenLen   = 8 << 10
	maxTokenLife  = time.Hour
	clockLeeway   = 60 * time.Second
	jwtHeaderType = "JWT"
)

// Claims are the JWT claims this API reads. Client-credentials tokens carry
// the client ID in both iss and sub.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	NotBefore int64    `json:"nbf,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	ID        string   `json:"jti,omitempty"`
}

// Audience is the aud claim: a string or an array of strings.
type Audience []string

// UnmarshalJSON accepts both shapes.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("aud: want a string or an array of strings: %w", err)
	}
	*a = many
	return nil
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// token is a parsed, not yet verified, compact JWS.
type token struct {
	header       jwtHeader
	claims       Claims
	signingInput []byte
	sig          []byte
}

// Token errors; each maps to an audit rule.
var (
	errTokenMalformed = errors.New("malformed token")
	errTokenAlg       = errors.New("token algorithm not allowed for this client")
	errTokenSignature = errors.New("token signature invalid")
	errTokenAudience  = errors.New("token audience mismatch")
	errTokenExpired   = errors.New("token expired")
	errTokenNotYet    = errors.New("token not yet valid")
	errTokenLifetime  = errors.New("token lifetime too long")
)

var b64 = base64.RawURLEncoding.Strict()

// parseToken splits and decodes a compact JWS without verifying it.
func parseToken(s string) (*token, error) {
	if len(s) > maxTokenLen {
		return nil, fmt.Errorf("%w: too long", errTokenMalformed)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: want 3 segments", errTokenMalformed)
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header encoding", errTokenMalformed)
	}
	cb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: claims encoding", errTokenMalformed)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: signature encoding", errTokenMalformed)
	}
	t := &token{signingInput: []byte(parts[0] + "." + parts[1]), sig: sig}
	if err := strictJSON(hb, &t.header); err != nil {
		return nil, fmt.Errorf("%w: header: %w", errTokenMalformed, err)
	}
	if err := strictJSON(cb, &t.claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", errTokenMalformed, err)
	}
	if t.header.Typ != "" && !strings.EqualFold(t.header.Typ, jwtHeaderType) {
		return nil, fmt.Errorf("%w: typ %q", errTokenMalformed, t.header.Typ)
	}
	return t, nil
}

// strictJSON decodes exactly one JSON object (unknown fields are allowed:
// tokens may carry claims we do not read).
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// verify checks the signature with the client's pinned algorithm and key,
// then audience and times.
func (t *token) verify(alg string, key crypto.PublicKey, audience string, now time.Time) error {
	if t.header.Alg != alg {
		return fmt.Errorf("%w: got %q", errTokenAlg, t.header.Alg)
	}
	if !verifySig(alg, key, t.signingInput, t.sig) {
		return errTokenSignature
	}
	c := t.claims
	okAud := false
	for _, a := range c.Audience {
		if a == audience {
			okAud = true
		}
	}
	if !okAud {
		return errTokenAudience
	}
	if c.ExpiresAt == 0 {
		return fmt.Errorf("%w: no exp", errTokenMalformed)
	}
	exp := time.Unix(c.ExpiresAt, 0)
	if !now.Before(exp.Add(clockLeeway)) {
		return errTokenExpired
	}
	if c.NotBefore != 0 && now.Add(clockLeeway).Before(time.Unix(c.NotBefore, 0)) {
		return errTokenNotYet
	}
	start := now
	if c.IssuedAt != 0 {
		iat := time.Unix(c.IssuedAt, 0)
		if now.Add(clockLeeway).Before(iat) {
			return errTokenNotYet
		}
		start = iat
	}
	if exp.Sub(start) > maxTokenLife+clockLeeway {
		return errTokenLifetime
	}
	return nil
}

func verifySig(alg string, key crypto.PublicKey, input, sig []byte) bool {
	switch alg {
	case AlgES256:
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() || len(sig) != 64 {
			return false
		}
		h := sha256.Sum256(input)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, h[:], r, s)
	case AlgEdDSA:
		pub, ok := key.(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize {
			return false
		}
		return ed25519.Verify(pub, input, sig)
	default:
		return false
	}
}

// SignJWT makes a compact JWS with alg ES256 (key *ecdsa.PrivateKey on
// P-256) or EdDSA (ed25519.PrivateKey). Calling systems, tests and the dev
// tooling use it to mint client-credentials tokens.
func SignJWT(key crypto.Signer, alg string, c Claims) (string, error) {
	hb, err := json.Marshal(jwtHeader{Alg: alg, Typ: jwtHeaderType})
	if err != nil {
		return "", fmt.Errorf("jwt header: %w", err)
	}
	cb, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("jwt claims: %w", err)
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
	var sig []byte
	switch alg {
	case AlgES256:
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok || k.Curve != elliptic.P256() {
			return "", errors.New("jwt: ES256 needs a P-256 ECDSA key")
		}
		h := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			return "", fmt.Errorf("jwt: sign: %w", err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case AlgEdDSA:
		k, ok := key.(ed25519.PrivateKey)
		if !ok {
			return "", errors.New("jwt: EdDSA needs an Ed25519 key")
		}
		sig = ed25519.Sign(k, []byte(input))
	default:
		return "", fmt.Errorf("jwt: algorithm %q not supported", alg)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// MarshalJSON writes a single audience as a plain string.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}
