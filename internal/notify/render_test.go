package notify

import (
	"html"
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/cloudtrail"
)

func TestRenderLongTermKey(t *testing.T) {
	inc := sampleIncident()
	e, err := Render(inc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ACTION REQUIRED", inc.Account, inc.AccountName, "quarantined"} {
		if !strings.Contains(e.Subject, want) {
			t.Errorf("subject %q lacks %q", e.Subject, want)
		}
	}
	if strings.Contains(e.Subject, "incomplete") {
		t.Errorf("subject %q claims a failure although every step was done", e.Subject)
	}
	for name, body := range map[string]string{"text": e.Text, "html": html.UnescapeString(e.HTML)} {
		for _, want := range []string{
			inc.KeyID, inc.Account, inc.UserName, inc.PrincipalARN, inc.FoundURL, inc.ID,
			"2025-03-14 09:26:55 UTC", "+2s", "+9s", // action times and offsets
			inc.Actions[0].Step, inc.Actions[0].Detail, inc.Actions[1].Step,
			"AWSCompromisedKeyQuarantineV3", "valid when LeakGuard checked",
			// activity table and summary
			"sts:GetCallerIdentity", "iam:CreateUser", "ec2:RunInstances", "eu-west-3", "203.0.113.9",
			"aws-cli/2.15.0", "denied (AccessDenied)", "allowed",
			"3 call(s)", "1 allowed, 2 denied", "2 distinct IP", inc.ActivityNote,
			// the owner's steps
			"aws iam create-access-key --user-name ci-deploy",
			"aws iam delete-access-key --user-name ci-deploy --access-key-id AKIAIOSFODNN7EXAMPLE",
			"aws cloudtrail lookup-events --region us-east-1 --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=AKIAIOSFODNN7EXAMPLE",
			"--region eu-west-3 --lookup-attributes", // a region the key was used in
			"describe-instances", "list-functions", "aws iam list-users", "aws iam list-roles",
			"Billing and Cost Management", "leakguard aws release AKIAIOSFODNN7EXAMPLE",
			"deleted or inactive",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part lacks %q", name, want)
			}
		}
		if strings.Contains(body, "sessions issued before") {
			t.Errorf("%s part talks about revoked sessions for a long-term key", name)
		}
	}
	if !strings.Contains(e.HTML, `<a href="`+inc.FoundURL+`">`) {
		t.Errorf("html part does not link the URL where the key was found")
	}
	if !strings.Contains(e.Text, inc.FoundWhere) {
		t.Errorf("text part lacks %q", inc.FoundWhere)
	}
}

func TestRenderTemporaryKey(t *testing.T) {
	inc := sampleIncident()
	inc.KeyID = "ASIAIOSFODNN7EXAMPLE"
	inc.UserName = "deploy-role"
	inc.PrincipalARN = "arn:aws:iam::123456789012:role/deploy-role"
	inc.Policy = "revoke-sessions"
	inc.Actions = []Action{{Time: inc.DetectedAt.Add(3 * time.Second), Step: "revoke sessions of deploy-role", Outcome: "done"}}
	e, err := Render(inc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Subject, "sessions revoked") {
		t.Errorf("subject %q does not say sessions were revoked", e.Subject)
	}
	for name, body := range map[string]string{"text": e.Text, "html": html.UnescapeString(e.HTML)} {
		for _, want := range []string{"temporary credentials", "revoked the sessions of role deploy-role",
			"issued before the revocation", "cannot be deleted", "12 hours", "AssumeRole",
			"leakguard aws release ASIAIOSFODNN7EXAMPLE"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part lacks %q", name, want)
			}
		}
		if strings.Contains(body, "delete-access-key") {
			t.Errorf("%s part tells the owner to delete a temporary key", name)
		}
	}
}

func TestRenderFailedStep(t *testing.T) {
	inc := sampleIncident()
	inc.Actions[1].Outcome = "failed"
	inc.Actions[1].Detail = "AccessDenied: iam:GetUserPolicy"
	e, err := Render(inc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Subject, "containment incomplete") {
		t.Errorf("subject %q hides the failed step", e.Subject)
	}
	if !strings.Contains(e.Text, "FAILED (AccessDenied: iam:GetUserPolicy)") || !strings.Contains(e.Text, "start with step 1 now") {
		t.Errorf("text part does not flag the failed step:\n%s", e.Text)
	}
	if !strings.Contains(e.HTML, `class="bad">failed</td>`) || !strings.Contains(e.HTML, "At least one containment step failed") {
		t.Errorf("html part does not flag the failed step")
	}
}

func TestRenderNothingContained(t *testing.T) {
	inc := sampleIncident()
	inc.Actions = []Action{{Time: inc.DetectedAt.Add(time.Second), Step: "contain root user key", Outcome: "refused", Detail: "root user access key"}}
	e, err := Render(inc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.Subject, "quarantined") || !strings.Contains(e.Subject, "incomplete") {
		t.Errorf("subject %q claims containment", e.Subject)
	}
	if !strings.Contains(e.Text, "REFUSED (root user access key)") || strings.Contains(e.Text, "has already contained it") {
		t.Errorf("text part misreports a refused step:\n%s", e.Text)
	}
	inc.Actions = nil
	if e, _ = Render(inc); !strings.Contains(e.Subject, "not yet contained") || !strings.Contains(e.Text, "has not contained the key yet") {
		t.Errorf("an incident without actions reads as contained: %q", e.Subject)
	}
}

func TestRenderNoActivity(t *testing.T) {
	inc := sampleIncident()
	inc.Activity = nil
	inc.Summary = cloudtrail.Summary{}
	e, err := Render(inc)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"text": e.Text, "html": html.UnescapeString(e.HTML)} {
		if !strings.Contains(body, "No CloudTrail activity recorded") || !strings.Contains(body, inc.ActivityNote) {
			t.Errorf("%s part does not explain the missing activity", name)
		}
		if strings.Contains(body, "Source IP") {
			t.Errorf("%s part has an activity table without activity", name)
		}
	}
}

func TestRenderLimitsActivityTable(t *testing.T) {
	inc := sampleIncident()
	inc.Activity = nil
	for i := range maxActivityRows + 7 {
		inc.Activity = append(inc.Activity, cloudtrail.Event{
			Time: inc.DetectedAt.Add(time.Duration(i) * time.Second), Service: "s3", Name: "ListBuckets",
			Region: "us-east-1", SourceIP: "198.51.100.23", UserAgent: "curl",
		})
	}
	e, err := Render(inc)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(e.Text, "s3:ListBuckets"); n != maxActivityRows {
		t.Errorf("text table has %d rows, want %d", n, maxActivityRows)
	}
	if !strings.Contains(e.Text, "7 more call(s)") || !strings.Contains(e.HTML, "7 more call(s)") {
		t.Errorf("the events left out are not counted")
	}
}

func TestRenderEscapesHostileText(t *testing.T) {
	inc := sampleIncident()
	hostile := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	inc.FoundWhere = hostile
	inc.UserName = `bob"><b>`
	inc.AccountName = "ops\r\nBcc: attacker@example.com"
	inc.FoundURL = "javascript:alert(1)"
	inc.Activity[0].UserAgent = "<svg onload=alert(2)>"
	e, err := Render(inc)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"<script>", "<img", "<svg", `"><b>`, `href="javascript:`} {
		if strings.Contains(e.HTML, raw) {
			t.Errorf("html part contains unescaped %q", raw)
		}
	}
	if !strings.Contains(e.HTML, template.HTMLEscaper(hostile)) {
		t.Errorf("html part lacks the escaped FoundWhere %q", template.HTMLEscaper(hostile))
	}
	if strings.ContainsAny(e.Subject, "\r\n") {
		t.Errorf("subject %q has a line break", e.Subject)
	}
	if strings.Contains(e.Text, "\nBcc:") {
		t.Errorf("text part lets incident data start a line of its own")
	}
	// A user name that is not shell-safe is quoted in the commands.
	if !strings.Contains(e.Text, `--user-name 'bob"><b>'`) {
		t.Errorf("user name not shell-quoted in the commands:\n%s", e.Text)
	}
}

func TestRenderNeedsKeyAndAccount(t *testing.T) {
	for _, inc := range []Incident{{Account: "123456789012"}, {KeyID: "AKIAIOSFODNN7EXAMPLE"}} {
		if _, err := Render(inc); err == nil {
			t.Errorf("Render(%+v) succeeded", inc)
		}
	}
}
