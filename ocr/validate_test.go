package ocr

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidatePersonalID(t *testing.T) {
	ls := testLayouts(t)
	tests := []struct {
		name  string
		id    string
		facts IDFacts
		want  []string
	}{
		{"consistent male 1999", "001099872198", IDFacts{Sex: "Nam", BirthDate: "14/08/1999"}, nil},
		{"consistent female 2000s", "048314903046", IDFacts{Sex: "Nữ", BirthDate: "16/04/2014"}, nil},
		{"no facts", "001099872198", IDFacts{}, nil},
		{"wrong length short", "00109987219", IDFacts{}, []string{codeWrongLength}},
		{"wrong length long", "0010998721981", IDFacts{}, []string{codeWrongLength}},
		{"not digits", "00109987219X", IDFacts{}, []string{codeWrongLength}},
		{"sex mismatch", "040173846755", IDFacts{Sex: "Nam", BirthDate: "25/02/1973"}, []string{codeSexMismatch}},
		{"century mismatch", "048262528233", IDFacts{Sex: "Nam", BirthDate: "17/09/1962"}, []string{codeCenturyMismatch}},
		{"birth year mismatch", "048179339127", IDFacts{Sex: "Nữ", BirthDate: "14/01/1976"}, []string{codeBirthYear}},
		{"unknown province", "003209701086", IDFacts{Sex: "Nam", BirthDate: "20/11/2009"}, []string{codeUnknownProvince}},
		{"province 096 known", "096099000001", IDFacts{Sex: "Nam", BirthDate: "01/01/1999"}, nil},
		{"province 097 unknown", "097099000001", IDFacts{}, []string{codeUnknownProvince}},
		{"several at once", "003199000001", IDFacts{Sex: "Nam", BirthDate: "01/01/2001"}, []string{codeUnknownProvince, codeSexMismatch, codeCenturyMismatch, codeBirthYear}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ls.ValidatePersonalID(tt.id, tt.facts)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ValidatePersonalID(%s): got %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestValidateDocumentDates(t *testing.T) {
	ls := testLayouts(t).WithReferenceDate(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	l, _ := ls.Layout("khai-sinh")
	tests := []struct {
		name   string
		values map[string]extracted
		want   []string
	}{
		{"fine", map[string]extracted{"issue_date": {value: "01/05/2024"}, "date_of_birth": {value: "01/01/2010"}}, nil},
		{"future issue", map[string]extracted{"issue_date": {value: "02/06/2024"}}, []string{reasonFutureIssue}},
		{"birth after issue", map[string]extracted{"issue_date": {value: "01/05/2010"}, "date_of_birth": {value: "02/05/2010"}}, []string{reasonBirthAfter}},
	}
	for _, tt := range tests {
		got := validateDocument(l, tt.values, ls)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCrossCheckIDs(t *testing.T) {
	ls := testLayouts(t)
	// An ID read: its value, confidence and whether second reads
	// confirmed or contradicted it.
	type read struct {
		id                  string
		conf                float64
		confirmed, disagree bool
	}
	sure := func(id string) read { return read{id: id, conf: 0.95, confirmed: true} }
	doubtful := func(id string) read { return read{id: id, conf: 0.5} }
	mk := func(docType string, r read, reasons ...string) (Document, docInfo) {
		d := Document{DocType: docType, Fields: map[string]Field{"personal_id": {Value: r.id, Confidence: r.conf}}, ReviewReasons: append([]string{}, reasons...)}
		id := labelledID{value: r.id, conf: r.conf, confirmed: r.confirmed, disagree: r.disagree}
		if docType == DocTypeUnknown {
			return d, docInfo{otherIDs: []labelledID{id}}
		}
		return d, docInfo{ids: map[string]labelledID{"personal_id": id}}
	}
	type doc struct {
		docType string
		read    read
		reasons []string
	}
	unknownTwo := func(first, second string) doc {
		return doc{docType: DocTypeUnknown, read: doubtful(first + "|" + second)}
	}
	tests := []struct {
		name string
		docs []doc
		want [][]string
	}{
		{"match corroborates", []doc{{"to-khai", doubtful("001099872198"), nil}, {"cu-tru", doubtful("001099872198"), []string{reasonLowConfidence + "personal_id"}}}, [][]string{{}, {}}},
		{"confident mismatch flags both", []doc{{"to-khai", sure("001099872198"), nil}, {"cu-tru", sure("091099872198"), nil}}, [][]string{{codeCrossDocument}, {codeCrossDocument}}},
		{"form at the bar without second reads is sure", []doc{{"to-khai", read{id: "001099872198", conf: 0.94}, nil}, {"cu-tru", sure("091099872198"), nil}}, [][]string{{codeCrossDocument}, {codeCrossDocument}}},
		{"doubtful form, confirmed result: only the form", []doc{{"to-khai", doubtful("001099872198"), nil}, {"cu-tru", sure("091099872198"), nil}}, [][]string{{codeCrossDocument}, {}}},
		{"form whose reads disagree, confirmed result: only the form", []doc{{"to-khai", read{id: "001099872198", conf: 0.97, disagree: true}, nil}, {"cu-tru", sure("091099872198"), nil}}, [][]string{{codeCrossDocument}, {}}},
		{"doubtful form, unconfirmed result: both", []doc{{"to-khai", doubtful("001099872198"), nil}, {"cu-tru", read{id: "091099872198", conf: 0.97}, nil}}, [][]string{{codeCrossDocument}, {codeCrossDocument}}},
		{"doubtful form, contested result: both", []doc{{"to-khai", doubtful("001099872198"), nil}, {"cu-tru", read{id: "091099872198", conf: 0.95, confirmed: true, disagree: true}, nil}}, [][]string{{codeCrossDocument}, {codeCrossDocument}}},
		{"malformed application ID is not compared", []doc{{"to-khai", doubtful("0010998721988"), []string{codeWrongLength}}, {"cu-tru", sure("001099872198"), nil}}, [][]string{{codeWrongLength}, {}}},
		{"no application", []doc{{"cu-tru", sure("001099872198"), nil}, {"khai-sinh", sure("091099872198"), nil}}, [][]string{{}, {}}},
		{"result before application is not compared", []doc{{"cu-tru", sure("091099872198"), nil}, {"to-khai", sure("001099872198"), nil}}, [][]string{{}, {}}},
		{"unknown type: the form's ID among its IDs", []doc{{"to-khai", sure("001099872198"), nil}, unknownTwo("091099872198", "001099872198")}, [][]string{{}, {}}},
		{"unknown type: no ID of it is the form's", []doc{{"to-khai", sure("001099872198"), nil}, unknownTwo("091099872198", "079099872198")}, [][]string{{codeCrossDocument}, {codeCrossDocument}}},
	}
	for _, tt := range tests {
		var docs []Document
		var infos []docInfo
		for _, d := range tt.docs {
			doc, info := mk(d.docType, d.read, d.reasons...)
			if d.docType == DocTypeUnknown {
				info.otherIDs = nil
				for _, id := range strings.Split(d.read.id, "|") {
					info.otherIDs = append(info.otherIDs, labelledID{value: id, conf: 0.95, confirmed: true})
				}
			}
			docs = append(docs, doc)
			infos = append(infos, info)
		}
		crossCheckIDs(docs, infos, ls)
		for i, d := range docs {
			if !reflect.DeepEqual(d.ReviewReasons, tt.want[i]) {
				t.Errorf("%s doc %d: got %v, want %v", tt.name, i, d.ReviewReasons, tt.want[i])
			}
		}
	}
}

func TestPlausibleBirths(t *testing.T) {
	ls := testLayouts(t) // today: 01/01/2026
	ketHon := ls.byType["ket-hon"]
	tests := []struct {
		name   string
		births map[string]string
		issue  int
		want   []string
	}{
		{"plausible", map[string]string{"date_of_birth": "01/02/1990", "spouse_date_of_birth": "03/04/1992"}, 20200101, nil},
		{"born in the future", map[string]string{"date_of_birth": "01/02/2090"}, 0, []string{reasonInvalidDate + "date_of_birth"}},
		{"born before 1900", map[string]string{"spouse_date_of_birth": "05/08/1879"}, 20200101, []string{reasonInvalidDate + "spouse_date_of_birth"}},
		{"born after the issue date", map[string]string{"date_of_birth": "01/02/2021"}, 20200101, []string{reasonBirthAfter}},
		{"a spouse of 13 at the issue date", map[string]string{"spouse_date_of_birth": "02/01/2006"}, 20190101, []string{reasonInvalidDate + "spouse_date_of_birth"}},
		{"a spouse of 14 at the issue date", map[string]string{"spouse_date_of_birth": "01/01/2005"}, 20190101, nil},
		{"no issue date: only the calendar checks", map[string]string{"spouse_date_of_birth": "02/01/2006"}, 0, nil},
	}
	for _, tt := range tests {
		values := map[string]extracted{}
		for k, v := range tt.births {
			values[k] = extracted{value: v}
		}
		got := plausibleBirths(ketHon, values, tt.issue, ls.referenceDate())
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
