package api

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"sohoa/storage"
)

// identity is an authenticated caller.
type identity struct {
	client     *Client
	method     string // mtls, jwt, mtls+jwt
	certSHA256 string
}

// authError is a failed authentication; rule goes to the audit record.
// status is 0 for 401; a failure of ours (the token store) is 503, and err
// is then its cause, for the log.
type authError struct {
	rule   string
	msg    string
	status int
	err    error
}

func (e *authError) Error() string { return e.msg }

// authenticator checks mTLS client certificates and bearer JWTs.
type authenticator struct {
	clients *Clients
	roots   *x509.CertPool // client CA; nil disables mTLS identities
	// claimToken records a verified token's first use (tokenIDHMAC under
	// tokenKey) until it expires, and fails with storage.ErrExists on its
	// second (Repository.ClaimTokenID).
	claimToken func(ctx context.Context, tokenHMAC []byte, expires time.Time) error
	tokenKey   []byte

	// verified caches successful chain verifications (leaf SHA-256 → time
	// until which the result may be reused: at most certCacheTTL, never past
	// the leaf's NotAfter). Chain verification is an ECDSA/RSA verify per
	// request otherwise, a third of the CPU under load.
	mu       sync.Mutex
	verified map[string]time.Time
}

const (
	certCacheTTL  = 5 * time.Minute
	certCacheSize = 10000
)

func newAuthenticator(clients *Clients, roots *x509.CertPool, tokenKey []byte,
	claimToken func(ctx context.Context, tokenHMAC []byte, expires time.Time) error) *authenticator {
	return &authenticator{clients: clients, roots: roots, tokenKey: tokenKey, claimToken: claimToken,
		verified: map[string]time.Time{}}
}

func (a *authenticator) cachedValid(fp string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	until, ok := a.verified[fp]
	return ok && now.Before(until)
}

func (a *authenticator) remember(fp string, leaf *x509.Certificate, now time.Time) {
	until := now.Add(certCacheTTL)
	if leaf.NotAfter.Before(until) {
		until = leaf.NotAfter
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.verified) >= certCacheSize {
		clear(a.verified)
	}
	a.verified[fp] = until
}

// authenticate returns the caller's identity, or an *authError. When both a
// certificate and a token are presented they must name the same client.
func (a *authenticator) authenticate(r *http.Request, now time.Time) (identity, *authError) {
	var id identity
	var certClient *Client
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		leaf := r.TLS.PeerCertificates[0]
		sum := sha256.Sum256(leaf.Raw)
		id.certSHA256 = hex.EncodeToString(sum[:])
		if a.roots == nil {
			return id, &authError{rule: "cert_untrusted", msg: "client certificates are not accepted"}
		}
		if !a.cachedValid(id.certSHA256, now) {
			inter := x509.NewCertPool()
			for _, c := range r.TLS.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := leaf.Verify(x509.VerifyOptions{Roots: a.roots, Intermediates: inter, CurrentTime: now,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			if err != nil {
				var inv x509.CertificateInvalidError
				if errors.As(err, &inv) && inv.Reason == x509.Expired {
					return id, &authError{rule: "cert_expired", msg: "client certificate expired or not yet valid"}
				}
				return id, &authError{rule: "cert_untrusted", msg: "client certificate not issued by a trusted CA"}
			}
			a.remember(id.certSHA256, leaf, now)
		}
		c, ok := a.clients.byCertificate(id.certSHA256, leaf.Subject.String())
		if !ok {
			return id, &authError{rule: "cert_unknown_client", msg: "client certificate does not belong to a registered client"}
		}
		certClient, id.client, id.method = c, c, "mtls"
	}

	if h := r.Header.Get("Authorization"); h != "" {
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || raw == "" {
			return id, &authError{rule: "jwt_malformed", msg: "Authorization must be a Bearer token"}
		}
		c, claims, err := a.checkToken(raw, now)
		if err != nil {
			return id, err
		}
		if certClient != nil && certClient != c {
			return id, &authError{rule: "credential_mismatch", msg: "certificate and token name different clients"}
		}
		if err := a.claim(r.Context(), c, claims); err != nil {
			return id, err
		}
		id.client = c
		if id.method == "mtls" {
			id.method = "mtls+jwt"
		} else {
			id.method = "jwt"
		}
	}
	if id.client == nil {
		return id, &authError{rule: "no_credential", msg: "a client certificate or a bearer token is required"}
	}
	return id, nil
}

// checkToken finds the client a bearer token names and verifies the token
// for it (verifyToken); it does not record the token's use.
func (a *authenticator) checkToken(raw string, now time.Time) (*Client, Claims, *authError) {
	id, err := tokenClient(raw)
	switch {
	case errors.Is(err, errTokenClient):
		return nil, Claims{}, &authError{rule: "jwt_unknown_client", msg: "token iss and sub must both name the client"}
	case err != nil:
		return nil, Claims{}, &authError{rule: "jwt_malformed", msg: "malformed bearer token"}
	}
	c, ok := a.clients.ByID(id)
	if !ok || c.jwtKey == nil {
		return nil, Claims{}, &authError{rule: "jwt_unknown_client", msg: "token issuer is not a registered client"}
	}
	claims, err := verifyToken(raw, c.JWTAlg, c.jwtKey, c.ID, a.clients.Audience(), now)
	switch {
	case err == nil:
	case errors.Is(err, errTokenAlg):
		return nil, Claims{}, &authError{rule: "jwt_alg", msg: "token algorithm not allowed"}
	case errors.Is(err, errTokenSignature):
		return nil, Claims{}, &authError{rule: "jwt_signature", msg: "token signature invalid"}
	case errors.Is(err, errTokenAudience):
		return nil, Claims{}, &authError{rule: "jwt_audience", msg: "token audience mismatch"}
	case errors.Is(err, errTokenClient):
		return nil, Claims{}, &authError{rule: "jwt_unknown_client", msg: "token iss and sub must both name the client"}
	case errors.Is(err, errTokenExpired):
		return nil, Claims{}, &authError{rule: "jwt_expired", msg: "token expired"}
	case errors.Is(err, errTokenNotYet):
		return nil, Claims{}, &authError{rule: "jwt_not_yet_valid", msg: "token not yet valid"}
	case errors.Is(err, errTokenLifetime):
		return nil, Claims{}, &authError{rule: "jwt_lifetime", msg: "token lifetime exceeds one hour"}
	case errors.Is(err, errTokenNoID):
		return nil, Claims{}, &authError{rule: "jwt_no_jti", msg: "token needs a jti (token ID) of at most 256 bytes, used once"}
	default:
		return nil, Claims{}, &authError{rule: "jwt_malformed", msg: "malformed bearer token"}
	}
	return c, claims, nil
}

// claim records a verified token's use, shared by every API process, before
// anything is answered with it: a token is accepted once.
func (a *authenticator) claim(ctx context.Context, c *Client, claims Claims) *authError {
	if a.claimToken == nil {
		return &authError{rule: "jwt_replay_check_failed", msg: "bearer tokens are not accepted here",
			status: http.StatusServiceUnavailable, err: errors.New("no token store")}
	}
	err := a.claimToken(ctx, tokenIDHMAC(a.tokenKey, c.ID, claims.ID), claims.ExpiresAt.Time)
	switch {
	case errors.Is(err, storage.ErrExists):
		return &authError{rule: "jwt_replayed", msg: "token already used: send a new token (new jti) with each request"}
	case err != nil:
		return &authError{rule: "jwt_replay_check_failed", msg: "the token store is unavailable; try again later",
			status: http.StatusServiceUnavailable, err: err}
	}
	return nil
}
