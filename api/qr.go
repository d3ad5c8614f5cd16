package api

import (
	"crypto/hmac"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"sohoa/audit"
	"sohoa/signing"
	"sohoa/storage"
)

var qrPageTmpl = template.Must(template.New("qr").Parse(`<!DOCTYPE html>
<html lang="vi">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{if .Found}}Tra cứu kết quả điện tử{{else}}Không tìm thấy kết quả{{end}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}
dt{font-weight:bold;margin-top:.6em}.ok{color:#1a7f37}.bad{color:#b00020}</style></head>
<body>
{{if .Found}}<h1>Tra cứu kết quả giải quyết thủ tục hành chính</h1>
<p class="{{if .Valid}}ok{{else}}bad{{end}}"><strong>{{.StatusText}}</strong></p>
<dl>
<dt>Mã kết quả</dt><dd>{{.Code}}</dd>
{{if .AuthorityName}}<dt>Cơ quan cấp bản gốc</dt><dd>{{.AuthorityName}}</dd>
{{end}}<dt>{{if .Converted}}Cơ quan chuyển đổi{{else}}Cơ quan cấp{{end}}</dt><dd>{{if .AgencyName}}{{.AgencyName}} ({{.AgencyCode}}){{else}}{{.AgencyCode}}{{end}}</dd>
<dt>Ngày cấp</dt><dd>{{.IssuedAt}}</dd>
{{if .ConvertedAt}}<dt>Thời điểm chuyển đổi</dt><dd>{{.ConvertedAt}}</dd>
{{end}}<dt>Hiệu lực đến</dt><dd>{{if .ValidUntil}}{{.ValidUntil}}{{else}}Không thời hạn{{end}}</dd>
{{if .Hash}}<dt>{{.HashLabel}}</dt><dd><code>{{.Hash}}</code></dd>
{{end}}<dt>Thời điểm tra cứu</dt><dd>{{.EvaluatedAt}}</dd>
</dl>
<p>Trang này chỉ cho biết trạng thái của kết quả. {{if .Hash}}Mã băm trên là của bản quét gốc và giống hệt mã băm in trên dấu của bản điện tử. {{end}}Tính toàn vẹn của tệp bản điện tử được bảo đảm bằng chữ ký số của cơ quan chuyển đổi.</p>
{{else}}<h1>Không tìm thấy kết quả</h1>
<p>Mã kết quả hoặc mã kiểm tra trong đường dẫn không đúng. Vui lòng quét lại mã QR trên giấy tờ.</p>
{{end}}</body></html>
`))

type qrPageData struct {
	Found, Valid, Converted           bool
	StatusText                        string
	Code, AgencyName, AgencyCode      string
	AuthorityName                     string
	IssuedAt, ValidUntil, ConvertedAt string
	HashLabel, Hash, EvaluatedAt      string
}

// statusText is the citizen-facing status, in Vietnamese.
func statusText(v storage.Validity) string {
	if v.Valid {
		return "Còn hiệu lực"
	}
	switch v.Reason {
	case storage.ReasonExpired:
		return "Hết hiệu lực (đã hết thời hạn)"
	case storage.ReasonRevoked:
		return "Đã bị thu hồi"
	case storage.ReasonSuperseded:
		return "Đã được thay thế bằng kết quả khác"
	case storage.ReasonSuspended:
		return "Đang bị tạm đình chỉ"
	case storage.ReasonNotYetEffective:
		return "Chưa có hiệu lực"
	case storage.ReasonSignatureInvalid:
		return "Chữ ký số không hợp lệ"
	default:
		return "Không còn hiệu lực"
	}
}

// qrPage is the public landing page of a printed QR code. It shows only the
// status, the issuing authority and converting agency, dates and the
// stamp's hash (of the source scan); an unknown code and a wrong or
// missing token get the same 404 page.
func (s *server) qrPage(w http.ResponseWriter, r *http.Request) {
	e := entryFrom(r.Context())
	e.rec.AuthMethod = "public"
	if !s.publicAllowed(w, r) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	notFound := func(rule string) {
		e.decide(audit.Deny, rule)
		w.WriteHeader(http.StatusNotFound)
		qrPageTmpl.Execute(w, qrPageData{})
	}
	code, ok := canonicalCode(r)
	if !ok {
		notFound("not_found")
		return
	}
	// The token is signing.VerifyToken(K_qr, code), the one printed in the
	// QR URL /v/{code}?k={token}: without it a code cannot be looked up, so
	// codes cannot be enumerated. It is compared without regard to case.
	if !hmac.Equal([]byte(signing.VerifyToken(s.opts.QRKey, code)), []byte(strings.ToLower(r.URL.Query().Get("k")))) {
		notFound("qr_token_invalid")
		return
	}
	m, err := s.opts.Repo.Get(r.Context(), code)
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid) {
		notFound("not_found")
		return
	}
	if err != nil {
		e.decide(audit.Deny, "repository_error")
		s.log.Error("qr page: repository", "request_id", e.rec.RequestID, "err", err)
		http.Error(w, "Hệ thống tạm thời gián đoạn, vui lòng thử lại sau.", http.StatusServiceUnavailable)
		return
	}
	now := s.now()
	v, err := s.opts.Repo.Validity(r.Context(), code, now)
	if err != nil {
		e.decide(audit.Deny, "repository_error")
		s.log.Error("qr page: validity", "request_id", e.rec.RequestID, "err", err)
		http.Error(w, "Hệ thống tạm thời gián đoạn, vui lòng thử lại sau.", http.StatusServiceUnavailable)
		return
	}
	ag := s.agencyOf(m)
	d := qrPageData{Found: true, Valid: v.Valid, StatusText: statusText(v), Code: m.ResultCode,
		AgencyName: ag.AgencyName, AgencyCode: ag.AgencyCode, IssuedAt: m.IssuedAt.String(),
		HashLabel: signing.HashLabel, EvaluatedAt: now.In(storage.Vietnam()).Format(time.RFC3339)}
	if m.IssuingAuthority != nil {
		d.AuthorityName = m.IssuingAuthority.Name
	}
	// The stamp's hash, written as the stamp writes it.
	if dg := m.Digitization; dg != nil {
		d.Converted = true
		d.Hash = signing.HashDisplay(dg.SourceScanSHA256)
		d.ConvertedAt = signing.VietnameseTime(dg.ScannedAt)
	}
	if m.ValidUntil != nil {
		d.ValidUntil = m.ValidUntil.String()
	}
	e.rec.Returned = []audit.Returned{{ResultCode: m.ResultCode, SHA256: m.File.SHA256}}
	e.decide(audit.Allow, "public:qr")
	w.WriteHeader(http.StatusOK)
	qrPageTmpl.Execute(w, d)
}
