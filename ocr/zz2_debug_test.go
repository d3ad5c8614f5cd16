package ocr

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

func TestZZ2(t *testing.T) {
	data, _ := os.ReadFile(os.Getenv("ACC_PAGES"))
	var pages []Page
	json.Unmarshal(data, &pages)
	ls := testLayouts(t)
	for _, p := range pages {
		lines := pageLines(p)
		for i, l := range lines {
			for si, seg := range l.segs {
				for _, it := range ls.parseSegment(i, si, seg, si == len(l.segs)-1) {
					fmt.Printf("%d.%d key=%q score=%.2f val=%q\n", i, si, it.key, it.score, it.value())
				}
			}
		}
	}
}
