package mototest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestAccountIsolatedAndEnforced(t *testing.T) {
	start := time.Now()
	s := Start(t)
	t.Logf("start %v", time.Since(start))
	start = time.Now()
	a := s.NewAccount(t)
	t.Logf("account %v", time.Since(start))
	ctx := context.Background()
	out, err := sts.NewFromConfig(a.AdminConfig()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Account != a.ID {
		t.Fatalf("account %s, want %s", *out.Account, a.ID)
	}
	bad := a.Admin
	bad.SecretAccessKey = "wrong"
	_, err = iam.NewFromConfig(s.Config(bad)).ListUsers(ctx, &iam.ListUsersInput{})
	if err == nil {
		t.Fatal("wrong secret accepted: authorisation is not enforced")
	}
	t.Log(err)
	b := s.NewAccount(t)
	users, err := iam.NewFromConfig(b.AdminConfig()).ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users.Users) != 1 || aws.ToString(users.Users[0].UserName) != "admin" {
		t.Fatalf("account %s not isolated: %d users", b.ID, len(users.Users))
	}
}
