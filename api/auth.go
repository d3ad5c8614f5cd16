package api

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// identity is an authenticated caller.
type identity struct {
	client     *Client
	method     string // mtls, jwt, mtls+jwt
	certSHA256 string
}

// authError is a failed authentication; rule goes to the audit record.
type authError struct {
	rule string
	msg  string
}

func (e *authError) Error() string { return e.msg }

// authenticator checks mTLS client certificates and bearer JWTs.
type authenticator struct {
	clients *Clients
	roots   *x509.CertPool // client CA; nil disables mTLS identities

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

func newAuthenticator(clients *Clients, roots *x509.CertPool) *authenticator {
	return &authenticator{clients: clients, roots: roots, verified: map[string]time.Time{}}
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
			return id, &authError{"cert_untrusted", "client certificates are not accepted"}
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
					return id, &authError{"cert_expired", "client certificate expired or not yet valid"}
				}
				return id, &authError{"cert_untrusted", "client certificate not issued by a trusted CA"}
			}
			a.remember(id.certSHA256, leaf, now)
		}
		c, ok := a.clients.byCertificate(id.certSHA256, leaf.Subject.String())
		if !ok {
			return id, &authError{"cert_unknown_client", "client certificate does not belong to a registered client"}
		}
		certClient, id.client, id.method = c, c, "mtls"
	}

	if h := r.Header.Get("Authorization"); h != "" {
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || raw == "" {
			return id, &authError{"jwt_malformed", "Authorization must be a Bearer token"}
		}
		c, err := a.verifyToken(raw, now)
		if err != nil {
			return id, err
		}
		if certClient != nil && certClient != c {
			return id, &authError{"credential_mismatch", "certificate and token name different clients"}
		}
		id.client = c
		if id.method == "mtls" {
			id.method = "mtls+jwt"
		} else {
			id.method = "jwt"
		}
	}
	if id.client == nil {
		return id, &authError{"no_credential", "a client certificate or a bearer token is required"}
	}
	return id, nil
}

func (a *authenticator) verifyToken(raw string, now time.Time) (*Client, *authError) {
	t, err := parseToken(raw)
	if err != nil {
		return nil, &authError{"jwt_malformed", "malformed bearer token"}
	}
	// Client credentials: the client is both issuer and subject.
	if t.claims.Issuer == "" || t.claims.Issuer != t.claims.Subject {
		return nil, &authError{"jwt_unknown_client", "token iss and sub must both name the client"}
	}
	c, ok := a.clients.ByID(t.claims.Issuer)
	if !ok || c.jwtKey == nil {
		return nil, &authError{"jwt_unknown_client", "token issuer is not a registered client"}
	}
	switch err := t.verify(c.JWTAlg, c.jwtKey, a.clients.Audience(), now); {
	case err == nil:
		return c, nil
	case errors.Is(err, errTokenAlg):
		return nil, &authError{"jwt_alg", "token algorithm not allowed"}
	case errors.Is(err, errTokenSignature):
		return nil, &authError{"jwt_signature", "token signature invalid"}
	case errors.Is(err, errTokenAudience):
		return nil, &authError{"jwt_audience", "token audience mismatch"}
	case errors.Is(err, errTokenExpired):
		return nil, &authError{"jwt_expired", "token expired"}
	case errors.Is(err, errTokenNotYet):
		return nil, &authError{"jwt_not_yet_valid", "token not yet valid"}
	case errors.Is(err, errTokenLifetime):
		return nil, &authError{"jwt_lifetime", "token lifetime exceeds one hour"}
	default:
		return nil, &authError{"jwt_malformed", "malformed bearer token"}
	}
}
