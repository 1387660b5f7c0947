package config

import (
	"strings"
	"testing"

	"github.com/leakguard/leakguard/internal/rules"
)

var catalogue = []rules.Rule{
	{ID: "a-token", Keywords: []string{"a_"}, Regex: `a_[0-9]{8}`},
	{ID: "b-token", Keywords: []string{"b_"}, Regex: `b_[0-9]{8}`},
}

func TestParseLeakGuard(t *testing.T) {
	c, err := Parse(strings.NewReader(`
[extend]
disabled_rules = ["b-token"]
[[rules]]
id = "c-token"
keywords = ["c_"]
regex = '''c_([0-9]{8})'''
[allowlist]
paths = ['''^vendor/''']
stopwords = ["sample"]
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.Apply(catalogue)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "a-token,c-token" {
		t.Fatalf("rules %v", ids)
	}
	if !c.PathExcluded()("vendor/x.go") || c.PathExcluded()("src/vendor.go") {
		t.Fatal("path allowlist wrong")
	}
}

func TestParseErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"UnknownKey":    "[extend]\nuse_defaults = true\n",
		"BadRegex":      "[[rules]]\nid = \"x\"\nkeywords=[\"x\"]\nregex = '''(('''\n",
		"BadID":         "[[rules]]\nid = \"Not An ID\"\nregex = 'x'\n",
		"BadAllowRegex": "[allowlist]\nregexes = ['''[''']\n",
		"NotTOML":       "{\"rules\": []}",
		"GitleaksPath":  "title = \"x\"\n[extend]\npath = \"base.toml\"\n",
	} {
		if _, err := Parse(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, _ := Parse(strings.NewReader("[extend]\ndisabled_rules = [\"nope\"]\n"))
	if _, err := c.Apply(catalogue); err == nil {
		t.Error("disabling an unknown rule accepted")
	}
}

func TestParseGitleaks(t *testing.T) {
	c, err := Parse(strings.NewReader(`
title = "custom"
[extend]
useDefault = true
disabledRules = ["a-token"]

[[rules]]
id = "internal-token"
description = "Internal token"
regex = '''itok-([a-z0-9]{16})'''
secretGroup = 1
entropy = 3.0
keywords = ["itok-"]
path = '''\.env$'''
tags = ["internal"]
  [[rules.allowlists]]
  regexes = ['''^0{16}$''']
  stopwords = ["test"]

[allowlist]
description = "global"
paths = ['''(^|/)testdata/''']
regexes = ['''EXAMPLE''']
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != "gitleaks" || !c.UseDefault {
		t.Fatalf("config %+v", c)
	}
	rs, err := c.Apply(catalogue)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].ID != "b-token" || rs[1].ID != "internal-token" {
		t.Fatalf("rules %+v", rs)
	}
	r := rs[1]
	if r.SecretGroup != 1 || r.Path != `\.env$` || len(r.Allow) != 2 || r.Entropy != 3 {
		t.Fatalf("rule %+v", r)
	}
	if len(c.Allow.Paths) != 1 || len(c.Allow.Regexes) != 1 {
		t.Fatalf("allowlist %+v", c.Allow)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("[extend]\nuse_default = false\n[[rules]]\nid = \"x-y\"\nkeywords=[\"xy\"]\nregex='''xy[0-9]+'''\n")
	f.Add("title = \"g\"\n[[rules]]\nid = \"g\"\nregex = '''g([0-9]+)'''\nsecretGroup = 1\n[allowlist]\npaths=['''a''']\n")
	f.Add("\x00[[rules]]\n")
	f.Fuzz(func(t *testing.T, doc string) {
		c, err := Parse(strings.NewReader(doc))
		if err != nil {
			return
		}
		// Whatever parsed must apply and compile without panicking.
		if rs, err := c.Apply(nil); err == nil {
			for _, r := range rs {
				if err := r.Check(); err != nil {
					t.Fatalf("parsed rule fails Check: %v", err)
				}
			}
		}
		c.PathExcluded()("a/b")
		c.SecretRegexes()
	})
}
