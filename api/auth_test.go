package api

import (
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"testing"
	"time"
)

// TestCertCacheRespectsExpiry: a cached verification never outlives the
// certificate.
func TestCertCacheRespectsExpiry(t *testing.T) {
	dev, err := EnsureDevClients(t.TempDir(), "000.00.31.H29")
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey := loadCA(t, dev.ClientCA, dev.ClientCAKey)
	now := time.Now()
	short := issueClientCert(t, caCert, caKey, DevClient, now.Add(-time.Minute), now.Add(2*time.Second))
	js := []byte(`{"audience":"a","clients":[{"id":"c","cert_sha256":"` + fingerprint(short.Leaf) + `","scopes":["search"],"rate_limit":{"rps":1,"burst":1}}]}`)
	cs, err := ParseClients(js, dev.Dir)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	a := newAuthenticator(cs, pool, nil, nil) // certificates only: no token store
	req := httptest.NewRequest("GET", "/", nil)
	req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{short.Leaf}}
	tests := []struct {
		at   time.Time
		rule string
	}{
		{now, ""},                  // verified, cached
		{now.Add(time.Second), ""}, // from the cache
		{now.Add(3 * time.Second), "cert_expired"}, // cache entry ended at NotAfter
	}
	for _, tc := range tests {
		id, aerr := a.authenticate(req, tc.at)
		got := ""
		if aerr != nil {
			got = aerr.rule
		}
		if got != tc.rule {
			t.Errorf("at +%v: got rule %q, want %q", tc.at.Sub(now), got, tc.rule)
		}
		if tc.rule == "" && (id.client == nil || id.client.ID != "c") {
			t.Errorf("at +%v: got client %v, want c", tc.at.Sub(now), id.client)
		}
	}
}
