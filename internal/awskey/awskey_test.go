package awskey

import (
	"errors"
	"testing"
)

func TestAccountID(t *testing.T) {
	// Vectors from shared/reference/protocols.md §2.3.
	tests := []struct{ id, account string }{
		{"ASIAY34FZKBOKMUTVV7A", "609629065308"},
		{"ASIAQNZGKIQY56JQ7WML", "029608264753"},
		{"AKIA6RVFFB77RE7OLMKI", "999999999999"},
		{"AKIARZPUZDIKC6T4U5BK", "123456789012"},
		{"AKIATCH6YDSY7EGK3JYL", "210987654321"},
	}
	for _, tt := range tests {
		got, err := AccountID(tt.id)
		if err != nil || got != tt.account {
			t.Errorf("AccountID(%s) = %q, %v; want %q", tt.id, got, err, tt.account)
		}
		if !IsAccessKeyID(tt.id) {
			t.Errorf("IsAccessKeyID(%s) = false", tt.id)
		}
	}
}

func TestAccountIDOldGeneration(t *testing.T) {
	if _, err := AccountID("AKIAIOSFODNN7EXAMPLE"); !errors.Is(err, ErrOldGeneration) {
		t.Fatalf("err = %v, want ErrOldGeneration", err)
	}
	if !IsDocumentationExample("AKIAIOSFODNN7EXAMPLE") {
		t.Fatal("documentation example not recognised")
	}
}

func TestIsAccessKeyIDRejects(t *testing.T) {
	for _, id := range []string{"", "AKIA", "AKIA0000000000000000", "AROARZPUZDIKC6T4U5BK", "AKIARZPUZDIKC6T4U5B", "akiarzpuzdikc6t4u5bk"} {
		if IsAccessKeyID(id) {
			t.Errorf("IsAccessKeyID(%q) = true", id)
		}
	}
}

func FuzzAccountID(f *testing.F) {
	f.Add("AKIARZPUZDIKC6T4U5BK")
	f.Add("AKIAIOSFODNN7EXAMPLE")
	f.Add("ASIA\x00\xff")
	f.Fuzz(func(t *testing.T, id string) {
		acct, err := AccountID(id)
		if err == nil && len(acct) != 12 {
			t.Fatalf("AccountID(%q) = %q: not 12 digits", id, acct)
		}
	})
}
