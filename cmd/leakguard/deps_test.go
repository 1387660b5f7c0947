package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies pins what the binary links: test-only dependencies
// (schema validator, test SMTP server, git and moto test harnesses) never
// reach it.
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
		for _, bad := range []string{"github.com/santhosh-tekuri/", "github.com/emersion/", "/internal/gittest", "/internal/mototest"} {
			if strings.Contains(d, bad) {
				t.Errorf("leakguard links %s", d)
			}
		}
	}
}
