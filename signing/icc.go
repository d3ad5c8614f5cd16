package signing

import (
	"bytes"
	"encoding/binary"
	"math"
)

// srgbICC builds a small ICC v2 display profile for sRGB (D50-adapted
// primaries, the IEC 61966-2.1 tone curve sampled at 1024 points). It is
// generated rather than read from disk because Debian 12 ships no sRGB
// profile outside optional packages; the bytes are constant.
func srgbICC() []byte {
	s15 := func(f float64) uint32 { return uint32(int32(math.Round(f * 65536))) }
	xyz := func(x, y, z float64) []byte {
		var b bytes.Buffer
		b.WriteString("XYZ ")
		_ = binary.Write(&b, binary.BigEndian, []uint32{0, s15(x), s15(y), s15(z)})
		return b.Bytes()
	}
	curve := func() []byte {
		const n = 1024
		var b bytes.Buffer
		b.WriteString("curv")
		_ = binary.Write(&b, binary.BigEndian, []uint32{0, n})
		for i := 0; i < n; i++ {
			v := float64(i) / (n - 1)
			var l float64
			if v <= 0.04045 {
				l = v / 12.92
			} else {
				l = math.Pow((v+0.055)/1.055, 2.4)
			}
			_ = binary.Write(&b, binary.BigEndian, uint16(math.Round(l*65535)))
		}
		return b.Bytes()
	}
	desc := func(s string) []byte {
		var b bytes.Buffer
		b.WriteString("desc")
		_ = binary.Write(&b, binary.BigEndian, []uint32{0, uint32(len(s) + 1)})
		b.WriteString(s)
		b.WriteByte(0)
		_ = binary.Write(&b, binary.BigEndian, []uint32{0, 0}) // unicode lang, count
		_ = binary.Write(&b, binary.BigEndian, uint16(0))      // scriptcode code
		b.WriteByte(0)                                         // scriptcode count
		b.Write(make([]byte, 67))
		return b.Bytes()
	}
	text := func(s string) []byte {
		var b bytes.Buffer
		b.WriteString("text")
		_ = binary.Write(&b, binary.BigEndian, uint32(0))
		b.WriteString(s)
		b.WriteByte(0)
		return b.Bytes()
	}
	trc := curve()
	tags := []struct {
		sig  string
		data []byte
	}{
		{"desc", desc("sRGB IEC61966-2.1")},
		{"cprt", text("No copyright, use freely")},
		{"wtpt", xyz(0.9642, 1.0, 0.8249)},
		{"rXYZ", xyz(0.4361, 0.2225, 0.0139)},
		{"gXYZ", xyz(0.3851, 0.7169, 0.0971)},
		{"bXYZ", xyz(0.1431, 0.0606, 0.7141)},
		{"rTRC", trc},
		{"gTRC", trc},
		{"bTRC", trc},
	}
	var table, data bytes.Buffer
	base := 128 + 4 + 12*len(tags)
	_ = binary.Write(&table, binary.BigEndian, uint32(len(tags)))
	trcOff := -1
	for _, t := range tags {
		off := base + data.Len()
		if t.sig[1:] == "TRC" {
			if trcOff < 0 {
				trcOff = off
				data.Write(t.data)
				for data.Len()%4 != 0 {
					data.WriteByte(0)
				}
			}
			table.WriteString(t.sig)
			_ = binary.Write(&table, binary.BigEndian, []uint32{uint32(trcOff), uint32(len(t.data))})
			continue
		}
		table.WriteString(t.sig)
		_ = binary.Write(&table, binary.BigEndian, []uint32{uint32(off), uint32(len(t.data))})
		data.Write(t.data)
		for data.Len()%4 != 0 {
			data.WriteByte(0)
		}
	}
	size := base + data.Len()
	hdr := make([]byte, 128)
	binary.BigEndian.PutUint32(hdr[0:], uint32(size))
	binary.BigEndian.PutUint32(hdr[8:], 0x02100000)
	copy(hdr[12:], "mntr")
	copy(hdr[16:], "RGB ")
	copy(hdr[20:], "XYZ ")
	for i, v := range []uint16{2024, 1, 1, 0, 0, 0} {
		binary.BigEndian.PutUint16(hdr[24+2*i:], v)
	}
	copy(hdr[36:], "acsp")
	binary.BigEndian.PutUint32(hdr[68:], s15(0.9642))
	binary.BigEndian.PutUint32(hdr[72:], s15(1.0))
	binary.BigEndian.PutUint32(hdr[76:], s15(0.8249))
	out := append(hdr, table.Bytes()...)
	return append(out, data.Bytes()...)
}
