package tesseract

/*
#include <malloc.h>
*/
import "C"

import "runtime/debug"

// releaseMemory gives the memory of the file just recognised back to the
// system: the Go heap's (a forced collection) and the C heap's free pages
// (glibc malloc_trim), so an OCR child waiting for its next file holds
// about its models only.
func releaseMemory() {
	debug.FreeOSMemory()
	C.malloc_trim(0)
}
