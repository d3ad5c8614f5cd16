package s3

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/minio/minio-go/v7"

	"sohoa/storage"
)

// TestSource walks and reads an archive in a plain (unversioned, unlocked)
// bucket on the real server: lexical order, prefix, extensions, size limit.
func TestSource(t *testing.T) {
	e := stackEnv(t)
	ctx := t.Context()
	name := bucketName(t)
	c, err := minio.New(e.endpoint, &minio.Options{Creds: e.config(name).creds()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := map[string][]byte{
		"archive/2019/b.jpg": []byte("scan b"), "archive/2019/a.TIF": []byte("scan a"),
		"archive/2020/c.pdf": bytes.Repeat([]byte("c"), 100), "archive/notes.txt": []byte("x"),
		"other/d.jpg": []byte("not under the prefix"),
	}
	for k, v := range objs {
		if _, err := c.PutObject(ctx, name, k, bytes.NewReader(v), int64(len(v)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	src, err := OpenSource(ctx, e.config(name), "archive/", []string{".jpg", ".tif", ".pdf"}, 50)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := src.Walk(ctx, func(n string) error { names = append(names, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"2019/a.TIF", "2019/b.jpg", "2020/c.pdf"}; !slices.Equal(names, want) {
		t.Errorf("Walk = %v, want %v", names, want)
	}
	if got, err := src.Read(ctx, "2019/b.jpg"); err != nil || string(got) != "scan b" {
		t.Errorf("Read = %q, %v", got, err)
	}
	if _, err := src.Read(ctx, "2020/c.pdf"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Read over the limit: %v, want ErrInvalid", err)
	}
	if _, err := src.Read(ctx, "2019/missing.jpg"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Read missing: %v, want ErrNotFound", err)
	}
	if src.ID() != "s3:"+name+"/archive/" {
		t.Errorf("ID = %s", src.ID())
	}
	if _, err := OpenSource(ctx, e.config(name+"-absent"), "", nil, 0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("OpenSource on a missing bucket: %v, want ErrNotFound", err)
	}
}
