package ocr

import (
	"reflect"
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
	mk := func(docType, id string, reasons ...string) Document {
		return Document{DocType: docType, Fields: map[string]Field{"personal_id": {Value: id, Confidence: 0.5}}, ReviewReasons: append([]string{}, reasons...)}
	}
	tests := []struct {
		name string
		docs []Document
		want [][]string
	}{
		{"match corroborates", []Document{mk("to-khai", "001099872198"), mk("cu-tru", "001099872198", reasonLowConfidence+"personal_id")}, [][]string{{}, {}}},
		{"mismatch flags both", []Document{mk("to-khai", "001099872198"), mk("cu-tru", "091099872198")}, [][]string{{codeCrossDocument}, {codeCrossDocument}}},
		{"malformed application ID is not compared", []Document{mk("to-khai", "0010998721988", codeWrongLength), mk("cu-tru", "001099872198")}, [][]string{{codeWrongLength}, {}}},
		{"no application", []Document{mk("cu-tru", "001099872198"), mk("khai-sinh", "091099872198")}, [][]string{{}, {}}},
		{"result before application is not compared", []Document{mk("cu-tru", "091099872198"), mk("to-khai", "001099872198")}, [][]string{{}, {}}},
	}
	for _, tt := range tests {
		crossCheckIDs(tt.docs, ls)
		for i, d := range tt.docs {
			if !reflect.DeepEqual(d.ReviewReasons, tt.want[i]) {
				t.Errorf("%s doc %d: got %v, want %v", tt.name, i, d.ReviewReasons, tt.want[i])
			}
		}
	}
}
