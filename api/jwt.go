package api

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
	maxTokenIDLen = 256
	jwtHeaderType = "JWT"
)

// Claims are the JWT claims a client-credentials token carries: the client
// ID in both iss and sub, this API's audience, exp (at most an hour after
// iat, or after now without iat), optional nbf and iat, and a jti that is
// never used twice: the API accepts each token once.
type Claims = jwt.RegisteredClaims

// Token errors; each maps to an audit rule.
var (
	errTokenMalformed = errors.New("malformed token")
	errTokenAlg       = errors.New("token algorithm not allowed for this client")
	errTokenSignature = errors.New("token signature invalid")
	errTokenAudience  = errors.New("token audience mismatch")
	errTokenClient    = errors.New("token iss and sub must both name the client")
	errTokenExpired   = errors.New("token expired")
	errTokenNotYet    = errors.New("token not yet valid")
	errTokenLifetime  = errors.New("token lifetime too long")
	errTokenNoID      = errors.New("token has no usable jti")
)

// tokenClient reads, without verifying anything, the client a compact JWS
// claims to come from: its iss, which must equal its sub. The caller looks
// the client up and then verifies the token with verifyToken.
func tokenClient(raw string) (string, error) {
	if len(raw) > maxTokenLen {
		return "", fmt.Errorf("%w: too long", errTokenMalformed)
	}
	var c Claims
	if _, _, err := jwt.NewParser(jwt.WithStrictDecoding()).ParseUnverified(raw, &c); err != nil &&
		!errors.Is(err, jwt.ErrTokenUnverifiable) { // an unknown alg is refused by verifyToken
		return "", fmt.Errorf("%w: %w", errTokenMalformed, err)
	}
	if c.Issuer == "" || c.Issuer != c.Subject {
		return "", errTokenClient
	}
	return c.Issuer, nil
}

// verifyToken checks raw as a token of client clientID: the header's alg is
// the client's pinned alg, the signature verifies with key, aud holds
// audience, iss and sub are the client, exp is present and not past, nbf and
// iat not in the future (each with clockLeeway), the lifetime is at most
// maxTokenLife and a jti is present. It returns the verified claims.
func verifyToken(raw, alg string, key crypto.PublicKey, clientID, audience string, now time.Time) (Claims, error) {
	var c Claims
	if len(raw) > maxTokenLen {
		return c, fmt.Errorf("%w: too long", errTokenMalformed)
	}
	// The pinned algorithm first, so alg confusion ("none", HS256 keyed with
	// the public key, another client's algorithm) is reported as such.
	hdr, _, err := jwt.NewParser(jwt.WithStrictDecoding()).ParseUnverified(raw, &Claims{})
	switch {
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return c, fmt.Errorf("%w: unknown alg", errTokenAlg)
	case err != nil:
		return c, fmt.Errorf("%w: %w", errTokenMalformed, err)
	}
	if got := hdr.Method.Alg(); got != alg {
		return c, fmt.Errorf("%w: got %q", errTokenAlg, got)
	}
	if typ, ok := hdr.Header["typ"]; ok {
		if s, _ := typ.(string); !strings.EqualFold(s, jwtHeaderType) {
			return c, fmt.Errorf("%w: typ %v", errTokenMalformed, typ)
		}
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{alg}),
		jwt.WithStrictDecoding(),
		jwt.WithAudience(audience),
		jwt.WithIssuer(clientID),
		jwt.WithSubject(clientID),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockLeeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if _, err := p.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
		return c, tokenError(err, c)
	}
	start := now
	if c.IssuedAt != nil {
		start = c.IssuedAt.Time
	}
	if c.ExpiresAt.Sub(start) > maxTokenLife+clockLeeway {
		return c, errTokenLifetime
	}
	if c.ID == "" || len(c.ID) > maxTokenIDLen {
		return c, errTokenNoID
	}
	return c, nil
}

// tokenError maps the jwt package's error to ours, the most telling first.
func tokenError(err error, c Claims) error {
	var e error
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		e = errTokenMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		e = errTokenSignature
	case errors.Is(err, jwt.ErrTokenInvalidAudience),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && len(c.Audience) == 0:
		e = errTokenAudience
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidSubject):
		e = errTokenClient
	case errors.Is(err, jwt.ErrTokenExpired):
		e = errTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		e = errTokenNotYet
	default: // no exp, a claim of the wrong type
		e = errTokenMalformed
	}
	return fmt.Errorf("%w: %w", e, err)
}

// tokenIDHMAC is the keyed hash under which a token's use is recorded: the
// jti is the client's text and may carry anything, so it is never stored.
func tokenIDHMAC(key []byte, clientID, jti string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sohoa/api/jti\x00"))
	m.Write([]byte(clientID))
	m.Write([]byte{0})
	m.Write([]byte(jti))
	return m.Sum(nil)
}

// NewTokenID returns a random jti (128 bits, base64url) for a token.
func NewTokenID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// SignJWT makes a compact JWS with alg ES256 (key *ecdsa.PrivateKey on
// P-256) or EdDSA (ed25519.PrivateKey). Calling systems, tests and the dev
// tooling use it to mint client-credentials tokens; the API accepts a token
// once, so each request needs a token with its own jti (NewTokenID).
func SignJWT(key crypto.Signer, alg string, c Claims) (string, error) {
	var m jwt.SigningMethod
	switch alg {
	case AlgES256:
		if k, ok := key.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
			return "", errors.New("jwt: ES256 needs a P-256 ECDSA key")
		}
		m = jwt.SigningMethodES256
	case AlgEdDSA:
		if _, ok := key.(ed25519.PrivateKey); !ok {
			return "", errors.New("jwt: EdDSA needs an Ed25519 key")
		}
		m = jwt.SigningMethodEdDSA
	default:
		return "", fmt.Errorf("jwt: algorithm %q not supported", alg)
	}
	tok, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("jwt: sign: %w", err)
	}
	return tok, nil
}
