package ocr

import (
	"image"
	"reflect"
	"strings"
	"testing"

	"sohoa/storage"
)

func TestResolveIDReads(t *testing.T) {
	const (
		good  = "001099872198" // passes the checks below
		other = "001099872193" // one digit off, also passes
		bad   = "091099872198" // fails them (unknown province here)
	)
	valid := func(id string) bool { return id == good || id == other }
	tests := []struct {
		name    string
		primary string
		conf    float64
		reads   []string
		want    idDecision
	}{
		{"no second reads: page read stands", good, 0.41, nil,
			idDecision{value: good, conf: 0.41}},
		{"agree: confirmed, confidence raised", good, 0.41, []string{good, good, good},
			idDecision{value: good, conf: confirmedIDConfidence, confirmed: true}},
		{"agree: confidence never lowered", good, 0.97, []string{good, good},
			idDecision{value: good, conf: 0.97, confirmed: true}},
		{"one agreeing read is not enough", good, 0.36, []string{good, "0010998721", "00109987"},
			idDecision{value: good, conf: 0.36}},
		{"failed reads are no votes", good, 0.5, []string{"", "123", "00109987219", good, good},
			idDecision{value: good, conf: confirmedIDConfidence, confirmed: true}},
		{"agreeing on a wrong length confirms nothing", "0010998721981", 0.9, []string{"0010998721981", "0010998721981"},
			idDecision{value: "0010998721981", conf: 0.9}},
		{"disagree: majority of reads wins, review", bad, 0.86, []string{good, good, good},
			idDecision{value: good, readings: []string{bad, good}, conf: 0.75, disagree: true}},
		{"disagree: page read keeps a tie when both pass", other, 0.9, []string{good},
			idDecision{value: other, readings: []string{other, good}, conf: 0.9, disagree: true}},
		{"disagree: tie goes to the reading that passes the checks", bad, 0.9, []string{good},
			idDecision{value: good, readings: []string{bad, good}, conf: 0.5, disagree: true}},
		{"disagree: invalid page read (13 digits), valid second read chosen", "0010998721981", 0, []string{good, "0010998721"},
			idDecision{value: good, readings: []string{"0010998721981", good, "0010998721"}, conf: 0, disagree: true}},
		{"disagree: page read with more votes stays though it fails the checks", bad, 0.97, []string{bad, good},
			idDecision{value: bad, readings: []string{bad, good}, conf: 0.97, disagree: true}},
		{"disagree against a confident page read still reviews", good, 0.97, []string{good, other},
			idDecision{value: good, readings: []string{good, other}, conf: 0.97, disagree: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolveIDReads(tt.primary, tt.conf, tt.reads, valid)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("resolveIDReads(%q, %v, %q) = %+v, want %+v", tt.primary, tt.conf, tt.reads, got, tt.want)
			}
		})
	}
}

// TestExtractSecondReads runs the agreement through Extract on a page whose
// ID word carries second reads.
func TestExtractSecondReads(t *testing.T) {
	ls := testLayouts(t)
	base := loadFixture(t, "scan_0013")
	idWord := -1
	for i, w := range base[0].Words {
		if len(digitsOf(w.Text)) == 12 {
			idWord = i
			break
		}
	}
	if idWord < 0 {
		t.Fatal("fixture has no 12-digit word")
	}
	id := digitsOf(base[0].Words[idWord].Text)
	flip := []byte(id)
	flip[8] = '0' + (flip[8]-'0'+1)%10
	// The province digits misread: "9" + id[1:] names no province.
	badProvince := "9" + id[1:]
	tests := []struct {
		name       string
		conf       float64
		alts       []string
		wantValue  string
		wantReason string // "" when the ID raises no reason
		page       string // the page read, when not the fixture's
		split      bool   // the page read in two words: 3 digits, then 9
		weakLast   bool   // the last second read is the least sure
	}{
		{"marked but agreeing reads are accepted", 0.41, []string{id, id, id}, id, "", "", false, false},
		{"marked without second reads stays low", 0.41, nil, id, reasonLowConfidence + "personal_id", "", false, false},
		{"reads disagree: majority value, review", 0.97, []string{string(flip), string(flip), string(flip)}, string(flip), reasonReadsDisagree + "personal_id", "", false, false},
		{"confident page read contradicted: review", 0.97, []string{id, string(flip)}, id, reasonReadsDisagree + "personal_id", "", false, false},
		{"a checked digit misread, three reads agree: fixed", 0.9, []string{id, id, id}, id, "", badProvince, false, false},
		{"a checked digit misread, two reads agree: review", 0.9, []string{id, id}, id, reasonReadsDisagree + "personal_id", badProvince, false, false},
		{"split in two groups, three reads outvote a weaker one", 0.96, []string{id, id, id, string(flip)}, id, "", "", true, true},
		{"split in two groups, the dissent is as sure: review", 0.96, []string{id, id, id, string(flip)}, id, reasonReadsDisagree + "personal_id", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := clonePages(base)
			w := &pages[0].Words[idWord]
			w.Conf = tt.conf
			if tt.page != "" {
				w.Text = tt.page
			}
			for i, a := range tt.alts {
				conf := 0.9
				if tt.weakLast && i == len(tt.alts)-1 {
					conf = 0.6
				}
				w.Alts = append(w.Alts, Reading{Text: a, Conf: conf, Words: 1})
			}
			if tt.split {
				// "001 099872198": the first word keeps the reads, made
				// over both words' crop.
				whole := *w
				first, rest := whole, whole
				first.Text, rest.Text, rest.Alts = whole.Text[:3], whole.Text[3:], nil
				mid := whole.Box.Min.X + whole.Box.Dx()/4
				first.Box.Max.X, rest.Box.Min.X = mid, mid+8
				for i := range first.Alts {
					first.Alts[i].Words = 2
				}
				ws := append([]Word(nil), pages[0].Words[:idWord]...)
				ws = append(ws, first, rest)
				pages[0].Words = append(ws, pages[0].Words[idWord+1:]...)
				w = &pages[0].Words[idWord]
			}
			docs := Extract(pages, ls)
			if len(docs) != 1 {
				t.Fatalf("got %d documents, want 1", len(docs))
			}
			d := docs[0]
			if d.HolderPersonalID != tt.wantValue {
				t.Errorf("holder ID: got %s, want %s", storage.MaskID(d.HolderPersonalID), storage.MaskID(tt.wantValue))
			}
			has := func(r string) bool {
				for _, x := range d.ReviewReasons {
					if x == r {
						return true
					}
				}
				return false
			}
			if tt.wantReason == "" {
				for _, r := range []string{reasonLowConfidence + "personal_id", reasonReadsDisagree + "personal_id"} {
					if has(r) {
						t.Errorf("got reason %s, want none for the ID (reasons %v)", r, d.ReviewReasons)
					}
				}
			} else if !has(tt.wantReason) {
				t.Errorf("got reasons %v, want %s among them", d.ReviewReasons, tt.wantReason)
			}
			if tt.wantReason == reasonLowConfidence+"personal_id" && has(reasonReadsDisagree+"personal_id") {
				t.Errorf("got %v, want no disagreement without second reads", d.ReviewReasons)
			}
			if tt.wantReason != "" && !d.NeedsReview {
				t.Error("got auto-accepted, want needs_review")
			}
			// Where the ID was read, and both readings when they disagree.
			f := d.Fields["personal_id"]
			if f.Page != 1 || !f.Box.Overlaps(pages[0].Words[idWord].Box) {
				t.Errorf("personal_id at page %d box %v, want page 1 over the ID word %v", f.Page, f.Box, pages[0].Words[idWord].Box)
			}
			if tt.wantReason == reasonReadsDisagree+"personal_id" {
				first, other := id, string(flip)
				if tt.page != "" {
					first, other = tt.page, id
				}
				if len(f.Reads) != 2 || f.Reads[0] != first || f.Reads[1] != other {
					t.Errorf("personal_id reads = %d readings, want the page read then the other", len(f.Reads))
				}
			} else if len(f.Reads) != 0 {
				t.Errorf("personal_id reads = %d readings, want none when the reads agree", len(f.Reads))
			}
		})
	}
}

func clonePages(ps []Page) []Page {
	out := make([]Page, len(ps))
	for i, p := range ps {
		out[i] = p
		out[i].Words = append([]Word(nil), p.Words...)
	}
	return out
}

func TestWrittenDateParts(t *testing.T) {
	line := func(texts ...string) []Word {
		ws := make([]Word, len(texts))
		for i, s := range texts {
			ws[i] = Word{Text: s, Line: 0}
		}
		return ws
	}
	tests := []struct {
		name string
		ws   []Word
		want [][3]int
	}{
		{"place/date line", line("Tân", "An,", "ngày", "37", "tháng", "7", "năm", "2020"), [][3]int{{3, 5, 7}}},
		{"keywords misread without diacritics, look-alike digit", line("ngay", "2O", "thang", "07", "nam", "2020."), [][3]int{{1, 3, 5}}},
		{"two dates", line("ngày", "1", "tháng", "2", "năm", "2003", "ngày", "4", "tháng", "5", "năm", "2006"), [][3]int{{1, 3, 5}, {7, 9, 11}}},
		{"label, not a date", line("Ngày,", "tháng,", "năm", "sinh:", "23/01/1989"), nil},
		{"a word between", line("ngày", "27", "tháng", "bảy", "năm", "2020"), nil},
		{"number word too long", line("ngày", "27", "tháng", "7", "năm", "20201"), nil},
		{"no digit: look-alikes and symbols the second reads settle", line("ngày", "1Š", "tháng", "LI", "năm", "2Ù24"), [][3]int{{1, 3, 5}}},
		{"keyword with one OCR error", line("ngày", "28", "thúng", "5", "năm", "2024"), [][3]int{{1, 3, 5}}},
		{"a date written out in words", line("Ngày", "hai", "tháng", "ba", "năm", "2020"), nil},
		{"nam needs no error", line("ngày", "28", "tháng", "5", "nim", "2024"), nil},
		{"day too long", line("ngày", "281", "tháng", "5", "năm", "2024"), nil},
		{"split over two lines", append(line("ngày", "27", "tháng"), Word{Text: "7", Line: 1}, Word{Text: "năm", Line: 1}, Word{Text: "2020", Line: 1}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WrittenDateParts(tt.ws); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("WrittenDateParts: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResolveDateParts(t *testing.T) {
	part := func(page string, conf float64, reads ...string) datePart {
		return datePart{page: page, conf: conf, reads: reads}
	}
	month, year := part("7", 0.97), part("2020", 0.97)
	tests := []struct {
		name        string
		parts       [3]datePart
		wantValues  [3]string
		wantOutcome [3]datePartOutcome
	}{
		{"confident possible date: reads not consulted",
			[3]datePart{part("27", 0.97, "21", "21", "21"), month, year},
			[3]string{"27", "7", "2020"}, [3]datePartOutcome{partKept, partKept, partKept}},
		{"impossible day replaced by agreeing reads",
			[3]datePart{part("37", 0.76, "27", "27", "27"), month, year},
			[3]string{"27", "7", "2020"}, [3]datePartOutcome{partReplaced, partKept, partKept}},
		{"impossible day, confident: still consulted",
			[3]datePart{part("37", 0.97, "27", "", "27"), month, year},
			[3]string{"27", "7", "2020"}, [3]datePartOutcome{partReplaced, partKept, partKept}},
		{"impossible day, reads disagree: unsettled",
			[3]datePart{part("37", 0.76, "27", "21", "27"), month, year},
			[3]string{"37", "7", "2020"}, [3]datePartOutcome{partUnsettled, partKept, partKept}},
		{"impossible day, one read: unsettled",
			[3]datePart{part("37", 0.76, "27", "", "127"), month, year},
			[3]string{"37", "7", "2020"}, [3]datePartOutcome{partUnsettled, partKept, partKept}},
		{"impossible day, reads agree on another impossible day: unsettled",
			[3]datePart{part("37", 0.76, "38", "38"), month, year},
			[3]string{"37", "7", "2020"}, [3]datePartOutcome{partUnsettled, partKept, partKept}},
		{"unreadable day replaced",
			[3]datePart{part("", 0, "5", "05", "5"), month, year},
			[3]string{"5", "7", "2020"}, [3]datePartOutcome{partReplaced, partKept, partKept}},
		{"doubtful possible day confirmed",
			[3]datePart{part("27", 0.7, "27", "27", ""), month, year},
			[3]string{"27", "7", "2020"}, [3]datePartOutcome{partConfirmed, partKept, partKept}},
		{"doubtful possible day, too few reads: kept",
			[3]datePart{part("27", 0.7, "27"), month, year},
			[3]string{"27", "7", "2020"}, [3]datePartOutcome{partKept, partKept, partKept}},
		{"doubtful possible day contradicted: contested, page read kept",
			[3]datePart{part("27", 0.7, "27", "21", "27"), month, year},
			[3]string{"27", "7", "2020"}, [3]datePartOutcome{partContested, partKept, partKept}},
		{"one weaker stray read outvoted",
			[3]datePart{{page: "27", conf: 0.7, reads: []string{"27", "21", "27"}, readConfs: []float64{0.9, 0.6, 0.95}}, month, year},
			[3]string{"27", "7", "2020"}, [3]datePartOutcome{partConfirmed, partKept, partKept}},
		{"a stray read surer than an agreeing one still contests",
			[3]datePart{{page: "27", conf: 0.7, reads: []string{"27", "21", "27"}, readConfs: []float64{0.9, 0.92, 0.95}}, month, year},
			[3]string{"27", "7", "2020"}, [3]datePartOutcome{partContested, partKept, partKept}},
		{"year reads must have four digits",
			[3]datePart{part("27", 0.97), month, part("2O2", 0.5, "202", "2020", "2020")},
			[3]string{"27", "7", "2020"}, [3]datePartOutcome{partKept, partKept, partReplaced}},
		{"not a calendar date: every part consulted",
			[3]datePart{part("31", 0.97, "31", "31"), part("2", 0.97, "2", "2"), part("2020", 0.97, "2020", "2020")},
			[3]string{"31", "2", "2020"}, [3]datePartOutcome{partReplaced, partReplaced, partReplaced}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, o := resolveDateParts(tt.parts)
			if v != tt.wantValues || o != tt.wantOutcome {
				t.Errorf("resolveDateParts: got %v %v, want %v %v", v, o, tt.wantValues, tt.wantOutcome)
			}
		})
	}
}

// TestExtractDateSecondReads runs the date rules through Extract on the
// engine's page of scan_0014, whose day word is set per case.
func TestExtractDateSecondReads(t *testing.T) {
	ls := testLayouts(t)
	base := loadPages(t, "engine", "scan_0014")
	dates := WrittenDateParts(base[0].Words)
	if len(dates) == 0 {
		t.Fatal("fixture has no written date")
	}
	day := dates[0][0]
	tests := []struct {
		name       string
		page       string
		conf       float64
		alts       []string
		year       string // the year word's text, "" to keep it
		wantValue  string
		wantReason string // "" when issue_date raises no reason
	}{
		{"impossible day, agreeing reads: accepted", "37", 0.76, []string{"27", "27", "27"}, "", "27/07/2020", ""},
		{"impossible day, reads disagree: invalid", "37", 0.76, []string{"27", "21", "27"}, "", "37/7/2020", reasonInvalidDate + "issue_date"},
		{"impossible day, no reads: invalid", "37", 0.76, nil, "", "37/7/2020", reasonInvalidDate + "issue_date"},
		{"doubtful day confirmed", "27", 0.5, []string{"27", "27"}, "", "27/07/2020", ""},
		{"doubtful day contradicted: review", "27", 0.76, []string{"21", "21", "21"}, "", "27/07/2020", reasonDateReadsDisagree + "issue_date"},
		{"confident day: reads not consulted", "27", 0.97, []string{"21", "21", "21"}, "", "27/07/2020", ""},
		{"repaired date in the future: still flagged", "37", 0.76, []string{"27", "27", "27"}, "2099", "27/07/2099", reasonFutureIssue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := clonePages(base)
			w := &pages[0].Words[day]
			w.Text, w.Conf, w.Alts = tt.page, tt.conf, nil
			for _, a := range tt.alts {
				w.Alts = append(w.Alts, Reading{Text: a, Conf: 0.9, Words: 1})
			}
			if tt.year != "" {
				y := &pages[0].Words[dates[0][2]]
				y.Text, y.Alts = tt.year, nil
			}
			docs := Extract(pages, ls)
			if len(docs) != 1 {
				t.Fatalf("got %d documents, want 1", len(docs))
			}
			d := docs[0]
			if got := d.Fields["issue_date"].Value; got != tt.wantValue {
				t.Errorf("issue_date: got %q, want %q", got, tt.wantValue)
			}
			var dateReasons []string
			for _, r := range d.ReviewReasons {
				if strings.HasSuffix(r, "issue_date") {
					dateReasons = append(dateReasons, r)
				}
			}
			switch {
			case tt.wantReason == "" && len(dateReasons) > 0:
				t.Errorf("got reasons %v, want none for issue_date", dateReasons)
			case tt.wantReason != "" && !contains(d.ReviewReasons, tt.wantReason):
				t.Errorf("got reasons %v, want %s", d.ReviewReasons, tt.wantReason)
			}
		})
	}
}

func TestNumericDateSpans(t *testing.T) {
	w := func(text string, x0, x1 int, conf float64) Word {
		return Word{Text: text, Conf: conf, Box: image.Rect(x0, 0, x1, 20)}
	}
	tests := []struct {
		name string
		ws   []Word
		want []DateSpan
	}{
		{"clean date is not re-read", []Word{w("sinh:", 0, 50, 0.96), w("14/08/1999", 60, 160, 0.95)}, nil},
		{"doubtful date", []Word{w("sinh:", 0, 50, 0.96), w("14/08/1999", 60, 160, 0.7)}, []DateSpan{{1, 1, image.Rect(60, 0, 160, 20)}}},
		{"impossible date", []Word{w("31/02/1999", 60, 160, 0.95)}, []DateSpan{{0, 0, image.Rect(60, 0, 160, 20)}}},
		{"day split in two", []Word{w("1", 60, 70, 0.95), w("1/06/2003", 75, 165, 0.95)}, []DateSpan{{0, 1, image.Rect(60, 0, 165, 20)}}},
		{"letters glued before: the date's share of the box", []Word{w("sinbz04/05/2904", 0, 150, 0.5)}, []DateSpan{{0, 0, image.Rect(50, 0, 150, 20)}}},
		{"an address number is no date", []Word{w("164/51", 0, 60, 0.5)}, nil},
		{"a reference number is no date", []Word{w("680/UBND-XNTTHN", 0, 150, 0.5)}, nil},
		{"a judgment number is no date", []Word{w("288/2018/HNGĐ-ST,", 0, 150, 0.5)}, nil},
		{"trailing punctuation is kept out of the question", []Word{w("06/05/1974.", 0, 110, 0.5)}, []DateSpan{{0, 0, image.Rect(0, 0, 100, 20)}}},
	}
	for _, tt := range tests {
		if got := NumericDateSpans(tt.ws); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestResolveDateReads(t *testing.T) {
	tests := []struct {
		name      string
		value     string
		valid     bool
		conf      float64
		reads     []string
		weak      []string
		want      string
		wantValid bool
		confirmed bool
		disagree  bool
	}{
		{"no reads", "14/08/1999", true, 0.7, nil, nil, "14/08/1999", true, false, false},
		{"confirmed", "14/08/1999", true, 0.7, []string{"14/08/1999", "14/08/1999", ""}, nil, "14/08/1999", true, true, false},
		{"one agreeing read is not enough", "14/08/1999", true, 0.7, []string{"14/08/1999", "1/0"}, nil, "14/08/1999", true, false, false},
		{"failed reads reproducing the page read support it", "25/07/2002", true, 0.4, nil, []string{"25/07/2002", "25/07/2002", ""}, "25/07/2002", true, true, false},
		{"a failed read does not contest", "25/07/2002", true, 0.4, []string{"25/07/2002"}, []string{"26/07/2002", "25/07/2002"}, "25/07/2002", true, true, false},
		{"failed reads replace nothing", "[ó6", false, 0.5, nil, []string{"16/12/1967", "16/12/1967"}, "[ó6", false, false, false},
		{"contested", "01/06/2003", true, 0.9, []string{"11/06/2003", "11/06/2003"}, nil, "11/06/2003", true, false, true},
		{"unreadable page read replaced by agreeing reads", "sinbz04/05/2904", false, 0.5, []string{"04/05/2004", "04/05/2004"}, nil, "04/05/2004", true, true, false},
		{"reads that disagree replace nothing", "[ó6", false, 0.5, []string{"16/12/1967", "18/12/1967"}, nil, "[ó6", false, false, false},
		{"impossible reads do not count", "31/02/1999", false, 0.9, []string{"31/02/1999", "31/02/1999"}, nil, "31/02/1999", false, false, false},
	}
	for _, tt := range tests {
		d := resolveDateReads(tt.value, tt.valid, tt.conf, tt.reads, tt.weak)
		if d.value != tt.want || d.valid != tt.wantValid || d.confirmed != tt.confirmed || d.disagree != tt.disagree {
			t.Errorf("%s: got %+v, want value %q valid %v confirmed %v disagree %v", tt.name, d, tt.want, tt.wantValid, tt.confirmed, tt.disagree)
		}
	}
}

func TestMajorityConfirms(t *testing.T) {
	const id = "001099872198"
	valid := func(s string) bool { return s[:3] == "001" }
	tests := []struct {
		name  string
		conf  float64
		reads []string
		confs []float64
		want  bool
	}{
		{"one weaker stray read against three", 0.96, []string{id, "001099872199", id, id}, []float64{0.93, 0.6, 0.9, 0.95}, true},
		{"two agreeing reads are not enough", 0.96, []string{id, "001099872199", id}, []float64{0.93, 0.6, 0.9}, false},
		{"the stray read is the surest", 0.96, []string{id, "001099872199", id, id}, []float64{0.93, 0.97, 0.9, 0.95}, false},
		{"two contradicting reads", 0.96, []string{id, "001099872199", id, id, "001099872190"}, []float64{0.93, 0.6, 0.9, 0.95, 0.5}, false},
		{"page read below the bar", 0.8, []string{id, "001099872199", id, id}, []float64{0.93, 0.6, 0.9, 0.95}, false},
		{"page read fails the structural checks", 0.96, []string{"091099872198", "001099872199", "091099872198", "091099872198"}, []float64{0.93, 0.6, 0.9, 0.95}, false},
		{"confidences unknown", 0.96, []string{id, "001099872199", id, id}, nil, false},
		{"short reads are no votes", 0.96, []string{id, "00109987219", id}, []float64{0.93, 0.1, 0.9}, false},
	}
	for _, tt := range tests {
		primary := id
		if tt.name == "page read fails the structural checks" {
			primary = "091099872198"
		}
		if got := majorityConfirms(primary, tt.conf, tt.reads, tt.confs, valid); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCheckDigitFix(t *testing.T) {
	const (
		good = "001099872198" // passes the checks below
		bad  = "091099872198" // one checked digit off: fails them
	)
	// The checks cover the province (the first three digits) here.
	valid := func(s string) bool { return s[:3] == "001" }
	tests := []struct {
		name    string
		primary string
		reads   []string
		want    string
		ok      bool
	}{
		{"three reads fix the digit the checks disprove", bad, []string{good, good, good}, good, true},
		{"reads equal to the page read and failed reads are no votes", bad, []string{bad, good, "", "0010998721", good, good}, good, true},
		{"two reads are not enough", bad, []string{good, good}, "", false},
		{"a dissenting read", bad, []string{good, good, good, "001099872193"}, "", false},
		{"a page read that passes the checks is not fixed", "001099872193", []string{good, good, good}, "", false},
		{"the reads fail the checks too", "091099872193", []string{"092099872193", "092099872193", "092099872193"}, "", false},
		{"two digits differ from the page read", "091099872190", []string{good, good, good}, "", false},
		{"page read not 12 digits", "09109987219", []string{good, good, good}, "", false},
	}
	for _, tt := range tests {
		got, ok := checkDigitFix(tt.primary, tt.reads, valid)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: checkDigitFix(%q, %q) = %q, %v; want %q, %v", tt.name, tt.primary, tt.reads, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzDateReading: the date readers never panic, spans stay inside the
// words, and a date they return is a real dd/mm/yyyy date.
func FuzzDateReading(f *testing.F) {
	for _, s := range []string{"Sinh ngày: I 1/06/1983", "ngày 1Š tháng LI năm 2Ù24", "sinbz04/05/2904“", "288/2018/HNGĐ-ST,", "1 1/06/2003", "ngày 31 tháng 02 năm 2020"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var ws []Word
		x := 0
		for _, tok := range strings.Fields(s) {
			ws = append(ws, Word{Text: tok, Conf: 0.5, Box: image.Rect(x, 0, x+10*len(tok), 20)})
			x += 10*len(tok) + 5
		}
		for _, sp := range NumericDateSpans(ws) {
			if sp.First < 0 || sp.Last >= len(ws) || sp.First > sp.Last {
				t.Fatalf("span %v outside %d words", sp, len(ws))
			}
		}
		for _, idx := range WrittenDateParts(ws) {
			DoubtfulDateWords(ws, idx)
			var ex extracted
			settleWrittenDate(&ex, ws, idx)
		}
		if v, _, ok := normalizeDate(s); ok {
			if _, _, _, ok := parseDMY(v); !ok {
				t.Fatalf("normalizeDate(%q) = %q, not dd/mm/yyyy", s, v)
			}
		}
		if ex, ok := writtenDate(ws); ok && !ex.invalid {
			if _, _, _, ok := parseDMY(ex.value); !ok {
				t.Fatalf("writtenDate(%q) = %q, not dd/mm/yyyy", s, ex.value)
			}
		}
	})
}

func TestRepairDatePart(t *testing.T) {
	tests := []struct {
		tok     string
		want    string
		repairs int
		ok      bool
	}{
		{"15", "15", 0, true},
		{"l6", "16", 1, true},
		{"L7", "17", 1, true}, // italic 1 read with its foot
		{"1Š", "15", 1, true}, // an accent on a look-alike
		{"LI", "11", 2, true}, // italic 11
		{"lI", "11", 2, true}, // italic 11
		{"IL", "11", 2, true}, // italic 11
		{"LL", "11", 2, true}, // both strokes with a foot
		{"Là", "", 0, false},  // a word, not a number
		{"ÁN", "", 0, false},  // capitals that are no look-alikes
		{"Lê", "", 0, false},  // a name
		{"2O24", "2024", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.tok, func(t *testing.T) {
			got, n, ok := repairDatePart(tt.tok)
			if got != tt.want || n != tt.repairs || ok != tt.ok {
				t.Errorf("repairDatePart(%q) = %q, %d, %v; want %q, %d, %v", tt.tok, got, n, ok, tt.want, tt.repairs, tt.ok)
			}
		})
	}
}

// lineWords lays texts out as one line of words 100 px wide with 10 px
// gaps, 40 px high.
func lineWords(line int, texts ...string) []Word {
	ws := make([]Word, len(texts))
	for i, t := range texts {
		ws[i] = Word{Text: t, Conf: 0.9, Line: line, Box: image.Rect(i*110, line*50, i*110+100, line*50+40)}
	}
	return ws
}

func TestLabelledDateSpans(t *testing.T) {
	tests := []struct {
		name        string
		ws          []Word
		want        bool
		first, last int
		minX        int
	}{
		{"debris after the label", lineWords(0, "Ngày,", "tháng,", "năm", "sinh:", "ụ", "'985—¬"), true, 4, 5, 440},
		{"a readable date", lineWords(0, "Ngày,", "tháng,", "năm", "sinh:", "01/12/1988"), false, 0, 0, 0},
		{"a date split by OCR", lineWords(0, "Sinh", "ngày:", "1", "1/06/2003"), false, 0, 0, 0},
		{"value glued to a misread label", lineWords(0, "Sinh", "nøày:-39"), true, 1, 1, 185},
		{"a place of birth", lineWords(0, "Nơi", "sinh:", "Hà", "Nội"), false, 0, 0, 0},
		{"no value", lineWords(0, "Ngày,", "tháng,", "năm", "sinh:"), false, 0, 0, 0},
		{"another label", lineWords(0, "Dân", "tộc:", "Kinh"), false, 0, 0, 0},
		{"the next label is not the value", lineWords(0, "Sinh", "ngày:", "x", "Giới", "tính:", "Nam"), true, 2, 3, 220},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LabelledDateSpans(tt.ws)
			if (len(got) > 0) != tt.want {
				t.Fatalf("spans: got %+v, want one: %v", got, tt.want)
			}
			if !tt.want {
				return
			}
			if got[0].First != tt.first || got[0].Last != tt.last || got[0].Box.Min.X != tt.minX {
				t.Errorf("span: got %d..%d from x %d, want %d..%d from x %d", got[0].First, got[0].Last, got[0].Box.Min.X, tt.first, tt.last, tt.minX)
			}
		})
	}
}

func TestWrittenDateItalicOne(t *testing.T) {
	tests := []struct {
		name     string
		texts    []string
		want     string
		invalid  bool
		reviewed bool // confidence below the default bar
	}{
		{"T for the flag of an italic 1", []string{"ngày", "13", "tháng", "T1", "năm", "2024"}, "13/11/2024", false, true},
		{"T as 7 when that is a date", []string{"ngày", "1T", "tháng", "4", "năm", "2024"}, "17/04/2024", false, false},
		{"a lone T", []string{"ngày", "T", "tháng", "4", "năm", "2024"}, "01/04/2024", false, true},
		{"no reading makes a date", []string{"ngày", "13", "tháng", "T9", "năm", "2024"}, "13/79/2024", true, false},
		{"a plain date", []string{"ngày", "13", "tháng", "11", "năm", "2024"}, "13/11/2024", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, ok := writtenDate(lineWords(0, tt.texts...))
			if !ok {
				t.Fatal("writtenDate: not found")
			}
			if ex.value != tt.want || ex.invalid != tt.invalid {
				t.Errorf("writtenDate: got %q invalid %v, want %q invalid %v", ex.value, ex.invalid, tt.want, tt.invalid)
			}
			if !tt.invalid && (ex.conf < defaultMinConfidence) != tt.reviewed {
				t.Errorf("confidence %.2f: reviewed got %v, want %v", ex.conf, ex.conf < defaultMinConfidence, tt.reviewed)
			}
		})
	}
}

func TestLabelledIDSpans(t *testing.T) {
	tests := []struct {
		name        string
		ws          []Word
		want        bool
		first, last int
	}{
		{"debris after the label", lineWords(0, "Số", "định", "danh", "cá", "nhân:", "nà"), true, 5, 5},
		{"a number after the label", lineWords(0, "Số", "định", "danh", "cá", "nhân:", "001099872198"), false, 0, 0},
		{"a short number", lineWords(0, "Số", "CCCD:", "0010", "99"), true, 2, 3},
		{"another label", lineWords(0, "Số", "điện", "thoại:", "xx"), false, 0, 0},
		{"no value", lineWords(0, "Số", "định", "danh", "cá", "nhân:"), false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LabelledIDSpans(tt.ws)
			if (len(got) > 0) != tt.want {
				t.Fatalf("spans: got %+v, want one: %v", got, tt.want)
			}
			if tt.want && (got[0].First != tt.first || got[0].Last != tt.last) {
				t.Errorf("span: got %d..%d, want %d..%d", got[0].First, got[0].Last, tt.first, tt.last)
			}
		})
	}
}

func TestIDFromReads(t *testing.T) {
	alts := func(texts ...string) []Word {
		w := Word{Text: "nà"}
		for _, s := range texts {
			w.Alts = append(w.Alts, Reading{Text: s, Conf: 0.9})
		}
		return []Word{w}
	}
	tests := []struct {
		name string
		ws   []Word
		want string
		ok   bool
	}{
		{"two agreeing reads", alts("079303069054", "079303069054"), "079303069054", true},
		{"agreeing reads and a failed one", alts("079303069054", "0793", "079303069054"), "079303069054", true},
		{"one read", alts("079303069054"), "", false},
		{"reads disagree", alts("079303069054", "079303069064", "079303069054"), "", false},
		{"no reads", alts(), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := idFromReads(tt.ws)
			if got != tt.want || ok != tt.ok {
				t.Errorf("idFromReads: got %q %v, want %q %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
