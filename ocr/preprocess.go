package ocr

import (
	"image"
	"image/color"
	"image/draw"
	"math"
)

// MaxSkew is the largest skew, in degrees either way, EstimateSkew looks for.
const MaxSkew = 5.0

// Grayscale converts img to 8-bit grey. A *image.Gray is returned as is;
// for YCbCr (JPEG) images the luma plane is copied without colour maths.
func Grayscale(img image.Image) *image.Gray {
	b := img.Bounds()
	switch src := img.(type) {
	case *image.Gray:
		return src
	case *image.YCbCr:
		g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
		for y := 0; y < b.Dy(); y++ {
			row := src.Y[src.YOffset(b.Min.X, b.Min.Y+y):]
			copy(g.Pix[y*g.Stride:y*g.Stride+b.Dx()], row[:b.Dx()])
		}
		return g
	}
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(g, g.Bounds(), img, b.Min, draw.Src)
	return g
}

// Downscale shrinks g by an integer factor with box averaging.
func Downscale(g *image.Gray, factor int) *image.Gray {
	return downscaleGray(g, factor)
}

// downscaleGray shrinks g by an integer factor with box averaging: each
// pixel is the mean, rounded down, of a factor × factor box.
func downscaleGray(g *image.Gray, factor int) *image.Gray {
	if factor <= 1 {
		return g
	}
	b := g.Bounds()
	w, h := b.Dx()/factor, b.Dy()/factor
	out := image.NewGray(image.Rect(0, 0, w, h))
	if w == 0 || h == 0 {
		return out
	}
	area := factor * factor
	// The mean of each possible box sum, looked up instead of divided.
	mean := make([]uint8, 255*area+1)
	for s := range mean {
		mean[s] = uint8(s / area)
	}
	sums := make([]uint32, w)
	for y := 0; y < h; y++ {
		clear(sums)
		for dy := 0; dy < factor; dy++ {
			row := g.Pix[(y*factor+dy)*g.Stride:][:w*factor]
			addBoxRow(sums, row, factor)
		}
		dst := out.Pix[y*out.Stride:][:w]
		for x, s := range sums {
			dst[x] = mean[s]
		}
	}
	return out
}

// addBoxRow adds to sums[x] the factor pixels of row from x·factor.
func addBoxRow(sums []uint32, row []uint8, factor int) {
	switch factor {
	case 2:
		for x := range sums {
			p := row[2*x : 2*x+2]
			sums[x] += uint32(p[0]) + uint32(p[1])
		}
	case 3:
		for x := range sums {
			p := row[3*x : 3*x+3]
			sums[x] += uint32(p[0]) + uint32(p[1]) + uint32(p[2])
		}
	case 4:
		for x := range sums {
			p := row[4*x : 4*x+4]
			sums[x] += uint32(p[0]) + uint32(p[1]) + uint32(p[2]) + uint32(p[3])
		}
	default:
		for x := range sums {
			var s uint32
			for _, v := range row[factor*x : factor*x+factor] {
				s += uint32(v)
			}
			sums[x] += s
		}
	}
}

// otsuThreshold returns the grey level that best separates ink from paper:
// ink is every value below it.
func otsuThreshold(g *image.Gray) uint8 {
	var hist [256]int
	b := g.Bounds()
	for y := 0; y < b.Dy(); y++ {
		for _, v := range g.Pix[y*g.Stride : y*g.Stride+b.Dx()] {
			hist[v]++
		}
	}
	total := b.Dx() * b.Dy()
	var sumAll float64
	for i, c := range hist {
		sumAll += float64(i * c)
	}
	var sumB, wB float64
	best, bestVar := 0, -1.0
	for t := 0; t < 256; t++ {
		wB += float64(hist[t])
		if wB == 0 {
			continue
		}
		wF := float64(total) - wB
		if wF == 0 {
			break
		}
		sumB += float64(t * hist[t])
		mB, mF := sumB/wB, (sumAll-sumB)/wF
		v := wB * wF * (mB - mF) * (mB - mF)
		if v > bestVar {
			best, bestVar = t, v
		}
	}
	return uint8(min(best+1, 255))
}

// InkFraction is the share of pixels darker than the Otsu threshold, with the
// threshold required to be a real contrast (paper minus 40 levels at least);
// a blank or near-uniform page yields ~0.
func InkFraction(g *image.Gray) float64 {
	small := downscaleGray(g, max(1, g.Bounds().Dx()/600))
	t := otsuThreshold(small)
	b := small.Bounds()
	var sum, n int
	for y := 0; y < b.Dy(); y++ {
		for _, v := range small.Pix[y*small.Stride : y*small.Stride+b.Dx()] {
			sum += int(v)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	mean := sum / n
	if mean-int(t) < 40 {
		t = uint8(max(0, mean-40))
	}
	ink := 0
	for y := 0; y < b.Dy(); y++ {
		for _, v := range small.Pix[y*small.Stride : y*small.Stride+b.Dx()] {
			if v < t {
				ink++
			}
		}
	}
	return float64(ink) / float64(n)
}

// EstimateSkew returns the angle, in degrees, by which the text lines of a
// page are rotated counter-clockwise in the image (within ±MaxSkew; 0 when
// the page has too little ink to tell). Rotate(g, -angle) straightens it.
//
// It maximises the variance of the horizontal projection profile of ink
// pixels of a downscaled, binarised copy: text lines give sharp peaks only
// when projected along their own direction.
func EstimateSkew(g *image.Gray) float64 {
	b := g.Bounds()
	factor := max(1, b.Dx()/800)
	small := downscaleGray(g, factor)
	t := otsuThreshold(small)
	sb := small.Bounds()
	// Ink pixels, ignoring a margin where scanner borders and shadows live.
	mx, my := sb.Dx()/20, sb.Dy()/20
	n := 0
	for y := my; y < sb.Dy()-my; y++ {
		for _, v := range small.Pix[y*small.Stride+mx : y*small.Stride+sb.Dx()-mx] {
			if v < t {
				n++
			}
		}
	}
	if n < 200 || float64(n) > 0.5*float64(sb.Dx()*sb.Dy()) {
		return 0
	}
	xs, ys := make([]float64, 0, n), make([]float64, 0, n)
	for y := my; y < sb.Dy()-my; y++ {
		row := small.Pix[y*small.Stride:]
		for x := mx; x < sb.Dx()-mx; x++ {
			if row[x] < t {
				xs = append(xs, float64(x))
				ys = append(ys, float64(y))
			}
		}
	}
	height := sb.Dy()
	width := sb.Dx()
	off := float64(width) * MaxSkew / 45 // |x·tan| bound, keeps bins positive
	nb := height + 2*int(off) + 2
	// Two histograms, for the even and the odd points, added up after:
	// neighbouring ink pixels mostly fall in one bin, and alternating
	// halves the chain of increments of one counter.
	bins := make([]int32, 2*nb)
	even, odd := bins[:nb], bins[nb:]
	score := func(deg float64) float64 {
		tan := math.Tan(deg * math.Pi / 180)
		clear(bins)
		ys := ys[:len(xs)]
		i := 0
		for ; i+1 < len(xs); i += 2 {
			if k := int(ys[i] + xs[i]*tan + off); k >= 0 && k < nb {
				even[k]++
			}
			if k := int(ys[i+1] + xs[i+1]*tan + off); k >= 0 && k < nb {
				odd[k]++
			}
		}
		if i < len(xs) {
			if k := int(ys[i] + xs[i]*tan + off); k >= 0 && k < nb {
				even[k]++
			}
		}
		var s float64
		for k, c := range even {
			c += odd[k]
			s += float64(c) * float64(c)
		}
		return s
	}
	return bestSkew(score)
}

// bestSkew searches ±MaxSkew for the angle of the highest score: in steps
// of 0.5°, then of 0.05° around the best, rounded to 0.01°; under 0.05° is
// 0 (no rotation).
func bestSkew(score func(deg float64) float64) float64 {
	best, bestScore := 0.0, score(0)
	for deg := -MaxSkew; deg <= MaxSkew+1e-9; deg += 0.5 {
		if s := score(deg); s > bestScore {
			best, bestScore = deg, s
		}
	}
	lo, hi := best-0.5, best+0.5
	for deg := lo; deg <= hi+1e-9; deg += 0.05 {
		if s := score(deg); s > bestScore {
			best, bestScore = deg, s
		}
	}
	best = math.Round(best*100) / 100
	if math.Abs(best) < 0.05 {
		return 0
	}
	return best
}

// Rotate returns g's content rotated counter-clockwise by deg degrees about
// the centre, with bilinear interpolation, same size, uncovered corners white.
func Rotate(g *image.Gray, deg float64) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	if deg == 0 {
		for y := 0; y < h; y++ {
			copy(out.Pix[y*out.Stride:y*out.Stride+w], g.Pix[y*g.Stride:])
		}
		return out
	}
	// Inverse mapping: for each destination pixel find its source. A
	// counter-clockwise rotation on screen (y down) maps source (x, y) to
	// (cx + dx·cos + dy·sin, cy − dx·sin + dy·cos), so destination (x, y)
	// samples source (cx + dx·cos − dy·sin, cy + dx·sin + dy·cos). The
	// column terms are computed once per column and the row terms once
	// per row, in the same floating-point operations as per pixel.
	rad := deg * math.Pi / 180
	cos, sin := math.Cos(rad), math.Sin(rad)
	cx, cy := float64(w-1)/2, float64(h-1)/2
	colX := make([]float64, w) // cx + dx·cos
	colY := make([]float64, w) // cy + dx·sin
	for x := range w {
		dx := float64(x) - cx
		colX[x] = cx + dx*cos
		colY[x] = cy + dx*sin
	}
	for y := 0; y < h; y++ {
		dy := float64(y) - cy
		rowX, rowY := dy*sin, dy*cos
		rotateRow(out.Pix[y*out.Stride:][:w], g.Pix, g.Stride, image.Point{}, colX, colY, rowX, rowY, w, h)
	}
	return out
}

// rotateRow fills one destination row of Rotate of a w × h page: pixel x
// samples the page bilinearly at (colX[x] − rowX, colY[x] + rowY); white
// outside the page, its nearest pixel on the page's last row and column.
// The page's pixel (x, y) is pix[(y−o.Y)·stride + x−o.X]: pix holds the
// page, or (o ≠ 0) the part of it the row samples.
func rotateRow(row []uint8, pix []uint8, stride int, o image.Point, colX, colY []float64, rowX, rowY float64, w, h int) {
	colX, colY = colX[:len(row)], colY[:len(row)]
	base := -(o.Y*stride + o.X) // the index of the page's (0, 0)
	for x := range row {
		sx := colX[x] - rowX
		sy := colY[x] + rowY
		if sx < 0 || sy < 0 {
			row[x] = 255 // floor below 0: outside
			continue
		}
		// Truncation is floor for these non-negative coordinates.
		x0, y0 := int(sx), int(sy)
		if x0+1 >= w || y0+1 >= h {
			if x0 < w && y0 < h {
				row[x] = pix[base+y0*stride+x0]
			} else {
				row[x] = 255
			}
			continue
		}
		fx, fy := sx-float64(x0), sy-float64(y0)
		i := base + y0*stride + x0
		p := pix[i : i+2]
		q := pix[i+stride : i+stride+2]
		top := float64(p[0])*(1-fx) + float64(p[1])*fx
		bot := float64(q[0])*(1-fx) + float64(q[1])*fx
		row[x] = uint8(top*(1-fy) + bot*fy + 0.5)
	}
}

// RotateQuarter returns g rotated clockwise by deg, which must be 0, 90, 180
// or 270 (other values are taken modulo 360 and rounded down to a quarter).
func RotateQuarter(g *image.Gray, deg int) *image.Gray {
	deg = ((deg % 360) + 360) % 360 / 90 * 90
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	if deg == 0 {
		return g
	}
	var out *image.Gray
	if deg == 180 {
		out = image.NewGray(image.Rect(0, 0, w, h))
	} else {
		out = image.NewGray(image.Rect(0, 0, h, w))
	}
	for y := 0; y < h; y++ {
		src := g.Pix[(y+b.Min.Y-g.Rect.Min.Y)*g.Stride+(b.Min.X-g.Rect.Min.X):]
		for x := 0; x < w; x++ {
			v := src[x]
			switch deg {
			case 90: // (x, y) → (h-1-y, x)
				out.Pix[x*out.Stride+(h-1-y)] = v
			case 180:
				out.Pix[(h-1-y)*out.Stride+(w-1-x)] = v
			case 270: // (x, y) → (y, w-1-x)
				out.Pix[(w-1-x)*out.Stride+y] = v
			}
		}
	}
	return out
}

// Border cleaning limits: only rows and columns within the outer
// borderZone of the page, contiguous from its edge, and darker than
// borderDark (share of ink pixels) are whitened.
const (
	borderZone = 0.05
	borderDark = 0.3
)

// CleanBorders whitens dark bands along the page edges (scanner lid
// shadow, black margins) that recognisers read as garbage lines. It returns
// g itself when there is nothing to clean, else a cleaned copy.
func CleanBorders(g *image.Gray) *image.Gray {
	return cleanBorders(g, false)
}

// CleanBordersInPlace is CleanBorders whitening g itself, for a caller
// that owns g: it returns g.
func CleanBordersInPlace(g *image.Gray) *image.Gray {
	return cleanBorders(g, true)
}

func cleanBorders(g *image.Gray, inPlace bool) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 20 || h < 20 {
		return g
	}
	t := otsuThreshold(downscaleGray(g, max(1, w/800)))
	row := func(y int) []uint8 { return g.Pix[(y+b.Min.Y-g.Rect.Min.Y)*g.Stride+b.Min.X-g.Rect.Min.X:][:w] }
	dark := func(px []uint8) int {
		n := 0
		for _, v := range px {
			if v < t {
				n++
			}
		}
		return n
	}
	rowDark := func(y int) bool { return float64(dark(row(y))) > borderDark*float64(w) }
	zy, zx := int(borderZone*float64(h)), int(borderZone*float64(w))
	// The last dark row/column of each edge band; the band is whitened
	// up to it, so a band broken by a few lighter lines is still removed.
	top, bottom, left, right := 0, h, 0, w
	for y := 0; y < zy; y++ {
		if rowDark(y) {
			top = y + 1
		}
	}
	for y := h - 1; y >= h-zy; y-- {
		if rowDark(y) {
			bottom = y
		}
	}
	// The dark pixels of each column of the left and right zones, counted
	// a row at a time.
	leftN, rightN := make([]int, zx), make([]int, zx)
	for y := 0; y < h; y++ {
		r := row(y)
		for x, v := range r[:zx] {
			if v < t {
				leftN[x]++
			}
		}
		for x, v := range r[w-zx:] {
			if v < t {
				rightN[x]++
			}
		}
	}
	colDark := func(n int) bool { return float64(n) > borderDark*float64(h) }
	for x := 0; x < zx; x++ {
		if colDark(leftN[x]) {
			left = x + 1
		}
	}
	for x := w - 1; x >= w-zx; x-- {
		if colDark(rightN[x-(w-zx)]) {
			right = x
		}
	}
	if top == 0 && bottom == h && left == 0 && right == w {
		return g
	}
	out := g
	if !inPlace {
		out = image.NewGray(image.Rect(0, 0, w, h))
	}
	for y := 0; y < h; y++ {
		dst := row(y)
		if !inPlace {
			dst = out.Pix[y*out.Stride:][:w]
		}
		if y < top || y >= bottom {
			for x := range dst {
				dst[x] = 255
			}
			continue
		}
		if !inPlace {
			copy(dst, row(y))
		}
		for x := range dst[:left] {
			dst[x] = 255
		}
		for x := range dst[right:] {
			dst[right+x] = 255
		}
	}
	return out
}

// colourSaturation is the spread between a pixel's strongest and weakest
// channel (0–255) from which it counts as coloured ink: a red stamp or a
// blue pen stroke, not grey paper or black print.
const colourSaturation = 32

// minColourFraction is the share of sampled pixels that must be coloured
// for a page to count as a colour page: a stamp covers far more.
const minColourFraction = 0.001

// ColourDropped returns, for a page with coloured marks (a red stamp, a
// blue or violet pen stroke), the page in grey with every coloured mark
// paled to paper: each pixel's brightest channel, so black print stays
// black while saturated ink of any hue becomes light. It returns nil for
// a grey or bitonal page, or a colour page with hardly any coloured
// pixels. The result has img's size and is not deskewed.
func ColourDropped(img image.Image) *image.Gray {
	if !colourMarked(img) {
		return nil
	}
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	dropColour(img, out.Pix, out.Stride)
	return out
}

// hasColour reports whether a page not grey by its type has enough
// coloured pixels to count as a colour page (ColourDropped).
func hasColour(img image.Image) bool {
	b := img.Bounds()
	px := RGBAt(img)
	// Sample a grid first: most scans are not colour.
	coloured, sampled := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl := px(x, y)
			sampled++
			if max(r, g, bl)-min(r, g, bl) >= colourSaturation {
				coloured++
			}
		}
	}
	return float64(coloured) >= minColourFraction*float64(sampled)
}

// dropColour writes each pixel of img as its brightest channel to dst,
// row y of img (from 0) at dst[y·stride:].
func dropColour(img image.Image, dst []uint8, stride int) {
	ColourRows(img, func(y int, _, r, g, bl []uint8) {
		row := dst[y*stride:]
		for x := range row[:len(r)] {
			row[x] = max(r[x], g[x], bl[x])
		}
	})
}

// ColourDroppedPage is ColourDropped(img) turned by Rotate(·, deg), made a
// region at a time (Region): a page's coloured marks are read again in a
// few crops, and the rest of the page is never made.
type ColourDroppedPage struct {
	src  image.Image // the page as decoded; its Bounds().Min is (0, 0) here
	w, h int
	deg  float64
	// cos, sin, cx, cy: Rotate's mapping, for deg ≠ 0.
	cos, sin, cx, cy float64
	// full is the whole page, made at once for a decoded image that has
	// no SubImage.
	full *image.Gray
}

// colourMarked reports whether img is a colour page with coloured marks
// worth dropping (ColourDropped): not empty, not grey, with enough
// coloured pixels (hasColour).
func colourMarked(img image.Image) bool {
	if img.Bounds().Empty() {
		return false
	}
	switch img.(type) {
	case *image.Gray, *image.Gray16, *image.Alpha, *image.Alpha16:
		return false
	}
	return hasColour(img)
}

// NewColourDroppedPage is ColourDroppedPage of img turned by deg degrees
// counter-clockwise; nil where ColourDropped(img) is nil.
func NewColourDroppedPage(img image.Image, deg float64) *ColourDroppedPage {
	if !colourMarked(img) {
		return nil
	}
	b := img.Bounds()
	c := &ColourDroppedPage{src: img, w: b.Dx(), h: b.Dy(), deg: deg}
	if deg != 0 {
		rad := deg * math.Pi / 180
		c.cos, c.sin = math.Cos(rad), math.Sin(rad)
		c.cx, c.cy = float64(c.w-1)/2, float64(c.h-1)/2
	}
	if _, ok := img.(subImager); !ok {
		full := image.NewGray(image.Rect(0, 0, c.w, c.h))
		dropColour(img, full.Pix, full.Stride)
		if deg != 0 {
			full = Rotate(full, deg)
		}
		c.full = full
	}
	return c
}

type subImager interface {
	SubImage(r image.Rectangle) image.Image
}

// Bounds is the page's: (0, 0) to its size.
func (c *ColourDroppedPage) Bounds() image.Rectangle { return image.Rect(0, 0, c.w, c.h) }

// Region returns the part r of the page (within its Bounds): an image
// whose Rect is r, with the pixels of Rotate(ColourDropped(img), deg)
// there.
func (c *ColourDroppedPage) Region(r image.Rectangle) *image.Gray {
	r = r.Intersect(c.Bounds())
	out := &image.Gray{Pix: make([]uint8, r.Dx()*r.Dy()), Stride: r.Dx(), Rect: r}
	switch {
	case r.Empty():
	case c.full != nil:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			copy(out.Pix[(y-r.Min.Y)*out.Stride:], c.full.Pix[c.full.PixOffset(r.Min.X, y):][:r.Dx()])
		}
	case c.deg == 0:
		c.drop(r, out.Pix, out.Stride)
	default:
		// The source pixels the region samples: Rotate's mapping is
		// affine, so those of its corners bound them (a pixel more each
		// way for rounding, and the bilinear neighbour).
		x1, y1 := float64(r.Min.X), float64(r.Min.Y)
		x2, y2 := float64(r.Max.X-1), float64(r.Max.Y-1)
		sx := func(x, y float64) float64 { return (c.cx + (x-c.cx)*c.cos) - (y-c.cy)*c.sin }
		sy := func(x, y float64) float64 { return (c.cy + (x-c.cx)*c.sin) + (y-c.cy)*c.cos }
		minX := math.Min(math.Min(sx(x1, y1), sx(x2, y1)), math.Min(sx(x1, y2), sx(x2, y2)))
		maxX := math.Max(math.Max(sx(x1, y1), sx(x2, y1)), math.Max(sx(x1, y2), sx(x2, y2)))
		minY := math.Min(math.Min(sy(x1, y1), sy(x2, y1)), math.Min(sy(x1, y2), sy(x2, y2)))
		maxY := math.Max(math.Max(sy(x1, y1), sy(x2, y1)), math.Max(sy(x1, y2), sy(x2, y2)))
		sb := image.Rect(int(math.Floor(minX))-1, int(math.Floor(minY))-1, int(math.Floor(maxX))+3, int(math.Floor(maxY))+3).Intersect(c.Bounds())
		if sb.Empty() {
			for i := range out.Pix {
				out.Pix[i] = 255
			}
			return out
		}
		part := make([]uint8, sb.Dx()*sb.Dy())
		c.drop(sb, part, sb.Dx())
		// Rotate's column and row terms, computed as it computes them.
		colX, colY := make([]float64, r.Dx()), make([]float64, r.Dx())
		for i := range colX {
			dx := float64(r.Min.X+i) - c.cx
			colX[i] = c.cx + dx*c.cos
			colY[i] = c.cy + dx*c.sin
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			dy := float64(y) - c.cy
			rotateRow(out.Pix[(y-r.Min.Y)*out.Stride:][:r.Dx()], part, sb.Dx(), sb.Min, colX, colY, dy*c.sin, dy*c.cos, c.w, c.h)
		}
	}
	return out
}

// drop writes the colour-dropped pixels of the page's part r to dst, row
// by row at stride.
func (c *ColourDroppedPage) drop(r image.Rectangle, dst []uint8, stride int) {
	dropColour(c.src.(subImager).SubImage(r.Add(c.src.Bounds().Min)), dst, stride)
}

// RGBAt returns a reader of img's 8-bit red, green and blue at a point,
// direct for the decoders' usual types (YCbCr, RGBA, NRGBA; opaque scans,
// so straight and premultiplied alpha are the same).
func RGBAt(img image.Image) func(x, y int) (r, g, b uint8) {
	switch src := img.(type) {
	case *image.YCbCr:
		return func(x, y int) (uint8, uint8, uint8) {
			yi, ci := src.YOffset(x, y), src.COffset(x, y)
			return color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
		}
	case *image.RGBA:
		return func(x, y int) (uint8, uint8, uint8) {
			i := src.PixOffset(x, y)
			return src.Pix[i], src.Pix[i+1], src.Pix[i+2]
		}
	case *image.NRGBA:
		return func(x, y int) (uint8, uint8, uint8) {
			i := src.PixOffset(x, y)
			return src.Pix[i], src.Pix[i+1], src.Pix[i+2]
		}
	}
	return func(x, y int) (uint8, uint8, uint8) {
		r, g, b, _ := img.At(x, y).RGBA()
		return uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)
	}
}

// ColourRows calls fn for each row of img, top to bottom, with the row's
// index from 0 and its pixels' luminance and 8-bit red, green and blue, in
// slices of the row's width that are reused from row to row. Luminance is
// a YCbCr page's Y, else the ITU-R 601 luma of the RGB (image/color's gray
// conversion). This is the one traversal of a colour page's pixels that
// the colour passes share (seal ink dropped, coloured marks paled).
func ColourRows(img image.Image, fn func(y int, lum, r, g, b []uint8)) {
	bd := img.Bounds()
	w := bd.Dx()
	buf := make([]uint8, 4*w)
	lum, r, g, b := buf[:w:w], buf[w:2*w:2*w], buf[2*w:3*w:3*w], buf[3*w:]
	rgbaRow := func(p []uint8) {
		for x := range w {
			r[x], g[x], b[x] = p[4*x], p[4*x+1], p[4*x+2]
			lum[x] = Luma(r[x], g[x], b[x])
		}
	}
	var row *image.RGBA // a YCbCr row in RGB, by image/draw's converter
	var px func(x, y int) (r, g, b uint8)
	switch img.(type) {
	case *image.YCbCr:
		row = image.NewRGBA(image.Rect(0, 0, w, 1))
	case *image.RGBA, *image.NRGBA:
	default:
		px = RGBAt(img)
	}
	for y := range bd.Dy() {
		switch src := img.(type) {
		case *image.YCbCr:
			// The same integer conversion as color.YCbCrToRGB, a row at
			// a time.
			draw.Draw(row, row.Rect, src, image.Pt(bd.Min.X, bd.Min.Y+y), draw.Src)
			copy(lum, src.Y[src.YOffset(bd.Min.X, bd.Min.Y+y):])
			for x := range w {
				r[x], g[x], b[x] = row.Pix[4*x], row.Pix[4*x+1], row.Pix[4*x+2]
			}
		case *image.RGBA:
			rgbaRow(src.Pix[src.PixOffset(bd.Min.X, bd.Min.Y+y):])
		case *image.NRGBA:
			rgbaRow(src.Pix[src.PixOffset(bd.Min.X, bd.Min.Y+y):])
		default:
			for x := range w {
				r[x], g[x], b[x] = px(bd.Min.X+x, bd.Min.Y+y)
				lum[x] = Luma(r[x], g[x], b[x])
			}
		}
		fn(y, lum, r, g, b)
	}
}

// Luma is the ITU-R 601 luminance of an 8-bit RGB pixel, as image/color's
// gray conversion gives it.
func Luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}
