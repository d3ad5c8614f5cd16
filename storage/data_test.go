package storage

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// TestResultDataGolden: the data document's bytes for a fixed manifest and
// fields (the bytes embedded in the PDF and served by /data).
func TestResultDataGolden(t *testing.T) {
	until := Date{Year: 2030, Month: 7, Day: 17}
	verified := time.Date(2025, 7, 18, 3, 0, 0, 500, time.UTC)
	m := Manifest{ResultCode: "000.00.31.H29-250718-0042-KQ1", DossierCode: "000.00.31.H29-250718-0042",
		ProcedureCode: "1.001193", DocType: "ket-hon", DocTypeName: "Giấy chứng nhận kết hôn",
		ConvertingAgency: Agency{Code: "000.00.31.H29", Name: "UBND phường Hưng Phú"},
		IssuingAuthority: &Authority{Name: "ỦY BAN NHÂN DÂN XÃ UY NỖ", SignerTitle: "PHÓ CHỦ TỊCH", SignerName: "Phạm Diệu Anh"},
		IssuedAt:         Date{Year: 2019, Month: 11, Day: 21}, ValidUntil: &until, Origin: OriginDigitizedOnReceipt,
		Digitization: &Digitization{ScannedAt: time.Date(2025, 7, 18, 2, 41, 7, 123456789, time.UTC), DPI: 300, Pages: 1,
			SourceScanSHA256: "8390e50fc41073968ea5b6cda2f4e97c283455cf4adb5ccf6a311a072ee36e1d"},
		// Not in the data document: known only after signing.
		File: File{SHA256: "ff", Size: 9}, ID: "x"}
	got, err := NewResultData(m, map[string]ExtractedField{
		"full_name":     {Value: "ĐINH TIẾN KHẢI", Confidence: 0.97, VerifiedBy: "cb01", VerifiedAt: &verified},
		"date_of_birth": {Value: "04/06/1986", Confidence: 0.9},
		"residence":     {Value: "Số 48/30 <Ngô Quyền> & Tân An", Confidence: 0.61},
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden := "testdata/result_data.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestResultDataGolden -args -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("data document:\n got %s\nwant %s", got, want)
	}
}
