package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/gittest"
	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/mototest"
	"github.com/leakguard/leakguard/internal/pgtest"
	"github.com/leakguard/leakguard/internal/respond"
	"github.com/leakguard/leakguard/internal/smtptest"
)

// TestTwoNodesSharePostgres: two nodes (each its own store and River
// client on one PostgreSQL database, as two `leakguard serve` processes)
// share the work of n pushes, each leaking a distinct live moto key. The
// pushes are enqueued on alternating nodes, a few on both at once (a
// redelivered webhook reaching both). Every key is contained exactly once
// and its owner emailed exactly once, both nodes work, and no secret
// reaches the database.
func TestTwoNodesSharePostgres(t *testing.T) {
	const n = 20
	srv := mototest.Start(t)
	acct := srv.NewAccount(t)
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := iam.NewFromConfig(acct.AdminConfig())

	// n repositories, each pushed with its own user's live key.
	type leak struct{ user, keyID, secret, repo, remote, after string }
	leaks := make([]leak, n)
	byKey := map[string]*leak{}
	remotes := t.TempDir()
	for i := range leaks {
		l := &leaks[i]
		l.user, l.repo = fmt.Sprintf("ci-%02d", i), fmt.Sprintf("acme/app-%02d", i)
		if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(l.user)}); err != nil {
			t.Fatal(err)
		}
		k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(l.user)})
		if err != nil {
			t.Fatal(err)
		}
		l.keyID, l.secret = *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey
		byKey[l.keyID] = l
		dev := gittest.New(t)
		dev.Write("deploy/prod.env", "AWS_ACCESS_KEY_ID="+l.keyID+"\nAWS_SECRET_ACCESS_KEY="+l.secret+"\n")
		l.after = dev.Commit("deploy config")
		l.remote = filepath.Join(remotes, fmt.Sprintf("app-%02d.git", i))
		dev.Git("init", "--quiet", "--bare", l.remote)
		dev.Git("push", "--quiet", l.remote, "HEAD:refs/heads/main")
	}

	mail := smtptest.Start(t)
	trailURL := mototest.CloudTrailWithoutEvents(t)
	cfg, err := respond.Parse(strings.NewReader(fmt.Sprintf(`
[cloudtrail]
endpoint = %q
[[aws.accounts]]
id = %q
owners = ["owner@example.com"]
[notify]
attempts = 3
[notify.smtp]
addr = %q
from = "leakguard@example.com"
username = "leakguard"
password_env = "PW"
`, trailURL, acct.ID, mail.Addr)))
	if err != nil {
		t.Fatal(err)
	}

	// Two nodes, each as its own `serve` process would be.
	type node struct {
		store     *incident.Store
		p         *Pipeline
		responses atomic.Int32 // respond jobs this node ran
	}
	nodes := []*node{{}, {}}
	base := acct.AdminConfig()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, nd := range nodes {
		store, err := incident.OpenStore(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		pb, err := cfg.Playbook(ctx, respond.Deps{
			Getenv: func(k string) string { return map[string]string{"PW": mail.Password}[k] },
			Audit:  store.AuditLog(), History: func(id string) ([]audit.Entry, error) { return store.Audit(ctx, id) },
			Actor: "leakguard serve", SMTPTLS: mail.ClientTLS, AWS: &base,
		})
		if err != nil {
			t.Fatal(err)
		}
		nd.store = store
		nd.p, err = New(ctx, Deps{Store: store, Engine: engine(t), MirrorDir: t.TempDir(), AllowLocalRemotes: true, Logger: logger,
			Playbook: func(string) (*respond.Playbook, error) {
				nd.responses.Add(1)
				return pb, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	db := nodes[0].store.DB()
	for _, nd := range nodes {
		if err := nd.p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer nd.p.Stop(context.Background())
	}

	pushed := time.Now().UTC()
	scanArgs := func(l *leak) ScanArgs {
		return ScanArgs{CloneURL: l.remote, Repository: l.repo, Ref: "refs/heads/main", Before: zeroSHA, After: l.after, PushedAt: pushed, ReceivedAt: pushed, Source: "push"}
	}
	for i := range leaks {
		args := scanArgs(&leaks[i])
		if i%5 != 0 {
			if err := nodes[i%2].p.EnqueueScan(ctx, args); err != nil {
				t.Fatal(err)
			}
			continue
		}
		// A redelivered push reaches both nodes at once.
		var wg sync.WaitGroup
		for _, nd := range nodes {
			wg.Go(func() {
				if err := nd.p.EnqueueScan(ctx, args); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if t.Failed() {
		t.FailNow()
	}

	// Wait until every incident is notified and the queue is idle.
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := nodes[0].store.List(ctx, incident.Filter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		notified := 0
		for _, inc := range list {
			if _, ok := inc.At(incident.Notified); ok {
				notified++
			}
		}
		var busy int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE finalized_at IS NULL`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if notified >= n && busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %d incidents, %d notified, %d jobs unfinished", len(list), notified, busy)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A push redelivered after it was handled is not queued again.
	if err := nodes[1].p.EnqueueScan(ctx, scanArgs(&leaks[0])); err != nil {
		t.Fatal(err)
	}
	// Stopping finishes running jobs: nothing arrives after this.
	for _, nd := range nodes {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := nd.p.Stop(stopCtx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}

	// One incident per key, each contained and notified.
	list, err := nodes[1].store.List(ctx, incident.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n {
		t.Errorf("%d incidents, want %d", len(list), n)
	}
	seen := map[string]bool{}
	for _, inc := range list {
		l := byKey[inc.KeyID]
		if l == nil || seen[inc.KeyID] {
			t.Errorf("incident %s for key %q: unknown or repeated", inc.ID, inc.KeyID)
			continue
		}
		seen[inc.KeyID] = true
		if inc.State != incident.Contained || inc.Account != acct.ID || inc.Principal != "user/"+l.user {
			t.Errorf("incident %s: state %s, account %s, principal %s; want contained, %s, user/%s", inc.ID, inc.State, inc.Account, inc.Principal, acct.ID, l.user)
		}
		if len(inc.Locations) == 0 {
			t.Errorf("incident %s has no location", inc.ID)
		}
		for _, loc := range inc.Locations {
			if loc.Repository != l.repo || loc.Commit != l.after || loc.Path != "deploy/prod.env" {
				t.Errorf("incident %s location %+v, want %s %s deploy/prod.env", inc.ID, loc, l.repo, l.after)
			}
		}
		for _, kind := range []string{incident.Pushed, incident.Received, incident.Detected, incident.ContainedEvent, incident.Verified, incident.Notified} {
			if _, ok := inc.At(kind); !ok {
				t.Errorf("incident %s timeline lacks %s: %+v", inc.ID, kind, inc.Events)
			}
		}
		// The audit log: each step done once, whichever node ran it.
		entries, err := nodes[0].store.Audit(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		done := map[string]int{}
		for _, e := range entries {
			if e.Outcome == audit.Done {
				done[e.Step+" "+e.Action+" "+e.Target]++
				done[e.Step]++
			}
		}
		for step, c := range done {
			if c > 1 && strings.Contains(step, " ") {
				t.Errorf("incident %s: %q done %d times", inc.ID, step, c)
			}
		}
		if done["quarantine"] != 1 || done["notify"] != 1 {
			t.Errorf("incident %s: quarantine done %d times, notify %d; want once each", inc.ID, done["quarantine"], done["notify"])
		}
	}

	// Each key's user carries one quarantine policy.
	for _, l := range leaks {
		att, err := admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(l.user)})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range att.AttachedPolicies {
			names = append(names, aws.ToString(p.PolicyName))
		}
		if len(names) != 1 || !strings.Contains(names[0], "Quarantine") {
			t.Errorf("%s (%s): attached policies %v, want one quarantine policy", l.user, l.keyID, names)
		}
	}

	// One email per incident, naming its key, never the secret.
	msgs := mail.Messages()
	if len(msgs) != n {
		t.Errorf("%d emails for %d incidents", len(msgs), n)
	}
	mailed := map[string]int{}
	for _, m := range msgs {
		for key, l := range byKey {
			if strings.Contains(string(m.Data), key) {
				mailed[key]++
			}
			if strings.Contains(string(m.Data), l.secret) {
				t.Errorf("the email about %s holds a secret", key)
			}
		}
	}
	for key := range byKey {
		if mailed[key] != 1 {
			t.Errorf("%d emails name %s, want 1", mailed[key], key)
		}
	}

	// The queue: one scan per push and one response per incident, all
	// completed; duplicates were refused at insert.
	rows, err := db.QueryContext(ctx, `SELECT kind, state, count(*) FROM river_job GROUP BY kind, state`)
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]int{}
	for rows.Next() {
		var kind, state string
		var c int
		if err := rows.Scan(&kind, &state, &c); err != nil {
			t.Fatal(err)
		}
		jobs[kind+"/"+state] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(jobs) != 2 || jobs["scan_push/completed"] != n || jobs["respond/completed"] != n {
		t.Errorf("jobs by kind/state %v, want %d scan_push/completed and %d respond/completed", jobs, n, n)
	}

	// Both nodes worked: River records which client ran each job.
	perNode := make([]int, len(nodes))
	for i, nd := range nodes {
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE $1 = ANY(attempted_by)`, nd.p.client.ID()).Scan(&perNode[i]); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("jobs run per node: %v; responses per node: %d, %d", perNode, nodes[0].responses.Load(), nodes[1].responses.Load())
	if perNode[0] == 0 || perNode[1] == 0 || perNode[0]+perNode[1] != 2*n {
		t.Errorf("jobs run per node %v: want both nodes working, %d jobs in all, each run once", perNode, 2*n)
	}
	if r := nodes[0].responses.Load() + nodes[1].responses.Load(); r != n {
		t.Errorf("%d responses run for %d incidents", r, n)
	}

	// No secret at rest: no row of any table holds one. Key IDs are
	// stored (they identify, they do not authenticate), which shows the
	// search sees the rows.
	keysFound := map[string]bool{}
	for _, table := range tables(t, db) {
		rows, err := db.QueryContext(ctx, `SELECT t::text FROM "`+strings.ReplaceAll(table, `"`, `""`)+`" t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			for key, l := range byKey {
				if strings.Contains(row, l.secret) {
					t.Errorf("table %s holds the secret of %s: %.300s", table, key, strings.ReplaceAll(row, l.secret, "[THE SECRET]"))
				}
				if table == "lg_incident" && strings.Contains(row, key) {
					keysFound[key] = true
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	if len(keysFound) != n {
		t.Errorf("lg_incident rows name %d of %d key IDs", len(keysFound), n)
	}
}

// tables lists the tables of the database's schema.
func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lg_incident", "lg_location", "lg_event", "lg_audit", "river_job"} {
		if !slices.Contains(out, want) {
			t.Fatalf("tables %v lack %s", out, want)
		}
	}
	return out
}
