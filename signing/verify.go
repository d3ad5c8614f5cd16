package signing

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"

	"sohoa/storage"
)

// Sentinel errors.
var (
	// ErrInvalid: the file is a PDF but its signature does not pass the
	// strict checks; the Verdict lists the reasons.
	ErrInvalid = errors.New("signature invalid")
	// ErrNotPDF: the input is not a PDF at all.
	ErrNotPDF = errors.New("not a PDF file")
	// ErrLimit: the signature's CMS exceeds the verifier's bounds (its size,
	// nesting depth or number of elements) and was refused before any
	// parser saw it. No e-result of ours comes near them: such input is
	// hostile or broken. It comes with ErrInvalid.
	ErrLimit = errors.New("signature structure exceeds the verifier's limits")
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Roots are the trusted signer CAs. Required: nothing is trusted
	// implicitly, and the system pool is never used.
	Roots *x509.CertPool
	// TSARoots are the trusted timestamp-authority CAs; nil means Roots.
	TSARoots *x509.CertPool
	// RequireTimestamp rejects signatures without an RFC 3161 timestamp (B-T).
	RequireTimestamp bool
	// AllowAnyEKU accepts signer certificates without the documentSigning EKU.
	AllowAnyEKU bool
	// Now is the time used when the signature has no timestamp; zero means time.Now().
	Now time.Time
}

// Verdict is the outcome of Verify.
type Verdict struct {
	Valid       bool
	Reasons     []string // why it is invalid; empty when valid
	Signer      string   // subject common name of the signing certificate
	SignerCert  *x509.Certificate
	SigningTime time.Time  // claimed by the signer (signingTime attribute); untrusted
	Timestamp   *time.Time // RFC 3161 time when present and valid
	SubFilter   string
	ByteRange   [4]int64
	// SignerCertSHA256 is the hex SHA-256 of the signing certificate's DER.
	// SignerCert is nil when the verdict comes from a child process
	// (ChildVerifier); this is always set with it.
	SignerCertSHA256 string
	// SignedSHA256 is the hex SHA-256 of the signed bytes: the two byte
	// ranges, without the /Contents gap. Unlike the file's SHA-256 it does
	// not change when the unsigned signature's hex is re-encoded (e.g. its
	// case changed), so it names what was signed.
	SignedSHA256 string
	// ResultCode is the result code in the signed XMP metadata (the
	// renderer's sohoa:ResultCode), "" when the signed bytes hold none or
	// more than one. Like SignedSHA256 it is set whenever the byte-level
	// checks pass; trust it only when Valid.
	ResultCode string
}

var allowedSubFilters = []string{"adbe.pkcs7.detached", "ETSI.CAdES.detached"}

var (
	oidSigningTime    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidDigestSHA256   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidDigestSHA384   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidDigestSHA512   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// Verify checks a signed e-result strictly (reliability.md §3.5): exactly one
// signature; ByteRange [0 a b c] covering the whole file except exactly the
// /Contents hex string; no byte after the signed revision; a parseable CMS
// whose message digest and signature verify; a SHA-2 digest; a signer chain
// to opts.Roots valid at the (timestamp) signing time; a valid timestamp when
// present. It never trusts the system roots.
//
// The error is nil when the verdict is valid, wraps ErrInvalid when the
// signature fails a check, and wraps ErrNotPDF when the input is not a PDF.
func Verify(data []byte, opts VerifyOptions) (Verdict, error) {
	var v Verdict
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		v.Reasons = []string{"input does not start with %PDF-"}
		return v, fmt.Errorf("verify: %w", ErrNotPDF)
	}
	st, reasons := checkStructure(data)
	v.Reasons = append(v.Reasons, reasons...)
	v.SubFilter, v.ByteRange = st.subFilter, st.byteRange
	if st.overLimit {
		return v, fmt.Errorf("verify: %w: %w: %v", ErrInvalid, ErrLimit, v.Reasons)
	}
	if len(reasons) == 0 {
		v.SignedSHA256 = signedDigest(data, st)
		v.ResultCode = signedResultCode(data, st)
		v.Reasons = append(v.Reasons, verifyCMS(data, st, opts, &v)...)
	}
	if opts.Roots == nil {
		v.Reasons = append(v.Reasons, "no trusted roots configured")
	}
	v.Valid = len(v.Reasons) == 0
	if !v.Valid {
		return v, fmt.Errorf("verify: %w: %v", ErrInvalid, v.Reasons)
	}
	return v, nil
}

// SignedSHA256 is the hex SHA-256 of the bytes a PDF's one signature covers
// (Verdict.SignedSHA256), after the byte-level checks of Verify; it checks
// no cryptography, so use it on files already verified (e.g. our own stored
// results). A file failing those checks gives an error wrapping ErrInvalid.
func SignedSHA256(pdf []byte) (string, error) {
	st, reasons := checkStructure(pdf)
	if len(reasons) > 0 {
		return "", fmt.Errorf("signed digest: %w: %v", ErrInvalid, reasons)
	}
	return signedDigest(pdf, st), nil
}

func signedDigest(data []byte, st structure) string {
	b, c, d := st.byteRange[1], st.byteRange[2], st.byteRange[3]
	h := sha256.New()
	h.Write(data[:b])
	h.Write(data[c : c+d])
	return hex.EncodeToString(h.Sum(nil))
}

var reXMPResultCode = regexp.MustCompile(`<sohoa:ResultCode>([^<]{1,64})</sohoa:ResultCode>`)

// signedResultCode finds the result code of the XMP packet (stamp.go) in
// the signed ranges: exactly one, well formed, else "".
func signedResultCode(data []byte, st structure) string {
	b, c := st.byteRange[1], st.byteRange[2]
	var found [][]byte
	for _, part := range [][]byte{data[:b], data[c:]} {
		for _, m := range reXMPResultCode.FindAllSubmatch(part, 2) {
			found = append(found, m[1])
		}
	}
	if len(found) != 1 {
		return ""
	}
	code, _, _, err := storage.ParseResultCode(string(found[0]))
	if err != nil {
		return ""
	}
	return code
}

// structure is what the byte-level checks extract.
type structure struct {
	byteRange [4]int64
	subFilter string
	cms       []byte // DER, padding removed
	// overLimit: the CMS exceeds the bounds of ber.go; nothing parsed it.
	overLimit bool
}

var (
	reByteRange = regexp.MustCompile(`^/ByteRange\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]`)
	reSubFilter = regexp.MustCompile(`/SubFilter\s*/([A-Za-z0-9.#_-]+)`)
	reContents  = regexp.MustCompile(`/Contents\s*$`)
)

// checkStructure performs every check that needs no cryptography. It never
// panics on any input (see FuzzCheckStructure).
func checkStructure(data []byte) (structure, []string) {
	var st structure
	n := int64(len(data))
	if c := bytes.Count(data, []byte("/ByteRange")); c != 1 {
		if c == 0 {
			return st, []string{"no signature (no /ByteRange)"}
		}
		return st, []string{fmt.Sprintf("found %d /ByteRange entries, want exactly one signature", c)}
	}
	pos := bytes.Index(data, []byte("/ByteRange"))
	m := reByteRange.FindSubmatch(data[pos:])
	if m == nil {
		return st, []string{"malformed /ByteRange array"}
	}
	for i := range 4 {
		x, err := strconv.ParseInt(string(m[i+1]), 10, 64)
		if err != nil {
			return st, []string{"malformed /ByteRange number"}
		}
		st.byteRange[i] = x
	}
	a, b, c, d := st.byteRange[0], st.byteRange[1], st.byteRange[2], st.byteRange[3]
	if a != 0 {
		return st, []string{"ByteRange does not start at offset 0"}
	}
	if b <= 0 || c <= b || d < 0 || c+d != n || c > n {
		return st, []string{fmt.Sprintf("ByteRange [%d %d %d %d] does not cover the file of %d bytes with one gap", a, b, c, d, n)}
	}
	if int64(pos) >= b && int64(pos) < c {
		return st, []string{"ByteRange lies inside the unsigned gap"}
	}
	var reasons []string
	gap := data[b:c]
	if len(gap) < 2 || gap[0] != '<' || gap[len(gap)-1] != '>' {
		return st, []string{"signed-range gap is not a hex string"}
	}
	if !reContents.Match(data[max(0, b-64):b]) {
		reasons = append(reasons, "signed-range gap is not the value of /Contents")
	}
	hexDigits := gap[1 : len(gap)-1]
	if len(hexDigits)%2 != 0 {
		return st, append(reasons, "odd number of hex digits in /Contents")
	}
	raw := make([]byte, len(hexDigits)/2)
	if _, err := hex.Decode(raw, hexDigits); err != nil {
		return st, append(reasons, "non-hex bytes in /Contents")
	}
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(raw, &rv)
	if err != nil {
		return st, append(reasons, "CMS in /Contents is not DER")
	}
	for _, x := range rest {
		if x != 0 {
			return st, append(reasons, "bytes other than zero padding after the CMS in /Contents")
		}
	}
	st.cms = raw[:len(raw)-len(rest)]
	// Bound the CMS before any parser walks it (see ber.go): depth and
	// element count first, so a deeply nested blob is named as such.
	if _, err := scanBER(st.cms, maxCMSDepth, maxCMSElements); err != nil {
		switch {
		case errors.Is(err, errBERTooDeep), errors.Is(err, errBERTooMany):
			st.overLimit = true
			return st, append(reasons, fmt.Sprintf("CMS signature structure %v: refused before parsing", err))
		default:
			return st, append(reasons, fmt.Sprintf("CMS in /Contents is not valid BER: %v", err))
		}
	}
	if len(st.cms) > maxCMSBytes {
		st.overLimit = true
		return st, append(reasons, fmt.Sprintf("CMS in /Contents is %d bytes, more than the %d allowed: refused before parsing", len(st.cms), maxCMSBytes))
	}
	// Nothing may follow the signed revision: the only %%EOF after the gap
	// is at the end of the file (optionally followed by one EOL).
	tail := data[c:]
	if k := bytes.Count(tail, []byte("%%EOF")); k != 1 {
		reasons = append(reasons, fmt.Sprintf("found %d %%%%EOF markers after the signature, want 1 (incremental update appended?)", k))
	} else {
		end := bytes.TrimRight(tail, "\r\n")
		if !bytes.HasSuffix(end, []byte("%%EOF")) || len(tail)-len(end) > 2 {
			reasons = append(reasons, "data after the final %%EOF")
		}
	}
	subs := reSubFilter.FindAllSubmatch(data[:b], -1)
	if len(subs) != 1 {
		reasons = append(reasons, fmt.Sprintf("found %d /SubFilter entries in the signed part, want 1", len(subs)))
	} else {
		st.subFilter = string(subs[0][1])
		if !slices.Contains(allowedSubFilters, st.subFilter) {
			reasons = append(reasons, fmt.Sprintf("SubFilter %q is not allowed", st.subFilter))
		}
	}
	return st, reasons
}

// verifyCMS checks the CMS signature over the signed ranges, the signer
// chain and the timestamp, filling the verdict's signer fields.
func verifyCMS(data []byte, st structure, opts VerifyOptions, v *Verdict) (reasons []string) {
	defer func() {
		if r := recover(); r != nil {
			reasons = append(reasons, fmt.Sprintf("CMS processing failed: %v", r))
		}
	}()
	p7, err := pkcs7.Parse(st.cms)
	if err != nil {
		return []string{fmt.Sprintf("CMS does not parse: %v", err)}
	}
	if len(p7.Signers) != 1 {
		return []string{fmt.Sprintf("CMS has %d signer infos, want 1", len(p7.Signers))}
	}
	if len(p7.Content) != 0 {
		return []string{"CMS is not detached"}
	}
	si := p7.Signers[0]
	switch {
	case si.DigestAlgorithm.Algorithm.Equal(oidDigestSHA256),
		si.DigestAlgorithm.Algorithm.Equal(oidDigestSHA384),
		si.DigestAlgorithm.Algorithm.Equal(oidDigestSHA512):
	default:
		return []string{fmt.Sprintf("digest algorithm %v is not SHA-2", si.DigestAlgorithm.Algorithm)}
	}
	b, c, d := st.byteRange[1], st.byteRange[2], st.byteRange[3]
	signed := make([]byte, 0, b+d)
	signed = append(append(signed, data[:b]...), data[c:c+d]...)
	p7.Content = signed
	if err := p7.Verify(); err != nil { // digest + signature; chain checked below
		reasons = append(reasons, fmt.Sprintf("CMS signature does not verify: %v", err))
	}
	leaf := p7.GetOnlySigner()
	if leaf == nil {
		return append(reasons, "no signer certificate in the CMS")
	}
	v.SignerCert, v.Signer = leaf, leaf.Subject.CommonName
	sum := sha256.Sum256(leaf.Raw)
	v.SignerCertSHA256 = hex.EncodeToString(sum[:])
	var st1 time.Time
	if err := p7.UnmarshalSignedAttribute(oidSigningTime, &st1); err == nil {
		v.SigningTime = st1
	}
	// Timestamp token (unsigned attribute).
	at := opts.Now
	if at.IsZero() {
		at = time.Now()
	}
	var tokens [][]byte
	for _, a := range si.UnauthenticatedAttributes {
		if a.Type.Equal(oidTimeStampToken) {
			tokens = append(tokens, a.Value.Bytes)
		}
	}
	switch {
	case len(tokens) > 1:
		reasons = append(reasons, "more than one signature timestamp")
	case len(tokens) == 1:
		ts, tr := verifyTimestamp(tokens[0], si.EncryptedDigest, opts)
		reasons = append(reasons, tr...)
		if ts != nil && len(tr) == 0 {
			v.Timestamp = ts
			at = *ts
		}
	case opts.RequireTimestamp:
		reasons = append(reasons, "signature has no RFC 3161 timestamp")
	}
	if opts.Roots != nil {
		inter := x509.NewCertPool()
		for _, cert := range p7.Certificates {
			if !cert.Equal(leaf) {
				inter.AddCert(cert)
			}
		}
		if _, err := leaf.Verify(x509.VerifyOptions{
			Roots: opts.Roots, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		}); err != nil {
			reasons = append(reasons, fmt.Sprintf("signer certificate is not trusted: %v", err))
		}
	}
	if leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		reasons = append(reasons, "signer certificate allows neither digitalSignature nor nonRepudiation")
	}
	if !opts.AllowAnyEKU && !slices.ContainsFunc(leaf.UnknownExtKeyUsage, func(o asn1.ObjectIdentifier) bool { return o.Equal(OIDDocumentSigning) }) {
		reasons = append(reasons, "signer certificate lacks the documentSigning EKU")
	}
	return reasons
}

// verifyTimestamp checks an RFC 3161 token over the signature value.
func verifyTimestamp(token, signature []byte, opts VerifyOptions) (*time.Time, []string) {
	ts, err := timestamp.Parse(token)
	if err != nil {
		return nil, []string{fmt.Sprintf("timestamp token does not parse or verify: %v", err)}
	}
	if len(ts.Certificates) == 0 {
		return nil, []string{"timestamp token carries no TSA certificate"}
	}
	var reasons []string
	switch ts.HashAlgorithm {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		h := ts.HashAlgorithm.New()
		h.Write(signature)
		if !bytes.Equal(h.Sum(nil), ts.HashedMessage) {
			reasons = append(reasons, "timestamp does not cover this signature")
		}
	default:
		reasons = append(reasons, fmt.Sprintf("timestamp hash %v is not SHA-2", ts.HashAlgorithm))
	}
	roots := opts.TSARoots
	if roots == nil {
		roots = opts.Roots
	}
	if roots != nil {
		tsa := ts.Certificates[0]
		inter := x509.NewCertPool()
		for _, c := range ts.Certificates {
			if slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageTimeStamping) {
				tsa = c
			} else {
				inter.AddCert(c)
			}
		}
		if _, err := tsa.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: ts.Time,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
			reasons = append(reasons, fmt.Sprintf("TSA certificate is not trusted: %v", err))
		}
	}
	t := ts.Time
	return &t, reasons
}
