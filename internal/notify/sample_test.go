package notify

import (
	"time"

	"github.com/leakguard/leakguard/internal/cloudtrail"
)

// sampleIncident is a contained AKIA key with some attacker activity.
func sampleIncident() Incident {
	det := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	return Incident{
		ID:           "inc-20250314-0007",
		KeyID:        "AKIAIOSFODNN7EXAMPLE",
		Account:      "123456789012",
		AccountName:  "prod",
		UserName:     "ci-deploy",
		PrincipalARN: "arn:aws:iam::123456789012:user/ci-deploy",
		Live:         "live",
		FoundURL:     "https://github.com/acme/shop/blob/1a2b3c4/config/prod.env#L3",
		FoundWhere:   "commit 1a2b3c4 in github.com/acme/shop, config/prod.env line 3",
		DetectedAt:   det,
		Policy:       "quarantine",
		Actions: []Action{
			{Time: det.Add(2 * time.Second), Step: "attach AWSCompromisedKeyQuarantineV3", Outcome: "done", Detail: "request 5f0c1d2e-0000-4000-8000-000000000001"},
			{Time: det.Add(9 * time.Second), Step: "verify quarantine holds", Outcome: "done"},
		},
		Activity: []cloudtrail.Event{
			{Time: det.Add(-40 * time.Second), Service: "sts", Name: "GetCallerIdentity", Region: "us-east-1", SourceIP: "198.51.100.23", UserAgent: "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0", AccessKeyID: "AKIAIOSFODNN7EXAMPLE"},
			{Time: det.Add(20 * time.Second), Service: "iam", Name: "CreateUser", Region: "us-east-1", SourceIP: "198.51.100.23", UserAgent: "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0", ErrorCode: "AccessDenied", AccessKeyID: "AKIAIOSFODNN7EXAMPLE"},
			{Time: det.Add(25 * time.Second), Service: "ec2", Name: "RunInstances", Region: "eu-west-3", SourceIP: "203.0.113.9", UserAgent: "Boto3/1.34.0 md/Botocore#1.34.0", ErrorCode: "Client.UnauthorizedOperation", AccessKeyID: "AKIAIOSFODNN7EXAMPLE"},
		},
		ActivityNote: "CloudTrail events take about 5 minutes to appear",
		Summary: cloudtrail.Summary{
			Calls: 3, Denied: 2, Allowed: 1,
			First: det.Add(-40 * time.Second), Last: det.Add(25 * time.Second),
			SourceIPs:  []string{"198.51.100.23", "203.0.113.9"},
			UserAgents: []string{"aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0", "Boto3/1.34.0 md/Botocore#1.34.0"},
			Succeeded:  []string{"sts:GetCallerIdentity"},
		},
		DashboardURL: "https://leakguard.example.com/incidents/inc-20250314-0007",
	}
}
