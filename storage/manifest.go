package storage

import (
	"fmt"
	"time"
)

// SchemaVersion is the manifest schema written by this package.
const SchemaVersion = 1

// Origins of a result (domain.md §4(a)).
const (
	OriginBornDigital        = "born_digital"
	OriginDigitizedOnReceipt = "digitized_on_receipt"
	OriginDigitizedBackfill  = "digitized_backfill"
)

// Limits.
const (
	maxManifestBytes        = 1 << 20
	maxIndexEntryBytes      = 4 << 10
	maxEventBytes           = 16 << 10
	maxPointerBytes         = 4 << 10
	maxDossierSeq           = 9999
	maxAppendAttempts       = 32
	maxDossierAllocAttempts = 64
	maxResultsPerDossier    = 999
)

// MinDigitizationDPI is the lowest scan resolution a digitised result may
// be filed at (TT 01/2019, Decree 30/2020: colour, ≥ 200 dpi, 100 %).
const MinDigitizationDPI = 200

// Manifest describes one filed e-result (domain.md §4(a)). It is stored as
// JSON beside the signed PDF and is immutable; status lives in events.
// Nothing in it names the holder in clear: the ID, the name and the
// extracted field values are inside Holder.IDEnc.
type Manifest struct {
	SchemaVersion  int           `json:"schema_version"`
	ResultCode     string        `json:"result_code"`
	ID             string        `json:"id"` // UUIDv7, the only result ID in object keys
	DossierCode    string        `json:"dossier_code"`
	ProcedureCode  string        `json:"procedure_code"`
	ResultSeq      int           `json:"result_seq"`
	DocType        string        `json:"doc_type"`
	DocTypeName    string        `json:"doc_type_name"`
	OriginalNumber string        `json:"original_number,omitempty"`
	Issuer         Issuer        `json:"issuer"`
	Holder         Holder        `json:"holder"`
	IssuedAt       Date          `json:"issued_at"`
	EffectiveFrom  *Date         `json:"effective_from,omitempty"` // nil: from IssuedAt
	ValidUntil     *Date         `json:"valid_until"`              // nil: no expiry
	ValidityScope  string        `json:"validity_scope,omitempty"`
	Origin         string        `json:"origin"`
	Digitization   *Digitization `json:"digitization,omitempty"`
	File           File          `json:"file"`
	InputKey       string        `json:"input_key,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
}

// Issuer is the agency that issued (or digitised) the result.
type Issuer struct {
	AgencyCode  string `json:"agency_code"`
	AgencyName  string `json:"agency_name"`
	SignerTitle string `json:"signer_title,omitempty"`
	SignerName  string `json:"signer_name,omitempty"`
}

// Holder names the result's holder only by keyed hash and ciphertext.
type Holder struct {
	IDType string   `json:"id_type"`
	IDHMAC string   `json:"id_hmac"` // HMAC-SHA256(K_index[KID], id_type‖0x00‖id), hex
	KID    string   `json:"kid"`     // index key id of IDHMAC
	IDEnc  Envelope `json:"id_enc"`  // Sealed{IDType, ID, Name, Extracted}
}

// Digitization records how a paper original was scanned.
type Digitization struct {
	ScannedAt            time.Time `json:"scanned_at"`
	DPI                  int       `json:"dpi"`
	Color                bool      `json:"color"`
	Pages                int       `json:"pages"`
	OperatorID           string    `json:"operator_id,omitempty"`
	DigitizingAgencyCode string    `json:"digitizing_agency_code,omitempty"`
	SourceScanSHA256     string    `json:"source_scan_sha256"`
}

// File describes the signed PDF.
type File struct {
	ObjectKey        string    `json:"object_key"`
	SHA256           string    `json:"sha256"` // lowercase hex of the signed bytes
	Size             int64     `json:"size"`
	PAdESLevel       string    `json:"pades_level,omitempty"`
	SignerCertSHA256 string    `json:"signer_cert_sha256,omitempty"`
	SigningTime      time.Time `json:"signing_time"`
	// Signer is the subject common name of the signing certificate.
	Signer string `json:"signer,omitempty"`
	// ExternalSigner: the PDF arrived signed by its own issuer (another
	// agency) and is filed byte-identical, with its signature; origin
	// born_digital.
	ExternalSigner bool `json:"external_signer,omitempty"`
}

// ExtractedField is one OCR field with its review trail. Values name the
// holder, so they are stored only sealed.
type ExtractedField struct {
	Value      string     `json:"value"`
	Confidence float64    `json:"confidence"`
	VerifiedBy string     `json:"verified_by,omitempty"`
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
}

// Effective is the first day the result is in force.
func (m Manifest) Effective() Date {
	if m.EffectiveFrom != nil {
		return *m.EffectiveFrom
	}
	return m.IssuedAt
}

// Month is the month in the result's object keys: the UUIDv7 timestamp.
func (m Manifest) Month() (time.Time, error) { return uuidTime(m.ID) }

// check validates what a caller of File must supply.
func (m Manifest) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("manifest: "+format+": %w", append(a, ErrInvalid)...)
	}
	code, dossier, seq, err := ParseResultCode(m.ResultCode)
	switch {
	case err != nil:
		return fmt.Errorf("manifest: %w", err)
	case code != m.ResultCode:
		return bad("result code %q is not canonical (%q)", m.ResultCode, code)
	case dossier != m.DossierCode:
		return bad("result code %q does not belong to dossier %q", m.ResultCode, m.DossierCode)
	case seq != m.ResultSeq:
		return bad("result_seq %d does not match result code %q", m.ResultSeq, m.ResultCode)
	case m.ProcedureCode == "":
		return bad("procedure_code is required")
	case m.DocType == "" || m.DocTypeName == "":
		return bad("doc_type and doc_type_name are required")
	case !ValidAgencyCode(m.Issuer.AgencyCode):
		return bad("issuer agency_code %q is not a 13-character agency code", m.Issuer.AgencyCode)
	case m.Issuer.AgencyName == "":
		return bad("issuer agency_name is required")
	case m.IssuedAt.IsZero():
		return bad("issued_at is required")
	case m.ValidUntil != nil && m.ValidUntil.Before(m.Effective()):
		return bad("valid_until %s is before effective_from %s", m.ValidUntil, m.Effective())
	case m.InputKey != "" && !ValidInputKey(m.InputKey):
		return bad("input_key is malformed")
	}
	switch m.Origin {
	case OriginBornDigital:
	case OriginDigitizedOnReceipt, OriginDigitizedBackfill:
		d := m.Digitization
		switch {
		case d == nil:
			return bad("origin %s needs digitization", m.Origin)
		case d.DPI < MinDigitizationDPI:
			return bad("digitization dpi %d is below %d", d.DPI, MinDigitizationDPI)
		case d.Pages < 1:
			return bad("digitization pages %d", d.Pages)
		case !isHex64(d.SourceScanSHA256):
			return bad("digitization source_scan_sha256 is not a hex SHA-256")
		}
	default:
		return bad("origin %q: want born_digital, digitized_on_receipt or digitized_backfill", m.Origin)
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Vietnam is Asia/Ho_Chi_Minh, the zone of every civil date and printed
// time. Vietnam has kept UTC+7 without daylight saving since 1975, so a
// fixed zone is exact and needs no tzdata.
func Vietnam() *time.Location { return time.FixedZone("ICT", 7*60*60) }

// Date is a civil date (no time, no zone), JSON "2006-01-02". Dates on
// Vietnamese papers are read in Asia/Ho_Chi_Minh.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the date of t in Vietnam.
func DateOf(t time.Time) Date {
	y, m, d := t.In(Vietnam()).Date()
	return Date{y, m, d}
}

// ParseDate parses "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q: %w", s, ErrInvalid)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// Start is 00:00:00 of d in Vietnam.
func (d Date) Start() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, Vietnam()) }

// Before reports whether d is strictly before e.
func (d Date) Before(e Date) bool { return d.Start().Before(e.Start()) }

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
