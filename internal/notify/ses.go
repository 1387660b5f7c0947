package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/ses/types"
	"github.com/aws/smithy-go"
)

// SESAPI is the part of the SES client the SES channel uses;
// *ses.Client satisfies it.
type SESAPI interface {
	SendRawEmail(ctx context.Context, in *ses.SendRawEmailInput, optFns ...func(*ses.Options)) (*ses.SendRawEmailOutput, error)
}

// SES sends the notification by email through Amazon SES (SendRawEmail),
// with the same MIME message as the SMTP channel. From must be a
// verified SES identity.
type SES struct {
	Client SESAPI
	From   string   // verified sender address
	To     []string // recipient addresses
}

// Name implements Channel.
func (s *SES) Name() string { return "ses" }

// Send renders the incident and sends it; the reference is SES's message
// ID. Client-side refusals such as an unverified sender are permanent
// errors; throttling and server faults are not.
func (s *SES) Send(ctx context.Context, inc Incident) (string, error) {
	email, err := Render(inc)
	if err != nil {
		return "", Permanent(err)
	}
	msgID, err := NewMessageID(s.From)
	if err != nil {
		return "", Permanent(fmt.Errorf("ses send: %w", err))
	}
	msg, err := email.MIME(s.From, s.To, time.Now(), msgID)
	if err != nil {
		return "", Permanent(fmt.Errorf("ses send: %w", err))
	}
	from, _ := parseAddress(s.From) // MIME has validated it
	dests := make([]string, 0, len(s.To))
	for _, t := range s.To {
		a, _ := parseAddress(t)
		dests = append(dests, a.Address)
	}
	out, err := s.Client.SendRawEmail(ctx, &ses.SendRawEmailInput{
		Source:       aws.String(from.Address),
		Destinations: dests,
		RawMessage:   &types.RawMessage{Data: msg},
	})
	if err != nil {
		return "", classifyAWS(fmt.Errorf("ses send from %s: %w", from.Address, err))
	}
	return aws.ToString(out.MessageId), nil
}

// classifyAWS marks an AWS error permanent when AWS blames the request
// and the error is not one the SDK counts as throttling or retryable.
func classifyAWS(err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err
	}
	code := ae.ErrorCode()
	_, throttle := retry.DefaultThrottleErrorCodes[code]
	_, retryable := retry.DefaultRetryableErrorCodes[code]
	if throttle || retryable {
		return err
	}
	var rejected *types.MessageRejected
	if ae.ErrorFault() == smithy.FaultClient || errors.As(err, &rejected) {
		return Permanent(err)
	}
	return err
}
