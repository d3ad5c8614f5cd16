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
// (gosseract exposes no OSD result). Not safe for concurrent use.
type osdDetector struct {
	api *C.TessBaseAPI
}

func newOSDDetector(tessdata string) (*osdDetector, error) {
	api := C.TessBaseAPICreate()
	if api == nil {
		return nil, errors.New("create OSD TessBaseAPI: nil handle")
	}
	var dp *C.char
	if tessdata != "" {
		dp = C.CString(tessdata)
		defer C.free(unsafe.Pointer(dp))
	}
	lang := C.CString("osd")
	defer C.free(unsafe.Pointer(lang))
	if rc := C.TessBaseAPIInit3(api, dp, lang); rc != 0 {
		C.TessBaseAPIDelete(api)
		return nil, fmt.Errorf("init OSD TessBaseAPI with lang osd (tessdata %q): code %d", tessdata, int(rc))
	}
	C.TessBaseAPISetPageSegMode(api, C.PSM_OSD_ONLY)
	return &osdDetector{api: api}, nil
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
