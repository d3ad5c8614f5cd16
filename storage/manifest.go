package storage

import (
	"encoding/json"
	"fmt"
	"time"
)

// SchemaVersion is the manifest schema written by this package. Version 2
// names the converting agency and the original's issuing authority apart
// (version 1 had one "issuer" pairing the agency's code with the
// authority's name) and says what the signature is instead of a PAdES
// level; version 1 manifests are still read (UnmarshalJSON).
const SchemaVersion = 2

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
	SchemaVersion  int    `json:"schema_version"`
	ResultCode     string `json:"result_code"`
	ID             string `json:"id"` // UUIDv7, the only result ID in object keys
	DossierCode    string `json:"dossier_code"`
	ProcedureCode  string `json:"procedure_code"`
	ResultSeq      int    `json:"result_seq"`
	DocType        string `json:"doc_type"`
	DocTypeName    string `json:"doc_type_name"`
	OriginalNumber string `json:"original_number,omitempty"`
	// ConvertingAgency digitised, signed and filed the result (from
	// configuration); its code is the folder of the result's objects and
	// the agency that may change its validity.
	ConvertingAgency Agency `json:"converting_agency"`
	// IssuingAuthority issued the paper original, as read from it; nil
	// when not read (or born digital: the converting agency issued it).
	IssuingAuthority *Authority    `json:"issuing_authority,omitempty"`
	Holder           Holder        `json:"holder"`
	IssuedAt         Date          `json:"issued_at"`
	EffectiveFrom    *Date         `json:"effective_from,omitempty"` // nil: from IssuedAt
	ValidUntil       *Date         `json:"valid_until"`              // nil: no expiry
	ValidityScope    string        `json:"validity_scope,omitempty"`
	Origin           string        `json:"origin"`
	Digitization     *Digitization `json:"digitization,omitempty"`
	File             File          `json:"file"`
	InputKey         string        `json:"input_key,omitempty"`
	CreatedAt        time.Time     `json:"created_at"`
}

// Agency is an agency of the system: its 13-character code and name.
type Agency struct {
	Code string `json:"agency_code"`
	Name string `json:"agency_name"`
}

// Authority is the authority that issued a paper original, as printed on
// it, and who signed it there.
type Authority struct {
	Name        string `json:"name"`
	SignerTitle string `json:"signer_title,omitempty"`
	SignerName  string `json:"signer_name,omitempty"`
}

// legacyIssuer is schema version 1's "issuer": the converting agency's code
// beside the issuing authority's name (or, when none was read, the agency's
// own name).
type legacyIssuer struct {
	AgencyCode  string `json:"agency_code"`
	AgencyName  string `json:"agency_name"`
	SignerTitle string `json:"signer_title,omitempty"`
	SignerName  string `json:"signer_name,omitempty"`
}

// UnmarshalJSON reads schema versions 1 and 2. A version 1 "issuer" becomes
// the converting agency's code and the issuing authority (its name and
// signer); the converting agency's name is then unknown ("").
func (m *Manifest) UnmarshalJSON(b []byte) error {
	type plain Manifest
	var aux struct {
		plain
		Issuer *legacyIssuer `json:"issuer"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*m = Manifest(aux.plain)
	if li := aux.Issuer; li != nil && m.ConvertingAgency.Code == "" {
		m.ConvertingAgency = Agency{Code: li.AgencyCode}
		if li.AgencyName != "" || li.SignerTitle != "" || li.SignerName != "" {
			m.IssuingAuthority = &Authority{Name: li.AgencyName, SignerTitle: li.SignerTitle, SignerName: li.SignerName}
		}
	}
	return nil
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
	ObjectKey string `json:"object_key"`
	SHA256    string `json:"sha256"` // lowercase hex of the signed bytes
	Size      int64  `json:"size"`
	// SignatureFormat is the signature's SubFilter: "adbe.pkcs7.detached"
	// (a detached CMS signature with the ESS signing-certificate-v2
	// attribute; not PAdES baseline). SignatureTimestamp: the CMS carries
	// an RFC 3161 signature timestamp.
	SignatureFormat    string    `json:"signature_format,omitempty"`
	SignatureTimestamp bool      `json:"signature_timestamp"`
	SignerCertSHA256   string    `json:"signer_cert_sha256,omitempty"`
	SigningTime        time.Time `json:"signing_time"`
	// DataSHA256 is the SHA-256 (hex) of the data document embedded in
	// the PDF (signing.DataFileName); "" when none is.
	DataSHA256 string `json:"data_sha256,omitempty"`
	// Signer is the subject common name of the signing certificate.
	Signer string `json:"signer,omitempty"`
	// ExternalSigner: the PDF arrived signed by its own issuer (another
	// agency) and is filed byte-identical, with its signature; origin
	// born_digital.
	ExternalSigner bool `json:"external_signer,omitempty"`
}

// SignatureCMSDetached is the SubFilter of every signature sohoa writes.
const SignatureCMSDetached = "adbe.pkcs7.detached"

// UnmarshalJSON reads schema version 1's "pades_level" ("B-B", "B-T"): those
// signatures were the same detached CMS, timestamped at "B-T".
func (f *File) UnmarshalJSON(b []byte) error {
	type plain File
	var aux struct {
		plain
		PAdESLevel string `json:"pades_level"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*f = File(aux.plain)
	if f.SignatureFormat == "" && aux.PAdESLevel != "" {
		f.SignatureFormat, f.SignatureTimestamp = SignatureCMSDetached, aux.PAdESLevel == "B-T"
	}
	return nil
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
	case !ValidAgencyCode(m.ConvertingAgency.Code):
		return bad("converting_agency agency_code %q is not a 13-character agency code", m.ConvertingAgency.Code)
	case m.ConvertingAgency.Name == "":
		return bad("converting_agency agency_name is required")
	case m.IssuingAuthority != nil && m.IssuingAuthority.Name == "":
		return bad("issuing_authority name is required when it is given")
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
