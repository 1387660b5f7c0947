package pgtest

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestStartGivesFreshDatabases: each call is a new empty database on the
// binary's one server; what one test writes, another does not see.
func TestStartGivesFreshDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := Start(t), Start(t)
	if a == b {
		t.Fatalf("the same database twice: %s", a)
	}
	if !strings.HasPrefix(a, "postgres://") {
		t.Errorf("DSN %q is not a postgres:// URL", a)
	}
	ca, cb := connect(t, a), connect(t, b)
	var dbA, dbB, portA, portB string
	if err := ca.QueryRow(ctx, `SELECT current_database(), current_setting('port')`).Scan(&dbA, &portA); err != nil {
		t.Fatal(err)
	}
	if err := cb.QueryRow(ctx, `SELECT current_database(), current_setting('port')`).Scan(&dbB, &portB); err != nil {
		t.Fatal(err)
	}
	if dbA == dbB || portA != portB {
		t.Errorf("databases %s:%s and %s:%s: want two databases on one server", dbA, portA, dbB, portB)
	}
	if _, err := ca.Exec(ctx, `CREATE TABLE t (x int); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := cb.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 't'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("fresh database sees %d tables named t (%v)", n, err)
	}
	var fsync, version string
	if err := ca.QueryRow(ctx, `SELECT current_setting('fsync'), current_setting('server_version')`).Scan(&fsync, &version); err != nil {
		t.Fatal(err)
	}
	if fsync != "off" {
		t.Errorf("fsync = %s, want off", fsync)
	}
	t.Logf("PostgreSQL %s", version)
}

// TestOwnServer: without Main a test gets a server of its own, one for
// all its Start calls, stopped (and its directory removed) when it ends.
func TestOwnServer(t *testing.T) {
	var s *server
	t.Run("test", func(t *testing.T) {
		s = ownServer(t)
		if again := ownServer(t); again != s {
			t.Error("two servers for one test")
		}
		dsn, err := s.createDatabase(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conn := connect(t, dsn)
		var user string
		if err := conn.QueryRow(context.Background(), `SELECT current_user`).Scan(&user); err != nil || user != "postgres" {
			t.Errorf("current_user %q (%v)", user, err)
		}
	})
	if s == nil {
		t.FailNow()
	}
	if _, err := os.Stat(s.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server directory after the test: %v", err)
	}
	if err := syscall.Kill(s.cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("postgres (pid %d) after the test: %v", s.cmd.Process.Pid, err)
	}
	if len(perTest) != 0 {
		t.Errorf("servers still registered: %v", perTest)
	}
}

func TestBinDirFromEnv(t *testing.T) {
	t.Setenv("LEAKGUARD_PG_BIN", t.TempDir())
	if _, err := BinDir(); err == nil || !strings.Contains(err.Error(), "LEAKGUARD_PG_BIN") {
		t.Errorf("empty LEAKGUARD_PG_BIN directory: %v", err)
	}
}
