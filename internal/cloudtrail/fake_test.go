package cloudtrail

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// fakeCloudTrail stands in for the CloudTrail LookupEvents API. It exists
// only because moto, the AWS emulator the trail-file tests run against,
// does not implement LookupEvents (it answers HTTP 500
// NotImplementedError). It speaks the real awsJson1.1 wire format, so the
// real SDK client talks to it, answers newest first as CloudTrail does,
// and enforces CloudTrail's limit: a request arriving when two others
// arrived less than a second before is refused with ThrottlingException.
type fakeCloudTrail struct {
	t      *testing.T
	region string
	URL    string

	mu             sync.Mutex
	events         []fakeEvent // as stored; duplicates allowed, as CloudTrail may deliver an event twice
	arrivals       []time.Time
	requests       []lookupRequest
	rateThrottled  int          // requests refused for exceeding 2 per second
	injected       int          // requests refused because throttleAt or failAt said so
	throttleAt     map[int]bool // 1-based request numbers to refuse as throttled
	failAt         map[int]bool // 1-based request numbers to answer with HTTP 500 InternalFailure
	onRequest      func(n int)  // called with each request's number, before answering
	tokensReturned []string
}

// fakeEvent is one stored event; Record is the CloudTrailEvent string,
// left out of the answer when empty.
type fakeEvent struct {
	ID, Name, Source, KeyID, User string
	Time                          time.Time
	Record                        string
}

// lookupRequest is the LookupEvents request body.
type lookupRequest struct {
	LookupAttributes []struct {
		AttributeKey   string
		AttributeValue string
	}
	StartTime  *float64
	EndTime    *float64
	MaxResults *int
	NextToken  *string
}

func newFakeCloudTrail(t *testing.T, region string, events ...fakeEvent) *fakeCloudTrail {
	f := &fakeCloudTrail{t: t, region: region, events: events}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// client returns the real SDK client pointed at the fake, with the SDK's
// default retry settings (Lookup must switch them off itself) and default
// HTTP client, and with hideWriterTo.
func (f *fakeCloudTrail) client() *cloudtrail.Client {
	cfg := aws.Config{
		Region:      f.region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
		APIOptions:  []func(*middleware.Stack) error{hideWriterTo},
	}
	return cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) { o.BaseEndpoint = aws.String(f.URL) })
}

// hideWriterTo works around a race between net/http and smithy-go that a
// server on the same machine wins now and then. After sending a request
// body, net/http copies the body once more to check it has no extra
// bytes; smithy-go closes the body as soon as the response is in, and a
// closed body's WriteTo (smithy-go's safeWriteToReadCloser) returns
// io.EOF as an error. net/http takes that for a failed write and closes
// the connection under the response being read ("use of closed network
// connection"). Lookup retries that error, but the tests count requests
// exactly, so they hide the request body's WriteTo: a closed body's Read
// returns a plain end of stream.
func hideWriterTo(stack *middleware.Stack) error {
	return stack.Build.Add(middleware.BuildMiddlewareFunc("hideWriterTo", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
		if req, ok := in.Request.(*smithyhttp.Request); ok {
			if body, ok := req.GetStream().(io.ReadSeeker); ok {
				r, err := req.SetStream(struct{ io.ReadSeeker }{body})
				if err != nil {
					return middleware.BuildOutput{}, middleware.Metadata{}, err
				}
				in.Request = r
			}
		}
		return next.HandleBuild(ctx, in)
	}), middleware.After)
}

// lookup returns a production-configured Lookup on the fake.
func (f *fakeCloudTrail) lookup() *Lookup {
	return &Lookup{API: f.client(), Region: f.region}
}

// stats returns what the fake saw.
func (f *fakeCloudTrail) stats() (requests []lookupRequest, rateThrottled, injected int, tokens []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests), f.rateThrottled, f.injected, slices.Clone(f.tokensReturned)
}

func (f *fakeCloudTrail) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	recent := 0
	for _, a := range f.arrivals {
		if now.Sub(a) < time.Second {
			recent++
		}
	}
	f.arrivals = append(f.arrivals, now)
	n := len(f.arrivals)

	if r.Method != http.MethodPost || r.URL.Path != "/" {
		f.fail(w, "UnknownOperationException", "%s %s", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		f.fail(w, "SerializationException", "Content-Type %q", ct)
		return
	}
	if target := r.Header.Get("X-Amz-Target"); !strings.HasSuffix(target, ".LookupEvents") {
		f.fail(w, "UnknownOperationException", "X-Amz-Target %q", target)
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/"+f.region+"/cloudtrail/aws4_request") {
		f.fail(w, "IncompleteSignature", "Authorization %q", auth)
		return
	}
	var req lookupRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.fail(w, "SerializationException", "body: %v", err)
		return
	}
	f.requests = append(f.requests, req)
	if f.onRequest != nil {
		f.onRequest(n)
	}
	if recent >= 2 {
		f.rateThrottled++
		writeAWSError(w, "ThrottlingException", "Rate exceeded")
		return
	}
	if f.throttleAt[n] {
		f.injected++
		writeAWSError(w, "ThrottlingException", "Rate exceeded")
		return
	}
	if f.failAt[n] {
		f.injected++
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"__type": "InternalFailure", "message": "Internal error"})
		return
	}
	if len(req.LookupAttributes) != 1 || req.LookupAttributes[0].AttributeKey != "AccessKeyId" {
		f.fail(w, "InvalidLookupAttributesException", "attributes %+v", req.LookupAttributes)
		return
	}
	limit := 50
	if req.MaxResults != nil {
		limit = *req.MaxResults
	}
	if limit < 1 || limit > 50 {
		f.fail(w, "InvalidMaxResultsException", "MaxResults %d", limit)
		return
	}
	key := req.LookupAttributes[0].AttributeValue
	var matched []fakeEvent
	for _, e := range f.events {
		sec := float64(e.Time.Unix())
		if e.KeyID != key || req.StartTime != nil && sec < *req.StartTime || req.EndTime != nil && sec > *req.EndTime {
			continue
		}
		matched = append(matched, e)
	}
	slices.SortStableFunc(matched, func(a, b fakeEvent) int { return b.Time.Compare(a.Time) })
	offset := 0
	if req.NextToken != nil {
		o, err := strconv.Atoi(strings.TrimPrefix(*req.NextToken, "page-"))
		if err != nil || !strings.HasPrefix(*req.NextToken, "page-") || o <= 0 || o >= len(matched) {
			f.fail(w, "InvalidNextTokenException", "NextToken %q", *req.NextToken)
			return
		}
		offset = o
	}
	type wireEvent struct {
		EventId         string
		EventName       string
		ReadOnly        string
		AccessKeyId     string
		EventTime       float64
		EventSource     string
		Username        string
		Resources       []any
		CloudTrailEvent string `json:",omitempty"`
	}
	var out struct {
		Events    []wireEvent
		NextToken string `json:",omitempty"`
	}
	out.Events = []wireEvent{}
	end := min(offset+limit, len(matched))
	for _, e := range matched[offset:end] {
		out.Events = append(out.Events, wireEvent{
			EventId: e.ID, EventName: e.Name, ReadOnly: "true", AccessKeyId: e.KeyID,
			EventTime: float64(e.Time.UnixMilli()) / 1000, EventSource: e.Source, Username: e.User,
			Resources: []any{}, CloudTrailEvent: e.Record,
		})
	}
	if end < len(matched) {
		out.NextToken = fmt.Sprintf("page-%d", end)
		f.tokensReturned = append(f.tokensReturned, out.NextToken)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out) // a client that gave up (a cancelled context) may be gone
}

// fail answers a request the real service would refuse, and fails the
// test: Lookup should never send one.
func (f *fakeCloudTrail) fail(w http.ResponseWriter, code, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f.t.Errorf("fake CloudTrail: %s: %s", code, msg)
	writeAWSError(w, code, msg)
}

func writeAWSError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}
