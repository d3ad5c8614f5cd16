package api

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestLimiterFullKeepsTheBusiestKeys: when the failed-login limiter is full,
// it forgets the longest-idle half, not every address: an address being
// throttled stays throttled however many other addresses appear.
func TestLimiterFullKeepsTheBusiestKeys(t *testing.T) {
	l := newLimiter(100)
	rl := RateLimit{RPS: 0.001, Burst: 2} // idle buckets never refill within the test
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 99 {
		l.allow(fmt.Sprint("idle-", i), rl, t0.Add(time.Duration(i)*time.Millisecond))
	}
	at := t0.Add(time.Second)
	l.allow("attacker", rl, at)
	l.allow("attacker", rl, at)
	if ok, _ := l.allow("attacker", rl, at); ok {
		t.Fatal("attacker not throttled after its burst")
	}
	for i := range 500 { // many new addresses fill the map again and again
		l.allow(fmt.Sprint("new-", i), rl, at.Add(time.Duration(i)*time.Millisecond))
		l.allow("attacker", rl, at.Add(time.Duration(i)*time.Millisecond))
	}
	if ok, _ := l.allow("attacker", rl, at.Add(time.Second)); ok {
		t.Error("the full limiter forgot a throttled address")
	}
	if n := len(l.buckets); n > 100 {
		t.Errorf("limiter holds %d keys, want at most 100", n)
	}
}

func TestPurposeProcedureIsAProcedureCode(t *testing.T) {
	for s, want := range map[string]bool{
		"1.004873": true, "2.000123": true, "1.001234.000.00.00.H29": true,
		"x": false, "": false, "00109987.2198": false, "1.00487": false, "1.004873.0": false,
		"001099872198": false, "1.004873 ": false, "1.004873.000.00.00.h29": false,
	} {
		if got := validProcedure(s); got != want {
			t.Errorf("validProcedure(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestTLSOffersOnlyAEADWithForwardSecrecy: a TLS 1.2 client that offers only
// CBC-SHA (or RSA key exchange) suites cannot connect; an ECDHE-GCM one can,
// and every answer carries HSTS and nosniff.
func TestTLSOffersOnlyAEADWithForwardSecrecy(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(f.dev.ServerCA)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(ca)
	dial := func(suites ...uint16) error {
		c, err := tls.Dial("tcp", f.srv.Listener.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost",
			MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: suites})
		if err == nil {
			c.Close()
		}
		return err
	}
	for _, weak := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA} {
		if err := dial(weak); err == nil {
			t.Errorf("TLS 1.2 with %s was accepted", tls.CipherSuiteName(weak))
		}
	}
	if err := dial(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); err != nil {
		t.Errorf("TLS 1.2 with ECDHE-GCM refused: %v", err)
	}
	c := f.creds["demo-mtls"]
	got := f.do(f.client(c), c, call{method: "GET", path: "/v1/results/" + f.gks[0] + "/status"})
	if got.header.Get("Strict-Transport-Security") == "" || got.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("answer headers lack HSTS or nosniff: %v", got.header)
	}
}
