package s3

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

func credentialsFor(e env) *credentials.Credentials {
	return credentials.NewStaticV4(e.access, e.secret, "")
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
