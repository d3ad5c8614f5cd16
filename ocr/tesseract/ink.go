// This file owns ink separation on colour pages: the round red seal over
// the signer block (and red stamps over fields) is taken out before
// recognition, so the printed signer name and title under it read clean.

package tesseract

import (
	"image"

	"sohoa/ocr"
)

// Red ink: a pixel whose red exceeds both green and blue by redMargin or
// more is seal or stamp ink (printed text is black or grey, the pen blue
// or black, the paper white, grey or a warm tint whose channels differ by
// less).
const redMargin = 48

// inkGray converts a page to gray for recognition. On a colour page the
// red ink is dropped: a red pixel takes its red channel, in which a red
// seal is nearly as light as the paper, while black text (dark in every
// channel) and blue pen stay dark. Every other pixel is its luminance, as
// ocr.Grayscale gives. Gray and bitonal pages go to ocr.Grayscale
// unchanged. The colour image is not kept: only the gray result is.
func inkGray(img image.Image) *image.Gray {
	switch img.(type) {
	case *image.YCbCr, *image.RGBA, *image.NRGBA:
	default:
		return ocr.Grayscale(img)
	}
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	ocr.ColourRows(img, func(y int, lum, r, g, bl []uint8) {
		row := out.Pix[y*out.Stride:]
		for x := range row[:len(lum)] {
			row[x] = sealLevel(lum[x], r[x], g[x], bl[x])
		}
	})
	return out
}

// sealLevel is the gray level of one pixel of luminance lum: its red
// channel when it is red ink, else lum.
func sealLevel(lum, r, g, b uint8) uint8 {
	if int(r)-int(max(g, b)) >= redMargin {
		return max(r, lum)
	}
	return lum
}
