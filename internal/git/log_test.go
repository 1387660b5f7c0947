package git

import (
	"strings"
	"testing"
)

const h1 = "1111111111111111111111111111111111111111"
const h2 = "2222222222222222222222222222222222222222"
const h3 = "3333333333333333333333333333333333333333"

func TestParseLog(t *testing.T) {
	in := "\x01" + h1 + "\x00\x00Ann\x00ann@x\x002026-01-01T00:00:00+01:00\x00\x00\n" +
		":000000 100644 " + ZeroID + " " + h2 + " A\x00dir/a b.txt\x00" +
		"\x01" + h3 + "\x00" + h1 + " " + h2 + "\x00Bo\x00bo@x\x002026-01-02T00:00:00Z\x00\x00\n" +
		"::100644 100644 100644 " + h1 + " " + h2 + " " + h3 + " MM\x00merged.txt\x00"
	var got []*Commit
	if err := ParseLog(strings.NewReader(in), func(c *Commit) error { got = append(got, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Author != "Ann" || got[0].Changes[0].Path != "dir/a b.txt" || got[0].Changes[0].New != h2 {
		t.Fatalf("got %+v", got[0])
	}
	m := got[1]
	if len(m.Parents) != 2 || len(m.Changes) != 1 || len(m.Changes[0].Old) != 2 || m.Changes[0].New != h3 {
		t.Fatalf("merge %+v", m)
	}
}

func TestParseLogRejects(t *testing.T) {
	for name, in := range map[string]string{
		"Truncated":   "\x01" + h1 + "\x00",
		"BadHash":     "\x01nothex\x00\x00a\x00b\x00c\x00",
		"BadChange":   "\x01" + h1 + "\x00\x00a\x00b\x00c\x00\n:100644 zz\x00p\x00",
		"NoCommit":    ":000000 100644 " + ZeroID + " " + h2 + " A\x00p\x00",
		"Garbage":     "fatal: bad revision\n",
		"MissingPath": "\x01" + h1 + "\x00\x00a\x00b\x00c\x00\n:000000 100644 " + ZeroID + " " + h2 + " A\x00",
	} {
		if err := ParseLog(strings.NewReader(in), func(*Commit) error { return nil }); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseLog(f *testing.F) {
	f.Add("\x01" + h1 + "\x00\x00Ann\x00ann@x\x002026\x00\x00\n:000000 100644 " + ZeroID + " " + h2 + " A\x00a\x00")
	f.Add("::100644 100644 100644 " + h1 + " " + h2 + " " + h3 + " MM\x00m\x00")
	f.Add("\x01\x00\x00")
	f.Fuzz(func(t *testing.T, in string) {
		ParseLog(strings.NewReader(in), func(c *Commit) error {
			if !isObjectID(c.Hash) {
				t.Fatalf("bad hash accepted: %q", c.Hash)
			}
			for _, ch := range c.Changes {
				if !isObjectID(ch.New) || len(ch.Old) == 0 {
					t.Fatalf("bad change accepted: %+v", ch)
				}
			}
			return nil
		})
	})
}
