package signing

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"sohoa/storage"
)

// Stamp geometry, in points.
const (
	stampFontSize = 10.0
	stampLeading  = 11.5
	stampMaxWidth = 235.0
	stampPad      = 4.0
	stampMargin   = 8.0
	qrSize        = 68.0
	// The QR caption: small type, wrapped to a little more than the code.
	captionFontSize = 7.0
	captionLeading  = 8.0
	captionWidth    = 84.0
)

type stampLine struct {
	text string
	bold bool
}

type stamp struct {
	lines   []stampLine
	caption []string // under the QR code
}

// Vietnamese stamp wording (domain.md §4(e); placeholder until Decree 45
// Art. 25(3)(c) is read).
func (r *Renderer) stampLayout(m Metadata) stamp {
	title := "Bản điện tử chuyển đổi từ bản giấy"
	agencyLabel, timeLabel := "Cơ quan chuyển đổi: ", "Thời điểm chuyển đổi: "
	if m.BornDigital {
		title = "Bản điện tử"
		agencyLabel, timeLabel = "Cơ quan cấp: ", "Thời điểm cấp: "
	}
	valid := "Hiệu lực: không thời hạn"
	if m.ValidUntil != "" {
		valid = "Hiệu lực đến: " + m.ValidUntil
	}
	if m.ValidityScope != "" {
		valid += " | Phạm vi: " + m.ValidityScope
	}
	lines := []string{"Mã kết quả: " + m.ResultCode}
	if m.IssuingAuthority != "" && !m.BornDigital {
		lines = append(lines, "Cơ quan cấp bản gốc: "+m.IssuingAuthority)
	}
	lines = append(lines,
		agencyLabel+m.Agency,
		timeLabel+VietnameseTime(m.ConvertedAt),
		valid,
		HashLabel+": "+HashDisplay(m.SourceSHA256),
	)
	st := stamp{lines: []stampLine{{title, true}}}
	for _, s := range lines {
		for _, l := range wrap(r.serif, s, stampFontSize, stampMaxWidth-2*stampPad) {
			st.lines = append(st.lines, stampLine{text: l})
		}
	}
	st.caption = wrap(r.serif, QRCaption, captionFontSize, captionWidth)
	return st
}

// QRCaption is printed under the QR code.
const QRCaption = "Quét mã để kiểm tra kết quả điện tử"

// HashLabel names the hash the stamp and the public verification page show:
// the SHA-256 of the source scan, the file the conversion started from.
const HashLabel = "Mã băm bản quét gốc (SHA-256)"

// HashDisplay is how the stamp and the public verification page write the
// source scan's SHA-256 (hex): its first 16 hex digits and an ellipsis.
func HashDisplay(sha256hex string) string {
	if len(sha256hex) <= 16 {
		return sha256hex
	}
	return sha256hex[:16] + "…"
}

// VietnameseTime writes t as Vietnamese officials do, in Asia/Ho_Chi_Minh:
// "03 giờ 04 phút, ngày 02/12/2026". The ISO 8601 form stays in the
// metadata.
func VietnameseTime(t time.Time) string {
	t = t.In(storage.Vietnam())
	return fmt.Sprintf("%02d giờ %02d phút, ngày %02d/%02d/%04d", t.Hour(), t.Minute(), t.Day(), int(t.Month()), t.Year())
}

// wrap splits s into lines no wider than width at size, breaking at spaces.
func wrap(f *ttfFont, s string, size, width float64) []string {
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		cand := word
		if line != "" {
			cand = line + " " + word
		}
		if line != "" && f.textWidth(cand, size) > width {
			out = append(out, line)
			cand = "  " + word // hanging indent
		}
		line = cand
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

func (s stamp) regularRunes() []rune { return s.runes(false) }
func (s stamp) boldRunes() []rune    { return s.runes(true) }

func (s stamp) runes(bold bool) []rune {
	var rs []rune
	for _, l := range s.lines {
		if l.bold == bold {
			rs = append(rs, []rune(l.text)...)
		}
	}
	if !bold {
		for _, l := range s.caption {
			rs = append(rs, []rune(l)...)
		}
	}
	if len(rs) == 0 {
		rs = []rune{' '}
	}
	return rs
}

// bandHeight is the height of the band page 1 grows above the scan to hold
// the stamp block and the QR code.
func (s stamp) bandHeight() float64 {
	bh := float64(len(s.lines))*stampLeading + 2*stampPad
	return max(bh, s.qrBlockHeight()) + 2*stampMargin
}

// qrBlockHeight is the height of the QR code with its caption.
func (s stamp) qrBlockHeight() float64 {
	return qrSize + 4 + float64(len(s.caption))*captionLeading
}

// draw writes the stamp block (upper right, white box, black 10 pt text) and
// the QR code (upper left, white box) onto a page of size pw×ph points.
func (s stamp) draw(b *bytes.Buffer, pw, ph float64, serif, bold *ttfFont) {
	width := 0.0
	for _, l := range s.lines {
		f := serif
		if l.bold {
			f = bold
		}
		width = max(width, f.textWidth(l.text, stampFontSize))
	}
	bw := width + 2*stampPad
	bh := float64(len(s.lines))*stampLeading + 2*stampPad
	x := pw - stampMargin - bw
	y := ph - stampMargin - bh
	fmt.Fprintf(b, "q 1 1 1 rg 0 0 0 RG 0.6 w %s %s %s %s re B Q\n", pdfNum(x), pdfNum(y), pdfNum(bw), pdfNum(bh))
	b.WriteString("BT 0 Tr 0 0 0 rg 100 Tz\n")
	for i, l := range s.lines {
		f, res := serif, "/Se"
		if l.bold {
			f, res = bold, "/SeB"
		}
		var hex strings.Builder
		for _, r := range l.text {
			fmt.Fprintf(&hex, "%04X", f.glyph(r))
		}
		base := ph - stampMargin - stampPad - float64(i+1)*stampLeading + 2.5
		fmt.Fprintf(b, "%s %s Tf 1 0 0 1 %s %s Tm <%s> Tj\n", res, pdfNum(stampFontSize), pdfNum(x+stampPad), pdfNum(base), hex.String())
	}
	b.WriteString("ET\n")
	qx, qy := stampMargin, ph-stampMargin-qrSize
	fmt.Fprintf(b, "q 1 1 1 rg %s %s %s %s re f Q\n", pdfNum(qx-2), pdfNum(qy-2), pdfNum(qrSize+4), pdfNum(qrSize+4))
	fmt.Fprintf(b, "q %s 0 0 %s %s %s cm /QR Do Q\n", pdfNum(qrSize), pdfNum(qrSize), pdfNum(qx), pdfNum(qy))
	if len(s.caption) == 0 {
		return
	}
	// The caption, centred under the code.
	b.WriteString("BT 0 Tr 0 0 0 rg 100 Tz\n")
	for i, l := range s.caption {
		var hex strings.Builder
		for _, r := range l {
			fmt.Fprintf(&hex, "%04X", serif.glyph(r))
		}
		x := qx + (qrSize-serif.textWidth(l, captionFontSize))/2
		base := qy - 2 - float64(i+1)*captionLeading + 1.5
		fmt.Fprintf(b, "/Se %s Tf 1 0 0 1 %s %s Tm <%s> Tj\n", pdfNum(captionFontSize), pdfNum(max(x, 2)), pdfNum(base), hex.String())
	}
	b.WriteString("ET\n")
}

// qrPayload is the TT 01/2023 Art. 26 minimum content plus the verification
// URL. The holder identifier is masked to its last 4 digits (domain.md §4(f).7).
func (r *Renderer) qrPayload(m Metadata) string {
	valid := "không thời hạn"
	if m.ValidUntil != "" {
		valid = m.ValidUntil
	}
	lines := []string{
		"Mã hồ sơ: " + m.DossierCode,
		"Mã TTHC: " + m.ProcedureCode,
		"Người được cấp: " + storage.MaskID(m.HolderID),
		"Giấy tờ: " + m.Title,
		"Hệ thống: " + r.system,
		"Thời gian cấp: " + m.ConvertedAt.In(storage.Vietnam()).Format("2006-01-02T15:04:05-07:00"),
		"Hiệu lực: " + valid,
	}
	if m.ValidityScope != "" {
		lines = append(lines, "Phạm vi: "+m.ValidityScope)
	}
	if m.VerifyURL != "" {
		lines = append(lines, m.VerifyURL)
	}
	return strings.Join(lines, "\n")
}

// qrImage encodes payload as a 1-bit image, one sample per module, drawn
// without interpolation.
func qrImage(w *pdfWriter, payload string) (int, error) {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return 0, fmt.Errorf("qr code: %w", err)
	}
	bm := q.Bitmap() // includes the quiet zone; true = black
	n := len(bm)
	stride := (n + 7) / 8
	data := make([]byte, stride*n)
	for y, row := range bm {
		for x, black := range row {
			if !black {
				data[y*stride+x/8] |= 0x80 >> (x % 8)
			}
		}
	}
	return w.addStream(fmt.Sprintf(" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 1 /Interpolate false", n, n), data, true), nil
}

// docInfo is the document metadata mirrored in Info and XMP.
type docInfo struct {
	title, author, subject, keywords, creator, producer, date, xmpDate string
	custom                                                             [][2]string
	pdfaPart                                                           int // 2, or 3 with an associated file
}

func (r *Renderer) infoFields(m Metadata) docInfo {
	t := m.ConvertedAt.In(storage.Vietnam())
	title := m.Title
	if title == "" {
		title = m.ResultCode
	}
	return docInfo{
		title:    title,
		author:   m.Agency,
		subject:  strings.TrimSpace(m.DocType + " " + m.ResultCode),
		keywords: strings.Join(nonEmpty(m.ResultCode, m.DossierCode, m.DocType), ", "),
		creator:  r.system,
		producer: "sohoa signing",
		date:     t.Format("D:20060102150405-07'00'"),
		xmpDate:  t.Format("2006-01-02T15:04:05-07:00"),
		pdfaPart: 2,
		custom: [][2]string{
			{"ResultCode", m.ResultCode},
			{"DocType", m.DocType},
			{"ConvertingAgency", m.Agency},
			{"ConvertingAgencyCode", m.AgencyCode},
			{"IssuingAuthority", m.IssuingAuthority},
			{"IssueDate", m.IssueDate},
			{"ConvertedAt", t.Format("2006-01-02T15:04:05-07:00")},
			{"SourceSHA256", m.SourceSHA256},
		},
	}
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (d docInfo) infoDict() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<</Title %s /Author %s /Subject %s /Keywords %s /Creator %s /Producer %s /CreationDate (%s) /ModDate (%s)",
		pdfTextString(d.title), pdfTextString(d.author), pdfTextString(d.subject), pdfTextString(d.keywords),
		pdfTextString(d.creator), pdfTextString(d.producer), d.date, d.date)
	for _, kv := range d.custom {
		fmt.Fprintf(&b, " %s %s", pdfName("Sohoa"+kv[0]), pdfTextString(kv[1]))
	}
	b.WriteString(">>")
	return b.String()
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// xmp returns the XMP packet: Dublin Core, XMP basic, PDF and PDF/A
// identification (part 2, or 3 with an associated file; conformance B) and a custom sohoa schema declared
// through the PDF/A extension schema mechanism.
func (d docInfo) xmp() string {
	var custom, props strings.Builder
	for _, kv := range d.custom {
		fmt.Fprintf(&custom, "   <sohoa:%s>%s</sohoa:%s>\n", kv[0], xmlText(kv[1]), kv[0])
		fmt.Fprintf(&props, `       <rdf:li rdf:parseType="Resource"><pdfaProperty:name>%s</pdfaProperty:name><pdfaProperty:valueType>Text</pdfaProperty:valueType><pdfaProperty:category>external</pdfaProperty:category><pdfaProperty:description>%s</pdfaProperty:description></rdf:li>
`, kv[0], kv[0])
	}
	return `<?xpacket begin="` + "\ufeff" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
    xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
    xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
    xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#"
    xmlns:sohoa="urn:sohoa:eresult:1.0:">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">` + xmlText(d.title) + `</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>` + xmlText(d.author) + `</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">` + xmlText(d.subject) + `</rdf:li></rdf:Alt></dc:description>
   <pdf:Keywords>` + xmlText(d.keywords) + `</pdf:Keywords>
   <pdf:Producer>` + xmlText(d.producer) + `</pdf:Producer>
   <xmp:CreatorTool>` + xmlText(d.creator) + `</xmp:CreatorTool>
   <xmp:CreateDate>` + d.xmpDate + `</xmp:CreateDate>
   <xmp:ModifyDate>` + d.xmpDate + `</xmp:ModifyDate>
   <xmp:MetadataDate>` + d.xmpDate + `</xmp:MetadataDate>
   <pdfaid:part>` + fmt.Sprint(d.pdfaPart) + `</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
` + custom.String() + `   <pdfaExtension:schemas>
    <rdf:Bag>
     <rdf:li rdf:parseType="Resource">
      <pdfaSchema:schema>sohoa e-result</pdfaSchema:schema>
      <pdfaSchema:namespaceURI>urn:sohoa:eresult:1.0:</pdfaSchema:namespaceURI>
      <pdfaSchema:prefix>sohoa</pdfaSchema:prefix>
      <pdfaSchema:property>
       <rdf:Seq>
` + props.String() + `       </rdf:Seq>
      </pdfaSchema:property>
     </rdf:li>
    </rdf:Bag>
   </pdfaExtension:schemas>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>`
}
