// This file owns the reason codes the pipeline gives itself (review reasons,
// refusals at the intake door) and the one table of what counter staff read
// for each code, in Vietnamese.

package pipeline

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
		// A task that failed in every round of retries (a long outage or a
		// fault of the system, not of the file).
		CodeRetriesExhausted: "hệ thống xử lý thất bại nhiều lần liên tiếp; hãy báo quản trị viên",
		// Review reasons of the pipeline (ocr adds its own).
		ReasonResultCodeTaken:    "mã kết quả của hồ sơ này đã được cấp cho tệp của lần tải lên khác; kiểm tra mã hồ sơ",
		"holder_id_missing":      "không đọc được số định danh cá nhân của người được cấp",
		"procedure_code_unknown": "chưa có mã thủ tục hành chính cho loại giấy tờ này",
		"no_document_recognised": "không nhận ra giấy tờ nào trong tệp",
	}
}
