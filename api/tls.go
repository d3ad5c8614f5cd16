package api

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"time"
)

// ServerTLSConfig loads the server certificate and asks (without requiring)
// for a client certificate. The handler verifies client certificates itself
// against Options.ClientCAs, so a wrong CA or an expired certificate is
// answered with an audited JSON 401 rather than a bare handshake failure.
func ServerTLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server TLS: %w", err)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// TLS 1.2 with forward secrecy and AEAD only (no CBC, no RSA key
		// exchange); TLS 1.3 suites are fixed by Go and all AEAD.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
	}, nil
}

// NewServer is an http.Server with the timeouts and header limit this API
// expects. Serve it with ListenAndServeTLS("", "") (tlsConf holds the keys).
func NewServer(addr string, h http.Handler, tlsConf *tls.Config) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
}
