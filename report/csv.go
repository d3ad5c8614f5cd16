package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"sohoa/storage"
)

// CSVHeader is the header row of the monthly CSV, in Vietnamese.
var CSVHeader = []string{
	"Nhóm", "Mã / tên", "Hồ sơ tiếp nhận", "Hồ sơ đã số hóa", "Tỷ lệ hồ sơ số hóa (%)",
	"Tệp tiếp nhận", "Tệp đã số hóa", "Tài liệu kết quả", "Kết quả điện tử đã cấp", "Tỷ lệ cấp kết quả điện tử (%)",
	"Đang chờ kiểm tra", "Chờ lâu nhất (giờ)", "Thời gian chờ trung vị (giờ)", "Bị từ chối khi kiểm tra", "Tệp cách ly",
	"Thời gian tiếp nhận → cấp, trung vị (giờ)", "Thời gian tiếp nhận → cấp, phân vị 90 (giờ)",
	"Lượt tái sử dụng kết quả", "Yêu cầu khai thác",
}

// WriteCSV writes the report as CSV for a spreadsheet: UTF-8 with a byte
// order mark (so Excel reads Vietnamese), a Vietnamese header row, one row
// for the total, each office and each procedure, then the backfill and the
// reuse by system. A cell that a spreadsheet would read as a formula (it
// starts with = + - @, a tab or a carriage return) is prefixed with '.
func WriteCSV(w io.Writer, rep Report) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	write := func(cells ...string) {
		for i := range cells {
			cells[i] = csvCell(cells[i])
		}
		cw.Write(cells)
	}
	write("Báo cáo số hóa hồ sơ, kết quả giải quyết thủ tục hành chính — " + rep.Month.Label())
	write("Số liệu tính đến", rep.At.In(storage.Vietnam()).Format("15:04 02/01/2006"))
	write(CSVHeader...)
	row := func(kind, label string, f Figures) {
		write(kind, label, n(f.Received), n(f.Digitized), pct(f.DigitizedRate()),
			n(f.Files), n(f.FilesDigitized), n(f.ResultDocs), n(f.Issued), pct(f.IssuedRate()),
			n(f.InReview), hours(f.ReviewOldest, f.InReview), hours(f.ReviewMedian, f.InReview), n(f.Rejected), n(f.Quarantined),
			hours(f.IssueMedian, f.IssueTimes), hours(f.IssueP90, f.IssueTimes),
			n(f.Reuses), n(f.ReuseRequests))
	}
	row("Tổng cộng", "Toàn cơ quan", rep.Total)
	for _, r := range rep.Offices {
		row("Đơn vị tiếp nhận", r.Label, r.Figures)
	}
	for _, r := range rep.Procedures {
		row("Thủ tục", r.Label, r.Figures)
	}
	write()
	write("Số hóa hồ sơ cũ (từ trước đến nay)", "Đã lưu", "Đã xử lý", "Còn chờ xử lý", "Tỷ lệ đã xử lý (%)", "Cách ly", "Kết quả đã cấp", "Lưu trong tháng")
	b := rep.Backfill
	write("", n(b.Stored), n(b.Processed), n(b.Pending()), pct(b.ProcessedRate()), n(b.Quarantined), n(b.Issued), n(b.StoredMonth))
	write()
	write("Tái sử dụng theo hệ thống khai thác", "Mã hệ thống", "Yêu cầu", "Lượt kết quả")
	for _, c := range rep.Clients {
		write("", c.Client, n(c.Requests), n(c.Results))
	}
	cw.Flush()
	return cw.Error()
}

// csvCell defuses a cell a spreadsheet would evaluate.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func n(v int) string { return strconv.Itoa(v) }

// pct is a share in percent with one decimal, comma-free; "" when there is
// nothing to share.
func pct(r float64, ok bool) string {
	if !ok {
		return ""
	}
	return strconv.FormatFloat(r*100, 'f', 1, 64)
}

// hours is a duration in hours with one decimal; "" when nothing was
// measured.
func hours(d time.Duration, count int) string {
	if count == 0 {
		return ""
	}
	return fmt.Sprintf("%.1f", d.Hours())
}
