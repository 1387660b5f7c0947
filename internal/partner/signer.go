package partner

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
)

// Signer signs alert batches as a scanning host.
type Signer struct {
	// Key is the ECDSA P-256 private key.
	Key *ecdsa.PrivateKey
	// KeyID is the identifier published with the public key and sent in
	// the Github-Public-Key-Identifier header.
	KeyID string
}

// NewSigner returns a Signer whose KeyID is the hex SHA-256 of the DER
// (PKIX) public key: 64 hex digits like GitHub's identifiers, and stable
// for a given key. A nil key gives a Signer whose methods fail.
func NewSigner(key *ecdsa.PrivateKey) Signer {
	s := Signer{Key: key}
	if key == nil {
		return s
	}
	if der, err := x509.MarshalPKIXPublicKey(&key.PublicKey); err == nil {
		sum := sha256.Sum256(der)
		s.KeyID = hex.EncodeToString(sum[:])
	}
	return s
}

// Sign returns the Github-Public-Key-Signature header value for body: the
// standard base64 of an ASN.1 DER ECDSA signature over SHA-256(body).
func (s Signer) Sign(body []byte) (string, error) {
	if s.Key == nil {
		return "", errors.New("partner: signer has no key")
	}
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.Key, digest[:])
	if err != nil {
		return "", fmt.Errorf("partner: sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// KeysDocument returns the public keys document publishing this signer's
// key, in GitHub's format, with is_current true.
func (s Signer) KeysDocument() ([]byte, error) {
	if s.Key == nil || s.KeyID == "" {
		return nil, errors.New("partner: signer has no key or key ID")
	}
	der, err := x509.MarshalPKIXPublicKey(&s.Key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("partner: marshal public key: %w", err)
	}
	doc := KeysDocument{PublicKeys: []PublicKey{{
		KeyIdentifier: s.KeyID,
		Key:           string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		IsCurrent:     true,
	}}}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("partner: marshal keys document: %w", err)
	}
	return out, nil
}

// KeysHandler serves KeysDocument as application/json to GET and HEAD
// requests, for partners' KeySource to fetch.
func (s Signer) KeysHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		doc, err := s.KeysDocument()
		if err != nil {
			http.Error(w, "keys unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(doc)
	})
}

// LoadOrCreateKey loads the PEM (PKCS#8) ECDSA P-256 private key at path,
// or, when the file does not exist, generates one and writes it there with
// mode 0600 (creating the directory with mode 0700 if needed). The file is
// written under a temporary name and linked into place, so a crash never
// leaves a partial key and two processes racing to create it end up
// sharing the same key.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	key, err := loadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("partner: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("partner: marshal key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := createExclusive(path, data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadKey(path) // another process won the race
		}
		return nil, fmt.Errorf("partner: write key: %w", err)
	}
	return key, nil
}

func loadKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("partner: read key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("partner: %s: no PEM \"PRIVATE KEY\" (PKCS#8) block", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("partner: %s: %w", path, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("partner: %s: %T is not an ECDSA P-256 key", path, parsed)
	}
	return key, nil
}

// createExclusive writes data to path with mode 0600, failing with
// fs.ErrExist if path already exists.
func createExclusive(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".partner-key-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}
