package kho

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// SenderOptions configure the HTTP client of the Kho endpoint.
type SenderOptions struct {
	// URL is the endpoint events are POSTed to (https outside tests).
	URL string
	// Token, when set, is sent as "Authorization: Bearer …".
	Token string
	// TLS carries the client certificate and the roots the Kho's server
	// certificate must chain to; nil is Go's defaults.
	TLS *tls.Config
	// Timeout bounds one delivery try (default 10 s).
	Timeout time.Duration
}

// Sender POSTs payloads to the Kho.
type Sender struct {
	url   string
	token string
	http  *http.Client
}

// NewSender checks opts and returns a Sender.
func NewSender(opts SenderOptions) (*Sender, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, errors.New("kho: URL must be an http(s) URL of a host, without user info")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if opts.TLS != nil {
		tr.TLSClientConfig = opts.TLS.Clone()
	}
	return &Sender{url: opts.URL, token: opts.Token, http: &http.Client{
		Transport: tr,
		Timeout:   opts.Timeout,
		// A redirect would carry the holder's ID somewhere not configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// Ack is the Kho's acknowledgement of one event.
type Ack struct {
	HTTPStatus int
	PortalRef  string
}

// SendError is a try the Kho did not acknowledge. Its text names the
// status or the kind of failure, never the payload.
type SendError struct {
	HTTPStatus int // 0: no answer
	Reason     string
}

func (e *SendError) Error() string {
	if e.HTTPStatus != 0 {
		return fmt.Sprintf("kho answered %d", e.HTTPStatus)
	}
	return "kho: " + e.Reason
}

// Send POSTs one payload with its idempotency key.
func (s *Sender) Send(ctx context.Context, p Payload) (Ack, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return Ack{}, fmt.Errorf("kho: encode payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return Ack{}, fmt.Errorf("kho: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", p.EventID)
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return Ack{}, &SendError{Reason: failure(err)}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Ack{}, &SendError{HTTPStatus: resp.StatusCode}
	}
	ack := Ack{HTTPStatus: resp.StatusCode}
	var answer struct {
		PortalRef string `json:"portal_ref"`
	}
	if json.Unmarshal(data, &answer) == nil && len(answer.PortalRef) <= 128 {
		ack.PortalRef = answer.PortalRef
	}
	return ack, nil
}

// failure names a transport failure without the request (url.Error
// repeats the method and URL).
func failure(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timed out"
		}
		err = ue.Err
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && len(s) > 120 {
		s = s[i+2:]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
