// This file owns the reason codes the pipeline gives itself (review reasons,
// refusals at the intake door) and the one table of what counter staff read
// for each code, in Vietnamese.

package pipeline

import (
	"fmt"
	"regexp"
	"strings"

	"sohoa/ocr"
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
	RefusedProcedureFormat = "procedure_code_malformed"
	RefusedDossierPerFile  = "dossier_code_per_file"
)

// StaffTexts is what the staff web app shows counter staff for each reason
// code: refusals at the door, quarantine codes and review reasons. A key
// ending in ":" is a class of codes that name a field or a flag
// ("missing_field:full_name"); its text holds one %s for the field's name
// (FieldTexts). Say a code with StaffReason, never by looking it up alone.
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
		RefusedProcedureFormat: "mã thủ tục hành chính không đúng định dạng (ví dụ 1.004873) và không có trong danh mục thủ tục đã cấu hình",
		RefusedDossierPerFile:  "đã nhập mã hồ sơ thì cả lô là một hồ sơ; bỏ chọn «mỗi tệp một mã hồ sơ» hoặc xóa mã hồ sơ",
		// Quarantine codes (classify).
		CodeUnreadable:  "tệp hỏng hoặc không đọc được",
		CodeEncrypted:   "tệp có mật khẩu",
		CodeUnsupported: "định dạng không hỗ trợ",
		CodeOCRCrash:    "không nhận dạng được tệp",
		CodeOCRTimeout:  "nhận dạng quá lâu, đã dừng",
		CodeCorrupt:     "bản lưu của tệp bị hỏng; hãy tải tệp lên lại",
		CodeBadPayload:  "lỗi xử lý nội bộ; báo cán bộ quản trị",
		CodeSigning:     "không ký số được kết quả; báo cán bộ quản trị",
		CodeInvalid:     "kết quả không đủ thông tin bắt buộc để cấp",
		// A task that failed in every round of retries (a long outage or a
		// fault of the system, not of the file).
		CodeRetriesExhausted: "hệ thống xử lý thất bại nhiều lần liên tiếp; hãy báo quản trị viên",
		// Review reasons of the pipeline.
		ReasonResultCodeTaken:    "mã kết quả của hồ sơ này đã được cấp cho tệp của lần tải lên khác; kiểm tra mã hồ sơ",
		"holder_id_missing":      "không đọc được số định danh cá nhân của người được cấp",
		"procedure_code_unknown": "chưa có mã thủ tục hành chính cho loại giấy tờ này",
		"no_document_recognised": "không nhận ra giấy tờ nào trong tệp",
		"page_dpi_below":         "trang %s quét với độ phân giải thấp hơn %s dpi; hãy quét lại",
		"page_flag":              "trang %s: %s",
		// Inputs that arrived signed (signedpdf.go).
		ReasonSignatureInvalid:   "tệp PDF đã ký số nhưng chữ ký không hợp lệ (tệp bị sửa sau khi ký, chữ ký hỏng hoặc có nhiều chữ ký); không lưu như bản gốc điện tử",
		ReasonSignatureUntrusted: "tệp PDF có chữ ký số của cơ quan chưa nằm trong danh sách được tin cậy; cần cán bộ kiểm tra",
		ReasonSignedNotOneResult: "tệp PDF đã ký số chứa nhiều hơn một giấy tờ hoặc không nhận ra giấy tờ kết quả; cần cán bộ kiểm tra",
		// Review reasons of the OCR (package ocr).
		"unknown_doc_type":           "không xác định được loại giấy tờ",
		"title_not_found":            "không thấy tiêu đề giấy tờ; loại giấy tờ được đoán theo nội dung",
		"issue_date_in_future":       "ngày cấp sau ngày hôm nay",
		"birth_after_issue":          "ngày sinh sau ngày cấp",
		"valid_until_missing":        "không xác định được thời hạn hiệu lực",
		"id_wrong_length":            "số định danh cá nhân không đủ 12 chữ số",
		"id_sex_mismatch":            "số định danh không khớp với giới tính ghi trên giấy tờ",
		"id_century_mismatch":        "số định danh không khớp với thế kỷ của năm sinh",
		"id_birth_year_mismatch":     "số định danh không khớp với năm sinh",
		"id_unknown_province":        "mã tỉnh trong số định danh không có trong danh mục",
		"id_cross_document_mismatch": "số định danh trên tờ khai khác với trên kết quả trong cùng tệp",
		"holder_id_from_form":        "số định danh hiển thị lấy từ tờ khai trong cùng tệp (khớp giới tính và năm sinh trên giấy tờ); cần đối chiếu với giấy tờ",
		"missing_field:":             "thiếu thông tin «%s»",
		"low_confidence:":            "đọc chưa chắc chắn «%s»",
		"invalid_date:":              "ngày không hợp lệ ở «%s»",
		"id_reads_disagree:":         "hai lần đọc «%s» cho kết quả khác nhau",
		"date_reads_disagree:":       "hai lần đọc ngày ở «%s» cho kết quả khác nhau",
		"page_flagged:":              "trang có vấn đề: %s",
		// Page flags (ocr.Flag*), named by page_flagged: and page_N_.
		"flag:" + ocr.FlagBlank:            "trang trắng",
		"flag:" + ocr.FlagDegenerate:       "trang không có nội dung đọc được (ảnh quá nhỏ hoặc hỏng)",
		"flag:" + ocr.FlagLowOSD:           "không chắc chiều xoay của trang",
		"flag:" + ocr.FlagLowConfidence:    "chữ trên trang đọc không rõ",
		"flag:" + ocr.FlagActiveContent:    "tệp PDF có nội dung chủ động (đã bỏ qua)",
		"flag:" + ocr.FlagTextLayerIgnored: "lớp chữ của trang PDF không dùng được (phông chữ không có bảng mã Unicode hoặc chữ vô nghĩa); trang được nhận dạng lại từ hình ảnh",
		// A reviewer's correction refused (FieldError codes).
		FieldUnknown:          "không phải thông tin của loại giấy tờ này",
		FieldRequired:         "thông tin bắt buộc, hãy nhập theo bản quét",
		FieldIDFormat:         "số định danh phải gồm đúng 12 chữ số",
		FieldDateFormat:       "ngày phải theo dạng ngày/tháng/năm, ví dụ 05/03/2024",
		FieldIDChecks:         "số định danh không khớp với giấy tờ",
		FieldValidUntilNeeded: "đã sửa ngày cấp: hãy nhập cả ngày hết hạn (hoặc «none» nếu không thời hạn)",
	}
}

// FieldTexts names each extracted field (a layout slug) in Vietnamese.
func FieldTexts() map[string]string {
	return map[string]string{
		"book_number": "Quyển số", "business_address": "Địa điểm kinh doanh", "business_line": "Ngành, nghề kinh doanh",
		"business_name": "Tên hộ kinh doanh", "capital": "Vốn kinh doanh", "copies": "Số bản",
		"criminal_record": "Tình trạng án tích", "date_of_birth": "Ngày, tháng, năm sinh", "doc_number": "Số giấy tờ",
		"ethnicity": "Dân tộc", "father_name": "Họ tên cha", "first_registration_date": "Ngày đăng ký lần đầu",
		"full_name": "Họ, chữ đệm và tên", "hometown": "Quê quán", "household_head": "Chủ hộ",
		"issue_date": "Ngày cấp", "issuing_authority": "Cơ quan cấp", "marital_status": "Tình trạng hôn nhân",
		"mother_name": "Họ tên mẹ", "nationality": "Quốc tịch", "personal_id": "Số định danh cá nhân",
		"phone": "Số điện thoại", "place_of_birth": "Nơi sinh", "purpose": "Mục đích sử dụng",
		"recipient": "Nơi nhận", "registration_date": "Ngày đăng ký", "registration_place": "Nơi đăng ký",
		"relation_to_head": "Quan hệ với chủ hộ", "religion": "Tôn giáo", "requested_document": "Giấy tờ đề nghị cấp",
		"residence": "Nơi cư trú", "sex": "Giới tính", "signer_name": "Họ tên người ký",
		"signer_title": "Chức vụ người ký", "spouse_date_of_birth": "Ngày sinh của vợ/chồng",
		"spouse_ethnicity": "Dân tộc của vợ/chồng", "spouse_full_name": "Họ tên vợ/chồng", "spouse_name": "Họ tên vợ/chồng",
		"spouse_nationality": "Quốc tịch của vợ/chồng", "spouse_personal_id": "Số định danh của vợ/chồng",
		"spouse_residence": "Nơi cư trú của vợ/chồng", "submission_date": "Ngày nộp", "temporary_residence": "Nơi tạm trú",
		FieldHolderID: "Số định danh của người được cấp", FieldProcedureCode: "Mã thủ tục hành chính", FieldValidUntil: "Thời hạn hiệu lực",
	}
}

// unknownReason is said for a code without a text: staff never read a raw
// code.
const unknownReason = "lý do khác; cần cán bộ kiểm tra"

var (
	pageDPIRe  = regexp.MustCompile(`^page_([0-9]+)_dpi_below_([0-9]+)$`)
	pageFlagRe = regexp.MustCompile(`^page_([0-9]+)_(.+)$`)
)

// StaffReason says one reason code in Vietnamese with texts (StaffTexts):
// its own text, or its class's with the field, flag or page it names.
func StaffReason(texts map[string]string, code string) string { return ReasonText(texts, code, nil) }

// ReasonText is StaffReason with the field names a document's layout gives
// (label returns "" or the slug for a field it does not name; FieldTexts
// names the rest).
func ReasonText(texts map[string]string, code string, label func(slug string) string) string {
	if t, ok := texts[code]; ok && !strings.HasSuffix(code, ":") {
		return t
	}
	if class, arg, ok := strings.Cut(code, ":"); ok {
		t, ok := texts[class+":"]
		if !ok {
			return unknownReason
		}
		name := FieldTexts()[arg]
		if label != nil {
			if n := label(arg); n != "" && n != arg {
				name = n
			}
		}
		if class == "page_flagged" {
			name = texts["flag:"+arg]
		}
		if name == "" {
			return unknownReason
		}
		return fmt.Sprintf(t, name)
	}
	if m := pageDPIRe.FindStringSubmatch(code); m != nil && texts["page_dpi_below"] != "" {
		return fmt.Sprintf(texts["page_dpi_below"], m[1], m[2])
	}
	if m := pageFlagRe.FindStringSubmatch(code); m != nil && texts["flag:"+m[2]] != "" && texts["page_flag"] != "" {
		return fmt.Sprintf(texts["page_flag"], m[1], texts["flag:"+m[2]])
	}
	return unknownReason
}
