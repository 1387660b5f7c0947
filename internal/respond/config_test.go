package respond

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/containment"
)

func TestParseExampleConfig(t *testing.T) {
	f, err := os.Open("testdata/leakguard.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	accts := c.Accounts()
	if len(accts) != 2 || accts[0].Policy != containment.Deactivate || accts[1].Policy != containment.Quarantine || accts[0].ExternalID != "leakguard" {
		t.Errorf("accounts %+v", accts)
	}
	if got := c.Owners("123456789012"); len(got) != 1 || got[0] != "cloud-security@example.com" {
		t.Errorf("owners of prod: %v", got)
	}
	if got := c.Owners("210987654321"); len(got) != 1 || got[0] != "security@example.com" {
		t.Errorf("owners of sandbox fall back to notify.to: %v", got)
	}
	if c.CloudTrail.Lookback.Duration != 24*time.Hour || c.AWS.CheckTimeout.Duration != time.Minute || c.Notify.Attempts != 5 {
		t.Errorf("durations/defaults: %+v %+v", c.CloudTrail, c.AWS)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	in := `
[aws]
endpoint = "localhost:5000"
default_policy = "nuke"
[[aws.accounts]]
id = "12345"
[[aws.accounts]]
id = "123456789012"
role_arn = "arn:aws:iam::999999999999:role/R"
policy = "quarantine"
owners = ["not an address"]
[notify.smtp]
addr = "smtp.example.com"
from = "x@example.com"
username = "u"
tls = "ssl"
[notify.slack]
url_env = "https://hooks.slack.com/services/T000/B000/XXXX"
[ticket]
order = ["jira"]
[surprise]
x = 1
`
	_, err := Parse(strings.NewReader(in))
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{
		"unknown setting surprise", "aws.endpoint", "aws.default_policy", "aws.accounts[0].id", "is not in account 123456789012",
		"aws.accounts[1].owners", "notify.smtp.addr", "notify.smtp.tls", "username set without password_env",
		"notify.slack.url_env", `ticket.order: "jira"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "XXXX") {
		t.Error("the error echoes a webhook URL put where an env name belongs")
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/leakguard.toml")
	f.Add(string(b))
	f.Add("[aws]\nregion = 1\n")
	f.Add("[[aws.accounts]]\nid = \"123456789012\"\nrole_arn = \"arn:aws:iam::123456789012:role/a\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(strings.NewReader(s))
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
	})
}
