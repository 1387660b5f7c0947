// Package pgtest runs a throwaway PostgreSQL server for tests and hands
// out a fresh, empty database per call, so tests can exercise LeakGuard's
// multi-node setup (incidents and the job queue in one PostgreSQL).
//
// The server binaries are found in $LEAKGUARD_PG_BIN, else the newest
// /usr/lib/postgresql/*/bin (Debian's postgresql-15 package), else beside
// the initdb on $PATH. PostgreSQL refuses to run as root: when the tests
// run as root, initdb and postgres run as the "postgres" system user,
// which the machine must provide (Debian's postgresql package creates it;
// CI creates it otherwise). The cluster lives in a temporary directory,
// listens on a free loopback port with trust authentication, and runs
// with fsync off: its data is thrown away.
//
// With Main in TestMain the server is shared by the whole test binary;
// without it (a package whose TestMain is another harness's), each test
// that calls Start gets a server of its own, stopped when the test ends.
// Either way every Start is a new database.
package pgtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// server is a running PostgreSQL server.
type server struct {
	url    string // the superuser's DSN for the maintenance database "postgres"
	dir    string // temporary directory: data, socket and log
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	log    string
}

var (
	inMain   bool
	once     sync.Once
	shared   *server // with Main
	startErr error

	perTestMu sync.Mutex
	perTest   = map[testing.TB]*server{} // without Main
)

// Main runs the package's tests with one server shared by the binary,
// started on first use, and stops it afterwards. Use it from TestMain:
// os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	inMain = true
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	return code
}

// Start returns the DSN ("postgres://…") of a new empty database on the
// test binary's server (with Main) or on the test's own server. It fails
// the test, saying why, if PostgreSQL cannot be started.
func Start(tb testing.TB) (dsn string) {
	tb.Helper()
	var srv *server
	if inMain {
		once.Do(func() { shared, startErr = start() })
		if startErr != nil {
			tb.Fatalf("pgtest: %v", startErr)
		}
		srv = shared
	} else {
		srv = ownServer(tb)
	}
	dsn, err := srv.createDatabase(context.Background())
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// ownServer returns the test's own server, starting it on first use and
// stopping it when the test ends.
func ownServer(tb testing.TB) *server {
	tb.Helper()
	perTestMu.Lock()
	defer perTestMu.Unlock()
	if s := perTest[tb]; s != nil {
		return s
	}
	s, err := start()
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	perTest[tb] = s
	tb.Cleanup(func() {
		perTestMu.Lock()
		delete(perTest, tb)
		perTestMu.Unlock()
		s.stop()
	})
	return s
}

// createDatabase creates a database with a random name and returns its
// DSN.
func (s *server) createDatabase(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", s.url, err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 8)
	rand.Read(b)
	name := "lgtest_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.dsn(name), nil
}

func (s *server) dsn(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, database)
}

// BinDir is the directory holding initdb and postgres.
func BinDir() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("LEAKGUARD_PG_BIN"); dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("LEAKGUARD_PG_BIN=%s holds no initdb and postgres", dir)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: 15 before 9.6.
	major := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(major(b), major(a)) })
	for _, dir := range dirs {
		if has(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if p, err = filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries: install postgresql-15 (Debian: apt-get install postgresql-15) or set LEAKGUARD_PG_BIN to the directory holding initdb and postgres")
}

// runAs returns the credential to run PostgreSQL with: nil for a
// non-root user, the "postgres" system user for root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root, so the tests (running as root) run it as the system user \"postgres\", which does not exist (%v); "+
			"create it before the tests, e.g. in .ci/run: id postgres >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user postgres: uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user postgres: gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func start() (*server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, log: filepath.Join(dir, "postgres.log")}
	ok := false
	defer func() {
		if !ok {
			s.stop()
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("hand %s to user postgres: %w", dir, err)
		}
	}
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "--pgdata="+data, "--username=postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = pgEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb (as %s) in %s: %v\n%s%s", who(cred), dir, err, tail(string(out)), traversable(dir))
	}
	if err := os.Mkdir(sock, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(sock, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	// The port is free when picked but may be taken before postgres
	// binds it: then try another.
	for attempt := 1; ; attempt++ {
		err := s.launch(bin, data, sock, cred)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(s.logTail(), "could not bind") {
			return nil, err
		}
	}
	ok = true
	return s, nil
}

// launch starts postgres on a free port and waits until it accepts
// connections.
func (s *server) launch(bin, data, sock string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logf, err := os.Create(s.log)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.port, s.exited = port, make(chan struct{})
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", sock, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	s.cmd.Dir = s.dir
	s.cmd.Env = pgEnv()
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// Its own process group, killed with the test binary.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := s.exited
	go func(cmd *exec.Cmd) {
		cmd.Wait()
		close(exited)
	}(s.cmd)
	s.url = s.dsn("postgres")
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.url)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("postgres exited: %v\n%s", s.cmd.ProcessState, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections on %s within 60s: %v\n%s", s.url, err, s.logTail())
		}
	}
}

// stop shuts the server down (fast shutdown, then SIGKILL) and removes
// its directory.
func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.exited
		}
	}
	os.RemoveAll(s.dir)
}

func (s *server) logTail() string {
	b, _ := os.ReadFile(s.log)
	return tail(string(b))
}

// pgEnv is the environment without PG* variables, which would otherwise
// redirect initdb and postgres.
func pgEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func who(cred *syscall.Credential) string {
	if cred == nil {
		return "uid " + strconv.Itoa(os.Geteuid())
	}
	return fmt.Sprintf("postgres, uid %d", cred.Uid)
}

// traversable explains a common initdb failure as root: the temporary
// directory ($TMPDIR) lies under a directory the postgres user cannot
// enter.
func traversable(dir string) string {
	for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			return fmt.Sprintf("\n(%s is not searchable by other users; point TMPDIR at a directory the postgres user can reach)", d)
		}
	}
	return ""
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}
