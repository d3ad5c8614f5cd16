package storage_test

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"sohoa/storage"
)

// TestManifestReadsSchema1: a version 1 manifest's "issuer" (the agency's
// code beside the authority's name) and "pades_level" read as the version 2
// fields; a version 2 manifest round-trips.
func TestManifestReadsSchema1(t *testing.T) {
	b, err := os.ReadFile("testdata/manifest_v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var m storage.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if want := (storage.Agency{Code: "000.00.31.H29"}); m.ConvertingAgency != want {
		t.Errorf("converting agency: got %+v, want %+v", m.ConvertingAgency, want)
	}
	if want := (storage.Authority{Name: "ỦY BAN NHÂN DÂN XÃ UY NỖ", SignerTitle: "PHÓ CHỦ TỊCH", SignerName: "Phạm Diệu Anh"}); m.IssuingAuthority == nil || *m.IssuingAuthority != want {
		t.Errorf("issuing authority: got %+v, want %+v", m.IssuingAuthority, want)
	}
	if m.File.SignatureFormat != storage.SignatureCMSDetached || !m.File.SignatureTimestamp {
		t.Errorf("signature: got %q timestamp=%v, want %q timestamped", m.File.SignatureFormat, m.File.SignatureTimestamp, storage.SignatureCMSDetached)
	}
	if m.ResultCode != "000.00.31.H29-250718-0042-KQ1" || m.File.Size != 10 || m.Digitization == nil || m.Digitization.DPI != 200 {
		t.Errorf("other fields not read: %+v", m)
	}

	m.SchemaVersion = storage.SchemaVersion
	m.ConvertingAgency.Name = "UBND xã Uy Nỗ"
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"issuer"} {
		if _, ok := raw[gone]; ok {
			t.Errorf("version 2 manifest still has %q", gone)
		}
	}
	var back storage.Manifest
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, m)
	}
}
