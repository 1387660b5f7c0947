package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/leakguard/leakguard/internal/mototest"
)

// trailFile is a trail file as CloudTrail writes it: gzipped {"Records":[...]}.
func trailFile(t testing.TB, rs ...rec) []byte {
	var records []map[string]any
	for _, r := range rs {
		records = append(records, r.record())
	}
	return gzipBytes(t, mustJSON(t, map[string]any{"Records": records}))
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// trailKey is where CloudTrail files a log for account (optionally
// "<org-id>/<account>") and region, delivered at the given time.
func trailKey(prefix, account, region string, delivered time.Time, unique string) string {
	if prefix != "" {
		prefix += "/"
	}
	acct := account[strings.LastIndex(account, "/")+1:]
	return prefix + "AWSLogs/" + account + "/CloudTrail/" + region + "/" + delivered.Format("2006/01/02") + "/" +
		acct + "_CloudTrail_" + region + "_" + delivered.Format("20060102T1504Z") + "_" + unique + ".json.gz"
}

// motoS3 is moto's S3 with a workaround for a moto server bug
// (getmoto/moto#5948): with authorisation enforced, moto checks a request's
// SigV4 signature against its URL after werkzeug has decoded %2F in the
// query string, so every ListObjectsV2 whose prefix contains "/" fails
// with SignatureDoesNotMatch. motoS3 lists with the prefix cut before its
// first "/" and keeps the keys under the full prefix, which is what S3
// does with the full prefix; every other request goes to moto as it is.
type motoS3 struct{ *s3.Client }

func (m motoS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	full := aws.ToString(in.Prefix)
	head, _, _ := strings.Cut(full, "/")
	narrowed := *in
	narrowed.Prefix = aws.String(head)
	out, err := m.Client.ListObjectsV2(ctx, &narrowed, optFns...)
	if err != nil {
		return nil, err
	}
	var kept []types.Object
	for _, o := range out.Contents {
		if strings.HasPrefix(aws.ToString(o.Key), full) {
			kept = append(kept, o)
		}
	}
	out.Contents, out.KeyCount, out.Prefix = kept, aws.Int32(int32(len(kept))), in.Prefix
	return out, nil
}

// TestReadTrailMoto puts trail files in moto's S3 in CloudTrail's layout,
// for two days and two regions with decoys around them, and reads the
// leaked key's events back.
func TestReadTrailMoto(t *testing.T) {
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	api := motoS3{s3.NewFromConfig(acct.AdminConfig(), func(o *s3.Options) { o.UsePathStyle = true })}
	ctx := context.Background()
	bucket := "leakguard-trail-" + acct.ID
	if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	put := func(key string, body []byte) {
		t.Helper()
		if _, err := api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}

	a := attack()
	since, until := pushed, pushed.Add(24*time.Hour) // 2025-03-14T09:00Z to 2025-03-15T09:00Z
	leaked := func(id string, at time.Time, region string) rec {
		return rec{ID: id, Key: leakedKey, Source: "iam", Name: "ListUsers", Region: region, IP: attackerIP, UA: attackerUA, At: at}
	}
	other := rec{ID: "other-key", Key: otherKey, Source: "s3", Name: "ListBuckets", Region: "us-east-1", IP: "10.0.0.1", UA: "aws-cli/2", At: pushed.Add(30 * time.Second)}
	day1, day2 := pushed, pushed.Add(24*time.Hour)
	const p = "corp/trail"

	// us-east-1, day 1: the attack, with another key's call, a call just
	// before the window and one on its first second; one event is
	// delivered twice.
	put(trailKey(p, account, "us-east-1", day1.Add(5*time.Minute), "a1"), trailFile(t,
		leaked("before", since.Add(-time.Second), "us-east-1"), leaked("at-since", since, "us-east-1"),
		a[0], a[1], a[2], other, a[3]))
	put(trailKey(p, account, "us-east-1", day1.Add(10*time.Minute), "a2"), trailFile(t, a[4], a[5], a[8], a[2]))
	put(strings.TrimSuffix(trailKey(p, account, "us-east-1", day1, "x"), ".json.gz")+".txt", []byte("not a trail file"))
	// us-east-1, day 2: a call from just before midnight delivered after
	// it, the window's last second, and a call after the window.
	put(trailKey(p, account, "us-east-1", time.Date(2025, 3, 15, 0, 3, 0, 0, time.UTC), "b1"), trailFile(t,
		leaked("late", time.Date(2025, 3, 14, 23, 58, 30, 0, time.UTC), "us-east-1")))
	put(trailKey(p, account, "us-east-1", day2.Add(5*time.Minute), "b2"), trailFile(t,
		leaked("at-until", until, "us-east-1"), leaked("after", until.Add(time.Second), "us-east-1")))
	// eu-west-1, days 1 and 3 (outside the window).
	put(trailKey(p, account, "eu-west-1", day1.Add(5*time.Minute), "c1"), trailFile(t, a[6], a[7], other))
	put(trailKey(p, account, "eu-west-1", time.Date(2025, 3, 16, 0, 15, 0, 0, time.UTC), "c2"), trailFile(t,
		leaked("day-3", time.Date(2025, 3, 16, 0, 10, 0, 0, time.UTC), "eu-west-1")))
	// Decoys that must not be read: an account and a region not asked for,
	// and a digest file (not a trail file; corrupt here, so reading it fails).
	put(trailKey(p, "222233334444", "us-east-1", day1.Add(5*time.Minute), "d1"), trailFile(t, leaked("other-account", pushed.Add(time.Minute), "us-east-1")))
	put(trailKey(p, account, "ap-southeast-2", day1.Add(5*time.Minute), "d2"), trailFile(t, leaked("other-region", pushed.Add(time.Minute), "ap-southeast-2")))
	put(p+"/AWSLogs/"+account+"/CloudTrail-Digest/us-east-1/2025/03/14/"+account+"_CloudTrail-Digest_us-east-1_trail_us-east-1_20250314T100000Z.json.gz", []byte("corrupt"))

	t.Run("account layout", func(t *testing.T) {
		for _, prefix := range []string{p, "/" + p + "/"} {
			events, err := ReadTrail(ctx, api, bucket, prefix, []string{account}, []string{"us-east-1", "eu-west-1"}, leakedKey, since, until)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"at-since", eventID(1), eventID(2), eventID(3), eventID(4), eventID(5), eventID(6), eventID(7), eventID(8), eventID(9), "late", "at-until"}
			if got := ids(events); !slices.Equal(got, want) {
				t.Errorf("prefix %q: events\n %v\nwant %v", prefix, got, want)
			}
			// 12 events, less LeakGuard's own check; the denials are
			// CreateUser, ListBuckets and GetSendQuota, the failure RunInstances.
			if s := Summarize(events); s.Calls != 11 || s.Allowed != 7 || s.Denied != 3 || s.Failed != 1 {
				t.Errorf("summary %+v: want 11 calls, 7 allowed, 3 denied, 1 failed", s)
			}
			if e := events[3]; e.Name != "ListUsers" || e.Service != "iam" || e.Region != "us-east-1" || e.SourceIP != attackerIP || e.AccessKeyID != leakedKey || !e.Time.Equal(pushed.Add(49*time.Second)) {
				t.Errorf("ListUsers event parsed as %+v", e)
			}
		}
	})

	t.Run("delivered after midnight", func(t *testing.T) {
		end := time.Date(2025, 3, 14, 23, 59, 59, 0, time.UTC)
		events, err := ReadTrail(ctx, api, bucket, p, []string{account}, []string{"us-east-1"}, leakedKey, pushed.Add(time.Hour), end)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(events); !slices.Equal(got, []string{"late"}) {
			t.Errorf("events %v, want [late], from the next day's folder", got)
		}
	})

	t.Run("organisation layout", func(t *testing.T) {
		const org = "o-a1b2c3d4e5"
		put(trailKey("", org+"/"+account, "us-east-1", day1.Add(5*time.Minute), "o1"), trailFile(t, a[1], a[2], other))
		put(trailKey("", account, "us-east-1", day1.Add(5*time.Minute), "o2"), trailFile(t, a[3])) // not the organisation's
		events, err := ReadTrail(ctx, api, bucket, "", []string{org + "/" + account}, []string{"us-east-1"}, leakedKey, since, until)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(events), []string{eventID(2), eventID(3)}; !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
	})

	t.Run("corrupt file", func(t *testing.T) {
		key := trailKey("broken", account, "us-east-1", day1.Add(5*time.Minute), "z1")
		put(key, append([]byte{0x1f, 0x8b}, "not really gzip"...))
		_, err := ReadTrail(ctx, api, bucket, "broken", []string{account}, []string{"us-east-1"}, leakedKey, since, until)
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), bucket) {
			t.Errorf("error %v, want one naming s3://%s and %s", err, bucket, key)
		}
	})

	t.Run("malformed record", func(t *testing.T) {
		key := trailKey("badrecord", account, "us-east-1", day1.Add(5*time.Minute), "z2")
		body := `{"Records":[` + a[1].json() + `,{"eventID":"x","eventTime":"soon","eventSource":"iam.amazonaws.com","eventName":"ListUsers"}]}`
		put(key, gzipBytes(t, []byte(body)))
		_, err := ReadTrail(ctx, api, bucket, "badrecord", []string{account}, []string{"us-east-1"}, leakedKey, since, until)
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "record 1") {
			t.Errorf("error %v, want one naming %s, record 1", err, key)
		}
	})

	t.Run("no such bucket", func(t *testing.T) {
		_, err := ReadTrail(ctx, api, bucket+"-missing", p, []string{account}, []string{"us-east-1"}, leakedKey, since, until)
		if err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
			t.Errorf("error %v, want NoSuchBucket", err)
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		for _, args := range []struct {
			accounts, regions []string
			since, until      time.Time
		}{
			{nil, []string{"us-east-1"}, since, until},
			{[]string{account}, nil, since, until},
			{[]string{account}, []string{"us-east-1"}, until, since},
		} {
			if _, err := ReadTrail(ctx, api, bucket, p, args.accounts, args.regions, leakedKey, args.since, args.until); err == nil {
				t.Errorf("ReadTrail(%v, %v, %s, %s): no error", args.accounts, args.regions, args.since, args.until)
			}
		}
	})
}

func keepAll(Event) bool { return true }

func TestReadTrailFileSizeCap(t *testing.T) {
	body := []byte(`{"Records":[` + attack()[1].json() + `]` + strings.Repeat(" ", 100_000) + `}`)
	zipped := gzipBytes(t, body)
	if len(zipped) > 2000 {
		t.Fatalf("fixture: %d compressed bytes, expected a small file that inflates", len(zipped))
	}
	if _, err := readTrailFile(bytes.NewReader(zipped), int64(len(body))-1, keepAll); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("one byte over the cap: error %v, want one saying it exceeds", err)
	}
	events, err := readTrailFile(bytes.NewReader(zipped), int64(len(body)), keepAll)
	if err != nil || len(events) != 1 {
		t.Errorf("exactly at the cap: %d events, error %v; want 1 event", len(events), err)
	}
}

func TestReadTrailFile(t *testing.T) {
	a := attack()
	valid := trailFile(t, a[1], a[2])
	badCRC := slices.Clone(valid)
	badCRC[len(badCRC)-8] ^= 0xff // the CRC-32 in the gzip trailer
	for _, tc := range []struct {
		name    string
		body    []byte
		want    []string // event IDs; nil with wantErr
		wantErr string
	}{
		{"gzipped", valid, []string{eventID(2), eventID(3)}, ""},
		{"already decompressed", []byte(`{"Records":[` + a[1].json() + `]}`), []string{eventID(2)}, ""},
		{"other keys first", []byte(`{"Other":{"x":[1,2]},"Records":[]}`), nil, ""},
		{"empty", nil, nil, "EOF"},
		{"no Records", []byte(`{}`), nil, "no Records"},
		{"Records not an array", []byte(`{"Records":{}}`), nil, "want ["},
		{"two Records", []byte(`{"Records":[],"Records":[]}`), nil, "two Records"},
		{"trailing data", []byte(`{"Records":[]} {}`), nil, "after the top-level object"},
		{"truncated", valid[:len(valid)/2], nil, "unexpected EOF"},
		{"bad checksum", badCRC, nil, "checksum"},
		{"record not an object", []byte(`{"Records":[42]}`), nil, "record 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events, err := readTrailFile(bytes.NewReader(tc.body), 1<<20, keepAll)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(events); !slices.Equal(got, tc.want) {
				t.Errorf("events %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzReadTrailFile feeds arbitrary bodies to the trail-file reader: it
// must not panic, must refuse what is not valid JSON (after gunzip), and
// must return only records the filter accepts.
func FuzzReadTrailFile(f *testing.F) {
	a := attack()
	f.Add(trailFile(f, a[1], a[2], a[3]))
	f.Add(trailFile(f))
	f.Add([]byte(`{"Records":[` + a[1].json() + `,` + a[6].json() + `]}`))
	f.Add([]byte(`{"Records":[{"eventID":"x","eventTime":"2025-03-14T09:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","readOnly":"maybe"}]}`))
	f.Add([]byte(`{"Records":[],"x":null}`))
	f.Add([]byte(`{"Records":[]}]`))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add(gzipBytes(f, []byte("not json")))
	f.Add([]byte(""))
	since, until := pushed, pushed.Add(time.Hour)
	keep := func(e Event) bool { return e.AccessKeyID == leakedKey && !e.Time.Before(since) && !e.Time.After(until) }
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := readTrailFile(bytes.NewReader(body), limit, keep)
		plain := body
		if len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b {
			zr, zerr := gzip.NewReader(bytes.NewReader(body))
			if zerr != nil {
				if err == nil {
					t.Fatalf("accepted a body gzip refuses: %v", zerr)
				}
				return
			}
			plain, zerr = io.ReadAll(io.LimitReader(zr, limit+1))
			if zerr != nil {
				if err == nil {
					t.Fatalf("accepted a body gzip refuses: %v", zerr)
				}
				return
			}
		}
		if err != nil {
			return
		}
		if !json.Valid(plain) {
			t.Fatalf("accepted invalid JSON %q", plain)
		}
		for _, e := range events {
			if !keep(e) {
				t.Fatalf("returned %+v, which the filter refuses", e)
			}
		}
	})
}
