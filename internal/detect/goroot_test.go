package detect

import (
	"os/exec"
	"strings"
	"testing"
)

// goroot is the Go distribution's root, as `go env GOROOT` reports it.
func goroot(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
