package storage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"slices"
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
	prefixTokenIDs   = "jti/"
	prefixKeyring    = "keyring/"
	prefixStaff      = "staff/"
	prefixBatches    = "batches/"
	prefixOffices    = "offices/"
	prefixOpen       = "open/"
	prefixClosed     = "closed/"
	prefixRetries    = "retries/"
	prefixOutbox     = "outbox/"

	jsonSuffix     = ".json"
	metaSuffix     = ".meta.json"
	pdfSuffix      = ".pdf"
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

// InputKeyOfSHA256 is InputKeyOf of the bytes whose SHA-256 is sum (for a
// scan hashed while it streamed in).
func InputKeyOfSHA256(sum []byte) string { return keyHash(sum) }

// ValidInputKey reports whether s has the shape InputKeyOf produces.
func ValidInputKey(s string) bool { return validKeyHash(s) }

// validKeyHash reports whether s is keyHash of a SHA-256 (or HMAC-SHA256):
// 52 characters of lowercase base32 in canonical form (the unused low bits
// of the last character zero), as InputKeyOf, CodeKey, SHA256Key and
// indexHMAC write them.
func validKeyHash(s string) bool {
	if len(s) != 52 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	b, err := keyEncoding.DecodeString(strings.ToUpper(s))
	return err == nil && len(b) == sha256.Size && keyHash(b) == s
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
func IntakeMetaKey(inputKey string) string { return prefixIntake + inputKey + metaSuffix }

// OpenHourPrefix is the folder of the inputs whose intake started in one
// hour (Vietnam time): the index of open inputs the reconciler lists, hour
// by hour, instead of the whole intake.
func OpenHourPrefix(at time.Time) string {
	return fmt.Sprintf("%s%02d/", OpenDayPrefix(at), at.In(Vietnam()).Hour())
}

// OpenDayPrefix is the folder of one day's OpenHourPrefix folders.
func OpenDayPrefix(at time.Time) string {
	return prefixOpen + at.In(Vietnam()).Format("060102") + "/"
}

// OpenKey marks, create-once, that the intake of inputKey started at at;
// its body is the intake's sealed metadata, written before the scan (so a
// scan is never stored without its metadata somewhere). Objects are never
// deleted: an input that became final gets a ClosedKey instead.
func OpenKey(at time.Time, inputKey string) string { return OpenHourPrefix(at) + inputKey }

// ClosedKey marks, create-once, an input the reconciler found final: a
// full pass lists closed/ beside intake/ and looks only at the difference.
func ClosedKey(inputKey string) string { return prefixClosed + inputKey }

// RetryRoundsPrefix is the folder of the retry rounds of one task of an
// input: its OCR task when doc < 0, else the issue task of document doc.
func RetryRoundsPrefix(inputKey string, doc int) string {
	if doc < 0 {
		return prefixRetries + inputKey + "/ocr/"
	}
	return fmt.Sprintf("%s%s/%d/", prefixRetries, inputKey, doc)
}

// RetryRoundKey records, create-once, that the reconciler gave a task whose
// retries were exhausted a new round (round from 1).
func RetryRoundKey(inputKey string, doc, round int) string {
	return fmt.Sprintf("%s%d%s", RetryRoundsPrefix(inputKey, doc), round, jsonSuffix)
}

// PageKey is page n (1-based) rendered from an intake; ext is one of
// pageExts ("jpg" or "png").
func PageKey(inputKey string, n int, ext string) string {
	return fmt.Sprintf("%s%s/%d.%s", prefixPages, inputKey, n, ext)
}

// RecordKey is the extraction record of an intake (the OCR stage output).
func RecordKey(inputKey string) string { return prefixRecords + inputKey + jsonSuffix }

// ReviewKey marks an intake sent to human review.
func ReviewKey(inputKey string) string { return prefixReview + inputKey + jsonSuffix }

// ReviewDocKey sends document doc of an intake to review after its OCR
// record was written (a result code found taken when it was issued).
func ReviewDocKey(inputKey string, doc int) string {
	return fmt.Sprintf("%s%s/%d%s", prefixReview, inputKey, doc, jsonSuffix)
}

// ReviewDocsPrefix is the folder of an intake's ReviewDocKey items.
func ReviewDocsPrefix(inputKey string) string { return prefixReview + inputKey + "/" }

// ApprovalKey records a person's decision on document doc of an intake
// that was sent to review.
func ApprovalKey(inputKey string, doc int) string {
	return fmt.Sprintf("%s%s/%d%s", prefixApprovals, inputKey, doc, jsonSuffix)
}

// ReviewPrefix is the folder of the review queue.
func ReviewPrefix() string { return prefixReview }

// QuarantineKey records why an intake failed permanently.
func QuarantineKey(inputKey string) string { return prefixQuarantine + inputKey + jsonSuffix }

// ResultPrefix is the folder of an agency's results for one month (in
// Vietnam time).
func ResultPrefix(agency string, month time.Time) string {
	m := month.In(Vietnam())
	return fmt.Sprintf("%s%s/%04d/%02d/", prefixResults, agency, m.Year(), int(m.Month()))
}

// ResultPDFKey is the signed PDF of a result. The month comes from the
// UUIDv7 timestamp, so it is stable across retries.
func ResultPDFKey(agency string, month time.Time, id string) string {
	return ResultPrefix(agency, month) + id + pdfSuffix
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
	return fmt.Sprintf("%s%06d-%s%s", EventsPrefix(id), seq, status, jsonSuffix)
}

// OutboxPrefix is the folder of the Kho outbox: one folder per result.
func OutboxPrefix() string { return prefixOutbox }

// OutboxResultPrefix is the folder of one result's outbox events and their
// delivery records.
func OutboxResultPrefix(id string) string { return prefixOutbox + id + "/" }

// OutboxKey is outbox event seq of a result: the same seq as the status
// event (EventKey) it announces, so a result's events are delivered in the
// order of its own history.
func OutboxKey(id string, seq int) string {
	return fmt.Sprintf("%s%06d%s", OutboxResultPrefix(id), seq, jsonSuffix)
}

// OutboxTryKey records, create-once, failed delivery attempt n (from 1) of
// outbox event seq.
func OutboxTryKey(id string, seq, n int) string {
	return fmt.Sprintf("%s%06d.try-%d%s", OutboxResultPrefix(id), seq, n, jsonSuffix)
}

// OutboxDeliveredKey records, create-once, that the Kho acknowledged outbox
// event seq.
func OutboxDeliveredKey(id string, seq int) string {
	return fmt.Sprintf("%s%06d.delivered%s", OutboxResultPrefix(id), seq, jsonSuffix)
}

// OutboxDeadKey records, create-once, that outbox event seq was given up
// (dead letter): its delivery kept failing for the dead-letter age, or an
// earlier event of the result was given up.
func OutboxDeadKey(id string, seq int) string {
	return fmt.Sprintf("%s%06d.dead%s", OutboxResultPrefix(id), seq, jsonSuffix)
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
// idHMAC is indexHMAC's output (base32), never the ID itself.
func IndexPrefix(kid, idHMAC string) string { return prefixIndex + kid + "/" + idHMAC + "/" }

// IndexKey is one index entry: holder idHMAC has result id.
func IndexKey(kid, idHMAC, id string) string { return IndexPrefix(kid, idHMAC) + id }

// AuditChainPrefix is the folder of one audit writer's hash chain; writer
// is a ValidAuditWriter ID.
func AuditChainPrefix(writer string) string { return prefixAudit + writer + "/" }

// AuditKey is the batch of writer's chain that starts at record first and
// holds n records. The number is zero-padded to 20 digits (split 8/6/6) so
// a chain's keys sort in sequence order; n in the key makes a batch cut
// short after it was stored detectable even when it is the chain's last.
func AuditKey(writer string, first uint64, n int) string {
	return fmt.Sprintf("%s%08d/%06d-%06d-%d%s", AuditChainPrefix(writer), first/1e12, first/1e6%1e6, first%1e6, n, jsonSuffix)
}

// ParseAuditKey returns the writer, first record and record count of an
// AuditKey.
func ParseAuditKey(key string) (writer string, first uint64, n int, err error) {
	rest, ok := strings.CutPrefix(key, prefixAudit)
	if ok {
		writer, rest, ok = strings.Cut(rest, "/")
	}
	if ok && ValidAuditWriter(writer) {
		var hi, mid, lo uint64
		_, serr := fmt.Sscanf(rest, "%08d/%06d-%06d-%d.json", &hi, &mid, &lo, &n)
		first = hi*1e12 + mid*1e6 + lo
		if serr == nil && n >= 1 && n <= MaxAuditBatch && AuditKey(writer, first, n) == key {
			return writer, first, n, nil
		}
	}
	return "", 0, 0, fmt.Errorf("audit key %s: %w", redactKey(key, prefixAudit), ErrInvalid)
}

// MaxAuditBatch is the most records one audit batch may hold.
const MaxAuditBatch = 9999

// ValidAuditWriter reports whether s can name an audit writer (a chain):
// 16 characters of lowercase base32 (80 random bits) with at most 8 digits
// in a row, so it never reads as a citizen ID.
func ValidAuditWriter(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return maxDigitRun(s) <= maxKIDDigits
}

// AuditPrefix is the folder of every audit chain.
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

// TokenIDDayPrefix is the folder of the bearer-token IDs seen whose tokens
// expire on one day (yymmdd in Vietnam time): once the day is past, every
// object under it may be deleted.
func TokenIDDayPrefix(expires time.Time) string {
	return prefixTokenIDs + expires.In(Vietnam()).Format("060102") + "/"
}

// TokenIDKey records one use of a bearer token that expires at expires;
// tokenHMAC is a keyed hash of the token's client and jti (32 bytes), never
// the jti itself, which a client may fill with anything.
func TokenIDKey(expires time.Time, tokenHMAC []byte) string {
	return TokenIDDayPrefix(expires) + keyHash(tokenHMAC)
}

// KeyringKey records that the bucket holds data written under key kid of
// key ring ring ("index" or "seal"), with a check value of that key.
func KeyringKey(ring, kid string) string { return prefixKeyring + ring + "/" + kid + jsonSuffix }

// KeyringPrefix is the folder of KeyringKey markers.
func KeyringPrefix() string { return prefixKeyring }

// StaffAccount is the ID of the staff account signing in as userName: the
// keyed hash HMAC-SHA256(key, "sohoa-staff-v1" ‖ 0x00 ‖ userName) in key
// base32 (52 characters). It names the account's folder, its sessions and
// its audit records, so neither a bucket listing nor the audit log shows a
// user name (often a person's name). key is K_staff, never rotated in place:
// the IDs of existing accounts depend on it. userName must already be
// normalised by its caller.
func StaffAccount(key []byte, userName string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sohoa-staff-v1\x00"))
	m.Write([]byte(userName))
	return keyHash(m.Sum(nil))
}

// ValidStaffAccount reports whether s has the shape StaffAccount produces.
func ValidStaffAccount(s string) bool { return validKeyHash(s) }

// StaffPrefix is the folder of every staff account.
func StaffPrefix() string { return prefixStaff }

// StaffAccountPrefix is the folder of one staff account's events.
func StaffAccountPrefix(account string) string { return prefixStaff + account + "/" }

// StaffEventKey is event seq (0-based, append-only, create-once) of a staff
// account. The event's kind is sealed inside, with the rest of it: two
// writers racing for the same seq collide on this key, whatever they write.
func StaffEventKey(account string, seq int) string {
	return fmt.Sprintf("%s%06d%s", StaffAccountPrefix(account), seq, jsonSuffix)
}

// BatchKey holds the sealed record of an upload batch (storage.Batch):
// its dossier code, procedure, office and clerk, written create-once when
// the batch is opened. batch is a ValidBatchID.
func BatchKey(batch string) string { return prefixBatches + batch + jsonSuffix }

// BatchFilesPrefix is the folder of one batch's files.
func BatchFilesPrefix(batch string) string { return prefixBatches + batch + "/" }

// BatchFileKey records, create-once and sealed, that the intake inputKey
// was received in batch (with the name it had there).
func BatchFileKey(batch, inputKey string) string {
	return BatchFilesPrefix(batch) + inputKey + jsonSuffix
}

// OfficeBatchesPrefix is the folder of the batches one office (an agency
// code) opened in one month (Vietnam time): its counter's history.
func OfficeBatchesPrefix(office string, month time.Time) string {
	m := month.In(Vietnam())
	return fmt.Sprintf("%s%s/batches/%04d/%02d/", prefixOffices, office, m.Year(), int(m.Month()))
}

// OfficeBatchKey lists batch in its office's history for the month it
// was opened; batch IDs begin with their time, so a folder sorts by it.
func OfficeBatchKey(office string, opened time.Time, batch string) string {
	return OfficeBatchesPrefix(office, opened) + batch
}

// ---- the key grammar ----

// CheckKey accepts an object key only if it has the layout of one of the
// key functions above (CheckKeyLayout) and is not a folder. Every write
// through Repository passes it, and `sohoa index lint` runs it over a whole
// bucket. Errors wrap ErrInvalid and name the rule, never the key's text.
func CheckKey(key string) error {
	if strings.HasSuffix(key, "/") {
		return fmt.Errorf("object key %s: ends in \"/\": a folder, not an object: %w", redactKey(key, ""), ErrInvalid)
	}
	return CheckKeyLayout(key)
}

// CheckKeyLayout accepts key only if it is, field for field, what one of
// the exported key functions of this file formats: a fixed prefix, then
// base32 hashes of the right length, result UUIDs, agency codes, dates,
// small integers, a status or a page format, joined by the functions' fixed
// separators and suffixes; or a folder one of the *Prefix functions returns
// (or a top-level prefix such as "intake/"). Anything else is refused, so a
// citizen ID or a name cannot hide in any part of a key. The error wraps
// ErrInvalid and names the layout and the field that failed; the key itself
// is redacted to its fixed prefix and length.
func CheckKeyLayout(key string) error {
	var (
		best     *keyLayout
		bestFail keyFailure
	)
	for i := range keyLayouts {
		l := &keyLayouts[i]
		f, ok := l.match(key)
		if ok {
			return nil
		}
		if f.off > 0 && (best == nil || f.off > bestFail.off) {
			best, bestFail = l, f
		}
	}
	if best == nil {
		return fmt.Errorf("object key %s: no layout starts so (want one of %s): %w",
			redactKey(key, ""), strings.Join(topPrefixes, ", "), ErrInvalid)
	}
	return fmt.Errorf("object key %s: does not match %s (%s): %s: %w",
		redactKey(key, best.parts[0].lit), best.fn, best, bestFail.describe(best), ErrInvalid)
}

// redactKey names a refused key without its text: the fixed prefix it
// starts with (a constant of this file, or nothing) and its length.
func redactKey(key, prefix string) string {
	if prefix != "" && strings.HasPrefix(key, prefix) {
		return fmt.Sprintf("%s… (%d bytes)", prefix, len(key))
	}
	return fmt.Sprintf("(%d bytes)", len(key))
}

// A keyLayout is the grammar of what one key function formats: fixed text
// and typed fields, in order. Two fields are never adjacent, so a field's
// value ends where the next fixed text starts.
type keyLayout struct {
	fn    string // the function that formats it, as named in errors
	parts []keyPart
}

// A keyPart is fixed text (lit) or a field.
type keyPart struct {
	lit   string
	field *keyField
}

// A keyField is a typed part of a key.
type keyField struct {
	name  string // as shown in layouts: "{input}"
	want  string // what a value must be, for errors
	valid func(string) bool
}

func lit(s string) keyPart                         { return keyPart{lit: s} }
func fld(f *keyField) keyPart                      { return keyPart{field: f} }
func layout(fn string, parts ...keyPart) keyLayout { return keyLayout{fn: fn, parts: parts} }

// String is the layout as a pattern, e.g. "pages/{input}/{page}.{ext}".
func (l *keyLayout) String() string {
	var b strings.Builder
	for _, p := range l.parts {
		if p.field != nil {
			b.WriteString(p.field.name)
		} else {
			b.WriteString(p.lit)
		}
	}
	return b.String()
}

// keyFailure is where a key stopped matching a layout: at byte off, part
// index part (len(parts) for text after the end).
type keyFailure struct{ off, part int }

func (f keyFailure) describe(l *keyLayout) string {
	if f.part >= len(l.parts) {
		return fmt.Sprintf("unexpected text after byte %d", f.off)
	}
	p := l.parts[f.part]
	if p.field != nil {
		return fmt.Sprintf("%s at byte %d must be %s", p.field.name, f.off, p.field.want)
	}
	return fmt.Sprintf("want %q at byte %d", p.lit, f.off)
}

func (l *keyLayout) match(key string) (keyFailure, bool) {
	rest, off := key, 0
	for i, p := range l.parts {
		if p.field == nil {
			if !strings.HasPrefix(rest, p.lit) {
				return keyFailure{off, i}, false
			}
			rest, off = rest[len(p.lit):], off+len(p.lit)
			continue
		}
		end := len(rest)
		if i+1 < len(l.parts) {
			if j := strings.Index(rest, l.parts[i+1].lit); j >= 0 {
				end = j
			}
		}
		if !p.field.valid(rest[:end]) {
			return keyFailure{off, i}, false
		}
		rest, off = rest[end:], off+end
	}
	if rest != "" {
		return keyFailure{off, len(l.parts)}, false
	}
	return keyFailure{}, true
}

// The fields of keys, each with the same rule the code that makes its
// values uses.
var (
	fieldInput  = &keyField{"{input}", "an input key (52 characters of lowercase base32, InputKeyOf)", validKeyHash}
	fieldHash   = &keyField{"{hash}", "a SHA-256 in 52 characters of lowercase base32", validKeyHash}
	fieldHMAC   = &keyField{"{hmac}", "an index HMAC in 52 characters of lowercase base32", validKeyHash}
	fieldID     = &keyField{"{id}", "a result ID (lowercase UUIDv7, last group not all digits)", validResultID}
	fieldAgency = &keyField{"{agency}", "a 13-character agency code", ValidAgencyCode}
	fieldKID    = &keyField{"{kid}", "a key id ([a-z0-9][a-z0-9_-]{0,15}, at most 8 digits in a row)", validKID}
	fieldYear   = &keyField{"{yyyy}", "a 4-digit year", func(s string) bool { return len(s) == 4 && allDigits(s) }}
	fieldMonth  = &keyField{"{mm}", "a month 01-12", func(s string) bool { _, err := time.Parse("01", s); return len(s) == 2 && err == nil }}
	fieldDay    = &keyField{"{yymmdd}", "a date yymmdd", func(s string) bool {
		_, err := time.Parse("060102", s)
		return len(s) == 6 && allDigits(s) && err == nil
	}}
	fieldHour   = &keyField{"{hh}", "an hour 00-23", func(s string) bool { return len(s) == 2 && allDigits(s) && s < "24" }}
	fieldRound  = &keyField{"{round}", "a retry round 1-9999", func(s string) bool { return smallInt(s) && s != "0" }}
	fieldPage   = &keyField{"{page}", "a page number 1-9999", func(s string) bool { return smallInt(s) && s != "0" }}
	fieldDoc    = &keyField{"{doc}", "a document index 0-9999", smallInt}
	fieldExt    = &keyField{"{ext}", "a page format (" + strings.Join(pageExts, ", ") + ")", func(s string) bool { return slices.Contains(pageExts, s) }}
	fieldSeq    = &keyField{"{seq}", "a 6-digit event number", func(s string) bool { return len(s) == 6 && allDigits(s) }}
	fieldStatus = &keyField{"{status}", "a status (" + strings.Join(statuses, ", ") + ")", func(s string) bool { return slices.Contains(statuses, s) }}
	fieldWriter = &keyField{"{writer}", "an audit writer ID (16 characters of lowercase base32)", ValidAuditWriter}
	fieldAudit8 = &keyField{"{first/1e12}", "8 digits", func(s string) bool { return len(s) == 8 && allDigits(s) }}
	fieldAudit6 = &keyField{"{first%1e12}", "6 digits", func(s string) bool { return len(s) == 6 && allDigits(s) }}
	fieldCount  = &keyField{"{n}", "a record count 1-9999", func(s string) bool { return smallInt(s) && s != "0" }}
	fieldClaim  = &keyField{"{seq}", "a 4-digit dossier sequence", func(s string) bool { return len(s) == 4 && allDigits(s) }}
	fieldJTI    = &keyField{"{jti-hmac}", "a token-ID HMAC in 52 characters of lowercase base32", validKeyHash}
	fieldRing   = &keyField{"{ring}", "a key ring (" + strings.Join(keyRings, ", ") + ")", func(s string) bool { return slices.Contains(keyRings, s) }}
	fieldStaff  = &keyField{"{account}", "a staff account ID (52 characters of lowercase base32, StaffAccount)", ValidStaffAccount}
	fieldBatch  = &keyField{"{batch}", "a batch ID (yyyymmdd-hhmmss-, then 10 characters of lowercase base32)", ValidBatchID}

	// pageExts are the page image formats PageKey is given.
	pageExts = []string{"jpg", "png"}
	// statuses are the result statuses EventKey is given.
	statuses = []string{StatusActive, StatusSuspended, StatusRevoked, StatusSuperseded}
	// keyRings are the key rings KeyringKey is given.
	keyRings = []string{ringIndex, ringSeal}
	// topPrefixes are the top-level folders of the bucket.
	topPrefixes = []string{prefixIntake, prefixPages, prefixRecords, prefixReview, prefixQuarantine,
		prefixApprovals, prefixResults, prefixEvents, prefixCodes, prefixSHA256, prefixInputs,
		prefixIndex, prefixAudit, prefixDossiers, prefixTokenIDs, prefixKeyring, prefixStaff, prefixBatches, prefixOffices,
		prefixOpen, prefixClosed, prefixRetries, prefixOutbox}
)

// keyLayouts is the grammar of every key function, in the order of this
// file, then the folders.
var keyLayouts = append([]keyLayout{
	layout("IntakeKey", lit(prefixIntake), fld(fieldInput)),
	layout("IntakeMetaKey", lit(prefixIntake), fld(fieldInput), lit(metaSuffix)),
	layout("OpenKey", lit(prefixOpen), fld(fieldDay), lit("/"), fld(fieldHour), lit("/"), fld(fieldInput)),
	layout("ClosedKey", lit(prefixClosed), fld(fieldInput)),
	layout("RetryRoundKey", lit(prefixRetries), fld(fieldInput), lit("/ocr/"), fld(fieldRound), lit(jsonSuffix)),
	layout("RetryRoundKey", lit(prefixRetries), fld(fieldInput), lit("/"), fld(fieldDoc), lit("/"), fld(fieldRound), lit(jsonSuffix)),
	layout("PageKey", lit(prefixPages), fld(fieldInput), lit("/"), fld(fieldPage), lit("."), fld(fieldExt)),
	layout("RecordKey", lit(prefixRecords), fld(fieldInput), lit(jsonSuffix)),
	layout("ReviewKey", lit(prefixReview), fld(fieldInput), lit(jsonSuffix)),
	layout("ReviewDocKey", lit(prefixReview), fld(fieldInput), lit("/"), fld(fieldDoc), lit(jsonSuffix)),
	layout("ApprovalKey", lit(prefixApprovals), fld(fieldInput), lit("/"), fld(fieldDoc), lit(jsonSuffix)),
	layout("QuarantineKey", lit(prefixQuarantine), fld(fieldInput), lit(jsonSuffix)),
	layout("ResultPDFKey", lit(prefixResults), fld(fieldAgency), lit("/"), fld(fieldYear), lit("/"), fld(fieldMonth), lit("/"), fld(fieldID), lit(pdfSuffix)),
	layout("ResultManifestKey", lit(prefixResults), fld(fieldAgency), lit("/"), fld(fieldYear), lit("/"), fld(fieldMonth), lit("/"), fld(fieldID), lit(manifestSuffix)),
	layout("EventKey", lit(prefixEvents), fld(fieldID), lit("/"), fld(fieldSeq), lit("-"), fld(fieldStatus), lit(jsonSuffix)),
	layout("OutboxKey", lit(prefixOutbox), fld(fieldID), lit("/"), fld(fieldSeq), lit(jsonSuffix)),
	layout("OutboxTryKey", lit(prefixOutbox), fld(fieldID), lit("/"), fld(fieldSeq), lit(".try-"), fld(fieldRound), lit(jsonSuffix)),
	layout("OutboxDeliveredKey", lit(prefixOutbox), fld(fieldID), lit("/"), fld(fieldSeq), lit(".delivered"+jsonSuffix)),
	layout("OutboxDeadKey", lit(prefixOutbox), fld(fieldID), lit("/"), fld(fieldSeq), lit(".dead"+jsonSuffix)),
	layout("CodeKey", lit(prefixCodes), fld(fieldHash)),
	layout("SHA256Key", lit(prefixSHA256), fld(fieldHash)),
	layout("InputKey", lit(prefixInputs), fld(fieldInput), lit("/"), fld(fieldID)),
	layout("IndexKey", lit(prefixIndex), fld(fieldKID), lit("/"), fld(fieldHMAC), lit("/"), fld(fieldID)),
	layout("AuditKey", lit(prefixAudit), fld(fieldWriter), lit("/"), fld(fieldAudit8), lit("/"), fld(fieldAudit6), lit("-"), fld(fieldAudit6), lit("-"), fld(fieldCount), lit(jsonSuffix)),
	layout("DossierKey", lit(prefixDossiers), fld(fieldAgency), lit("/"), fld(fieldDay), lit("/"), fld(fieldClaim)),
	layout("TokenIDKey", lit(prefixTokenIDs), fld(fieldDay), lit("/"), fld(fieldJTI)),
	layout("KeyringKey", lit(prefixKeyring), fld(fieldRing), lit("/"), fld(fieldKID), lit(jsonSuffix)),
	layout("StaffEventKey", lit(prefixStaff), fld(fieldStaff), lit("/"), fld(fieldSeq), lit(jsonSuffix)),
	layout("BatchKey", lit(prefixBatches), fld(fieldBatch), lit(jsonSuffix)),
	layout("BatchFileKey", lit(prefixBatches), fld(fieldBatch), lit("/"), fld(fieldInput), lit(jsonSuffix)),
	layout("OfficeBatchKey", lit(prefixOffices), fld(fieldAgency), lit("/batches/"), fld(fieldYear), lit("/"), fld(fieldMonth), lit("/"), fld(fieldBatch)),

	layout("OpenHourPrefix", lit(prefixOpen), fld(fieldDay), lit("/"), fld(fieldHour), lit("/")),
	layout("OpenDayPrefix", lit(prefixOpen), fld(fieldDay), lit("/")),
	layout("RetryRoundsPrefix", lit(prefixRetries), fld(fieldInput), lit("/ocr/")),
	layout("RetryRoundsPrefix", lit(prefixRetries), fld(fieldInput), lit("/"), fld(fieldDoc), lit("/")),
	layout("ResultPrefix", lit(prefixResults), fld(fieldAgency), lit("/"), fld(fieldYear), lit("/"), fld(fieldMonth), lit("/")),
	layout("EventsPrefix", lit(prefixEvents), fld(fieldID), lit("/")),
	layout("OutboxResultPrefix", lit(prefixOutbox), fld(fieldID), lit("/")),
	layout("ReviewDocsPrefix", lit(prefixReview), fld(fieldInput), lit("/")),
	layout("InputsPrefix", lit(prefixInputs), fld(fieldInput), lit("/")),
	layout("IndexPrefix", lit(prefixIndex), fld(fieldKID), lit("/"), fld(fieldHMAC), lit("/")),
	layout("AuditChainPrefix", lit(prefixAudit), fld(fieldWriter), lit("/")),
	layout("DossierDayPrefix", lit(prefixDossiers), fld(fieldAgency), lit("/"), fld(fieldDay), lit("/")),
	layout("TokenIDDayPrefix", lit(prefixTokenIDs), fld(fieldDay), lit("/")),
	layout("StaffAccountPrefix", lit(prefixStaff), fld(fieldStaff), lit("/")),
	layout("BatchFilesPrefix", lit(prefixBatches), fld(fieldBatch), lit("/")),
	layout("OfficeBatchesPrefix", lit(prefixOffices), fld(fieldAgency), lit("/batches/"), fld(fieldYear), lit("/"), fld(fieldMonth), lit("/")),
}, topFolders()...)

// topFolders are the top-level prefixes as folders ("review/" is
// ReviewPrefix, "audit/" AuditPrefix).
func topFolders() []keyLayout {
	var ls []keyLayout
	for _, p := range topPrefixes {
		ls = append(ls, layout("folder", lit(p)))
	}
	return ls
}

// validResultID reports whether s is a result ID as newResultID makes it:
// a canonical lowercase UUIDv7 (RFC 9562 variant) whose last group of 12
// characters holds a letter, so it never reads as a citizen ID.
func validResultID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s[14] == '7' && strings.IndexByte("89ab", s[19]) >= 0 && strings.ContainsAny(s[24:], "abcdef")
}

// maxKIDDigits is the longest run of digits a kid may hold: fewer than a
// CMND (9), a tax code (10) or a CCCD (12), so a kid never reads as an ID.
const maxKIDDigits = 8

// validKID reports whether s can name a key of a Keys ring (and so appear
// in index keys).
func validKID(s string) bool { return kidRe.MatchString(s) && maxDigitRun(s) <= maxKIDDigits }

// maxDigitRun is the length of the longest run of ASCII digits in s.
func maxDigitRun(s string) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// smallInt reports whether s is a decimal 0-9999 without leading zeros.
func smallInt(s string) bool {
	return len(s) >= 1 && len(s) <= 4 && allDigits(s) && (s == "0" || s[0] != '0')
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
