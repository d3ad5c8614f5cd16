package storagetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"sohoa/storage"
	"sohoa/storage/mem"
)

func TestFindPersonal(t *testing.T) {
	ids := []string{"001199012345", "079203004567"}
	names := []string{"Nguyễn Thị Thu Trang", "Hoàng Văn Long", "Đinh Tiến Khải"}
	tests := []struct {
		name string
		text string
		want []string // substrings of the hits, in order; nil: no hit
	}{
		// Hashes, keys and UUIDs are not personal data.
		{"base32 hash holding long", `sha256/ypzhk6pnnrk3e5hxdg6lbulongvrs7pd2wdk7ccsha54j2pl54wa`, nil},
		{"json key holding long", `{"time":"2025-07-18T09:41:07+07:00","msg":"issued","key":"sha256/ypzhk6pnnrk3e5hxdg6lbulongvrs7pd2wdk7ccsha54j2pl54wa"}`, nil},
		{"hex with a 12-digit run", `{"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd001199012345a08"}`, nil},
		{"hex with an unknown 12-digit run", `source 9f86d0818845a3bf4f1b123456789012ab`, nil},
		{"uuid ending in 12 digits", `{"result_id":"0198a1b2-c3d4-4e5f-8a6b-123456789012"}`, nil},
		{"masked id", `{"holder":"********2345"}`, nil},
		{"doc type slug is not a name part", `{"doc_type":"khai-sinh","layout":"to-khai"}`, nil},
		{"short part alone", `{"msg":"Thị"}`, nil},
		{"durations and counts are numbers", `{"msg":"done","elapsed":123456789012,"pages":40}`, nil},
		{"a longer digit run is not standalone", `{"seq":"00000000000000000042"}`, nil},
		{"result code", `{"code":"000.00.31.H29-250718-0042-KQ1","agency":"000.00.31.H29"}`, nil},
		{"input key with a name-like run", `intake/longlonglonglonglonglonglonglong234567longlonglon`, nil},

		// Planted IDs.
		{"id in a json value", `{"msg":"issued","holder":"001199012345"}`, []string{`holder ID 1 (…2345) in "holder"`}},
		{"id in a message", `{"msg":"search for 079203004567 done"}`, []string{`holder ID 2 (…4567) in "msg"`}},
		{"id glued to letters", `{"file":"CCCD001199012345.jpg"}`, []string{`holder ID 1`}},
		{"id as a number", `{"id":1199012345}`, []string{`holder ID 1 (…2345) in "id"`}},
		{"id in an attribute name", `{"001199012345":true}`, []string{`holder ID 1 (…2345) in "(an attribute name)"`}},
		{"id in a nested attribute name", `{"a":{"001199012345":{"b":1}}}`, []string{`holder ID 1 (…2345) in "a.(an attribute name)"`}},
		{"unknown 12-digit number", `{"err":"bad id 012345678901"}`, []string{`a 12-digit number (…8901) in "err"`}},
		{"id in plain text", `time=x level=INFO msg="ocr done" id=001199012345`, []string{`holder ID 1 (…2345)`}},
		{"id inside a uuid", `0198a1b2-c3d4-7e5f-8a6b-001199012345`, []string{`holder ID 1 (…2345) inside a UUID`}},

		// Planted names.
		{"full name", `{"msg":"review","name":"Nguyễn Thị Thu Trang"}`, []string{`part 1 of holder name 1 in "name"`, `part 4 of holder name 1 in "name"`, `holder name 1 in "name"`}},
		{"full name upper case", `{"msg":"NGUYỄN THỊ THU TRANG"}`, []string{`part 1 of holder name 1`, `part 4 of holder name 1`, `holder name 1`}},
		{"full name folded and hyphenated", `{"file":"nguyen-thi-thu-trang.jpg"}`, []string{`part 4 of holder name 1`, `holder name 1 in "file"`}},
		{"full name run together", `{"file":"nguyenthithutrang.pdf"}`, []string{`holder name 1 in "file"`}},
		{"full name escaped in json", `{"msg":"Nguy\u1ec5n Th\u1ecb Thu Trang"}`, []string{`part 1 of holder name 1`, `part 4 of holder name 1`, `holder name 1`}},
		{"full name decomposed", "{\"msg\":\"Nguye\u0302\u0303n Thi\u0323 Thu Trang\"}", []string{`part 1 of holder name 1`, `part 4 of holder name 1`, `holder name 1`}},
		{"name part", `{"msg":"approved by Long"}`, []string{`part 3 of holder name 2 in "msg"`}},
		{"name part with diacritics", `{"who":"Khải"}`, []string{`part 3 of holder name 3 in "who"`}},
		{"name with đ folded", `dinh tien khai`, []string{`holder name 3`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FindPersonal(tc.text, ids, names)
			if len(got) != len(tc.want) {
				t.Fatalf("FindPersonal(%q) = %q, want %d hits like %q", tc.text, got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("hit %d = %q, want it to contain %q", i, got[i], w)
				}
			}
			for _, h := range got {
				for _, leak := range []string{"1199012", "9203004", "Nguy", "nguy", "Trang", "Long", "Khải"} {
					if strings.Contains(h, leak) {
						t.Errorf("hit %q repeats the personal data", h)
					}
				}
			}
		})
	}
}

func TestCheckLogAndKeys(t *testing.T) {
	ids, names := []string{"001199012345"}, []string{"Nguyễn Thị Thu Trang"}
	log := `{"msg":"ok","key":"intake/t6dnbamijr6wlgrp5kqmkwwqcwr36ty3fmfyelgrlvwblmhqbiea"}

{"msg":"leak","name":"Nguyễn Thị Thu Trang"}
`
	ft := &recorder{TB: t}
	if n := CheckLog(ft, log, ids, names); n != 2 {
		t.Errorf("CheckLog checked %d lines, want 2", n)
	}
	if len(ft.errors) != 3 || !strings.Contains(ft.errors[0], "log line 3") {
		t.Errorf("CheckLog errors = %q, want 3 on line 3", ft.errors)
	}
}

func TestCheckKeys(t *testing.T) {
	ids, names := []string{"001199012345"}, []string{"Nguyễn Thị Thu Trang"}
	b := mem.New()
	put := func(key string) {
		sum := sha256.Sum256([]byte(key))
		if err := b.PutOnce(t.Context(), key, []byte(key), hex.EncodeToString(sum[:])); err != nil {
			t.Fatal(err)
		}
	}
	// The hash of this key holds "long" (TestDemoCorpus once failed on it).
	put("sha256/ypzhk6pnnrk3e5hxdg6lbulongvrs7pd2wdk7ccsha54j2pl54wa")
	put(storage.IntakeKey(storage.InputKeyOf([]byte("scan"))))
	ft := &recorder{TB: t}
	if n := CheckKeys(ft, b, ids, []string{"Hoàng Văn Long"}); n != 2 || len(ft.errors) != 0 {
		t.Errorf("CheckKeys = %d keys, errors %q; want 2, none", n, ft.errors)
	}
	put("intake/nguyen-thi-thu-trang.jpg")
	put("results/000.00.31.H29/2026/02/001199012345.pdf")
	ft = &recorder{TB: t}
	CheckKeys(ft, b, ids, names)
	grammar, personal := 0, 0
	for _, e := range ft.errors {
		if strings.Contains(e, "does not match") {
			grammar++
		}
		if strings.Contains(e, "shows") {
			personal++
		}
	}
	if grammar != 2 || personal < 2 {
		t.Fatalf("CheckKeys errors = %q, want both planted keys refused by the grammar and shown as personal data", ft.errors)
	}
	for _, e := range ft.errors {
		if strings.Contains(e, "1199") || strings.Contains(e, "nguyen") {
			t.Errorf("error %q repeats the key", e)
		}
	}
}

// recorder records Errorf calls instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
