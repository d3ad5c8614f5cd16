package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// bar is one labelled value of a horizontal bar chart.
type bar struct {
	Label string
	Value float64
}

// Chart geometry, in pixels.
const (
	chartWidth  = 900
	chartLabelW = 300
	chartRowH   = 26
	chartTop    = 40
)

// drawBarChart draws bars horizontally, longest value full width, each
// with its label on the left and its value printed after the bar.
func drawBarChart(title string, bars []bar, format string) *image.RGBA {
	h := chartTop + chartRowH*len(bars) + 20
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text := func(x, y int, s string, c color.Color) {
		d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	text(10, 22, title, color.Black)
	maxV := 0.0
	for _, b := range bars {
		maxV = max(maxV, b.Value)
	}
	span := chartWidth - chartLabelW - 90
	fill := image.NewUniform(color.RGBA{R: 0x2b, G: 0x6c, B: 0xb0, A: 0xff})
	for i, b := range bars {
		y := chartTop + i*chartRowH
		label := b.Label
		if len(label) > 40 {
			label = label[:40]
		}
		text(10, y+17, label, color.Black)
		w := 0
		if maxV > 0 {
			w = int(b.Value / maxV * float64(span))
		}
		draw.Draw(img, image.Rect(chartLabelW, y+4, chartLabelW+max(w, 1), y+chartRowH-4), fill, image.Point{}, draw.Src)
		text(chartLabelW+w+6, y+17, fmt.Sprintf(format, b.Value), color.Black)
	}
	return img
}

// writeBarChart writes drawBarChart's image as a PNG file.
func writeBarChart(path, title string, bars []bar, format string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, drawBarChart(title, bars, format)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
