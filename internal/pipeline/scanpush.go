package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/leakguard/leakguard/internal/awskey"
	"github.com/leakguard/leakguard/internal/finding"
	"github.com/leakguard/leakguard/internal/git"
	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/partner"
	"github.com/leakguard/leakguard/internal/scan"
)

const zeroSHA = "0000000000000000000000000000000000000000"

type scanWorker struct {
	river.WorkerDefaults[ScanArgs]
	p *Pipeline
}

// Work fetches the push into a bare mirror and scans exactly the commits
// it brought: after, minus before (or, for a new branch, minus every other
// ref), so a retry after a crash scans the same commits again.
func (w *scanWorker) Work(ctx context.Context, job *river.Job[ScanArgs]) error {
	a := job.Args
	if a.After == "" || a.After == zeroSHA {
		return nil // a deleted ref brings no commits
	}
	repo, err := w.p.mirror(ctx, a)
	if errors.Is(err, errCommitGone) {
		// Retrying cannot bring it back: say so loudly, and stop.
		w.p.deps.Logger.Error("push not scanned: its commit is gone from the remote", "repository", a.Repository, "ref", a.Ref, "commit", a.After)
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	// The push's commits: after, minus before when the mirror has it, minus
	// every commit already scanned (refs/leakguard/scanned/*). Never minus
	// another branch, which may not have been scanned yet.
	revs := []string{a.After, "--not", "--glob=" + scannedRefs + "*"}
	if a.Before != "" && a.Before != zeroSHA {
		if _, err := repo.ResolveCommit(ctx, a.Before); err == nil {
			revs = append(revs, a.Before)
		}
	}
	set := finding.NewSet(nil)
	hs := git.HistoryScanner{Repo: repo, Scanner: &scan.Scanner{Engine: w.p.deps.Engine, Workers: 2}, RemoteURL: a.HTMLURL}
	if _, err := hs.Scan(ctx, revs, 0, set); err != nil {
		return fmt.Errorf("scan %s %s: %w", a.Repository, a.After, err)
	}
	detected := w.p.now()
	findings := set.Findings(false)
	// Recording is idempotent, so it comes first: a partner outage delays
	// the partner's alert (the job is retried), never the containment.
	for _, f := range findings {
		if err := w.p.record(ctx, a, f, detected); err != nil {
			return err
		}
	}
	if err := w.p.tellPartners(ctx, findings); err != nil {
		return err
	}
	if _, err := repo.Output(ctx, "update-ref", scannedRefs+a.After, a.After); err != nil {
		return fmt.Errorf("mark %s scanned: %w", a.After, err)
	}
	// A busy repository's mirror gathers a loose ref and a few loose
	// objects per push, and every later fetch pays for them (80 ms a
	// fetch after 1,200 pushes, 24 ms once packed): pack them now and
	// then. An incremental repack never drops objects a running fetch
	// has written but not yet referenced.
	n, _ := w.p.marks.LoadOrStore(a.CloneURL, new(atomic.Int64))
	if n.(*atomic.Int64).Add(1)%100 == 0 {
		for _, args := range [][]string{{"pack-refs", "--all", "--prune"}, {"repack", "-d", "-q"}} {
			if _, err := repo.Output(ctx, args...); err != nil {
				w.p.deps.Logger.Warn("mirror housekeeping", "repository", a.Repository, "git", args[0], "err", err)
			}
		}
	}
	return nil
}

// scannedRefs holds one ref per scanned push in each mirror.
const scannedRefs = "refs/leakguard/scanned/"

var errCommitGone = errors.New("the pushed commit is no longer on the remote")

// initMirror creates a mirror once; jobs of one repository take turns, so
// none sees another's half-made directory. (Fetches into one mirror run
// at once: each updates its own ref.)
func (p *Pipeline) initMirror(ctx context.Context, dir string) error {
	mu, _ := p.mirrorLocks.LoadOrStore(dir, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		return nil
	}
	if err := os.MkdirAll(p.deps.MirrorDir, 0o700); err != nil {
		return fmt.Errorf("mirror directory: %w", err)
	}
	// git init is safe to repeat on a half-made directory.
	if out, err := exec.CommandContext(ctx, p.deps.GitBin, "init", "--quiet", "--bare", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("git init mirror: %v: %s", err, out)
	}
	return nil
}

// mirror returns the bare mirror of the pushed repository, fetched up to
// the push.
func (p *Pipeline) mirror(ctx context.Context, a ScanArgs) (*git.Repo, error) {
	sum := sha256.Sum256([]byte(a.CloneURL))
	dir := filepath.Join(p.deps.MirrorDir, hex.EncodeToString(sum[:8])+".git")
	if err := p.initMirror(ctx, dir); err != nil {
		return nil, err
	}
	repo, err := git.Open(ctx, dir, p.deps.GitBin)
	if err != nil {
		return nil, err
	}
	fetchCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	// Only network transports, unless local remotes are allowed: a webhook
	// must not make the server read its own files.
	fetch := []string{"-c", "fetch.negotiationAlgorithm=skipping", "-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always",
		"-c", "protocol.ssh.allow=always", "-c", "protocol.git.allow=always"}
	if p.deps.AllowLocalRemotes {
		fetch = append(fetch, "-c", "protocol.file.allow=always")
	}
	fetch = append(fetch, "fetch", "--quiet", "--no-tags", "--force", "--", a.CloneURL)
	// Only the pushed ref is fetched: the advertisement and the work stay
	// the size of the push, not of the repository's refs.
	refspecs := []string{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}
	if strings.HasPrefix(a.Ref, "refs/heads/") || strings.HasPrefix(a.Ref, "refs/tags/") {
		refspecs = []string{"+" + a.Ref + ":" + a.Ref}
	}
	if _, err := repo.Output(fetchCtx, append(fetch, refspecs...)...); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", a.Repository, err)
	}
	if _, err := repo.ResolveCommit(ctx, a.After); err == nil {
		return repo, nil
	}
	// The ref moved on (a force push removing the secret, say): the commit
	// may still be served by its ID.
	repo.Output(fetchCtx, append(fetch, a.After)...)
	if _, err := repo.ResolveCommit(ctx, a.After); err != nil {
		return nil, fmt.Errorf("%s %s of %s: %w", a.Ref, a.After, a.Repository, errCommitGone)
	}
	return repo, nil
}

// AWSKeyID is the AWS access key ID of a finding, if it is one: the
// identifier of a key found with its secret, or the secret of a key ID
// found alone.
func AWSKeyID(f finding.Finding) string {
	if !strings.HasPrefix(f.RuleID, "aws-") {
		return ""
	}
	for _, s := range []string{f.Identifier, f.Secret} {
		if awskey.IsAccessKeyID(s) {
			return s
		}
	}
	return ""
}

// record files a finding under its incident in one transaction with the
// jobs it starts: the incident and its response are durable together.
func (p *Pipeline) record(ctx context.Context, a ScanArgs, f finding.Finding, detected time.Time) error {
	keyID := AWSKeyID(f)
	inc := incident.Incident{
		Fingerprint: f.Fingerprint, RuleID: f.RuleID, Title: f.Description, Redacted: finding.Redact(f.Secret),
		KeyID: keyID, Account: f.Attributes["aws_account_id"], Source: a.Source,
		Events: []incident.Event{
			{At: a.PushedAt.UTC(), Kind: incident.Pushed, Detail: a.Repository + " " + a.Ref},
			{At: a.ReceivedAt.UTC(), Kind: incident.Received},
			{At: detected, Kind: incident.Detected, Detail: f.RuleID},
		},
	}
	if keyID != "" {
		// One incident per AWS key, whether or not its secret was found too.
		inc.Fingerprint = finding.Fingerprint(keyID)
	}
	var where, url string
	for _, l := range f.Locations {
		t, _ := time.Parse(time.RFC3339, l.Date)
		inc.Locations = append(inc.Locations, incident.Location{Repository: a.Repository, Commit: l.Commit, Path: l.Path, Line: l.Line, URL: l.URL, Author: l.Author, Time: t})
		if where == "" {
			where = fmt.Sprintf("commit %.7s in %s, %s line %d", l.Commit, a.Repository, l.Path, l.Line)
			url = l.URL
		}
	}
	var job *RespondArgs
	if keyID != "" {
		job = &RespondArgs{KeyID: keyID, FoundURL: url, FoundWhere: where, DetectedAt: detected}
	}
	id, created, err := p.file(ctx, inc, job, f.Fingerprint)
	if err != nil {
		return err
	}
	p.deps.Logger.Info("secret found", "incident", id, "new", created, "rule", f.RuleID, "fingerprint", inc.Fingerprint, "repository", a.Repository, "commit", a.After)
	return nil
}

// file records an incident in one transaction with the response job it
// starts when it is new (job's IncidentID is filled in). An incident whose
// fingerprint, or one of its aliases (an AWS key's secret's fingerprint),
// is allow-listed is recorded as dismissed, with no job. It returns the
// incident's ID and whether it was created.
func (p *Pipeline) file(ctx context.Context, inc incident.Incident, job *RespondArgs, aliases ...string) (string, bool, error) {
	allowed := slices.Contains(p.deps.Allow, inc.Fingerprint)
	for _, a := range aliases {
		allowed = allowed || slices.Contains(p.deps.Allow, a)
	}
	if allowed {
		inc.State = incident.Dismissed
		if at, ok := inc.At(incident.Detected); ok {
			inc.Events = append(inc.Events, incident.Event{At: at, Kind: incident.DismissedEvent, Detail: "allow-listed fingerprint"})
		}
		job = nil
	}
	tx, err := p.deps.Store.DB().BeginTx(ctx, nil)
	if err != nil {
		return "", false, fmt.Errorf("record incident: %w", err)
	}
	defer tx.Rollback()
	id, created, err := p.deps.Store.Upsert(ctx, tx, inc)
	if err != nil {
		return "", false, err
	}
	if created && job != nil {
		job.IncidentID = id
		if _, err := p.client.InsertTx(ctx, tx, *job, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
			return "", false, fmt.Errorf("enqueue response to %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return "", false, fmt.Errorf("record incident: %w", err)
	}
	if created && p.deps.OnEvent != nil {
		if full, err := p.deps.Store.Get(ctx, id); err == nil {
			if at, ok := full.At(incident.Detected); ok {
				p.deps.OnEvent(incident.Detected, full, at)
			}
		}
	}
	return id, created, nil
}

// tellPartners sends each partner the findings of its providers. For AWS
// the token is the access key ID, as the partner needs no more to act.
func (p *Pipeline) tellPartners(ctx context.Context, findings []finding.Finding) error {
	for _, pt := range p.deps.Partners {
		var alerts []partner.Alert
		for _, f := range findings {
			if !slices.Contains(pt.Providers, f.Provider) {
				continue
			}
			token := f.Secret
			if id := AWSKeyID(f); id != "" {
				token = id
			}
			url := ""
			if len(f.Locations) > 0 {
				url = f.Locations[0].URL
			}
			alerts = append(alerts, partner.Alert{Token: token, Type: f.RuleID, URL: url, Source: "commit"})
		}
		if len(alerts) == 0 {
			continue
		}
		if err := pt.Sender.Send(ctx, alerts); err != nil {
			// The partner's answer may echo the tokens in some encoding:
			// only its status goes into the job's error and the logs.
			var he *partner.HTTPError
			if errors.As(err, &he) {
				return fmt.Errorf("send %d alerts to partner: it answered HTTP %d", len(alerts), he.StatusCode)
			}
			return fmt.Errorf("send %d alerts to partner: %w", len(alerts), err)
		}
	}
	return nil
}
