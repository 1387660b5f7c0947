package ticket

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/support"
	"github.com/aws/smithy-go"
)

// ErrNoSupportPlan is wrapped by the Support opener's error when the
// account has no Business, Enterprise On-Ramp or Enterprise Support plan,
// without which AWS refuses every Support API call.
var ErrNoSupportPlan = errors.New("the AWS Support API needs a Business, Enterprise On-Ramp or Enterprise Support plan")

// SupportAPI is the part of the AWS Support client the opener uses;
// *support.Client satisfies it. The Support API is served from
// us-east-1 only.
type SupportAPI interface {
	CreateCase(ctx context.Context, in *support.CreateCaseInput, optFns ...func(*support.Options)) (*support.CreateCaseOutput, error)
}

// Defaults for the Support opener. They are the service and category
// codes AWS uses in its own CreateCase example, valid in every account;
// `aws support describe-services` lists the codes an account can choose
// from instead (for example IAM's, to route the case to identity
// specialists).
const (
	DefaultIssueType    = "technical"
	DefaultServiceCode  = "general-info"
	DefaultCategoryCode = "using-aws"
	DefaultLanguage     = "en"
)

// Support opens an AWS Support case with CreateCase.
type Support struct {
	Client SupportAPI
	// IssueType is "technical" or "customer-service"; default technical.
	IssueType string
	// ServiceCode and CategoryCode classify the case (see
	// DescribeServices); defaults general-info and using-aws.
	ServiceCode  string
	CategoryCode string
	// Language is an ISO 639-1 code AWS Support handles cases in
	// (en, ja, ko, zh); default en.
	Language string
}

// Name implements Opener.
func (s *Support) Name() string { return "aws-support" }

// Open implements Opener; the reference is the case ID. Without a
// qualifying support plan the error wraps ErrNoSupportPlan.
func (s *Support) Open(ctx context.Context, c Case) (string, error) {
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("aws support create case: %w", err)
	}
	in := &support.CreateCaseInput{
		Subject:           aws.String(c.Subject),
		CommunicationBody: aws.String(c.Body),
		IssueType:         aws.String(orDefault(s.IssueType, DefaultIssueType)),
		ServiceCode:       aws.String(orDefault(s.ServiceCode, DefaultServiceCode)),
		CategoryCode:      aws.String(orDefault(s.CategoryCode, DefaultCategoryCode)),
		Language:          aws.String(orDefault(s.Language, DefaultLanguage)),
		CcEmailAddresses:  c.CC,
	}
	if c.Severity != "" {
		in.SeverityCode = aws.String(c.Severity)
	}
	out, err := s.Client.CreateCase(ctx, in)
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "SubscriptionRequiredException" {
			return "", fmt.Errorf("aws support create case: %w: %w", ErrNoSupportPlan, err)
		}
		return "", fmt.Errorf("aws support create case: %w", err)
	}
	return aws.ToString(out.CaseId), nil
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
