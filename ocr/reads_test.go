package ocr

import (
	"reflect"
	"testing"
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
			idDecision{value: good, conf: 0.75, disagree: true}},
		{"disagree: page read keeps a tie when both pass", other, 0.9, []string{good},
			idDecision{value: other, conf: 0.9, disagree: true}},
		{"disagree: tie goes to the reading that passes the checks", bad, 0.9, []string{good},
			idDecision{value: good, conf: 0.5, disagree: true}},
		{"disagree: invalid page read (13 digits), valid second read chosen", "0010998721981", 0, []string{good, "0010998721"},
			idDecision{value: good, conf: 0, disagree: true}},
		{"disagree: page read with more votes stays though it fails the checks", bad, 0.97, []string{bad, good},
			idDecision{value: bad, conf: 0.97, disagree: true}},
		{"disagree against a confident page read still reviews", good, 0.97, []string{good, other},
			idDecision{value: good, conf: 0.97, disagree: true}},
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
	tests := []struct {
		name       string
		conf       float64
		alts       []string
		wantValue  string
		wantReason string // "" when the ID raises no reason
	}{
		{"marked but agreeing reads are accepted", 0.41, []string{id, id, id}, id, ""},
		{"marked without second reads stays low", 0.41, nil, id, reasonLowConfidence + "personal_id"},
		{"reads disagree: majority value, review", 0.97, []string{string(flip), string(flip), string(flip)}, string(flip), reasonReadsDisagree + "personal_id"},
		{"confident page read contradicted: review", 0.97, []string{id, string(flip)}, id, reasonReadsDisagree + "personal_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := clonePages(base)
			w := &pages[0].Words[idWord]
			w.Conf = tt.conf
			for _, a := range tt.alts {
				w.Alts = append(w.Alts, Reading{Text: a, Conf: 0.9, Words: 1})
			}
			docs := Extract(pages, ls)
			if len(docs) != 1 {
				t.Fatalf("got %d documents, want 1", len(docs))
			}
			d := docs[0]
			if d.HolderPersonalID != tt.wantValue {
				t.Errorf("holder ID: got %s, want %s", MaskID(d.HolderPersonalID), MaskID(tt.wantValue))
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
