package ocr

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

func TestZZDebug(t *testing.T) {
	p := os.Getenv("ACC_PAGES")
	if p == "" {
		t.Skip()
	}
	data, _ := os.ReadFile(p)
	var pages []Page
	json.Unmarshal(data, &pages)
	docs := Extract(pages, testLayouts(t))
	for _, d := range docs {
		fmt.Println(d.DocType, d.Pages, d.HolderPersonalID, d.NeedsReview, d.ReviewReasons)
		for k, f := range d.Fields {
			if os.Getenv("ACC_FIELD") == "" || os.Getenv("ACC_FIELD") == k {
				fmt.Printf("   %s = %q %.3f %v\n", k, f.Value, f.Confidence, f.Reads)
			}
		}
	}
	if w := os.Getenv("ACC_WORDS"); w != "" {
		for _, p := range pages {
			for _, x := range p.Words {
				if len(x.Alts) > 0 || x.Text == w {
					fmt.Printf("   word %q %.2f line %d alts %+v\n", x.Text, x.Conf, x.Line, x.Alts)
				}
			}
		}
	}
}
