package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"sohoa/pipeline"
)

// TestBackfillFromS3Prefix backfills an archive kept in a plain bucket: every
// scan under the prefix lands in intake and on the low-priority queue; a
// second run finds nothing new to queue.
func TestBackfillFromS3Prefix(t *testing.T) {
	stackTest(t, 5)
	ctx := context.Background()
	env := processEnv()
	c, err := minio.New(env["SOHOA_S3_ENDPOINT"], &minio.Options{
		Creds: credentials.NewStaticV4(env["SOHOA_S3_ACCESS_KEY"], env["SOHOA_S3_SECRET_KEY"], ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	archive := fmt.Sprintf("archive-%d", time.Now().UnixNano())
	if err := c.MakeBucket(ctx, archive, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, f := range []string{"scan_0002.jpg", "scan_0003.tif", "scan_0004.pdf"} {
		data, err := os.ReadFile("../../../shared/corpus/dev/" + f)
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("ubnd/2019/%02d-%s", i, f)
		if _, err := c.PutObject(ctx, archive, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c.PutObject(ctx, archive, "ubnd/README.txt", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{})

	runBackfill := func() pipeline.BackfillReport {
		var out, logs bytes.Buffer
		if rc := runCmd(ctx, []string{"backfill", "--s3-bucket", archive, "--s3-prefix", "ubnd/"}, &out, &logs); rc != 0 {
			t.Fatalf("backfill exited %d: %s %s", rc, out.String(), logs.String())
		}
		var rep pipeline.BackfillReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("backfill report: %v: %s", err, out.String())
		}
		return rep
	}
	rep := runBackfill()
	if rep.Queued != 3 || rep.Submitted != 3 || !rep.Done {
		t.Fatalf("first run = %+v, want 3 queued and done", rep)
	}
	insp := asynq.NewInspector(envConfig(t).redisOpt())
	defer insp.Close()
	qi, err := insp.GetQueueInfo(pipeline.QueueBackfill)
	if err != nil || qi.Pending != 3 {
		t.Fatalf("backfill queue = %+v, %v; want 3 pending", qi, err)
	}
	if rep := runBackfill(); rep.Queued != 0 || rep.Submitted != 3 {
		t.Errorf("second run = %+v, want 3 submitted, 0 newly queued", rep)
	}
}
