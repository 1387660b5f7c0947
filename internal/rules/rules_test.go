package rules

import (
	"strings"
	"testing"
)

func TestParseDefaults(t *testing.T) {
	rs, err := Parse(`
[[rules]]
id = "x-token"
keywords = ["X_"]
regex = 'x_[0-9]+'
[[rules]]
id = "y-pass"
generic = true
keywords = ["pw"]
regex = 'pw=(\S+)'
`)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Confidence != Medium || rs[0].Window != 512 || rs[0].Keywords[0] != "x_" || rs[1].Confidence != Low {
		t.Fatalf("defaults not applied: %+v", rs)
	}
}

func TestValidateRejects(t *testing.T) {
	for name, r := range map[string]Rule{
		"BadID":       {ID: "Bad_ID", Regex: "x"},
		"BadRegex":    {ID: "a", Regex: "(("},
		"BadGroup":    {ID: "a", Regex: "(x)", SecretGroup: 2},
		"ShortKW":     {ID: "a", Regex: "x", Keywords: []string{"x"}},
		"BadEntropy":  {ID: "a", Regex: "x", Entropy: 9},
		"BadPair":     {ID: "a", Regex: "x", Pair: &Pair{Regex: "(("}},
		"BadSkipPath": {ID: "a", Regex: "x", SkipPaths: []string{"["}},
	} {
		if err := r.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := Validate([]Rule{{ID: "a", Regex: "x"}, {ID: "a", Regex: "y"}}); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate ids: %v", err)
	}
}

func TestDefaultCatalogueLoads(t *testing.T) {
	rs, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(rs); i++ {
		if rs[i-1].ID >= rs[i].ID {
			t.Fatalf("catalogue not sorted at %s", rs[i].ID)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("[[rules]]\nid = \"a-b\"\nkeywords = [\"ab\"]\nregex = 'ab([0-9]+)'\n[rules.pair]\nregex = '([a-z]{40})'\n")
	f.Add("[[rules]]\nid = 1\n")
	f.Fuzz(func(t *testing.T, doc string) {
		rs, err := Parse(doc)
		if err != nil {
			return
		}
		_ = Validate(rs)
	})
}
