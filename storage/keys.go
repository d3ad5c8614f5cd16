package storage

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Object-key layout. This file is the only place keys are formatted. No key
// may carry a citizen ID or a name: holders appear only as a keyed HMAC,
// results only by UUID, result codes only hashed.
const (
	prefixIntake     = "intake/"
	prefixPages      = "pages/"
	prefixRecords    = "records/"
	prefixReview     = "review/"
	prefixQuarantine = "quarantine/"
	prefixApprovals  = "approvals/"
	prefixResults    = "results/"
	prefixEvents     = "events/"
	prefixCodes      = "codes/"
	prefixSHA256     = "sha256/"
	prefixInputs     = "inputs/"
	prefixIndex      = "index/"
	prefixAudit      = "audit/"
	prefixDossiers   = "dossiers/"

	manifestSuffix = ".manifest.json"
)

// Hashes in keys are written in lowercase base32 (RFC 4648, no padding):
// its only digits are 2–7, so a hash can never show a run of twelve digits
// that reads like a citizen ID in a bucket listing, as hex often does.
var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func keyHash(b []byte) string { return strings.ToLower(keyEncoding.EncodeToString(b)) }

// InputKeyOf is the content address of an intake: base32 of the SHA-256 of
// its bytes (52 characters).
func InputKeyOf(data []byte) string {
	sum := sha256.Sum256(data)
	return keyHash(sum[:])
}

// ValidInputKey reports whether s has the shape InputKeyOf produces.
func ValidInputKey(s string) bool {
	if len(s) != 52 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// InputSHA256 is the hex SHA-256 of the intake named by inputKey.
func InputSHA256(inputKey string) (string, error) {
	b, err := keyEncoding.DecodeString(strings.ToUpper(inputKey))
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("input key %q: %w", inputKey, ErrInvalid)
	}
	return hex.EncodeToString(b), nil
}

// IntakeKey is the uploaded scan, content-addressed by InputKeyOf.
func IntakeKey(inputKey string) string { return prefixIntake + inputKey }

// IntakeMetaKey holds the IntakeMeta written beside an intake object.
func IntakeMetaKey(inputKey string) string { return prefixIntake + inputKey + ".meta.json" }

// PageKey is page n (1-based) rendered from an intake; ext is "jpg" or "png".
func PageKey(inputKey string, n int, ext string) string {
	return fmt.Sprintf("%s%s/%d.%s", prefixPages, inputKey, n, ext)
}

// RecordKey is the extraction record of an intake (the OCR stage output).
func RecordKey(inputKey string) string { return prefixRecords + inputKey + ".json" }

// ReviewKey marks an intake sent to human review.
func ReviewKey(inputKey string) string { return prefixReview + inputKey + ".json" }

// ApprovalKey records a person's decision on document doc of an intake
// that was sent to review.
func ApprovalKey(inputKey string, doc int) string {
	return fmt.Sprintf("%s%s/%d.json", prefixApprovals, inputKey, doc)
}

// ReviewPrefix is the folder of the review queue.
func ReviewPrefix() string { return prefixReview }

// QuarantineKey records why an intake failed permanently.
func QuarantineKey(inputKey string) string { return prefixQuarantine + inputKey + ".json" }

// ResultPrefix is the folder of an agency's results for one month (in
// Vietnam time).
func ResultPrefix(agency string, month time.Time) string {
	m := month.In(Vietnam())
	return fmt.Sprintf("%s%s/%04d/%02d/", prefixResults, agency, m.Year(), int(m.Month()))
}

// ResultPDFKey is the signed PDF of a result. The month comes from the
// UUIDv7 timestamp, so it is stable across retries.
func ResultPDFKey(agency string, month time.Time, id string) string {
	return ResultPrefix(agency, month) + id + ".pdf"
}

// ResultManifestKey is the manifest beside the PDF.
func ResultManifestKey(agency string, month time.Time, id string) string {
	return ResultPrefix(agency, month) + id + manifestSuffix
}

// IsManifestKey reports whether key names a result manifest.
func IsManifestKey(key string) bool {
	return strings.HasPrefix(key, prefixResults) && strings.HasSuffix(key, manifestSuffix)
}

// EventsPrefix is the folder of a result's status events.
func EventsPrefix(id string) string { return prefixEvents + id + "/" }

// EventKey is status event seq (0-based, append-only) of a result.
func EventKey(id string, seq int, status string) string {
	return fmt.Sprintf("%s%06d-%s.json", EventsPrefix(id), seq, status)
}

// CodeKey is the result-code lookup; the code is hashed so the key has a
// fixed shape whatever the code contains.
func CodeKey(resultCode string) string {
	sum := sha256.Sum256([]byte(resultCode))
	return prefixCodes + keyHash(sum[:])
}

// SHA256Key is the lookup from the signed PDF's SHA-256 (lowercase hex).
// An argument that is not hex is kept as is (and then matches nothing).
func SHA256Key(sha256hex string) string {
	b, err := hex.DecodeString(sha256hex)
	if err != nil {
		return prefixSHA256 + "invalid"
	}
	return prefixSHA256 + keyHash(b)
}

// InputsPrefix is the folder of results made from one intake.
func InputsPrefix(inputKey string) string { return prefixInputs + inputKey + "/" }

// InputKey is the lookup from an intake to one of its results.
func InputKey(inputKey, id string) string { return InputsPrefix(inputKey) + id }

// IndexPrefix is one holder's folder in the citizen index under key kid;
// idHMAC is IndexHMAC's hex output, never the ID itself.
func IndexPrefix(kid, idHMAC string) string { return prefixIndex + kid + "/" + idHMAC + "/" }

// IndexKey is one index entry: holder idHMAC has result id.
func IndexKey(kid, idHMAC, id string) string { return IndexPrefix(kid, idHMAC) + id }

// AuditKey is audit batch seq. The number is zero-padded to 20 digits so
// keys sort in sequence order.
func AuditKey(seq uint64) string {
	return fmt.Sprintf("%s%08d/%06d-%06d.json", prefixAudit, seq/1e12, seq/1e6%1e6, seq%1e6)
}

// ParseAuditKey returns the sequence number of an AuditKey.
func ParseAuditKey(key string) (uint64, error) {
	var hi, mid, lo uint64
	rest, ok := strings.CutPrefix(key, prefixAudit)
	if ok {
		_, err := fmt.Sscanf(rest, "%08d/%06d-%06d.json", &hi, &mid, &lo)
		ok = err == nil && AuditKey(hi*1e12+mid*1e6+lo) == key
	}
	if !ok {
		return 0, fmt.Errorf("audit key %q: %w", key, ErrInvalid)
	}
	return hi*1e12 + mid*1e6 + lo, nil
}

// AuditPrefix is the folder of audit batches.
func AuditPrefix() string { return prefixAudit }

// DossierDayPrefix is the folder of dossier-sequence claims of one agency
// and day (yymmdd in Vietnam time).
func DossierDayPrefix(agency string, day time.Time) string {
	return prefixDossiers + agency + "/" + day.In(Vietnam()).Format("060102") + "/"
}

// DossierKey claims dossier sequence seq of an agency and day.
func DossierKey(agency string, day time.Time, seq int) string {
	return fmt.Sprintf("%s%04d", DossierDayPrefix(agency, day), seq)
}

// idLikeToken matches a run of exactly 12 digits standing as its own token,
// the shape of a citizen ID.
var idLikeToken = regexp.MustCompile(`(^|[^0-9A-Za-z])[0-9]{12}([^0-9A-Za-z]|$)`)

// CheckKey refuses keys that are empty, absolute, contain a "." or ".."
// segment, control characters, or a 12-digit token (a citizen ID must never
// enter a key). Every write through Repository passes it.
func CheckKey(key string) error {
	if key == "" || len(key) > 1024 || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("object key %s: %w", redactKey(key), ErrInvalid)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("object key %s: bad segment: %w", redactKey(key), ErrInvalid)
		}
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("object key %s: control character: %w", redactKey(key), ErrInvalid)
		}
	}
	if idLikeToken.MatchString(key) {
		return fmt.Errorf("object key %s: contains a 12-digit token: %w", redactKey(key), ErrInvalid)
	}
	return nil
}

// redactKey quotes key and masks every digit run of 9 or more in the
// quoted form, so a rejected key can be named in an error without leaking an
// ID (quoting first: an escape like \x80 can join digits into a run).
func redactKey(key string) string {
	return longDigits.ReplaceAllStringFunc(strconv.Quote(key), func(s string) string {
		return strings.Repeat("*", len(s)-4) + s[len(s)-4:]
	})
}

var longDigits = regexp.MustCompile(`[0-9]{9,}`)
