package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/leakguard/leakguard/internal/pushhook"
)

const postReceiveUsage = `leakguard hook post-receive: tell a LeakGuard service about pushes to this
(bare) repository, as GitHub does with a push webhook. Use it from the
repository's hooks/post-receive on servers without webhooks:

  #!/bin/sh
  exec leakguard hook post-receive --url https://leakguard.example.com/hooks/push \
       --clone-url https://git.example.com/acme/app.git

The HMAC secret is read from $LEAKGUARD_WEBHOOK_SECRET. Each ref line on
stdin (<old> <new> <ref>) becomes one signed GitHub-format push delivery.
It never blocks the push: failures are reported on stderr, exit 0.
`

func (a *App) postReceive(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hook post-receive", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() { io.WriteString(a.Stderr, postReceiveUsage) }
	target := fs.String("url", "", "the service's push endpoint")
	cloneURL := fs.String("clone-url", "", "URL the service fetches this repository from (default: this repository's path)")
	name := fs.String("repository", "", "repository name, e.g. acme/app (default: the directory name)")
	htmlURL := fs.String("html-url", "", "web URL of the repository, for links")
	timeout := fs.Duration("timeout", 10*time.Second, "time to wait for the service")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		return usagef("hook post-receive: --url is required")
	}
	secret := a.getenv("LEAKGUARD_WEBHOOK_SECRET")
	if secret == "" {
		return fmt.Errorf("hook post-receive: LEAKGUARD_WEBHOOK_SECRET is empty")
	}
	gitDir := a.getenv("GIT_DIR")
	if gitDir == "" {
		gitDir = "."
	}
	abs, _ := filepath.Abs(gitDir)
	if *cloneURL == "" {
		*cloneURL = abs
	}
	if *name == "" {
		*name = strings.TrimSuffix(filepath.Base(abs), ".git")
	}
	pusher := a.getenv("REMOTE_USER")
	if pusher == "" {
		pusher = a.getenv("USER")
	}
	client := a.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: *timeout}
	}
	sc := bufio.NewScanner(a.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		body, err := json.Marshal(pushPayload(f[0], f[1], f[2], *name, *cloneURL, *htmlURL, pusher, time.Now()))
		if err != nil {
			return err
		}
		if err := deliver(ctx, client, *target, []byte(secret), body); err != nil {
			fmt.Fprintf(a.Stderr, "leakguard: push of %s not reported: %v\n", f[2], err)
		}
	}
	return nil
}

// pushPayload is a GitHub push event for one ref update.
func pushPayload(before, after, ref, name, cloneURL, htmlURL, pusher string, now time.Time) map[string]any {
	zero := strings.Repeat("0", 40)
	return map[string]any{
		"ref": ref, "before": before, "after": after,
		"created": before == zero, "deleted": after == zero, "forced": false,
		"repository": map[string]any{"full_name": name, "name": filepath.Base(name), "clone_url": cloneURL, "html_url": htmlURL, "pushed_at": float64(now.UnixMilli()) / 1000},
		"pusher":     map[string]any{"name": pusher},
		"commits":    []any{},
	}
}

func deliver(ctx context.Context, client *http.Client, url string, secret, body []byte) error {
	id := make([]byte, 16)
	rand.Read(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "LeakGuard-Hookshot")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", hex.EncodeToString(id))
	req.Header.Set("X-Hub-Signature-256", pushhook.Sign(secret, body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
