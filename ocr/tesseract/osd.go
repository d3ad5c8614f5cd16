package tesseract

/*
#cgo LDFLAGS: -ltesseract -llept
#include <stdlib.h>
#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

static int sohoa_osd_detect(TessBaseAPI *api, const unsigned char *bmp, size_t len,
                            int *deg, float *conf) {
	const char *script = NULL;
	float script_conf = 0;
	PIX *pix = pixReadMem(bmp, len);
	if (pix == NULL) {
		return -1;
	}
	TessBaseAPISetImage2(api, pix);
	BOOL ok = TessBaseAPIDetectOrientationScript(api, deg, conf, &script, &script_conf);
	TessBaseAPIClear(api);
	pixDestroy(&pix);
	return ok ? 1 : 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"

	"sohoa/ocr"
)

// osdHalveDPI is the resolution from which pages are halved for OSD.
const osdHalveDPI = 280

// osdDetector runs Tesseract orientation detection through the C API
// (gosseract exposes no OSD result). Its model (osd.traineddata, the legacy
// classifier) holds about 36 MiB while loaded and is wanted only for the
// few pages that read badly upright, so it is loaded for each detection and
// freed after: a child then carries only the recognition model between
// pages. Not safe for concurrent use.
type osdDetector struct {
	tessdata string
	api      *C.TessBaseAPI
}

// newOSDDetector checks that the OSD model loads (so a missing one fails
// the start, not a page) and frees it again.
func newOSDDetector(tessdata string) (*osdDetector, error) {
	d := &osdDetector{tessdata: tessdata}
	if err := d.open(); err != nil {
		return nil, err
	}
	d.close()
	return d, nil
}

func (d *osdDetector) open() error {
	if d.api != nil {
		return nil
	}
	api := C.TessBaseAPICreate()
	if api == nil {
		return errors.New("create OSD TessBaseAPI: nil handle")
	}
	var dp *C.char
	if d.tessdata != "" {
		dp = C.CString(d.tessdata)
		defer C.free(unsafe.Pointer(dp))
	}
	lang := C.CString("osd")
	defer C.free(unsafe.Pointer(lang))
	if rc := C.TessBaseAPIInit3(api, dp, lang); rc != 0 {
		C.TessBaseAPIDelete(api)
		return fmt.Errorf("init OSD TessBaseAPI with lang osd (tessdata %q): code %d", d.tessdata, int(rc))
	}
	C.TessBaseAPISetPageSegMode(api, C.PSM_OSD_ONLY)
	d.api = api
	return nil
}

// detect returns the orientation Tesseract reports for a grey page, in
// degrees (0, 90, 180, 270: how far the content is rotated clockwise, see
// clockwiseFix), and its confidence. ok is false when the page has too
// little text to decide.
func (d *osdDetector) detect(g *image.Gray, ppi int) (deg int, conf float64, ok bool) {
	b := g.Bounds()
	if b.Dx() == 0 || b.Dy() == 0 {
		return 0, 0, false
	}
	// OSD needs only ~150 dpi: halve finer pages, a 2–3× saving.
	if ppi >= osdHalveDPI {
		g = ocr.Downscale(g, 2)
		ppi /= 2
	}
	// A BMP carries the resolution into Leptonica's Pix; raw pixels would
	// leave it 0 and Tesseract would guess.
	bmp := encodeBMP(g, ppi)
	if err := d.open(); err != nil {
		return 0, 0, false // checked at start: a model that stopped loading reads as no decision
	}
	defer d.close()
	var cdeg C.int
	var cconf C.float
	// The C side only reads bmp during the call; Go memory without Go
	// pointers may be passed for the duration of a call.
	r := C.sohoa_osd_detect(d.api, (*C.uchar)(unsafe.Pointer(&bmp[0])), C.size_t(len(bmp)), &cdeg, &cconf)
	if r != 1 {
		return 0, 0, false
	}
	return int(cdeg), float64(cconf), true
}

func (d *osdDetector) close() {
	if d.api != nil {
		C.TessBaseAPIEnd(d.api)
		C.TessBaseAPIDelete(d.api)
		d.api = nil
	}
}
