package signing

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"sohoa/signing/signingtest"
)

// der builds a definite-length element; content may be nested elements.
func der(tag byte, content ...[]byte) []byte {
	c := bytes.Join(content, nil)
	var n []byte
	for l := len(c); l > 0; l >>= 8 {
		n = append([]byte{byte(l)}, n...)
	}
	out := []byte{tag}
	if len(c) < 0x80 {
		out = append(out, byte(len(c)))
	} else {
		out = append(append(out, 0x80|byte(len(n))), n...)
	}
	return append(out, c...)
}

// nestedDER is depth definite-length SEQUENCEs, one in the other.
func nestedDER(depth int) []byte {
	b := der(0x05) // NULL
	for range depth {
		b = der(0x30, b)
	}
	return b
}

func TestScanBER(t *testing.T) {
	null := der(0x05)
	tests := []struct {
		name string
		in   []byte
		n    int   // the element's length when accepted; -1: all of in
		want error // nil: accepted
	}{
		{"tiny DER", []byte{0x30, 0x03, 0x02, 0x01, 0x00}, 5, nil},
		{"trailing padding is not read", []byte{0x30, 0x03, 0x02, 0x01, 0x00, 0, 0, 0}, 5, nil},
		{"indefinite BER", []byte{0x30, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00}, 7, nil},
		{"high tag number", []byte{0xbf, 0x81, 0x01, 0x02, 0x05, 0x00}, 6, nil},
		{"long-form length", append([]byte{0x04, 0x81, 0x80}, make([]byte, 0x80)...), 0x83, nil},
		{"64 levels", nestedDER(64), -1, nil},
		{"65 levels", nestedDER(65), 0, errBERTooDeep},
		{"nested indefinite", signingtest.NestedCMS(100), 0, errBERTooDeep},
		{"100000 elements", der(0x30, bytes.Repeat(null, maxCMSElements-1)), -1, nil},
		{"too many elements", der(0x30, bytes.Repeat(null, maxCMSElements)), 0, errBERTooMany},
		{"empty", nil, 0, errBERMalformed},
		{"truncated header", []byte{0x30}, 0, errBERMalformed},
		{"truncated content", []byte{0x04, 0x05, 0x01}, 0, errBERMalformed},
		{"child past parent", []byte{0x30, 0x02, 0x04, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05}, 0, errBERMalformed},
		{"indefinite primitive", []byte{0x04, 0x80, 0x00, 0x00}, 0, errBERMalformed},
		{"indefinite not closed", []byte{0x30, 0x80, 0x05, 0x00}, 0, errBERMalformed},
		{"end-of-contents first", []byte{0x00, 0x00}, 0, errBERMalformed},
		{"end-of-contents in definite", []byte{0x30, 0x02, 0x00, 0x00}, 0, errBERMalformed},
		{"5-byte length", []byte{0x04, 0x85, 0, 0, 0, 0, 1, 0}, 0, errBERMalformed},
		{"reserved length", []byte{0x04, 0xff, 0}, 0, errBERMalformed},
		{"endless tag number", []byte{0x1f, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00}, 0, errBERMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := scanBER(tc.in, maxCMSDepth, maxCMSElements)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %d, %v; want error %v", n, err, tc.want)
			}
			if tc.n < 0 {
				tc.n = len(tc.in)
			}
			if err == nil && n != tc.n {
				t.Errorf("got length %d, want %d", n, tc.n)
			}
		})
	}
}

// TestVerifyRefusesHostileCMS: a CMS past the bounds is refused before any
// parser sees it, with a reason that says why and ErrLimit. The first case
// is the file that ended the server with "fatal error: stack overflow" in
// pkcs7.Parse (3 million nested indefinite-length sequences, 12 MB).
func TestVerifyRefusesHostileCMS(t *testing.T) {
	tests := []struct {
		name string
		cms  []byte
		want string
	}{
		{"3 million nested indefinite", signingtest.NestedCMS(3_000_000), "too deeply nested"},
		{"65 nested definite", nestedDER(65), "too deeply nested"},
		{"too many elements", der(0x30, bytes.Repeat(der(0x05), maxCMSElements+1)), "too many elements"},
		{"too large", der(0x30, der(0x04, make([]byte, maxCMSBytes))), "more than the 1048576 allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Verify(signingtest.SignedShell(tc.cms), VerifyOptions{Roots: nil})
			if v.Valid || !errors.Is(err, ErrLimit) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got valid=%v err=%v, want invalid with ErrLimit and ErrInvalid", v.Valid, err)
			}
			if len(v.Reasons) == 0 || !strings.Contains(v.Reasons[0], tc.want) {
				t.Errorf("got reasons %q, want the first to say %q", v.Reasons, tc.want)
			}
		})
	}
	// Within the bounds, the same shell reaches the CMS parser, which
	// refuses it as an ordinary invalid signature.
	v, err := Verify(signingtest.SignedShell(signingtest.NestedCMS(40)), VerifyOptions{Roots: nil})
	if v.Valid || errors.Is(err, ErrLimit) || !errors.Is(err, ErrInvalid) {
		t.Errorf("40 levels: got valid=%v err=%v, want invalid without ErrLimit", v.Valid, err)
	}
}

// berRef is a recursive reference reader of one BER element, as plainly as
// X.690 puts it, bounded only by the fuzzer's input size (its recursion is
// cut at refMaxDepth). It returns the element's length, the deepest
// constructed nesting and the number of elements.
func berRef(b []byte, level int) (n, depth, count int, err error) {
	if level > refMaxDepth {
		return 0, level, 0, errBERTooDeep
	}
	h, err := berHeaderAt(b, 0)
	if err != nil {
		return 0, 0, 0, err
	}
	count = 1
	if !h.constructed {
		return h.size + h.length, 0, 1, nil
	}
	depth = 1
	off, end := h.size, h.size+h.length
	if h.indefinite {
		end = len(b)
	}
	for {
		if h.indefinite {
			if off+2 > len(b) {
				return 0, 0, 0, errBERMalformed
			}
			if b[off] == 0 && b[off+1] == 0 {
				return off + 2, depth, count, nil
			}
		} else if off == end {
			return end, depth, count, nil
		}
		cn, cd, cc, err := berRef(b[off:end], level+1)
		if err != nil {
			return 0, 0, 0, err
		}
		off, depth, count = off+cn, max(depth, cd+1), count+cc
	}
}

const refMaxDepth = 200

// FuzzScanBER: the iterative pre-check never panics and agrees with the
// recursive reference reader: it accepts exactly the elements the reference
// reads within the depth and element bounds, with the same length.
func FuzzScanBER(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Add([]byte{0x30, 0x80, 0x30, 0x80, 0x00, 0x00, 0x00, 0x00})
	f.Add(nestedDER(8))
	f.Add(signingtest.NestedCMS(9))
	f.Add([]byte{0xbf, 0x81, 0x01, 0x02, 0x05, 0x00})
	f.Add([]byte{0x30, 0x02, 0x00, 0x00})
	if st, reasons := checkStructure(signedSeed(f)); len(reasons) == 0 {
		f.Add(st.cms) // a real CMS with its certificate chain
	} else {
		f.Fatalf("signed seed: %v", reasons)
	}
	const depth, elements = 6, 40 // small, so the fuzzer reaches both bounds
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := scanBER(b, depth, elements)
		rn, rd, rc, rerr := berRef(b, 0)
		if rerr == nil && (rd > depth || rc > elements) {
			rerr = errBERTooDeep // over a bound: the pre-check must refuse
		}
		if (err == nil) != (rerr == nil) {
			t.Fatalf("scanBER = %d, %v; reference = %d (depth %d, %d elements), %v", n, err, rn, rd, rc, rerr)
		}
		if err == nil && n != rn {
			t.Fatalf("scanBER length %d, reference %d", n, rn)
		}
		if err == nil && (n > len(b) || n < 2) {
			t.Fatalf("scanBER length %d of a %d-byte input", n, len(b))
		}
	})
}
