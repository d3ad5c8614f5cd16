package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOIDCSettings: single sign-on is off without an issuer; with one it
// needs a client ID, a secret (variable or key file) and the public URL,
// and outside development mode an https issuer; the web app gets the
// redirect URI under the public URL and the issuer exactly as given.
func TestOIDCSettings(t *testing.T) {
	serve := commands()["serve"].groups
	parse := func(kv ...string) (*config, error) {
		return newFlagSet("serve", "", environFrom(kv), io.Discard, serve).parse(nil)
	}
	cfg := testConfig(t)
	if o, err := cfg.webOIDC(); o != nil || err != nil || cfg.Web.OIDC.UserClaim != "preferred_username" || cfg.Web.OIDC.Label == "" {
		t.Errorf("default: %+v %v (settings %+v)", o, err, cfg.Web.OIDC)
	}

	on := []string{"SOHOA_DEV=1", "SOHOA_LOCAL_DIR=" + t.TempDir(), "SOHOA_OIDC_ISSUER=http://localhost:9998/", "SOHOA_OIDC_CLIENT_ID=web",
		"SOHOA_OIDC_CLIENT_SECRET=secret", "SOHOA_PUBLIC_URL=http://127.0.0.1:18080/", "SOHOA_OIDC_USER_CLAIM=email"}
	cfg, err := parse(on...)
	if err != nil {
		t.Fatal(err)
	}
	o, err := cfg.webOIDC()
	if err != nil || o.Issuer != "http://localhost:9998/" || o.ClientID != "web" || o.ClientSecret != "secret" ||
		o.RedirectURL != "http://127.0.0.1:18080/signin/oidc/callback" || o.UserClaim != "email" || o.Now == nil {
		t.Errorf("web OIDC = %+v, %v", o, err)
	}

	// The secret from the keys folder.
	keys := t.TempDir()
	os.WriteFile(filepath.Join(keys, oidcSecretFile), []byte("from-file\n"), 0o600)
	cfg, err = parse(append(on[:4:4], "SOHOA_KEYS_DIR="+keys, "SOHOA_PUBLIC_URL=https://sohoa.example.gov.vn")...)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := cfg.webOIDC(); err != nil || o.ClientSecret != "from-file" {
		t.Errorf("secret from %s: %+v %v", oidcSecretFile, o, err)
	}

	for _, tc := range []struct {
		name string
		kv   []string
		want string
	}{
		{"no client ID", []string{"SOHOA_DEV=1", "SOHOA_OIDC_ISSUER=http://localhost:9998/", "SOHOA_OIDC_CLIENT_SECRET=s", "SOHOA_PUBLIC_URL=http://127.0.0.1:1"}, "SOHOA_OIDC_CLIENT_ID"},
		{"no secret", []string{"SOHOA_DEV=1", "SOHOA_LOCAL_DIR=" + t.TempDir(), "SOHOA_OIDC_ISSUER=http://localhost:9998/", "SOHOA_OIDC_CLIENT_ID=web", "SOHOA_PUBLIC_URL=http://127.0.0.1:1"}, "SOHOA_OIDC_CLIENT_SECRET"},
		{"no public URL", []string{"SOHOA_DEV=1", "SOHOA_OIDC_ISSUER=http://localhost:9998/", "SOHOA_OIDC_CLIENT_ID=web", "SOHOA_OIDC_CLIENT_SECRET=s"}, "SOHOA_PUBLIC_URL"},
		{"bad issuer", []string{"SOHOA_DEV=1", "SOHOA_OIDC_ISSUER=localhost:9998"}, "SOHOA_OIDC_ISSUER"},
		{"bad claim", []string{"SOHOA_DEV=1", "SOHOA_OIDC_USER_CLAIM=user name"}, "SOHOA_OIDC_USER_CLAIM"},
	} {
		_, err := parse(tc.kv...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want exit 2 naming %s", tc.name, err, tc.want)
		}
	}

	// Outside development mode the issuer must be https.
	prod := t.TempDir()
	if code, out := runKeysInit(t, prod); code != 0 {
		t.Fatalf("keys init: %s", out)
	}
	base := []string{"SOHOA_KEYS_DIR=" + prod, "SOHOA_SIGN_KEY=k", "SOHOA_SIGN_CERT=c", "SOHOA_TRUST_CA=ca", "SOHOA_API_ADDR=", "SOHOA_PROCEDURES=p",
		"SOHOA_OIDC_CLIENT_ID=web", "SOHOA_OIDC_CLIENT_SECRET=s", "SOHOA_PUBLIC_URL=https://sohoa.example.gov.vn"}
	_, err = parse(append(base, "SOHOA_OIDC_ISSUER=http://idp.example.gov.vn/")...)
	if err == nil || !strings.Contains(err.Error(), "https SOHOA_OIDC_ISSUER") {
		t.Errorf("production with an http issuer: %v", err)
	}
	if _, err := parse(append(base, "SOHOA_OIDC_ISSUER=https://idp.example.gov.vn/realms/tinh")...); err != nil {
		t.Errorf("production with an https issuer: %v", err)
	}
}

func runKeysInit(t *testing.T, dir string) (int, string) {
	t.Helper()
	var out strings.Builder
	os.Remove(dir) // keys init makes it
	code := run(t.Context(), []string{"keys", "init", dir}, environ{}, &out, &out)
	return code, out.String()
}
