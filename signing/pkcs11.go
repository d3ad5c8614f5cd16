package signing

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/ThalesGroup/crypto11"
)

// PKCS11Config selects a key on a PKCS#11 token (an HSM, a USB token, or
// SoftHSM2 in tests).
type PKCS11Config struct {
	Module     string // path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
	TokenLabel string
	Pin        string
	KeyLabel   string // CKA_LABEL of the key pair
	// CertFile is a PEM file with the signing certificate first and its chain.
	// When empty, the certificate with label KeyLabel is read from the token.
	CertFile string
}

// PKCS11Keys is a Keys whose signer lives on a token. Close it when done.
type PKCS11Keys struct {
	*Keys
	ctx *crypto11.Context
}

// Close logs out of the token and unloads the module.
func (k *PKCS11Keys) Close() error {
	if err := k.ctx.Close(); err != nil {
		return fmt.Errorf("close pkcs11 token: %w", err)
	}
	return nil
}

// OpenPKCS11 opens the token and finds the key pair and its certificate.
func OpenPKCS11(cfg PKCS11Config) (*PKCS11Keys, error) {
	if cfg.Module == "" || cfg.TokenLabel == "" || cfg.KeyLabel == "" {
		return nil, errors.New("open pkcs11: module, token label and key label are required")
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.TokenLabel, Pin: cfg.Pin})
	if err != nil {
		return nil, fmt.Errorf("open pkcs11 token %q: %w", cfg.TokenLabel, err)
	}
	keys, err := findPKCS11(ctx, cfg)
	if err != nil {
		_ = ctx.Close()
		return nil, err
	}
	return &PKCS11Keys{Keys: keys, ctx: ctx}, nil
}

func findPKCS11(ctx *crypto11.Context, cfg PKCS11Config) (*Keys, error) {
	signer, err := ctx.FindKeyPair(nil, []byte(cfg.KeyLabel))
	if err != nil {
		return nil, fmt.Errorf("open pkcs11: find key %q: %w", cfg.KeyLabel, err)
	}
	if signer == nil {
		return nil, fmt.Errorf("open pkcs11: key %q not found on token %q", cfg.KeyLabel, cfg.TokenLabel)
	}
	k := &Keys{Signer: signer}
	if cfg.CertFile != "" {
		if k.Chain, err = readCerts(cfg.CertFile); err != nil {
			return nil, fmt.Errorf("open pkcs11: %w", err)
		}
	} else {
		cert, err := ctx.FindCertificate(nil, []byte(cfg.KeyLabel), nil)
		if err != nil {
			return nil, fmt.Errorf("open pkcs11: find certificate %q: %w", cfg.KeyLabel, err)
		}
		if cert == nil {
			return nil, fmt.Errorf("open pkcs11: no certificate %q on token and no certificate file", cfg.KeyLabel)
		}
		k.Chain = []*x509.Certificate{cert}
	}
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("open pkcs11: %w", err)
	}
	return k, nil
}
