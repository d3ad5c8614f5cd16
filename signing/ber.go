package signing

import (
	"errors"
	"fmt"
)

// Bounds on the CMS blob of a signature, checked before any parser sees it.
// digitorus/pkcs7 turns BER into DER recursively, one stack frame per level:
// a blob of a few million nested indefinite-length sequences overflows the
// goroutine stack, a fatal error that no recover() catches and that ends the
// whole process. Our signatures are a few kilobytes and about 20 levels deep
// (a timestamp token's certificates are the deepest part); the bounds leave
// room for chains, timestamps and embedded revocation data.
const (
	maxCMSBytes    = 1 << 20
	maxCMSDepth    = 64
	maxCMSElements = 100_000
)

// Why scanBER refused a blob.
var (
	errBERTooDeep   = errors.New("too deeply nested")
	errBERTooMany   = errors.New("too many elements")
	errBERMalformed = errors.New("not BER")
)

// berFrame is an open constructed element: end is the offset just past its
// content, or -1 for an indefinite length (it ends at the end-of-contents
// octets 00 00); bound is how far its content may reach.
type berFrame struct{ end, bound int }

// scanBER walks the BER element at the start of b without recursion and
// returns its encoded length. It refuses, without reading further, an
// element nested deeper than maxDepth constructed levels (errBERTooDeep),
// more than maxElements elements (errBERTooMany), and anything that is not
// BER: a truncated header or content, a length past its parent's end, a
// primitive with an indefinite length, a misplaced end-of-contents
// (errBERMalformed). Its cost is linear in the bytes it reads.
func scanBER(b []byte, maxDepth, maxElements int) (int, error) {
	var stack []berFrame
	off, elements := 0, 0
	for {
		// Close the elements that end here.
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if top.end >= 0 {
				if off != top.end {
					break
				}
			} else {
				if off+2 > top.bound {
					return 0, fmt.Errorf("%w: indefinite length without end-of-contents at byte %d", errBERMalformed, off)
				}
				if b[off] != 0 || b[off+1] != 0 {
					break
				}
				off += 2
			}
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 && elements > 0 {
			return off, nil
		}
		bound := len(b)
		if len(stack) > 0 {
			bound = stack[len(stack)-1].bound
		}
		h, err := berHeaderAt(b[:bound], off)
		if err != nil {
			return 0, err
		}
		if elements++; elements > maxElements {
			return 0, fmt.Errorf("%w (more than %d)", errBERTooMany, maxElements)
		}
		start := off + h.size
		switch {
		case !h.constructed:
			off = start + h.length
		case len(stack) >= maxDepth:
			return 0, fmt.Errorf("%w (more than %d levels)", errBERTooDeep, maxDepth)
		case h.indefinite:
			stack = append(stack, berFrame{end: -1, bound: bound})
			off = start
		default:
			stack = append(stack, berFrame{end: start + h.length, bound: start + h.length})
			off = start
		}
	}
}

// berHeader is an element's identifier and length octets.
type berHeader struct {
	size        int // bytes of identifier and length octets
	length      int // content bytes; 0 when indefinite
	constructed bool
	indefinite  bool
}

// berHeaderAt reads the header of the element at b[off:], whose content must
// end within b.
func berHeaderAt(b []byte, off int) (berHeader, error) {
	var h berHeader
	bad := func(why string) (berHeader, error) {
		return berHeader{}, fmt.Errorf("%w: %s at byte %d", errBERMalformed, why, off)
	}
	p := off
	if p >= len(b) {
		return bad("element expected")
	}
	id := b[p]
	p++
	h.constructed = id&0x20 != 0
	switch {
	case id&0x1f == 0x1f: // high tag number: base-128 digits, the last below 0x80
		for n := 0; ; n++ {
			if p >= len(b) || n == 4 {
				return bad("tag number too long or truncated")
			}
			c := b[p]
			p++
			if c < 0x80 {
				break
			}
		}
	case id&^0x20 == 0: // universal tag 0 is end-of-contents, only valid closing an indefinite length
		return bad("misplaced end-of-contents")
	}
	if p >= len(b) {
		return bad("length expected")
	}
	l := b[p]
	p++
	switch {
	case l < 0x80:
		h.length = int(l)
	case l == 0x80:
		if !h.constructed {
			return bad("indefinite length on a primitive element")
		}
		h.indefinite = true
	case l == 0xff:
		return bad("reserved length octet")
	default:
		n := int(l & 0x7f)
		if n > 4 || p+n > len(b) {
			return bad("length too long or truncated")
		}
		for range n {
			h.length = h.length<<8 | int(b[p])
			p++
		}
	}
	h.size = p - off
	if h.length > len(b)-p {
		return bad("length past the end of its container")
	}
	return h, nil
}
