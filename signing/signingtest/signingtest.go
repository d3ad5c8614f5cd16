// Package signingtest builds hostile inputs for tests of the signature
// verifier and of the code that runs it.
package signingtest

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// NestedCMS is a BER blob: a definite-length SEQUENCE holding depth nested
// indefinite-length SEQUENCEs, 4 bytes a level. About two million levels
// (8 MB) overflowed the goroutine stack in digitorus/pkcs7's recursive BER
// reader, a fatal error that ended the whole process.
func NestedCMS(depth int) []byte {
	inner := make([]byte, 0, 4*depth)
	inner = append(inner, bytes.Repeat([]byte{0x30, 0x80}, depth)...)
	inner = append(inner, make([]byte, 2*depth)...) // the end-of-contents octets
	var n []byte
	for l := len(inner); l > 0; l >>= 8 {
		n = append([]byte{byte(l)}, n...)
	}
	out := []byte{0x30}
	if len(inner) < 0x80 {
		out = append(out, byte(len(inner)))
	} else {
		out = append(append(out, 0x80|byte(len(n))), n...)
	}
	return append(out, inner...)
}

// SignedShell is a minimal file shaped like a signed e-result: one signature
// dictionary whose /ByteRange covers everything but the /Contents hex string
// holding cms, and one final %%EOF. It passes every byte-level check of
// signing.Verify, so cms reaches the CMS checks.
func SignedShell(cms []byte) []byte {
	const head = "%%PDF-1.7\n1 0 obj\n<</Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 %010d %010d %010d] /Contents "
	const tail = " >>\nendobj\ntrailer\n<<>>\n%%EOF\n"
	gap := 2 + hex.EncodedLen(len(cms))
	b := len(fmt.Sprintf(head, 0, 0, 0))
	c := b + gap
	out := fmt.Appendf(nil, head, b, c, len(tail))
	out = append(out, '<')
	out = hex.AppendEncode(out, cms)
	out = append(out, '>')
	return append(out, tail...)
}
