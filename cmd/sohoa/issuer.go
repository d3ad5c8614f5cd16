package main

import (
	"fmt"

	"sohoa/ocr"
	"sohoa/pipeline"
)

// newIssuer builds the pipeline's issuer from the signing configuration.
// The returned function releases the signing key.
func newIssuer(cfg *config, layouts *ocr.Layouts, obs pipeline.Observer) (*pipeline.PDFIssuer, func() error, error) {
	keys, closeKeys, err := cfg.openSigner()
	if err != nil {
		return nil, nil, fmt.Errorf("signing key: %w", err)
	}
	roots, err := cfg.trustRoots()
	if err != nil {
		closeKeys()
		return nil, nil, err
	}
	qk, err := cfg.qrKey()
	if err != nil {
		closeKeys()
		return nil, nil, err
	}
	iss, err := pipeline.NewPDFIssuer(pipeline.IssuerOptions{
		Keys: keys, Roots: roots, QRKey: qk, VerifyBaseURL: cfg.VerifyBaseURL,
		AgencyName: cfg.AgencyName, AgencyCode: cfg.AgencyCode, TSAURL: cfg.Sign.TSAURL, Layouts: layouts, Now: cfg.now,
		Observer: obs,
	})
	if err != nil {
		closeKeys()
		return nil, nil, err
	}
	return iss, closeKeys, nil
}
