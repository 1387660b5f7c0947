// Package mototest runs the moto AWS emulator for tests: one server per
// test binary, with IAM authorisation enforced, and fresh isolated
// accounts each bootstrapped with an administrator key.
//
// moto is a real AWS API emulator (Python, preinstalled on the build
// image); it evaluates IAM policies for every signed request once
// enforcement is on. The interpreter is $LEAKGUARD_PYTHON, else python3.
package mototest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Server is a moto server owned by this test binary.
type Server struct {
	URL string
	cmd *exec.Cmd

	mu sync.Mutex // serialises account bootstrap, which switches auth off
}

var (
	startOnce sync.Once
	server    *Server
	startErr  error
)

// Main runs the package's tests and stops the moto server afterwards if
// one was started. Use it from TestMain: os.Exit(mototest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if server != nil {
		server.stop()
	}
	return code
}

// Start returns the binary's moto server, starting it on first use. The
// server runs with AWS managed policies loaded and authorisation enforced.
func Start(tb testing.TB) *Server {
	tb.Helper()
	startOnce.Do(func() { server, startErr = start() })
	if startErr != nil {
		tb.Fatalf("moto server: %v", startErr)
	}
	return server
}

func start() (*Server, error) {
	python := os.Getenv("LEAKGUARD_PYTHON")
	if python == "" {
		python = "python3"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(python, "-m", "moto.server", "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Env = append(os.Environ(), "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s -m moto.server (set LEAKGUARD_PYTHON to an interpreter with moto installed): %w", python, err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("moto exited: %v\n%s", err, tail(string(log)))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("moto did not answer on %s within 90s", s.URL)
		}
	}
	if err := s.setAuth("0"); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

func (s *Server) stop() {
	if s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// setAuth sets how many further requests moto lets through unauthenticated:
// "0" enforces authorisation, "inf" switches it off.
func (s *Server) setAuth(n string) error {
	resp, err := http.Post(s.URL+"/moto-api/reset-auth", "text/plain", strings.NewReader(n))
	if err != nil {
		return fmt.Errorf("moto reset-auth %s: %w", n, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto reset-auth %s: %s", n, resp.Status)
	}
	return nil
}

// Account is an isolated moto account with an administrator user.
type Account struct {
	ID    string
	Admin aws.Credentials // access key of the user "admin" with AdministratorAccess
	srv   *Server
}

// NewAccount creates a fresh account (a random 12-digit ID) and its
// administrator. It must not run while another test in this binary is
// asserting a denial: bootstrap switches authorisation off briefly.
func (s *Server) NewAccount(tb testing.TB) Account {
	tb.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(899_999_999_999))
	if err != nil {
		tb.Fatal(err)
	}
	id := fmt.Sprintf("%012d", n.Int64()+100_000_000_000)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.setAuth("inf"); err != nil {
		tb.Fatal(err)
	}
	defer func() {
		if err := s.setAuth("0"); err != nil {
			tb.Fatal(err)
		}
	}()
	cfg := s.config(credentials.NewStaticCredentialsProvider("AKIABOOTSTRAPBOOTSTR", "bootstrap", ""))
	cfg.APIOptions = append(cfg.APIOptions, withHeader("x-moto-account-id", id))
	c := iam.NewFromConfig(cfg)
	ctx := context.Background()
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("admin")}); err != nil {
		tb.Fatalf("bootstrap account %s: %v", id, err)
	}
	if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("admin"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
		tb.Fatalf("bootstrap account %s: %v", id, err)
	}
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("admin")})
	if err != nil {
		tb.Fatalf("bootstrap account %s: %v", id, err)
	}
	return Account{ID: id, srv: s, Admin: aws.Credentials{
		AccessKeyID:     *out.AccessKey.AccessKeyId,
		SecretAccessKey: *out.AccessKey.SecretAccessKey,
		Source:          "mototest",
	}}
}

// Config returns an SDK configuration that talks to moto with the given
// credentials. moto finds the account from the signing key.
func (s *Server) Config(creds aws.Credentials) aws.Config {
	return s.config(credentials.StaticCredentialsProvider{Value: creds})
}

func (s *Server) config(p aws.CredentialsProvider) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  p,
		BaseEndpoint: aws.String(s.URL),
		HTTPClient:   &http.Client{Timeout: 60 * time.Second},
	}
}

// AdminConfig is Config with the account's administrator key.
func (a Account) AdminConfig() aws.Config { return a.srv.Config(a.Admin) }

func withHeader(k, v string) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Build.Add(middleware.BuildMiddlewareFunc("motoAccount", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				req.Header.Set(k, v)
			}
			return next.HandleBuild(ctx, in)
		}), middleware.After)
	}
}

// CloudTrailWithoutEvents serves CloudTrail's LookupEvents for a key with
// no events yet, as right after a push (CloudTrail delivers events about 5
// minutes late). It exists because moto does not implement LookupEvents.
// It returns the endpoint URL.
func CloudTrailWithoutEvents(tb testing.TB) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".LookupEvents") {
			http.Error(w, "only LookupEvents", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		io.WriteString(w, `{"Events":[]}`)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}
