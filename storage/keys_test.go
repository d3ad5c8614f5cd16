package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// testWriter is an audit writer ID as audit.NewWriter makes them.
const testWriter = "k3xq7mbn2vzrt4wa"

// testBatch is a batch ID as NewBatchID makes them.
const testBatch = "20260131-200000-k3xq7mbn2v"

var update = flag.Bool("update", false, "rewrite testdata golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestKeyLayout pins every key shape in testdata/keys.golden.
func TestKeyLayout(t *testing.T) {
	in := InputKeyOf([]byte("test"))
	id := "0198a1b2-c3d4-7e5f-8a6b-7c8d9e0fa1b2"
	mac := indexHMAC(bytes.Repeat([]byte{1}, 32), "CCCD", "001199012345")
	month := time.Date(2026, 1, 31, 20, 0, 0, 0, time.UTC) // 1 Feb in Vietnam
	var b strings.Builder
	for _, kv := range []struct{ name, key string }{
		{"IntakeKey", IntakeKey(in)},
		{"IntakeMetaKey", IntakeMetaKey(in)},
		{"OpenKey", OpenKey(month, in)},
		{"ClosedKey", ClosedKey(in)},
		{"RetryRoundKey", RetryRoundKey(in, -1, 1)},
		{"RetryRoundKey", RetryRoundKey(in, 2, 3)},
		{"PageKey", PageKey(in, 3, "png")},
		{"RecordKey", RecordKey(in)},
		{"ReviewKey", ReviewKey(in)},
		{"QuarantineKey", QuarantineKey(in)},
		{"ReviewDocKey", ReviewDocKey(in, 2)},
		{"ApprovalKey", ApprovalKey(in, 2)},
		{"ResultPDFKey", ResultPDFKey("000.00.31.H29", month, id)},
		{"ResultManifestKey", ResultManifestKey("000.00.31.H29", month, id)},
		{"EventKey", EventKey(id, 7, StatusRevoked)},
		{"OutboxKey", OutboxKey(id, 7)},
		{"OutboxTryKey", OutboxTryKey(id, 7, 3)},
		{"OutboxDeliveredKey", OutboxDeliveredKey(id, 7)},
		{"OutboxDeadKey", OutboxDeadKey(id, 7)},
		{"CodeKey", CodeKey("000.00.31.H29-250718-0042-KQ1")},
		{"SHA256Key", SHA256Key("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")},
		{"InputKey", InputKey(in, id)},
		{"IndexKey", IndexKey("k1", mac, id)},
		{"AuditKey", AuditKey(testWriter, 42, 500)},
		{"DossierKey", DossierKey("000.00.31.H29", month, 42)},
		{"TokenIDKey", TokenIDKey(month, bytes.Repeat([]byte{7}, 32))},
		{"KeyringKey", KeyringKey("index", "dev-1a2b3c4d")},
		{"StaffEventKey", StaffEventKey(StaffAccount(bytes.Repeat([]byte{2}, 32), "nguyenvana"), 3)},
		{"BatchKey", BatchKey(testBatch)},
		{"BatchFileKey", BatchFileKey(testBatch, in)},
		{"OfficeBatchKey", OfficeBatchKey("000.00.31.H29", month, testBatch)},
	} {
		if err := CheckKey(kv.key); err != nil {
			t.Errorf("%s = %q fails CheckKey: %v", kv.name, kv.key, err)
		}
		fmt.Fprintf(&b, "%-18s %s\n", kv.name, kv.key)
	}
	golden(t, "keys.golden", []byte(b.String()))
}

// TestKeysHaveNoLongDigitRuns: whatever the hashes, no key shows a run of
// twelve digits, so a bucket listing never looks like it leaks an ID.
func TestKeysHaveNoLongDigitRuns(t *testing.T) {
	run := regexp.MustCompile(`[0-9]{12}`)
	for i := 0; i < 2000; i++ {
		data := []byte(fmt.Sprint("scan-", i))
		in := InputKeyOf(data)
		sum := sha256.Sum256(data)
		for _, k := range []string{
			IntakeKey(in), SHA256Key(hex.EncodeToString(sum[:])), CodeKey(fmt.Sprint("000.00.31.H29-250718-0042-KQ", i)),
			IndexKey("k1", indexHMAC(sum[:], "CCCD", fmt.Sprintf("%012d", i)), "0198a1b2-c3d4-7e5f-8a6b-7c8d9e0fa1b2"),
			AuditKey(testWriter, uint64(i)*999_999_937, i%MaxAuditBatch+1),
		} {
			if run.MatchString(k) {
				t.Fatalf("key %s has a 12-digit run", k)
			}
		}
		seq, n := uint64(i)*999_999_937, i%MaxAuditBatch+1
		if w, got, gotN, err := ParseAuditKey(AuditKey(testWriter, seq, n)); err != nil || w != testWriter || got != seq || gotN != n {
			t.Fatalf("ParseAuditKey(AuditKey(%s, %d, %d)) = %s, %d, %d, %v", testWriter, seq, n, w, got, gotN, err)
		}
	}
	for _, k := range []string{
		"audit/00000000000000000042.json",                      // the first layout
		"audit/00000000/000000-000042.json",                    // one chain, no writer
		"audit/" + testWriter + "/00000000/000000-000042.json", // no count
		"audit/" + testWriter + "/00000000/000000-000042-0.json",
		"audit/" + testWriter + "/00000000/000000-000042-10000.json",
		"audit/" + testWriter + "/00000000/000000-000042-07.json",
		"audit/" + strings.ToUpper(testWriter) + "/00000000/000000-000042-1.json",
	} {
		if _, _, _, err := ParseAuditKey(k); err == nil {
			t.Errorf("ParseAuditKey accepted %q", k)
		}
		if CheckKey(k) == nil {
			t.Errorf("CheckKey accepted %q", k)
		}
	}
	if got, want := InputKeyOf([]byte("test")), "t6dnbamijr6wlgrp5kqmkwwqcwr36ty3fmfyelgrlvwblmhqbiea"; got != want || !ValidInputKey(got) {
		t.Errorf("InputKeyOf = %s, want %s", got, want)
	}
	if h, err := InputSHA256(InputKeyOf([]byte("test"))); err != nil || h != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" {
		t.Errorf("InputSHA256 = %s, %v", h, err)
	}
}

func TestCheckKey(t *testing.T) {
	in := InputKeyOf([]byte("test"))
	id := "0198a1b2-c3d4-7e5f-8a6b-7c8d9e0fa1b2"
	tests := []struct {
		key  string
		ok   bool
		want string // in the error
	}{
		{"index/k1/" + indexHMAC(make([]byte, 32), "CCCD", "001199012345") + "/" + id, true, ""},
		{"audit/" + testWriter + "/00000000/000000-000042-500.json", true, ""},
		{"audit/00000000/000000-000042.json", false, "AuditKey"},                    // the one-chain layout
		{"audit/00000000000000000042.json", false, "AuditKey"},                      // the first layout
		{"audit/a001199012345bcd/00000000/000000-000001-1.json", false, "{writer}"}, // an ID in the writer
		{"results/000.00.31.H29/2026/02/001199012345.pdf", false, "{id}"},
		{"results/000.00.31.H29/2026/13/" + id + ".pdf", false, "{mm}"},
		{"results/000.00.31.H29/2026/02/" + id + ".pdf.bak", false, "ResultPDFKey"},
		{"results/000.00.31.H29/2026/02/", false, "folder"},
		{"index/k1/001199012345/x", false, "{hmac}"},
		{"index/001199012345/" + indexHMAC(make([]byte, 32), "CCCD", "1") + "/" + id, false, "{kid}"},
		{"events/0198a1b2-c3d4-7e5f-8a6b-001199012345/000000-active.json", false, "{id}"}, // UUID ending in an ID
		{"events/0198a1b2-c3d4-4e5f-8a6b-7c8d9e0fa1b2/000000-active.json", false, "{id}"}, // UUIDv4
		{"events/" + id + "/000000-deleted.json", false, "{status}"},
		{"pages/" + in + "/0.png", false, "{page}"},
		{"pages/" + in + "/01.png", false, "{page}"},
		{"pages/" + in + "/1.gif", false, "{ext}"},
		{"intake/" + in[:51] + "b", false, "{input}"}, // not canonical base32
		{"intake/" + strings.ToUpper(in), false, "{input}"},
		{"intake/" + in + "/../x", false, "IntakeKey"},
		{"dossiers/000.00.31.H29/260230/0001", false, "{yymmdd}"},
		{"jti/260201/" + in, true, ""},
		{"jti/260201/my-token-id-001199012345", false, "{jti-hmac}"}, // a jti in clear
		{"jti/260201/" + strings.ToUpper(in), false, "{jti-hmac}"},
		{"jti/2026-02-01/" + in, false, "{yymmdd}"},
		{"jti/" + in, false, "TokenIDKey"},
		{"jti/260201/" + in + ".json", false, "TokenIDKey"},
		{"staff/nguyenvana/000000.json", false, "{account}"}, // a user name in clear
		{"staff/" + in + "/000000.json", true, ""},
		{"staff/" + in + "/0.json", false, "{seq}"},
		{"staff/" + in + "/000000-created.json", false, "{seq}"},
		{"a-001199012345", false, "no layout"},
		{"abc001199012345def", false, "no layout"},
		{"", false, "no layout"},
		{"/abs", false, "no layout"},
		{"dir/", false, "folder"},
		{"intake/", false, "folder"},
		{"a//b", false, "no layout"},
		{"a\nb", false, "no layout"},
		{`a\b`, false, "no layout"},
	}
	for _, tc := range tests {
		err := CheckKey(tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("CheckKey(%q) = %v, want ok=%v", tc.key, err, tc.ok)
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckKey(%q) error %v does not wrap ErrInvalid", tc.key, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckKey(%q) error %q does not name %q", tc.key, err, tc.want)
		}
		if strings.Contains(err.Error(), "001199012345") || strings.Contains(err.Error(), "1199") {
			t.Errorf("CheckKey(%q) error %q leaks the ID", tc.key, err)
		}
	}
}

// keySample is one exported key or prefix function called with sample
// arguments; plant calls it again with one argument replaced by a value
// that must never reach a key (nil when the function takes nothing that
// could carry one).
type keySample struct {
	fn     string
	key    string
	folder bool
	plant  func(s string, n int) []string
}

// keySamples calls every exported *Key and *Prefix function of keys.go.
func keySamples() []keySample {
	in := InputKeyOf([]byte("test"))
	id := "0198a1b2-c3d4-7e5f-8a6b-7c8d9e0fa1b2"
	mac := indexHMAC(bytes.Repeat([]byte{1}, 32), "CCCD", "001199012345")
	const agency = "000.00.31.H29"
	month := time.Date(2026, 1, 31, 20, 0, 0, 0, time.UTC)
	sum := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	staff := StaffAccount(bytes.Repeat([]byte{2}, 32), "nguyenvana")
	one := func(f func(string) string) func(string, int) []string {
		return func(s string, _ int) []string { return []string{f(s)} }
	}
	return []keySample{
		{"IntakeKey", IntakeKey(in), false, one(IntakeKey)},
		{"IntakeMetaKey", IntakeMetaKey(in), false, one(IntakeMetaKey)},
		{"OpenKey", OpenKey(month, in), false, func(s string, _ int) []string { return []string{OpenKey(month, s)} }},
		{"OpenHourPrefix", OpenHourPrefix(month), true, nil},
		{"OpenDayPrefix", OpenDayPrefix(month), true, nil},
		{"ClosedKey", ClosedKey(in), false, one(ClosedKey)},
		{"RetryRoundsPrefix", RetryRoundsPrefix(in, -1), true, func(s string, n int) []string {
			return []string{RetryRoundsPrefix(s, -1), RetryRoundsPrefix(s, 2), RetryRoundsPrefix(in, n)}
		}},
		{"RetryRoundKey", RetryRoundKey(in, 2, 3), false, func(s string, n int) []string {
			return []string{RetryRoundKey(s, -1, 3), RetryRoundKey(s, 2, 3), RetryRoundKey(in, n, 3), RetryRoundKey(in, -1, n), RetryRoundKey(in, 2, n)}
		}},
		{"PageKey", PageKey(in, 3, "png"), false, func(s string, n int) []string {
			return []string{PageKey(s, 3, "png"), PageKey(in, n, "png"), PageKey(in, 3, s)}
		}},
		{"RecordKey", RecordKey(in), false, one(RecordKey)},
		{"ReviewKey", ReviewKey(in), false, one(ReviewKey)},
		{"ApprovalKey", ApprovalKey(in, 2), false, func(s string, n int) []string {
			return []string{ApprovalKey(s, 2), ApprovalKey(in, n)}
		}},
		{"ReviewPrefix", ReviewPrefix(), true, nil},
		{"ReviewDocKey", ReviewDocKey(in, 2), false, func(s string, n int) []string {
			return []string{ReviewDocKey(s, 2), ReviewDocKey(in, n)}
		}},
		{"ReviewDocsPrefix", ReviewDocsPrefix(in), true, one(ReviewDocsPrefix)},
		{"QuarantineKey", QuarantineKey(in), false, one(QuarantineKey)},
		{"ResultPrefix", ResultPrefix(agency, month), true, func(s string, _ int) []string {
			return []string{ResultPrefix(s, month)}
		}},
		{"ResultPDFKey", ResultPDFKey(agency, month, id), false, func(s string, _ int) []string {
			return []string{ResultPDFKey(s, month, id), ResultPDFKey(agency, month, s)}
		}},
		{"ResultManifestKey", ResultManifestKey(agency, month, id), false, func(s string, _ int) []string {
			return []string{ResultManifestKey(s, month, id), ResultManifestKey(agency, month, s)}
		}},
		{"EventsPrefix", EventsPrefix(id), true, one(EventsPrefix)},
		{"EventKey", EventKey(id, 7, StatusRevoked), false, func(s string, n int) []string {
			return []string{EventKey(s, 7, StatusRevoked), EventKey(id, n, StatusRevoked), EventKey(id, 7, s)}
		}},
		{"OutboxPrefix", OutboxPrefix(), true, nil},
		{"OutboxResultPrefix", OutboxResultPrefix(id), true, one(OutboxResultPrefix)},
		{"OutboxKey", OutboxKey(id, 7), false, func(s string, n int) []string {
			return []string{OutboxKey(s, 7), OutboxKey(id, n)}
		}},
		{"OutboxTryKey", OutboxTryKey(id, 7, 3), false, func(s string, n int) []string {
			return []string{OutboxTryKey(s, 7, 3), OutboxTryKey(id, n, 3), OutboxTryKey(id, 7, n)}
		}},
		{"OutboxDeliveredKey", OutboxDeliveredKey(id, 7), false, func(s string, n int) []string {
			return []string{OutboxDeliveredKey(s, 7), OutboxDeliveredKey(id, n)}
		}},
		{"OutboxDeadKey", OutboxDeadKey(id, 7), false, func(s string, n int) []string {
			return []string{OutboxDeadKey(s, 7), OutboxDeadKey(id, n)}
		}},
		// CodeKey and SHA256Key hash what they are given: any code is safe.
		{"CodeKey", CodeKey("000.00.31.H29-250718-0042-KQ1"), false, nil},
		{"SHA256Key", SHA256Key(sum), false, nil},
		{"InputsPrefix", InputsPrefix(in), true, one(InputsPrefix)},
		{"InputKey", InputKey(in, id), false, func(s string, _ int) []string {
			return []string{InputKey(s, id), InputKey(in, s)}
		}},
		{"IndexPrefix", IndexPrefix("k1", mac), true, func(s string, _ int) []string {
			return []string{IndexPrefix(s, mac), IndexPrefix("k1", s)}
		}},
		{"IndexKey", IndexKey("k1", mac, id), false, func(s string, _ int) []string {
			return []string{IndexKey(s, mac, id), IndexKey("k1", s, id), IndexKey("k1", mac, s)}
		}},
		// Any uint64 is a valid audit sequence: its 20 digits are split 8/6/6.
		{"AuditKey", AuditKey(testWriter, 42, 500), false, func(s string, n int) []string {
			return []string{AuditKey(s, 42, 500), AuditKey(testWriter, 42, n)}
		}},
		{"AuditChainPrefix", AuditChainPrefix(testWriter), true, one(AuditChainPrefix)},
		{"AuditPrefix", AuditPrefix(), true, nil},
		{"DossierDayPrefix", DossierDayPrefix(agency, month), true, func(s string, _ int) []string {
			return []string{DossierDayPrefix(s, month)}
		}},
		{"DossierKey", DossierKey(agency, month, 42), false, func(s string, n int) []string {
			return []string{DossierKey(s, month, 42), DossierKey(agency, month, n)}
		}},
		// TokenIDKey encodes the HMAC it is given and takes a time: nothing
		// given can reach the key as text.
		{"TokenIDDayPrefix", TokenIDDayPrefix(month), true, nil},
		{"TokenIDKey", TokenIDKey(month, bytes.Repeat([]byte{7}, 32)), false, nil},
		{"KeyringKey", KeyringKey("seal", "k1"), false, func(s string, _ int) []string {
			return []string{KeyringKey(s, "k1"), KeyringKey("seal", s)}
		}},
		{"KeyringPrefix", KeyringPrefix(), true, nil},
		{"StaffPrefix", StaffPrefix(), true, nil},
		{"StaffAccountPrefix", StaffAccountPrefix(staff), true, one(StaffAccountPrefix)},
		{"StaffEventKey", StaffEventKey(staff, 3), false, func(s string, n int) []string {
			return []string{StaffEventKey(s, 3), StaffEventKey(staff, n)}
		}},
		{"BatchKey", BatchKey(testBatch), false, one(BatchKey)},
		{"BatchFilesPrefix", BatchFilesPrefix(testBatch), true, one(BatchFilesPrefix)},
		{"BatchFileKey", BatchFileKey(testBatch, in), false, func(s string, _ int) []string {
			return []string{BatchFileKey(s, in), BatchFileKey(testBatch, s)}
		}},
		{"OfficeBatchesPrefix", OfficeBatchesPrefix(agency, month), true, func(s string, _ int) []string {
			return []string{OfficeBatchesPrefix(s, month)}
		}},
		{"OfficeBatchKey", OfficeBatchKey(agency, month, testBatch), false, func(s string, _ int) []string {
			return []string{OfficeBatchKey(s, month, testBatch), OfficeBatchKey(agency, month, s)}
		}},
	}
}

// TestEveryKeyFunctionHasALayout: every exported function of keys.go that
// formats a key or prefix is sampled here and its output passes the
// grammar; object keys pass CheckKey, folders only CheckKeyLayout. A new key
// function without a layout fails this test.
func TestEveryKeyFunctionHasALayout(t *testing.T) {
	sampled := map[string]bool{}
	for _, s := range keySamples() {
		sampled[s.fn] = true
		if err := CheckKeyLayout(s.key); err != nil {
			t.Errorf("%s = %q fails CheckKeyLayout: %v", s.fn, s.key, err)
		}
		if err := CheckKey(s.key); (err == nil) == s.folder {
			t.Errorf("%s = %q: CheckKey = %v, want ok=%v", s.fn, s.key, err, !s.folder)
		}
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "keys.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var formatters []string
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || !fd.Name.IsExported() {
			continue
		}
		name := fd.Name.Name
		res := fd.Type.Results
		returnsString := res != nil && len(res.List) == 1 && len(res.List[0].Names) <= 1 && types.ExprString(res.List[0].Type) == "string"
		if returnsString && (strings.HasSuffix(name, "Key") || strings.HasSuffix(name, "Prefix")) {
			formatters = append(formatters, name)
			if !sampled[name] {
				t.Errorf("key function %s is not sampled in keySamples (and may lack a layout in keyLayouts)", name)
			}
		}
	}
	if len(formatters) < 20 {
		t.Fatalf("found %d key functions in keys.go (%v), want at least 20: is the parse right?", len(formatters), formatters)
	}
	for _, l := range keyLayouts {
		if l.fn != "folder" && !slices.Contains(formatters, l.fn) {
			t.Errorf("layout %s (%s) names no key function of keys.go", l.fn, &l)
		}
	}
}

// plants are values that must never reach a key: a citizen ID and holder
// names, ASCII-folded and with diacritics.
var plants = []string{"001199012345", "nguyen-thi-thu-trang", "nguyenthithutrang", "Nguyễn Thị Thu Trang", "nguyễn", "Ánh"}

// TestCheckKeyLayoutRefusesPlants puts a planted ID or name in every
// position of every key: through each argument of its function, in place of
// each segment, between segments and after the key. Each must be refused,
// with an error that does not repeat the plant.
func TestCheckKeyLayoutRefusesPlants(t *testing.T) {
	const plantedNumber = 1199012345 // 001199012345 as an int
	for _, s := range keySamples() {
		var bad []string
		if s.plant != nil {
			for _, p := range plants {
				bad = append(bad, s.plant(p, plantedNumber)...)
			}
		}
		segs := strings.Split(strings.TrimSuffix(s.key, "/"), "/")
		for i := range segs {
			for _, p := range plants {
				with := slices.Clone(segs)
				with[i] = p
				bad = append(bad, strings.Join(with, "/"))
				bad = append(bad, strings.Join(slices.Insert(slices.Clone(segs), i+1, p), "/"))
				with = slices.Clone(segs)
				with[i] += p
				bad = append(bad, strings.Join(with, "/"))
				with = slices.Clone(segs)
				with[i] = p + with[i]
				bad = append(bad, strings.Join(with, "/"))
			}
		}
		for _, p := range plants {
			bad = append(bad, s.key+p, s.key+"-"+p, s.key+"/"+p)
		}
		for _, k := range bad {
			err := CheckKeyLayout(k)
			if err == nil {
				t.Errorf("%s: CheckKeyLayout accepted planted key %q", s.fn, k)
				continue
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: error %v does not wrap ErrInvalid", s.fn, err)
			}
			msg := err.Error()
			for _, leak := range []string{"1199", "nguy", "Nguy", "trang", "Ánh"} {
				if strings.Contains(msg, leak) {
					t.Errorf("%s: error %q repeats the plant", s.fn, msg)
				}
			}
		}
	}
}

func TestValidKID(t *testing.T) {
	tests := []struct {
		kid string
		ok  bool
	}{
		{"k1", true},
		{"2026-01", true},
		{"k20260101", true}, // 8 digits in a row
		{"k202601011", false},
		{"001199012345", false},
		{"nguyen-thi-thu-trang", false}, // 20 characters
		{"nguyễn", false},
		{"K1", false},
		{"-k1", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := validKID(tc.kid); got != tc.ok {
			t.Errorf("validKID(%q) = %v, want %v", tc.kid, got, tc.ok)
		}
		if _, _, err := ParseKeyRing(tc.kid + ":" + strings.Repeat("ab", 32)); (err == nil) != tc.ok {
			t.Errorf("ParseKeyRing with kid %q: %v, want ok=%v", tc.kid, err, tc.ok)
		}
	}
}

func TestParseResultCode(t *testing.T) {
	tests := []struct {
		in, code, dossier string
		seq               int
		ok                bool
	}{
		{"000.00.31.H29-250718-0042-KQ1", "000.00.31.H29-250718-0042-KQ1", "000.00.31.H29-250718-0042", 1, true},
		{"000.00.31.H29-250718-0042-KQ(2)", "000.00.31.H29-250718-0042-KQ2", "000.00.31.H29-250718-0042", 2, true},
		{" 000.00.31.H29-250718-0042-KQ12 ", "000.00.31.H29-250718-0042-KQ12", "000.00.31.H29-250718-0042", 12, true},
		{"000.00.31.H29-250718-0042-KQ01", "", "", 0, false},   // zero padding
		{"000.00.31.H29-250718-0042-KQ0", "", "", 0, false},    // n ≥ 1
		{"000.00.31.H29-251318-0042-KQ1", "", "", 0, false},    // month 13
		{"000.00.31.h29-250718-0042-KQ1", "", "", 0, false},    // lower case
		{"000.00.31.H29-250718-42-KQ1", "", "", 0, false},      // short sequence
		{"000.00.31.H29-250718-0042", "", "", 0, false},        // no KQ
		{"../000.00.31.H29-250718-0042-KQ1", "", "", 0, false}, // junk prefix
	}
	for _, tc := range tests {
		code, dossier, seq, err := ParseResultCode(tc.in)
		if (err == nil) != tc.ok || code != tc.code || dossier != tc.dossier || seq != tc.seq {
			t.Errorf("ParseResultCode(%q) = %q, %q, %d, %v; want %q, %q, %d, ok=%v",
				tc.in, code, dossier, seq, err, tc.code, tc.dossier, tc.seq, tc.ok)
		}
	}
}

func FuzzParseResultCode(f *testing.F) {
	for _, s := range []string{"000.00.31.H29-250718-0042-KQ1", "000.00.31.H29-250718-0042-KQ(3)", "X-KQ1", "", "-KQ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, dossier, seq, err := ParseResultCode(s)
		if err != nil {
			return
		}
		if !ValidDossierCode(dossier) || seq < 1 {
			t.Fatalf("ParseResultCode(%q) accepted dossier %q seq %d", s, dossier, seq)
		}
		if CheckKey(CodeKey(code)) != nil {
			t.Fatalf("code key of %q is not a valid key", code)
		}
		again, _, _, err := ParseResultCode(code)
		if err != nil || again != code {
			t.Fatalf("canonical %q does not reparse to itself: %q, %v", code, again, err)
		}
	})
}

// idLikeToken is a 12-digit run standing as its own token, the shape of a
// citizen ID.
var idLikeToken = regexp.MustCompile(`(^|[^0-9A-Za-z])[0-9]{12}([^0-9A-Za-z]|$)`)

func FuzzCheckKey(f *testing.F) {
	for _, s := range keySamples() {
		f.Add(s.key)
	}
	for _, s := range []string{"a/b", "x/001199012345", "audit/00000000000000000042.json", "a/../b", "intake/nguyễn"} {
		f.Add(s)
	}
	longDigits := regexp.MustCompile(`[0-9]{9,}`)
	f.Fuzz(func(t *testing.T, key string) {
		err := CheckKeyLayout(key)
		if err == nil {
			if idLikeToken.MatchString(key) {
				t.Fatalf("CheckKeyLayout(%q) accepted a 12-digit token", key)
			}
			for _, r := range key {
				if r < 0x21 || r > 0x7e {
					t.Fatalf("CheckKeyLayout(%q) accepted a character outside printable ASCII", key)
				}
			}
			if strings.Contains(key, "//") || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
				t.Fatalf("CheckKeyLayout(%q) accepted an empty or dot segment", key)
			}
			return
		}
		if longDigits.MatchString(err.Error()) {
			t.Fatalf("CheckKeyLayout error %q shows a long digit run", err)
		}
		if !utf8.ValidString(err.Error()) || strings.ContainsFunc(err.Error(), func(r rune) bool { return r > 0x7e && r != '…' }) {
			t.Fatalf("CheckKeyLayout error %q shows text of the key", err)
		}
	})
}

// TestStaffAccount: the account ID is keyed (another K_staff, another ID),
// fixed for a name, never shows the name, and passes its own check.
func TestStaffAccount(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	a := StaffAccount(k1, "nguyenvana")
	switch {
	case !ValidStaffAccount(a):
		t.Errorf("StaffAccount = %q fails ValidStaffAccount", a)
	case a != StaffAccount(k1, "nguyenvana"):
		t.Error("StaffAccount is not deterministic")
	case a == StaffAccount(k2, "nguyenvana"):
		t.Error("StaffAccount ignores its key")
	case a == StaffAccount(k1, "nguyenvanb"):
		t.Error("StaffAccount ignores the name")
	case strings.Contains(a, "nguyen"):
		t.Errorf("StaffAccount = %q shows the name", a)
	}
	if ValidStaffAccount("nguyenvana") || ValidStaffAccount(strings.ToUpper(a)) {
		t.Error("ValidStaffAccount accepts what StaffAccount never makes")
	}
}

func TestBatchID(t *testing.T) {
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for i := 0; i < 500; i++ {
		id := NewBatchID(now)
		if !ValidBatchID(id) || !strings.HasPrefix(id, "20260302-080000-") {
			t.Fatalf("NewBatchID = %q", id)
		}
		if got, err := BatchTime(id); err != nil || !got.Equal(now) {
			t.Fatalf("BatchTime(%s) = %v, %v", id, got, err)
		}
	}
	for _, s := range []string{"", "20260302-080000-k3xq7mbn2", "20260302-080000-K3XQ7MBN2V", "20261302-080000-k3xq7mbn2v",
		"20260302T080000-k3xq7mbn2v", "20260302-080000-222222222a", "20260302-080000-nguyenvana1", "20260302-080000-001199012345"} {
		if ValidBatchID(s) {
			t.Errorf("ValidBatchID(%q) = true", s)
		}
	}
}
