package main

// oidc.go: the settings of single sign-on through the agency's OpenID
// provider (the settings themselves are in settings(), config.go).

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"sohoa/web"
)

// oidcSecretFile holds the client secret in the keys folder when
// SOHOA_OIDC_CLIENT_SECRET is unset. The provider issues it: sohoa never
// makes one, not even in development mode.
const oidcSecretFile = "oidc-client.secret"

// checkOIDC refuses (exit 2) single sign-on settings that cannot work:
// an issuer without a client ID, a client secret or the public URL the
// provider sends staff back to, or a plain-HTTP issuer outside
// development mode.
func (c *config) checkOIDC(groups group) error {
	o := c.Web.OIDC
	if groups&gWeb == 0 || o.Issuer == "" {
		return nil
	}
	var miss []string
	if o.ClientID == "" {
		miss = append(miss, "SOHOA_OIDC_CLIENT_ID (sohoa's client ID at the provider)")
	}
	if _, err := c.oidcClientSecret(); err != nil {
		miss = append(miss, "SOHOA_OIDC_CLIENT_SECRET (or "+oidcSecretFile+" in SOHOA_KEYS_DIR)")
	}
	if c.Web.PublicURL == "" {
		miss = append(miss, "SOHOA_PUBLIC_URL (the provider sends staff back to SOHOA_PUBLIC_URL/signin/oidc/callback)")
	}
	if u, _ := url.Parse(o.Issuer); !c.Dev && u.Scheme != "https" {
		miss = append(miss, "an https SOHOA_OIDC_ISSUER (plain HTTP only in development mode)")
	}
	if len(miss) == 0 {
		return nil
	}
	return &exitError{code: 2, err: fmt.Errorf("SOHOA_OIDC_ISSUER is set, so single sign-on needs:\n  %s\n"+
		"(or unset SOHOA_OIDC_ISSUER for password sign-in only)", strings.Join(miss, "\n  "))}
}

// oidcClientSecret is SOHOA_OIDC_CLIENT_SECRET, else the keys folder's
// oidc-client.secret.
func (c *config) oidcClientSecret() (string, error) {
	if v := strings.TrimSpace(c.Web.OIDC.ClientSecret); v != "" {
		return v, nil
	}
	dir := c.keysDir()
	if dir == "" {
		return "", errors.New("SOHOA_OIDC_CLIENT_SECRET is unset and there is no SOHOA_KEYS_DIR")
	}
	b, err := os.ReadFile(filepath.Join(dir, oidcSecretFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("SOHOA_OIDC_CLIENT_SECRET is unset and %s does not exist", filepath.Join(dir, oidcSecretFile))
	}
	if err != nil {
		return "", fmt.Errorf("SOHOA_OIDC_CLIENT_SECRET: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", filepath.Join(dir, oidcSecretFile))
	}
	return s, nil
}

// webOIDC is the web app's single sign-on, nil when SOHOA_OIDC_ISSUER is
// unset.
func (c *config) webOIDC() (*web.OIDC, error) {
	o := c.Web.OIDC
	if o.Issuer == "" {
		return nil, nil
	}
	secret, err := c.oidcClientSecret()
	if err != nil {
		return nil, err
	}
	return &web.OIDC{
		Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret,
		RedirectURL: c.Web.PublicURL + "/signin/oidc/callback",
		UserClaim:   o.UserClaim, Label: o.Label,
		// ID tokens carry the provider's times: check them against the
		// real clock, not one SOHOA_CLOCK_OFFSET shifted.
		Now: time.Now,
	}, nil
}

// issuerValue is empty or an http(s) URL, kept exactly as given (apart
// from surrounding space): the issuer go-oidc compares with the
// provider's discovery document, trailing slash and path included.
type issuerValue string

func (v *issuerValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return errors.New("want https://host[/path] (or http:// in development mode)")
		}
	}
	*v = issuerValue(s)
	return nil
}
func (v *issuerValue) String() string { return string(*v) }

var claimRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// claimValue is the name of an ID token or userinfo claim.
type claimValue string

func (v *claimValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if !claimRe.MatchString(s) {
		return errors.New("want a claim name such as preferred_username or email")
	}
	*v = claimValue(s)
	return nil
}
func (v *claimValue) String() string { return string(*v) }
