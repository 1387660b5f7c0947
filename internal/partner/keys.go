package partner

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// GitHubKeysURL is where GitHub publishes its secret scanning keys.
const GitHubKeysURL = "https://api.github.com/meta/public_keys/secret_scanning"

// KeySource defaults.
const (
	DefaultKeysTTL         = time.Hour
	DefaultRefetchInterval = 10 * time.Second
	maxKeysDocument        = 1 << 20
)

// KeysDocument is the public keys document format GitHub serves.
type KeysDocument struct {
	PublicKeys []PublicKey `json:"public_keys"`
}

// PublicKey is one entry of a KeysDocument; Key is a PKIX PEM block.
type PublicKey struct {
	KeyIdentifier string `json:"key_identifier"`
	Key           string `json:"key"`
	IsCurrent     bool   `json:"is_current"`
}

// KeySource fetches and caches a public keys document. Set the exported
// fields before first use; the zero value fetches GitHub's keys without a
// token. It is safe for concurrent use.
//
// Every fetch, whether for an expired cache or an unknown identifier, is
// rate-limited to one per MinRefetch, so requests with forged identifiers
// cannot make it hammer the URL. When a fetch fails, keys already cached
// are still used.
type KeySource struct {
	// URL of the keys document; empty means GitHubKeysURL.
	URL string
	// Client makes the requests; nil means a client with a 30 s timeout.
	Client *http.Client
	// Token, if set, is sent as a bearer token (avoids GitHub's rate
	// limits; a classic PAT needs no scopes).
	Token string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TTL is how long a fetched document is trusted before it is
	// refetched; zero means DefaultKeysTTL.
	TTL time.Duration
	// MinRefetch is the minimum time between two fetches; zero means
	// DefaultRefetchInterval.
	MinRefetch time.Duration

	fetchMu sync.Mutex // serialises fetches; never held with mu
	mu      sync.Mutex // guards the fields below
	keys    map[string]*ecdsa.PublicKey
	fetched time.Time // last successful fetch
	tried   time.Time // last fetch attempt
	client  *http.Client
}

// Key returns the public key with identifier id. It answers from the cache
// while the cache is fresh; for an unknown identifier or an expired cache
// it refetches the document at most once per MinRefetch. An identifier
// still unknown afterwards gives ErrUnknownKey; a failed fetch with no
// usable cached key gives ErrKeysUnavailable.
func (ks *KeySource) Key(ctx context.Context, id string) (*ecdsa.PublicKey, error) {
	pub, fresh := ks.cached(id)
	if pub != nil && fresh {
		return pub, nil
	}
	fetchErr := ks.refresh(ctx)
	if pub, _ := ks.cached(id); pub != nil {
		return pub, nil
	}
	if fetchErr != nil {
		return nil, fetchErr
	}
	ks.mu.Lock()
	empty := ks.keys == nil
	ks.mu.Unlock()
	if empty {
		// Never fetched successfully and rate-limited now: no verdict.
		return nil, fmt.Errorf("%w: no keys fetched yet", ErrKeysUnavailable)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKey, truncate(id, 80))
}

// cached returns the cached key for id, if any, and whether the cache is
// within its TTL.
func (ks *KeySource) cached(id string) (*ecdsa.PublicKey, bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	fresh := ks.keys != nil && ks.now().Sub(ks.fetched) < ks.ttl()
	return ks.keys[id], fresh
}

// refresh fetches the document unless another fetch was attempted within
// MinRefetch. Callers that queue behind a running fetch then see its
// result instead of fetching again.
func (ks *KeySource) refresh(ctx context.Context) error {
	ks.fetchMu.Lock()
	defer ks.fetchMu.Unlock()

	ks.mu.Lock()
	now := ks.now()
	if !ks.tried.IsZero() && now.Sub(ks.tried) < ks.minRefetch() {
		ks.mu.Unlock()
		return nil
	}
	ks.tried = now
	ks.mu.Unlock()

	keys, err := ks.fetch(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	ks.mu.Lock()
	ks.keys, ks.fetched = keys, now
	ks.mu.Unlock()
	return nil
}

func (ks *KeySource) fetch(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	url := ks.URL
	if url == "" {
		url = GitHubKeysURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "leakguard-partner")
	if ks.Token != "" {
		req.Header.Set("Authorization", "Bearer "+ks.Token)
	}
	resp, err := ks.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch keys from %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeysDocument+1))
	if err != nil {
		return nil, fmt.Errorf("fetch keys from %s: %w", url, err)
	}
	if len(body) > maxKeysDocument {
		return nil, fmt.Errorf("fetch keys from %s: document over %d bytes", url, maxKeysDocument)
	}
	keys, err := ParseKeysDocument(body)
	if err != nil {
		return nil, fmt.Errorf("keys from %s: %w", url, err)
	}
	return keys, nil
}

// ParseKeysDocument parses a public keys document into P-256 keys by
// identifier. Entries that are not P-256 PKIX PEM keys are skipped; a
// document without any usable key is an error.
func ParseKeysDocument(doc []byte) (map[string]*ecdsa.PublicKey, error) {
	var d KeysDocument
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("parse keys document: %w", err)
	}
	keys := make(map[string]*ecdsa.PublicKey, len(d.PublicKeys))
	var errs []error
	for i, k := range d.PublicKeys {
		pub, err := parsePublicKey(k.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("public_keys[%d] %q: %w", i, truncate(k.KeyIdentifier, 80), err))
			continue
		}
		if k.KeyIdentifier == "" {
			errs = append(errs, fmt.Errorf("public_keys[%d]: no key_identifier", i))
			continue
		}
		keys[k.KeyIdentifier] = pub
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("parse keys document: no usable keys: %w", errors.Join(errs...))
	}
	return keys, nil
}

func parsePublicKey(p string) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%T is not an ECDSA P-256 key", key)
	}
	return pub, nil
}

func (ks *KeySource) httpClient() *http.Client {
	if ks.Client != nil {
		return ks.Client
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.client == nil {
		ks.client = &http.Client{Timeout: 30 * time.Second}
	}
	return ks.client
}

func (ks *KeySource) now() time.Time {
	if ks.Now != nil {
		return ks.Now()
	}
	return time.Now()
}

func (ks *KeySource) ttl() time.Duration {
	if ks.TTL > 0 {
		return ks.TTL
	}
	return DefaultKeysTTL
}

func (ks *KeySource) minRefetch() time.Duration {
	if ks.MinRefetch > 0 {
		return ks.MinRefetch
	}
	return DefaultRefetchInterval
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
