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
	switch src := img.(type) {
	case *image.YCbCr:
		if g := inkGrayYCbCr(src); g != nil {
			return g
		}
	case *image.RGBA, *image.NRGBA:
	default:
		return ocr.Grayscale(img)
	}
	return inkGrayRows(img)
}

// inkGrayRows is inkGray of a colour page, pixel by pixel.
func inkGrayRows(img image.Image) *image.Gray {
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

// inkGrayYCbCr is inkGray of a YCbCr page (a JPEG) without converting
// every pixel to RGB: a pixel's red minus its green and its blue depends on
// its chroma only, so where the chroma cannot be seal ink (maybeRed) the
// level is the luma, copied a row at a time, and only the pixels of the
// other chroma samples are converted, as image/color converts them. It
// returns nil for a layout it does not handle (chroma subsampling other
// than 4:4:4, 4:2:2, 4:2:0 and 4:4:0, or negative coordinates).
func inkGrayYCbCr(src *image.YCbCr) *image.Gray {
	var hs, vs int // chroma subsampling shifts, horizontal and vertical
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	default:
		return nil
	}
	b := src.Bounds()
	if b.Min.X < 0 || b.Min.Y < 0 || src.Rect.Min.X < 0 || src.Rect.Min.Y < 0 {
		return nil
	}
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	c0, c1 := b.Min.X>>hs, (b.Max.X-1)>>hs // the chroma columns of a row
	for y := b.Min.Y; y < b.Max.Y; y++ {
		dst := out.Pix[(y-b.Min.Y)*out.Stride:][:b.Dx()]
		lum := src.Y[src.YOffset(b.Min.X, y):][:b.Dx()]
		copy(dst, lum)
		// The chroma of pixel x is at cbase + x>>hs (image.YCbCr.COffset).
		cbase := ((y>>vs)-(src.Rect.Min.Y>>vs))*src.CStride - (src.Rect.Min.X >> hs)
		cb, cr := src.Cb[cbase+c0:cbase+c1+1], src.Cr[cbase+c0:cbase+c1+1]
		for i := range cb {
			if !maybeRed(cb[i], cr[i]) {
				continue
			}
			// The pixels of this chroma sample within the row.
			x0, x1 := max((c0+i)<<hs, b.Min.X), min((c0+i+1)<<hs, b.Max.X)
			for x := x0; x < x1; x++ {
				l := lum[x-b.Min.X]
				r, g, bl := color.YCbCrToRGB(l, cb[i], cr[i])
				dst[x-b.Min.X] = sealLevel(l, r, g, bl)
			}
		}
	}
	return out
}

// maybeRed reports whether a pixel of chroma cb, cr can be red ink
// (sealLevel) whatever its luma. In image/color's conversion red and green
// are the floors of (Y·0x10101 + 91881·Cr') / 2¹⁶ and (Y·0x10101 −
// 22554·Cb' − 46802·Cr') / 2¹⁶ clamped to 0–255 (Cb', Cr' = Cb, Cr − 128):
// their difference is at most one more than the floor of (138683·Cr' +
// 22554·Cb') / 2¹⁶, and clamping never widens it; blue likewise with
// 91881·Cr' − 116130·Cb'. Below redMargin for either, the pixel is not red
// ink.
func maybeRed(cb, cr uint8) bool {
	cb1, cr1 := int32(cb)-128, int32(cr)-128
	return (138683*cr1+22554*cb1)>>16+1 >= redMargin && (91881*cr1-116130*cb1)>>16+1 >= redMargin
}
