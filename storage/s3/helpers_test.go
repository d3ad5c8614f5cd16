package s3

import (
	"strings"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

func credentialsFor(e env) *credentials.Credentials {
	return credentials.NewStaticV4(e.access, e.secret, "")
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
