package signing

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// pngPassthrough returns an image XObject dictionary and the zlib data of a
// PNG whose IDAT stream PDF can decode directly (FlateDecode with PNG
// predictors): non-interlaced grey or RGB without transparency. ok is false
// for anything else, and the caller re-encodes losslessly instead.
func pngPassthrough(data []byte) (dict string, idat []byte, ok bool) {
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		return "", nil, false
	}
	p := 8
	var w, h uint32
	var depth, ctype, interlace byte
	var buf bytes.Buffer
	seenIHDR := false
	for p+12 <= len(data) {
		n := int(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		if n < 0 || p+12+n > len(data) {
			return "", nil, false
		}
		body := data[p+8 : p+8+n]
		if crc32.ChecksumIEEE(data[p+4:p+8+n]) != binary.BigEndian.Uint32(data[p+8+n:]) {
			return "", nil, false
		}
		switch typ {
		case "IHDR":
			if n != 13 {
				return "", nil, false
			}
			w, h = binary.BigEndian.Uint32(body), binary.BigEndian.Uint32(body[4:])
			depth, ctype, interlace = body[8], body[9], body[12]
			seenIHDR = true
		case "tRNS", "PLTE":
			return "", nil, false
		case "IDAT":
			buf.Write(body)
		case "IEND":
			p = len(data)
			continue
		}
		p += 12 + n
	}
	if !seenIHDR || interlace != 0 || w == 0 || h == 0 || buf.Len() == 0 {
		return "", nil, false
	}
	var colors int
	var cs string
	switch ctype {
	case 0:
		colors, cs = 1, "/DeviceGray"
	case 2:
		colors, cs = 3, "/DeviceRGB"
	default:
		return "", nil, false
	}
	switch depth {
	case 1, 2, 4, 8, 16:
	default:
		return "", nil, false
	}
	dict = fmt.Sprintf(" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent %d /Filter /FlateDecode /DecodeParms <</Predictor 15 /Colors %d /BitsPerComponent %d /Columns %d>>",
		w, h, cs, depth, colors, depth, w)
	return dict, buf.Bytes(), true
}
