// This file owns the output page size: the paper the original was printed
// on, measured from the scan's pixel size and resolution and snapped to a
// standard size when it is close to one.

package signing

import "math"

// Paper is a named paper size in points (1/72 inch), portrait.
type Paper struct {
	Name string
	W, H float64
}

// mmPt converts millimetres to points.
func mmPt(mm float64) float64 { return mm * 72 / 25.4 }

// Papers are the standard sizes a measured page snaps to. "A4 dài" is the
// long A4 (210 × 330 mm, also sold as F4) many Vietnamese offices print
// decisions and certificates on.
var Papers = []Paper{
	{"A4", mmPt(210), mmPt(297)},
	{"A5", mmPt(148), mmPt(210)},
	{"A4 dài", mmPt(210), mmPt(330)},
	{"Letter", 612, 792},
	{"Legal", 612, 1008},
}

// paperTolerance is how far (relative, in each dimension) a measured page
// may be from a standard size and still snap to it: scanners crop or add a
// few millimetres, and a scan's stated resolution is rounded.
const paperTolerance = 0.03

// paperSize is the page size for a scan measuring w×h points: the closest
// standard size (in the same orientation) when every dimension is within
// paperTolerance of it, else the measured size itself.
func paperSize(w, h float64) Paper {
	best, bestDev := Paper{Name: "", W: w, H: h}, math.Inf(1)
	for _, p := range Papers {
		pw, ph := p.W, p.H
		if w > h {
			pw, ph = ph, pw // landscape
		}
		dev := math.Max(math.Abs(w-pw)/pw, math.Abs(h-ph)/ph)
		if dev <= paperTolerance && dev < bestDev {
			best, bestDev = Paper{Name: p.Name, W: pw, H: ph}, dev
		}
	}
	return best
}

// placement maps the scan (w×h points, origin lower left) into an area of
// the page: at 100 % when it fits, else shrunk to fit, centred.
type placement struct {
	s, tx, ty float64
}

func place(w, h, areaX, areaY, areaW, areaH float64) placement {
	s := math.Min(1, math.Min(areaW/w, areaH/h))
	return placement{s: s, tx: areaX + (areaW-w*s)/2, ty: areaY + (areaH-h*s)/2}
}
