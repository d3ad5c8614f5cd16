// This file owns the reason codes the pipeline gives itself (review reasons,
// refusals at the intake door) and the one table of what counter staff read
// for each code, in Vietnamese.

package pipeline

import (
	"regexp"
	"strings"
)

// ReasonResultCodeTaken sends a document to review when its dossier's
// result codes belong to another upload: the dossier code it came with is
// another dossier's, and a person decides whether it is another result of
// that dossier (approve: it is numbered after the dossier's results) or a
// mistake (reject).
const ReasonResultCodeTaken = "result_code_taken"

// Reasons a file is refused at the intake door (Submission.Reason).
const (
	RefusedEmpty           = "empty"
	RefusedTooLarge        = "too_large"
	RefusedInterrupted     = "upload_interrupted"
	RefusedDossierFormat   = "dossier_code_malformed"
	RefusedDossierAgency   = "dossier_code_foreign"
	RefusedDossierDate     = "dossier_code_date"
	RefusedDossierTaken    = "dossier_code_taken"
	RefusedTooManyFiles    = "too_many_files"
	RefusedRateLimited     = "rate_limited"
	RefusedUnavailable     = "unavailable"
	RefusedStoredNotQueued = "stored_not_queued"
)

// StaffTexts is what the staff web app shows counter staff for each reason
// code: refusals at the door, quarantine codes and review reasons. A code
// without a text is shown as it is.
func StaffTexts() map[string]string {
	return map[string]string{
		// Refusals at the door.
		RefusedEmpty:           "tệp rỗng",
		RefusedTooLarge:        "tệp quá lớn",
		RefusedInterrupted:     "tải lên bị gián đoạn, hãy tải lại",
		RefusedDossierFormat:   "mã hồ sơ không đúng định dạng (ví dụ 000.00.31.H29-250718-0042)",
		RefusedDossierAgency:   "mã hồ sơ thuộc cơ quan khác, không phải của đơn vị này",
		RefusedDossierDate:     "ngày trong mã hồ sơ không hợp lệ (sau hôm nay hoặc quá một năm trước)",
		RefusedDossierTaken:    "mã hồ sơ đã được dùng cho hồ sơ khác; kiểm tra lại mã hoặc để trống để hệ thống cấp mã",
		RefusedTooManyFiles:    "quá nhiều tệp trong một lần tải lên; hãy chia thành nhiều lần",
		RefusedRateLimited:     "tải lên quá nhiều tệp trong thời gian ngắn; hãy thử lại sau ít phút",
		RefusedUnavailable:     "hệ thống tạm thời không lưu được tệp; hãy thử lại sau",
		RefusedStoredNotQueued: "đã lưu tệp, hệ thống sẽ tự xử lý khi hàng đợi sẵn sàng",
		// Quarantine codes (classify).
		CodeUnreadable:  "tệp hỏng hoặc không đọc được",
		CodeEncrypted:   "tệp có mật khẩu",
		CodeUnsupported: "định dạng không hỗ trợ",
		CodeOCRCrash:    "không nhận dạng được tệp",
		CodeOCRTimeout:  "nhận dạng quá lâu, đã dừng",
		// Review reasons of the pipeline (ocr adds its own).
		ReasonResultCodeTaken:    "mã kết quả của hồ sơ này đã được cấp cho tệp của lần tải lên khác; kiểm tra mã hồ sơ",
		"holder_id_missing":      "không đọc được số định danh cá nhân của người được cấp",
		"procedure_code_unknown": "chưa có mã thủ tục hành chính cho loại giấy tờ này",
		"no_document_recognised": "không nhận ra giấy tờ nào trong tệp",
		// Review reasons of the OCR (ocr/extract.go, reads.go, validate.go).
		// A code ending in ":" is followed by a field slug (or a page flag):
		// ReasonText adds the field's name.
		"unknown_doc_type":           "không nhận ra loại giấy tờ",
		"missing_field:":             "không đọc được thông tin bắt buộc",
		"low_confidence:":            "chữ đọc được không rõ, cần đối chiếu với bản quét",
		"invalid_date:":              "ngày tháng đọc được không hợp lệ",
		"issue_date_in_future":       "ngày cấp sau ngày hôm nay",
		"birth_after_issue":          "ngày sinh sau ngày cấp giấy",
		"valid_until_missing":        "không xác định được thời hạn hiệu lực",
		"page_flagged:":              "trang có vấn đề",
		"title_not_found":            "không đọc được tên giấy tờ, loại giấy tờ được đoán theo nội dung",
		"id_reads_disagree:":         "các lần đọc số không khớp nhau, cần chọn đúng số theo bản quét",
		"date_reads_disagree:":       "các lần đọc ngày tháng không khớp nhau",
		"id_wrong_length":            "số định danh không đủ 12 chữ số",
		"id_sex_mismatch":            "số định danh không khớp với giới tính",
		"id_century_mismatch":        "số định danh không khớp với năm sinh (thế kỷ)",
		"id_birth_year_mismatch":     "số định danh không khớp với năm sinh",
		"id_unknown_province":        "mã tỉnh trong số định danh không tồn tại",
		"id_cross_document_mismatch": "số định danh khác với số trên tờ khai cùng hồ sơ",
		// Page flags (ocr.Flag*), in page_flagged:<flag> and page_<n>_<flag>.
		"degenerate":            "trang quá nhỏ, không có chữ",
		"blank":                 "trang trắng hoặc không đọc được chữ",
		"orientation-uncertain": "không chắc chiều xoay của trang",
		"low-confidence":        "chữ trên trang mờ, đọc không chắc chắn",
		"active-content":        "tệp PDF có mã lệnh, đã bỏ qua, chỉ dùng hình ảnh trang",
		"dpi_below:":            "độ phân giải bản quét thấp hơn quy định",
		// A reviewer's correction refused (FieldError codes).
		FieldUnknown:          "không phải thông tin của loại giấy tờ này",
		FieldRequired:         "thông tin bắt buộc, hãy nhập theo bản quét",
		FieldIDFormat:         "số định danh phải gồm đúng 12 chữ số",
		FieldDateFormat:       "ngày phải theo dạng ngày/tháng/năm, ví dụ 05/03/2024",
		FieldIDChecks:         "số định danh không khớp với giấy tờ",
		FieldValidUntilNeeded: "đã sửa ngày cấp: hãy nhập cả ngày hết hạn (hoặc «none» nếu không thời hạn)",
	}
}

var pageReasonRe = regexp.MustCompile(`^page_(\d+)_(.+)$`)
var dpiReasonRe = regexp.MustCompile(`^dpi_below_(\d+)$`)

// ReasonText is what staff read for a review reason code: its text in
// texts (StaffTexts), with the field's name for a code:field reason
// (label gives a slug's name; nil shows the slug) and the page for the
// page_<n>_… reasons. A code without a text is shown as it is.
func ReasonText(texts map[string]string, code string, label func(slug string) string) string {
	if t, ok := texts[code]; ok {
		return t
	}
	if m := pageReasonRe.FindStringSubmatch(code); m != nil {
		rest := m[2]
		if d := dpiReasonRe.FindStringSubmatch(rest); d != nil {
			return "trang " + m[1] + ": " + texts["dpi_below:"] + " (" + d[1] + " dpi)"
		}
		return "trang " + m[1] + ": " + ReasonText(texts, rest, label)
	}
	if k, arg, ok := strings.Cut(code, ":"); ok {
		t, ok := texts[k+":"]
		if !ok {
			return code
		}
		if k == "page_flagged" {
			if ft, ok := texts[arg]; ok {
				return t + ": " + ft
			}
			return t + ": " + arg
		}
		name := arg
		if label != nil {
			name = label(arg)
		}
		return t + " (" + name + ")"
	}
	return code
}
