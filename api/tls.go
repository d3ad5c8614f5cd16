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
		MinVersion:   tls.VersionTLS12,
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
