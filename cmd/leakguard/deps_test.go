package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies pins what the scanner binary links: the scanning half
// stays free of database, mail and cloud SDK code, and test-only
// dependencies never reach it.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps gave %d packages", len(deps))
	}
	for _, d := range deps {
		for _, bad := range []string{"database/sql", "net/smtp", "github.com/aws/", "github.com/santhosh-tekuri/", "/internal/gittest"} {
			if strings.Contains(d, bad) {
				t.Errorf("leakguard links %s", d)
			}
		}
	}
}
