package ocr

import (
	"slices"
	"testing"
)

func TestFillHolderFromForms(t *testing.T) {
	ls := testLayouts(t)
	const formID = "001303000001" // Hà Nội, female born 2000–2099, year 03
	sure := labelledID{value: formID, conf: 0.95, confirmed: true}
	result := func(dob string, dobConf float64, sex string, reasons ...string) Document {
		d := Document{DocType: "ho-kinh-doanh", Fields: map[string]Field{}, ReviewReasons: append([]string{reasonNoHolderID}, reasons...)}
		if dob != "" {
			d.Fields["date_of_birth"] = Field{Value: dob, Confidence: dobConf}
		}
		if sex != "" {
			d.Fields["sex"] = Field{Value: sex, Confidence: 0.95}
		}
		return d
	}
	for _, tc := range []struct {
		name   string
		form   labelledID
		result Document
		want   string
	}{
		{"own sex and birth date agree", sure, result("09/01/2003", 0.95, "Nữ"), formID},
		{"sex disagrees", sure, result("09/01/2003", 0.95, "Nam"), ""},
		{"birth year disagrees", sure, result("09/01/2004", 0.95, "Nữ"), ""},
		{"century disagrees", sure, result("09/01/1903", 0.95, "Nữ"), ""},
		{"no birth date", sure, result("", 0, "Nữ"), ""},
		{"birth date low confidence", sure, result("09/01/2003", 0.4, "Nữ"), ""},
		{"birth date reads disagree", sure, result("09/01/2003", 0.95, "Nữ", reasonDateReadsDisagree+"date_of_birth"), ""},
		{"form ID not sure", labelledID{value: formID, conf: 0.7}, result("09/01/2003", 0.95, "Nữ"), ""},
		{"form ID contradicted", labelledID{value: formID, conf: 0.95, disagree: true}, result("09/01/2003", 0.95, "Nữ"), ""},
		{"form ID not 12 digits", labelledID{value: "00130300000", conf: 0.95, confirmed: true}, result("09/01/2003", 0.95, "Nữ"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs := []Document{{DocType: "to-khai", Fields: map[string]Field{}}, tc.result}
			infos := []docInfo{{ids: map[string]labelledID{"personal_id": tc.form}}, {ids: map[string]labelledID{}}}
			fillHolderFromForms(docs, infos, ls)
			if got := docs[1].HolderPersonalID; got != tc.want {
				t.Errorf("holder ID: got %q, want %q", got, tc.want)
			}
			flagged := slices.Contains(docs[1].ReviewReasons, reasonHolderIDFromForm)
			if flagged != (tc.want != "") {
				t.Errorf("reason %s present = %v, want %v", reasonHolderIDFromForm, flagged, tc.want != "")
			}
			if !slices.Contains(docs[1].ReviewReasons, reasonNoHolderID) {
				t.Errorf("reason %s dropped: %v", reasonNoHolderID, docs[1].ReviewReasons)
			}
		})
	}
}

// TestFillHolderFromFormsNoForm: a result with no application form before
// it, or whose own ID was read, is left as it is.
func TestFillHolderFromFormsNoForm(t *testing.T) {
	ls := testLayouts(t)
	sure := labelledID{value: "001303000001", conf: 0.95, confirmed: true}
	dob := map[string]Field{"date_of_birth": {Value: "09/01/2003", Confidence: 0.95}}
	docs := []Document{
		{DocType: "ho-kinh-doanh", Fields: dob},
		{DocType: "to-khai", Fields: map[string]Field{}},
		{DocType: "cu-tru", Fields: dob, HolderPersonalID: "001303000002"},
	}
	infos := []docInfo{{}, {ids: map[string]labelledID{"personal_id": sure}}, {}}
	fillHolderFromForms(docs, infos, ls)
	if docs[0].HolderPersonalID != "" || docs[2].HolderPersonalID != "001303000002" {
		t.Errorf("holder IDs: got %q, %q, want \"\", \"001303000002\"", docs[0].HolderPersonalID, docs[2].HolderPersonalID)
	}
}
