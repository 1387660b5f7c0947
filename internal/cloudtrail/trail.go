package cloudtrail

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MaxTrailFileSize caps the decompressed size of one trail file.
// CloudTrail's own files are a few megabytes at most.
const MaxTrailFileSize = 512 << 20

// deliverySlack is how long after a call its trail file may be written.
// Files sit under the UTC date of delivery, which CloudTrail makes about
// every 5 minutes, so a call just before midnight is in the next day's
// folder.
const deliverySlack = time.Hour

// S3API is the part of the S3 client that ReadTrail uses; *s3.Client
// satisfies it.
type S3API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// ReadTrail returns the events signed with keyID between since and until
// (inclusive) from the trail files a trail delivered to bucket, in time
// order and without duplicate event IDs. It reads the files under
//
//	<prefix>/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
//
// for every account, region and UTC day of the window, and the next day
// too when until is in the last hour of its day: a file can be delivered
// after midnight. prefix may be empty. For
// an organisation trail, which files under AWSLogs/<org-id>/<account>/,
// write each account as "<org-id>/<account>", e.g. "o-a1b2c3d4e5/111122223333".
//
// Each file is decompressed and decoded as a stream, up to
// MaxTrailFileSize. A file or record that cannot be read is an error
// naming its object key.
func ReadTrail(ctx context.Context, api S3API, bucket, prefix string, accounts, regions []string, keyID string, since, until time.Time) ([]Event, error) {
	fail := func(err error) error {
		return fmt.Errorf("read trail in s3://%s/%s for %s: %w", bucket, prefix, keyID, err)
	}
	if err := checkWindow(keyID, since, until); err != nil {
		return nil, fail(err)
	}
	if bucket == "" || len(accounts) == 0 || len(regions) == 0 {
		return nil, fail(errors.New("need a bucket, at least one account and at least one region"))
	}
	since, until = since.UTC(), until.UTC()
	keep := func(e Event) bool {
		return e.AccessKeyID == keyID && !e.Time.Before(since) && !e.Time.After(until)
	}
	base := "AWSLogs/"
	if p := strings.Trim(prefix, "/"); p != "" {
		base = p + "/AWSLogs/"
	}
	first := time.Date(since.Year(), since.Month(), since.Day(), 0, 0, 0, 0, time.UTC)
	last := until.Add(deliverySlack)
	var events []Event
	for _, account := range accounts {
		for _, region := range regions {
			for day := first; !day.After(last); day = day.AddDate(0, 0, 1) {
				dir := fmt.Sprintf("%s%s/CloudTrail/%s/%s/", base, strings.Trim(account, "/"), region, day.Format("2006/01/02"))
				pages := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(dir)})
				for pages.HasMorePages() {
					out, err := pages.NextPage(ctx)
					if err != nil {
						return nil, fail(fmt.Errorf("list %s: %w", dir, err))
					}
					for _, obj := range out.Contents {
						key := aws.ToString(obj.Key)
						if !strings.HasSuffix(key, ".json.gz") {
							continue
						}
						found, err := readObject(ctx, api, bucket, key, keep)
						if err != nil {
							return nil, fail(err)
						}
						events = append(events, found...)
					}
				}
			}
		}
	}
	return sortEvents(events), nil
}

// readObject reads one trail file from S3.
func readObject(ctx context.Context, api S3API, bucket, key string, keep func(Event) bool) ([]Event, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	events, err := readTrailFile(out.Body, MaxTrailFileSize, keep)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return events, nil
}

// readTrailFile decodes a trail file, {"Records":[...]}, gzipped or not
// (an HTTP client may already have undone the compression), and returns
// the records keep accepts. It reads at most limit decompressed bytes.
func readTrailFile(r io.Reader, limit int64, keep func(Event) bool) ([]Event, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gunzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	dec := json.NewDecoder(&capReader{r: src, left: limit, limit: limit})
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var events []Event
	sawRecords := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("decode trail file: %w", err)
		}
		if tok != "Records" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("decode trail file: %q: %w", tok, err)
			}
			continue
		}
		if sawRecords {
			return nil, errors.New("decode trail file: two Records arrays")
		}
		sawRecords = true
		if err := expectDelim(dec, '['); err != nil {
			return nil, err
		}
		for i := 0; dec.More(); i++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("decode trail file: record %d: %w", i, err)
			}
			e, err := parseRecord(raw)
			if err != nil {
				return nil, fmt.Errorf("record %d: %w", i, err)
			}
			if keep(e) {
				events = append(events, e)
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if !sawRecords {
		return nil, errors.New("decode trail file: no Records array")
	}
	// Read to the end: trailing data is an error, and gzip checks its
	// checksum only at the end of the stream.
	if tok, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("unexpected %v", tok)
		}
		return nil, fmt.Errorf("decode trail file: after the top-level object: %w", err)
	}
	return events, nil
}

// expectDelim reads the next JSON token and checks it is d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("decode trail file: want %v: %w", d, err)
	}
	if tok != d {
		return fmt.Errorf("decode trail file: want %v, got %v", d, tok)
	}
	return nil
}

// capReader reads from r until more than limit bytes would have been read,
// and from then on fails.
type capReader struct {
	r     io.Reader
	left  int64
	limit int64
	err   error // sticky: the probe consumed a byte, so r cannot be read on
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.left <= 0 {
		// At the cap: the stream may end here, or it is too large.
		var probe [1]byte
		n, err := c.r.Read(probe[:])
		if n > 0 {
			c.err = fmt.Errorf("decompressed trail file exceeds %d bytes", c.limit)
			return 0, c.err
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
