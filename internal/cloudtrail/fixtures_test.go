package cloudtrail

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/leakguard/leakguard/internal/mototest"
)

func TestMain(m *testing.M) { os.Exit(mototest.Main(m)) }

const (
	leakedKey = "AKIAQYLPMN5HHLEAKEDX" // the key pushed to a public repository
	otherKey  = "AKIAIOSFODNN7EXAMPLE" // a colleague's key, in the same trail
	account   = "111122223333"

	attackerIP  = "203.0.113.7"
	attackerUA  = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/sts.get-caller-identity"
	attacker2IP = "198.51.100.23"
	attacker2UA = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.2"
	leakguardIP = "192.0.2.10"
	leakguardUA = "leakguard/0.4.0 aws-sdk-go-v2/1.48.0 os/linux lang/go#1.26.8"
)

// pushed is when the key was pushed; the attack is timed from it.
var pushed = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// rec is one CloudTrail record to put into a fixture.
type rec struct {
	ID, Key, Source, Name, Region, IP, UA, Err string
	At                                         time.Time
	Write                                      bool // the call changes something: readOnly false
	ReadOnlyString                             bool // write readOnly as a string, as some records do
}

func eventID(i int) string { return fmt.Sprintf("5d3f6b1e-0000-4000-8000-%012d", i) }

// record is r in CloudTrail's record format.
func (r rec) record() map[string]any {
	m := map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{
			"type":        "IAMUser",
			"principalId": "AIDAQYLPMN5HCIDEPLOY1",
			"arn":         "arn:aws:iam::" + account + ":user/ci-deploy",
			"accountId":   account,
			"accessKeyId": r.Key,
			"userName":    "ci-deploy",
		},
		"eventTime":          r.At.UTC().Format(time.RFC3339),
		"eventSource":        r.Source + ".amazonaws.com",
		"eventName":          r.Name,
		"awsRegion":          r.Region,
		"sourceIPAddress":    r.IP,
		"userAgent":          r.UA,
		"requestParameters":  nil,
		"responseElements":   nil,
		"requestID":          "req-" + r.ID,
		"eventID":            r.ID,
		"readOnly":           !r.Write,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": account,
		"eventCategory":      "Management",
	}
	if r.ReadOnlyString {
		m["readOnly"] = fmt.Sprint(!r.Write)
	}
	if r.Err != "" {
		m["errorCode"] = r.Err
		m["errorMessage"] = "User: arn:aws:iam::" + account + ":user/ci-deploy is not authorized to perform: " + r.Source + ":" + r.Name
	}
	return m
}

func (r rec) json() string {
	b, err := json.Marshal(r.record())
	if err != nil {
		panic(err)
	}
	return string(b)
}

// fake is r as the fake LookupEvents API stores it.
func (r rec) fake() fakeEvent {
	return fakeEvent{ID: r.ID, Name: r.Name, Source: r.Source + ".amazonaws.com", KeyID: r.Key, User: "ci-deploy", Time: r.At, Record: r.json()}
}

func fakes(rs ...rec) []fakeEvent {
	var out []fakeEvent
	for _, r := range rs {
		out = append(out, r.fake())
	}
	return out
}

// attack is the leaked key's use after the push, as in the article: LeakGuard
// checks the key, then an attacker probes it from one IP and a second
// tool from another IP follows up.
func attack() []rec {
	at := func(s int) time.Time { return pushed.Add(time.Duration(s) * time.Second) }
	return []rec{
		{ID: eventID(1), Key: leakedKey, Source: "sts", Name: "GetCallerIdentity", Region: "us-east-1", IP: leakguardIP, UA: leakguardUA, At: at(12)},
		{ID: eventID(2), Key: leakedKey, Source: "sts", Name: "GetCallerIdentity", Region: "us-east-1", IP: attackerIP, UA: attackerUA, At: at(47), ReadOnlyString: true},
		{ID: eventID(3), Key: leakedKey, Source: "iam", Name: "ListUsers", Region: "us-east-1", IP: attackerIP, UA: attackerUA, At: at(49)},
		{ID: eventID(4), Key: leakedKey, Source: "iam", Name: "CreateUser", Region: "us-east-1", IP: attackerIP, UA: attackerUA, At: at(52), Err: "AccessDenied", Write: true},
		{ID: eventID(5), Key: leakedKey, Source: "ec2", Name: "DescribeRegions", Region: "us-east-1", IP: attackerIP, UA: attackerUA, At: at(55)},
		{ID: eventID(6), Key: leakedKey, Source: "s3", Name: "ListBuckets", Region: "us-east-1", IP: attackerIP, UA: attackerUA, At: at(58), Err: "AccessDenied"},
		{ID: eventID(7), Key: leakedKey, Source: "ec2", Name: "RunInstances", Region: "eu-west-1", IP: attackerIP, UA: attackerUA, At: at(61), Err: "Client.InvalidAMIID.NotFound", Write: true, ReadOnlyString: true},
		{ID: eventID(8), Key: leakedKey, Source: "ec2", Name: "DescribeInstances", Region: "eu-west-1", IP: attacker2IP, UA: attacker2UA, At: at(120)},
		{ID: eventID(9), Key: leakedKey, Source: "ses", Name: "GetSendQuota", Region: "us-east-1", IP: attacker2IP, UA: attacker2UA, At: at(125), Err: "AccessDenied"},
	}
}

// ids lists events' IDs in order.
func ids(events []Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.EventID)
	}
	return out
}
