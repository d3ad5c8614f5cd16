package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"sohoa/storage"
)

// TestDecideFieldErrors: a decision's corrections are refused field by
// field, each error keyed by the field it is about, and nothing is
// recorded; an unknown field is refused on approve and reject alike.
func TestDecideFieldErrors(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	sub, err := h.intake.Submit(ctx, []byte("scan"), storage.IntakeMeta{Name: "f.jpg", Source: SourceBackfill})
	if err != nil {
		t.Fatal(err)
	}
	h.runAll(t)
	pending, err := PendingReviews(ctx, h.repo)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending = %+v, %v", pending, err)
	}
	doc := pending[0].Doc
	wrongSex := h.holder[:3] + string('0'+(h.holder[3]-'0')^1) + h.holder[4:]
	type want struct{ field, code string }
	tests := []struct {
		name     string
		approved bool
		fields   map[string]string
		want     []want
	}{
		{"unknown field on approve", true, map[string]string{"bogus_field": "x", FieldProcedureCode: "1.004873"}, []want{{"bogus_field", FieldUnknown}}},
		{"unknown field on reject", false, map[string]string{"bogus_field": "x"}, []want{{"bogus_field", FieldUnknown}}},
		{"malformed date", true, map[string]string{"date_of_birth": "31/02/1990", FieldProcedureCode: "1.004873"}, []want{{"date_of_birth", FieldDateFormat}}},
		{"holder ID not 12 digits", true, map[string]string{"personal_id": "12345", FieldProcedureCode: "1.004873"}, []want{{"personal_id", FieldIDFormat}}},
		{"holder ID contradicts sex", true, map[string]string{"personal_id": wrongSex, FieldProcedureCode: "1.004873"}, []want{{"personal_id", FieldIDChecks}}},
		{"required field emptied", true, map[string]string{"full_name": " ", FieldProcedureCode: "1.004873"}, []want{{"full_name", FieldRequired}}},
		{"several at once", true, map[string]string{"full_name": "", "issue_date": "hôm qua", FieldProcedureCode: "1.004873"},
			[]want{{"full_name", FieldRequired}, {"issue_date", FieldDateFormat}, {FieldValidUntil, FieldValidUntilNeeded}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Approval{InputKey: sub.InputKey, Doc: doc, Approved: tt.approved, By: "cb01", Fields: tt.fields}
			if !tt.approved {
				a.Reason = "sai loại giấy tờ"
			}
			err := h.pipe.Decide(ctx, a)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Decide = %v, want a *ValidationError", err)
			}
			by := ve.ByField()
			for _, w := range tt.want {
				if by[w.field].Code != w.code {
					t.Errorf("field %s: got %+v, want code %s (all: %+v)", w.field, by[w.field], w.code, ve.Fields)
				}
			}
			if len(by) != len(tt.want) {
				t.Errorf("got errors for %d fields, want %d: %+v", len(by), len(tt.want), ve.Fields)
			}
			if w := tt.want[0]; w.code == FieldIDChecks && !slices.Contains(by[w.field].Checks, "id_sex_mismatch") {
				t.Errorf("ID checks = %v, want id_sex_mismatch", by[w.field].Checks)
			}
			if strings.Contains(err.Error(), wrongSex) {
				t.Error("the error shows the ID")
			}
			if a, _, err := DocumentDecision(ctx, h.repo, sub.InputKey, doc); err != nil || a != nil {
				t.Fatalf("decision recorded after a refusal: %+v, %v", a, err)
			}
		})
	}
	// Corrected, the same decision is recorded, and once issued its result
	// code is found from the decision.
	if err := h.pipe.Decide(ctx, Approval{InputKey: sub.InputKey, Doc: doc, Approved: true, By: "cb01",
		Fields: map[string]string{FieldProcedureCode: "1.004873", "date_of_birth": "01/02/1990"}}); err != nil {
		var ve *ValidationError
		errors.As(err, &ve)
		t.Fatalf("Decide: %v", err)
	}
	a, code, err := DocumentDecision(ctx, h.repo, sub.InputKey, doc)
	if err != nil || a == nil || !a.Approved || code != "" {
		t.Fatalf("before issuing: %+v %q %v; want approved, no result yet", a, code, err)
	}
	h.runAll(t)
	_, code, err = DocumentDecision(ctx, h.repo, sub.InputKey, doc)
	if err != nil || len(h.iss.reqs) != 1 || code != h.iss.reqs[0].ResultCode {
		t.Fatalf("after issuing: %q, %v; want %d issued with that code", code, err, len(h.iss.reqs))
	}
}

func TestReasonText(t *testing.T) {
	texts := StaffTexts()
	label := func(slug string) string { return map[string]string{"personal_id": "Số định danh cá nhân"}[slug] }
	tests := []struct{ code, want string }{
		{"holder_id_missing", texts["holder_id_missing"]},
		{"low_confidence:personal_id", "đọc chưa chắc chắn «Số định danh cá nhân»"},
		{"id_reads_disagree:personal_id", "hai lần đọc «Số định danh cá nhân» cho kết quả khác nhau"},
		{"page_flagged:blank", "trang có vấn đề: trang trắng"},
		{"page_2_dpi_below_200", "trang 2 quét với độ phân giải thấp hơn 200 dpi; hãy quét lại"},
		{"page_1_orientation-uncertain", "trang 1: không chắc chiều xoay của trang"},
		{"not_a_code", unknownReason}, // never a raw code
	}
	// Every review reason the OCR and the pipeline give has a text.
	for _, code := range []string{"unknown_doc_type", "missing_field:full_name", "low_confidence:full_name", "invalid_date:issue_date",
		"issue_date_in_future", "birth_after_issue", "valid_until_missing", "holder_id_missing", "page_flagged:blank",
		"page_flagged:degenerate", "page_flagged:orientation-uncertain", "page_flagged:low-confidence", "page_flagged:active-content",
		"title_not_found", "id_reads_disagree:personal_id", "date_reads_disagree:issue_date", "id_wrong_length", "id_sex_mismatch",
		"id_century_mismatch", "id_birth_year_mismatch", "id_unknown_province", "id_cross_document_mismatch", "holder_id_from_form",
		"page_3_dpi_below_200", "page_1_blank", ReasonResultCodeTaken, "procedure_code_unknown", "no_document_recognised"} {
		if got := ReasonText(texts, code, label); got == code || got == unknownReason || strings.Contains(got, "_") {
			t.Errorf("reason %s has no Vietnamese text: %q", code, got)
		}
	}
	for _, tt := range tests {
		if got := ReasonText(texts, tt.code, label); got != tt.want {
			t.Errorf("ReasonText(%s) = %q, want %q", tt.code, got, tt.want)
		}
	}
}
