package signing_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"sohoa/signing"
)

var reBR = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

func byteRange(t *testing.T, pdf []byte) (loc []int, br [4]int) {
	t.Helper()
	m := reBR.FindSubmatchIndex(pdf)
	if m == nil {
		t.Fatal("no ByteRange in signed file")
	}
	for i := range 4 {
		br[i], _ = strconv.Atoi(string(pdf[m[2+2*i]:m[3+2*i]]))
	}
	return m, br
}

// TestTamperDetected: every tampering is rejected (0 false accepts) and the
// untampered file is accepted (0 false rejects).
func TestTamperDetected(t *testing.T) {
	keys, caFile := devKeys(t)
	opts := rootsFrom(t, caFile)
	s := loadSample(t, corpusSamples(t)[0])
	signed := renderSign(t, s, keys, "")
	loc, br := byteRange(t, signed)
	ctx := context.Background()

	otherKeys, _ := devKeys(t) // a different, untrusted CA
	unsigned, err := newRenderer(t).Render(ctx, s.in)
	if err != nil {
		t.Fatal(err)
	}
	resigned, err := signing.Sign(ctx, unsigned, otherKeys, signing.SignOptions{Name: "intruder"})
	if err != nil {
		t.Fatal(err)
	}
	// A valid signature from the trusted key over different content.
	s2 := s
	s2.in.Meta.ResultCode = "000.00.31.H29-250718-0043-KQ1"
	otherDoc := renderSign(t, s2, keys, "")
	_, br2 := byteRange(t, otherDoc)

	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), signed...)) }
	cases := []struct {
		name string
		pdf  []byte
	}{
		{"flip byte in first range (image data)", mutate(func(b []byte) []byte { b[br[1]/2] ^= 0x01; return b })},
		{"flip byte in first range (header)", mutate(func(b []byte) []byte { b[5] ^= 0x01; return b })},
		{"flip byte in second range", mutate(func(b []byte) []byte { b[br[2]+10] ^= 0x20; return b })},
		{"appended incremental update changing a page", mutate(func(b []byte) []byte {
			upd := fmt.Sprintf("4 0 obj\n<</Type /Page /MediaBox [0 0 100 100]>>\nendobj\nxref\n4 1\n%010d 00000 n \ntrailer\n<</Size 40 /Root 1 0 R /Prev %d>>\nstartxref\n%d\n%%%%EOF\n", len(b), br[2], len(b)+60)
			return append(b, upd...)
		})},
		{"appended junk after %%EOF", mutate(func(b []byte) []byte { return append(b, "garbage"...) })},
		{"second signature (incremental) by the trusted key", func() []byte {
			out, err := signing.Sign(ctx, signed, keys, signing.SignOptions{Name: "again"})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}()},
		{"rewritten ByteRange (shorter second range)", mutate(func(b []byte) []byte {
			old := b[loc[0]:loc[1]]
			nw := fmt.Sprintf("/ByteRange [0 %d %d %d]", br[1], br[2], br[3]-10)
			return append(b[:loc[0]], append([]byte(pad(nw, len(old))), b[loc[1]:]...)...)
		})},
		{"rewritten ByteRange (gap moved)", mutate(func(b []byte) []byte {
			old := b[loc[0]:loc[1]]
			nw := fmt.Sprintf("/ByteRange [0 %d %d %d]", br[1]-20, br[2]-20, br[3]+20)
			return append(b[:loc[0]], append([]byte(pad(nw, len(old))), b[loc[1]:]...)...)
		})},
		{"truncated CMS (second half zeroed)", mutate(func(b []byte) []byte {
			mid := br[1] + (br[2]-br[1])/4
			for i := mid; i < br[2]-1; i++ {
				b[i] = '0'
			}
			return b
		})},
		{"CMS replaced by one from another document", mutate(func(b []byte) []byte {
			other := otherDoc[br2[1]:br2[2]]
			gap := b[br[1]:br[2]]
			if len(other) > len(gap) {
				t.Fatalf("other CMS too long")
			}
			copy(gap, other)
			for i := len(other) - 1; i < len(gap)-1; i++ {
				gap[i] = '0'
			}
			gap[len(gap)-1] = '>'
			return b
		})},
		{"non-hex byte in Contents", mutate(func(b []byte) []byte { b[br[2]-2] = 'x'; return b })},
		{"truncated file", signed[:len(signed)-100]},
		{"re-signed by an untrusted key", resigned},
		{"unsigned", unsigned},
	}
	accepted := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := signing.Verify(c.pdf, opts)
			if v.Valid || err == nil {
				accepted++
				t.Fatalf("got valid verdict for tampered file, want invalid")
			}
			if !errors.Is(err, signing.ErrInvalid) {
				t.Errorf("got error %v, want ErrInvalid", err)
			}
			if len(v.Reasons) == 0 {
				t.Errorf("got no reasons for an invalid verdict")
			}
			t.Logf("reasons: %v", v.Reasons)
		})
	}
	if accepted != 0 {
		t.Errorf("false accepts: got %d, want 0", accepted)
	}
	if v, err := signing.Verify(signed, opts); err != nil || !v.Valid {
		t.Errorf("untampered file: got valid=%v err=%v, want valid", v.Valid, err)
	}
	if v, err := signing.Verify([]byte("hello"), opts); !errors.Is(err, signing.ErrNotPDF) || v.Valid {
		t.Errorf("not a PDF: got valid=%v err=%v, want ErrNotPDF", v.Valid, err)
	}
	// Expired signer (verification time after NotAfter, no timestamp).
	late := opts
	late.Now = time.Now().AddDate(20, 0, 0)
	if v, _ := signing.Verify(signed, late); v.Valid {
		t.Errorf("verification 20 years later without timestamp: got valid, want invalid")
	}
	// Without trusted roots nothing is valid.
	if v, _ := signing.Verify(signed, signing.VerifyOptions{}); v.Valid {
		t.Errorf("no roots: got valid, want invalid")
	}
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s[:len(s)-1] + string(bytes.Repeat([]byte(" "), n-len(s))) + "]"
}

// swapHexCase swaps the case of the hex digits of the signature's /Contents,
// the one part of a signed file the signature cannot cover: the file's
// SHA-256 changes, the signature stays valid.
func swapHexCase(t *testing.T, pdf []byte) []byte {
	t.Helper()
	_, br := byteRange(t, pdf)
	out := bytes.Clone(pdf)
	n := 0
	for i := br[1] + 1; i < br[2]-1; i++ {
		switch c := out[i]; {
		case c >= 'a' && c <= 'f':
			out[i], n = c-'a'+'A', n+1
		case c >= 'A' && c <= 'F':
			out[i], n = c-'A'+'a', n+1
		}
	}
	if n == 0 {
		t.Fatal("no hex letter in /Contents to swap")
	}
	return out
}

// TestVerdictNamesWhatIsSigned: the verdict carries the result code of the
// signed XMP and the digest of the signed bytes, and both survive a change
// of the unsigned /Contents encoding that changes the file's SHA-256.
func TestVerdictNamesWhatIsSigned(t *testing.T) {
	keys, caFile := devKeys(t)
	opts := rootsFrom(t, caFile)
	s := loadSample(t, corpusSamples(t)[0])
	signed := renderSign(t, s, keys, "")
	v, err := signing.Verify(signed, opts)
	if err != nil || !v.Valid {
		t.Fatalf("Verify: %v %v", err, v.Reasons)
	}
	digest, err := signing.SignedSHA256(signed)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(keys.Cert().Raw)
	if v.ResultCode != s.in.Meta.ResultCode || v.SignedSHA256 != digest || v.SignerCertSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("got code %q signed %s signer %s; want %q, %s, the signer's", v.ResultCode, v.SignedSHA256, v.SignerCertSHA256, s.in.Meta.ResultCode, digest)
	}
	swapped := swapHexCase(t, signed)
	if sha256.Sum256(swapped) == sha256.Sum256(signed) {
		t.Fatal("case swap left the file's SHA-256 unchanged")
	}
	v2, err := signing.Verify(swapped, opts)
	if err != nil || !v2.Valid {
		t.Fatalf("swapped case: %v %v (the signature does not cover /Contents)", err, v2.Reasons)
	}
	if v2.ResultCode != v.ResultCode || v2.SignedSHA256 != v.SignedSHA256 {
		t.Errorf("swapped case: got code %q signed %s, want %q %s", v2.ResultCode, v2.SignedSHA256, v.ResultCode, v.SignedSHA256)
	}
	if _, err := signing.SignedSHA256([]byte("%PDF-1.7\n%%EOF\n")); !errors.Is(err, signing.ErrInvalid) {
		t.Errorf("SignedSHA256 of an unsigned file: got %v, want ErrInvalid", err)
	}
}
