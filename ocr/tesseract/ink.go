// This file owns ink separation on colour pages: the round red seal over
// the signer block (and red stamps over fields) is taken out before
// recognition, so the printed signer name and title under it read clean.

package tesseract

import (
	"image"
	"image/color"

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
	switch src := img.(type) {
	case *image.YCbCr:
		for y := 0; y < b.Dy(); y++ {
			row := out.Pix[y*out.Stride:]
			for x := 0; x < b.Dx(); x++ {
				yi := src.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				row[x] = sealLevel(src.Y[yi], r, g, bl)
			}
		}
	case *image.RGBA:
		sealRows(out, src.Pix, src.PixOffset(b.Min.X, b.Min.Y), src.Stride)
	case *image.NRGBA:
		// Opaque scans: straight and premultiplied alpha are the same.
		sealRows(out, src.Pix, src.PixOffset(b.Min.X, b.Min.Y), src.Stride)
	}
	return out
}

// sealRows fills out from 4-byte RGBA-ordered pixels starting at off,
// stride bytes a row.
func sealRows(out *image.Gray, pix []uint8, off, stride int) {
	w := out.Bounds().Dx()
	for y := 0; y < out.Bounds().Dy(); y++ {
		p := pix[off+y*stride:]
		row := out.Pix[y*out.Stride:]
		for x := 0; x < w; x++ {
			r, g, bl := p[4*x], p[4*x+1], p[4*x+2]
			row[x] = sealLevel(luma(r, g, bl), r, g, bl)
		}
	}
}

// sealLevel is the gray level of one pixel of luminance lum: its red
// channel when it is red ink, else lum.
func sealLevel(lum, r, g, b uint8) uint8 {
	if int(r)-int(max(g, b)) >= redMargin {
		return max(r, lum)
	}
	return lum
}

// luma is the ITU-R 601 luminance, as image/color's gray conversion.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}
