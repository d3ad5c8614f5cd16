package ocr

import (
	"image"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// boxedLine is one line of words laid left to right from x on row y (boxes
// 100 wide), or without boxes when y < 0 (a text-only page).
func boxedLine(page, y int, text string) textLine {
	var ws []Word
	x := 100
	for _, t := range strings.Fields(text) {
		w := Word{Text: t, Conf: 0.9}
		if y >= 0 {
			w.Box = image.Rect(x, y, x+100, y+40)
		}
		ws = append(ws, w)
		x += 120
	}
	return textLine{page: page, segs: []textSegment{{words: ws, x0: -1, x1: -1}}}
}

func TestNameConfirmedInText(t *testing.T) {
	// The value "ĐẶNG THÀNH QUÂN" read on line 2 (y 200) of page 1, after
	// its label's four words: x from 580 to 920.
	valueBox := image.Rect(580, 200, 920, 240)
	label := boxedLine(1, 200, "Họ, chữ đệm, tên: ĐẶNG THÀNH QUÂN")
	tests := []struct {
		name  string
		lines []textLine
		value string
		page  int
		box   image.Rectangle
		want  bool
	}{
		{"repeated in the request sentence", []textLine{
			boxedLine(1, 100, "Xét đề nghị của ông Đặng Thành Quân về việc"), label,
		}, "ĐẶNG THÀNH QUÂN", 1, valueBox, true},
		{"repeated on another page", []textLine{
			label, boxedLine(2, 200, "Họ, chữ đệm, tên: ĐẶNG THÀNH QUÂN"),
		}, "ĐẶNG THÀNH QUÂN", 1, valueBox, true},
		{"only its own read", []textLine{
			boxedLine(1, 100, "Xét đề nghị của ông về việc"), label,
		}, "ĐẶNG THÀNH QUÂN", 1, valueBox, false},
		{"another diacritic elsewhere", []textLine{
			boxedLine(1, 100, "Xét đề nghị của ông Đặng Thành Quán về việc"), label,
		}, "ĐẶNG THÀNH QUÂN", 1, valueBox, false},
		{"part of the name elsewhere", []textLine{
			boxedLine(1, 100, "Xét đề nghị của ông Đặng Thành về việc"), label,
		}, "ĐẶNG THÀNH QUÂN", 1, valueBox, false},
		{"a one-word value", []textLine{
			boxedLine(1, 100, "Xét đề nghị của ông Quân"), boxedLine(1, 200, "tên: QUÂN"),
		}, "QUÂN", 1, image.Rect(220, 200, 320, 240), false},
		{"a value holding a non-letter", []textLine{
			boxedLine(1, 100, "của ông Đặng Thành Qu4n"), boxedLine(1, 200, "tên: ĐẶNG THÀNH QU4N"),
		}, "ĐẶNG THÀNH QU4N", 1, image.Rect(220, 200, 560, 240), false},
		{"text-only page, read twice", []textLine{
			boxedLine(1, -1, "Xét đề nghị của ông Đặng Thành Quân,"), boxedLine(1, -1, "Họ, chữ đệm, tên: ĐẶNG THÀNH QUÂN"),
		}, "ĐẶNG THÀNH QUÂN", 1, image.Rectangle{}, true},
		{"text-only page, read once", []textLine{
			boxedLine(1, -1, "Xét đề nghị của ông"), boxedLine(1, -1, "Họ, chữ đệm, tên: ĐẶNG THÀNH QUÂN"),
		}, "ĐẶNG THÀNH QUÂN", 1, image.Rectangle{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nameConfirmedInText(tt.lines, tt.value, tt.page, tt.box); got != tt.want {
				t.Errorf("nameConfirmedInText(%q): got %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func TestCorroborateNames(t *testing.T) {
	ls := testLayouts(t)
	doc := func(typ, name string, reasons ...string) Document {
		return Document{DocType: typ, Fields: map[string]Field{"full_name": {Value: name, Confidence: 0.5}}, ReviewReasons: reasons}
	}
	low := reasonLowConfidence + "full_name"
	tests := []struct {
		name string
		docs []Document
		want [][]string
	}{
		{"form and result read the same name", []Document{
			doc("to-khai", "TRẦN THỊ MAI", low), doc("cu-tru", "TRẦN THỊ MAI", low),
		}, [][]string{{}, {}}},
		{"names differ by a diacritic", []Document{
			doc("to-khai", "TRẦN THỊ MAI", low), doc("cu-tru", "TRẦN THỊ MÃI", low),
		}, [][]string{{low}, {low}}},
		{"no form before the result", []Document{
			doc("cu-tru", "TRẦN THỊ MAI", low), doc("to-khai", "TRẦN THỊ MAI", low),
		}, [][]string{{low}, {low}}},
		{"other reasons stay", []Document{
			doc("to-khai", "TRẦN THỊ MAI"), doc("cu-tru", "Trần Thị Mai", low, codeSexMismatch),
		}, [][]string{{}, {codeSexMismatch}}},
		{"a one-word name", []Document{
			doc("to-khai", "MAI", low), doc("cu-tru", "MAI", low),
		}, [][]string{{low}, {low}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			corroborateNames(tt.docs, ls)
			for i, d := range tt.docs {
				got := append([]string{}, d.ReviewReasons...)
				if !slices.Equal(got, tt.want[i]) {
					t.Errorf("doc %d reasons: got %v, want %v", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestDateAlternatives(t *testing.T) {
	part := func(page string, reads ...string) datePart { return datePart{page: page, conf: 0.75, reads: reads} }
	tests := []struct {
		name      string
		parts     [3]datePart
		outcome   [3]datePartOutcome
		want      []string
		wantSettl bool
	}{
		{"one dissent, two agreeing reads",
			[3]datePart{part("10"), part("5", "3", "5", "5"), part("2021")},
			[3]datePartOutcome{partKept, partContested, partKept}, []string{"10/03/2021"}, true},
		{"one agreeing read only",
			[3]datePart{part("10"), part("5", "3", "5"), part("2021")},
			[3]datePartOutcome{partKept, partContested, partKept}, []string{"10/03/2021"}, false},
		{"two dissents",
			[3]datePart{part("10"), part("5", "3", "8", "5", "5"), part("2021")},
			[3]datePartOutcome{partKept, partContested, partKept}, []string{"10/03/2021", "10/08/2021"}, true},
		{"unusable reads do not count",
			[3]datePart{part("10"), part("5", "3", "555", "x"), part("2021")},
			[3]datePartOutcome{partKept, partContested, partKept}, []string{"10/03/2021"}, false},
		{"two parts contested",
			[3]datePart{part("10", "16", "10", "10"), part("5", "3", "5", "5"), part("2021")},
			[3]datePartOutcome{partContested, partContested, partKept}, nil, false},
		{"nothing contested",
			[3]datePart{part("10"), part("5", "5", "5"), part("2021")},
			[3]datePartOutcome{partKept, partConfirmed, partKept}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, settl := dateAlternatives(tt.parts, tt.outcome)
			if !reflect.DeepEqual(got, tt.want) || settl != tt.wantSettl {
				t.Errorf("dateAlternatives: got %v %v, want %v %v", got, settl, tt.want, tt.wantSettl)
			}
		})
	}
}

func TestSettleByPlausibility(t *testing.T) {
	l := &Layout{BirthDateField: "date_of_birth", Fields: []FieldSpec{
		{Slug: "issue_date", Kind: kindDate, NotBefore: []string{"first_registration_date"}},
		{Slug: "first_registration_date", Kind: kindDate},
		{Slug: "date_of_birth", Kind: kindDate},
	}}
	ref := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sure := func(v string) extracted { return extracted{value: v, conf: 0.96} }
	contested := func(v string, alts ...string) extracted {
		return extracted{value: v, conf: 0.93, readsDisagree: true, settleable: true, alternatives: alts}
	}
	tests := []struct {
		name   string
		values map[string]extracted
		want   bool // issue_date still disagreeing
	}{
		{"dissent before the first registration", map[string]extracted{
			"issue_date": contested("10/05/2021", "10/03/2021"), "first_registration_date": sure("10/05/2021"),
		}, false},
		{"dissent after the first registration", map[string]extracted{
			"issue_date": contested("10/05/2021", "10/07/2021"), "first_registration_date": sure("10/05/2021"),
		}, true},
		{"one of two dissents possible", map[string]extracted{
			"issue_date": contested("10/05/2021", "10/03/2021", "10/08/2021"), "first_registration_date": sure("10/05/2021"),
		}, true},
		{"dissent in the future", map[string]extracted{
			"issue_date": contested("10/05/2021", "10/05/2027"),
		}, false},
		{"dissent not a calendar date", map[string]extracted{
			"issue_date": contested("10/02/2021", "30/02/2021"),
		}, false},
		{"dissent before the holder's birth", map[string]extracted{
			"issue_date": contested("10/05/2021", "10/05/1921"), "date_of_birth": sure("01/01/1990"),
		}, false},
		{"bound read with low confidence", map[string]extracted{
			"issue_date":              contested("10/05/2021", "10/03/2021"),
			"first_registration_date": {value: "10/05/2021", conf: 0.4},
		}, true},
		{"bound whose reads disagree", map[string]extracted{
			"issue_date":              contested("10/05/2021", "10/03/2021"),
			"first_registration_date": {value: "10/05/2021", conf: 0.96, readsDisagree: true},
		}, true},
		{"no bound", map[string]extracted{
			"issue_date": contested("10/05/2021", "10/03/2021"),
		}, true},
		{"page read itself impossible", map[string]extracted{
			"issue_date": contested("10/03/2021", "10/02/2021"), "first_registration_date": sure("10/05/2021"),
		}, true},
		{"not settleable", map[string]extracted{
			"issue_date":              {value: "10/05/2021", conf: 0.93, readsDisagree: true, alternatives: []string{"10/03/2021"}},
			"first_registration_date": sure("10/05/2021"),
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settleByPlausibility(l, tt.values, ref)
			if got := tt.values["issue_date"].readsDisagree; got != tt.want {
				t.Errorf("readsDisagree: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResolveDateReadsAlternatives(t *testing.T) {
	tests := []struct {
		name      string
		reads     []string
		wantValue string
		wantAlts  []string
		wantSettl bool
	}{
		{"two reads back the page read", []string{"25/02/1971", "25/02/1973", "25/02/1973"}, "25/02/1973", []string{"25/02/1971"}, true},
		{"one read backs the page read", []string{"25/02/1971", "25/02/1973"}, "25/02/1973", []string{"25/02/1971"}, false},
		{"the dissent outvotes the page read", []string{"25/02/1971", "25/02/1971"}, "25/02/1971", []string{"25/02/1971"}, false},
		{"no dissent", []string{"25/02/1973", "25/02/1973"}, "25/02/1973", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := resolveDateReads("25/02/1973", true, 0.8, tt.reads, nil)
			if d.value != tt.wantValue || !reflect.DeepEqual(d.alternatives, tt.wantAlts) || d.settleable != tt.wantSettl {
				t.Errorf("got %q %v %v, want %q %v %v", d.value, d.alternatives, d.settleable, tt.wantValue, tt.wantAlts, tt.wantSettl)
			}
		})
	}
}

// TestSettleByPlausibilityBoundsAsRead: a bound whose own dissent is
// settled in the same pass does not settle another date.
func TestSettleByPlausibilityBoundsAsRead(t *testing.T) {
	l := &Layout{BirthDateField: "date_of_birth", Fields: []FieldSpec{
		{Slug: "date_of_birth", Kind: kindDate},
		{Slug: "registration_date", Kind: kindDate, NotBefore: []string{"date_of_birth"}},
	}}
	ref := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	values := map[string]extracted{
		"date_of_birth":     {value: "12/01/1973", conf: 0.96, readsDisagree: true, settleable: true, alternatives: []string{"12/01/2073"}},
		"registration_date": {value: "25/02/1973", conf: 0.81, readsDisagree: true, settleable: true, alternatives: []string{"25/02/1971"}},
	}
	settleByPlausibility(l, values, ref)
	if values["date_of_birth"].readsDisagree {
		t.Errorf("birth date: the dissent in the future should be settled")
	}
	if !values["registration_date"].readsDisagree {
		t.Errorf("registration date: settled against a bound that was itself in dispute")
	}
}

func TestDatePossibleBirth(t *testing.T) {
	l := &Layout{BirthDateField: "date_of_birth",
		IDChecks: []IDCheck{{IDField: "spouse_personal_id", BirthDateField: "spouse_date_of_birth"}},
		Fields: []FieldSpec{
			{Slug: "date_of_birth", Kind: kindDate},
			{Slug: "spouse_date_of_birth", Kind: kindDate, MinAgeYears: 14},
			{Slug: "issue_date", Kind: kindDate},
		}}
	ref := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	issue := map[string]extracted{"issue_date": {value: "10/05/2021", conf: 0.96}}
	tests := []struct {
		name, slug, v string
		values        map[string]extracted
		want          bool
	}{
		{"a past birth", "date_of_birth", "12/01/1973", issue, true},
		{"before 1900", "date_of_birth", "12/01/1873", issue, false},
		{"after the issue date", "date_of_birth", "12/01/2022", issue, false},
		{"in the future, no issue date", "date_of_birth", "12/01/2027", nil, false},
		{"spouse 14 at the issue date", "spouse_date_of_birth", "10/05/2007", issue, true},
		{"spouse under 14 at the issue date", "spouse_date_of_birth", "11/05/2007", issue, false},
		{"spouse young, issue date unsure", "spouse_date_of_birth", "11/05/2015", map[string]extracted{"issue_date": {value: "10/05/2021", conf: 0.3}}, true},
		{"not a birth field", "issue_date", "10/05/1850", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := datePossible(l, tt.slug, tt.v, tt.values, ref); got != tt.want {
				t.Errorf("datePossible(%s %s): got %v, want %v", tt.slug, tt.v, got, tt.want)
			}
		})
	}
}
