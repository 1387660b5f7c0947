package containment

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/leakguard/leakguard/internal/audit"
)

// ReleaseRequest asks for a contained key's quarantine to be lifted.
type ReleaseRequest struct {
	KeyID string
	// Principal names the user when the key is already deleted and IAM can
	// no longer say whose it was ("user/NAME"); the audit log of the
	// containment records it.
	Principal string
	Incident  string
}

// Release removes the quarantine and deny-all policies LeakGuard applied,
// but only once the leaked key is deleted or inactive: while it works, it
// stays contained. The revoke-sessions policy is left in place: it only
// denies sessions issued before the leak was contained, so it costs the
// user nothing and keeps any session an attacker minted dead.
func (r *Responder) Release(ctx context.Context, req ReleaseRequest) (Result, error) {
	res := Result{Started: r.now()}
	x := &run{r: r, req: Request{Credentials: Credentials{KeyID: req.KeyID}, Incident: req.Incident}, res: &res}
	id, err := r.Identify(ctx, IdentifyRequest(req))
	res.Identity = id
	if err != nil {
		return res, x.fail(ctx, audit.Entry{Step: "identify", Action: "sts:GetAccessKeyInfo, iam:GetAccessKeyLastUsed"}, err)
	}
	switch {
	case id.Temporary:
		return res, x.refuse(ctx, "release", fmt.Errorf("%s is a temporary key: its sessions stay revoked by %s, which only denies sessions issued before containment; nothing to release", req.KeyID, revokePolicyName))
	case id.Status == StatusActive:
		return res, x.refuse(ctx, "release", fmt.Errorf("%s: %w; rotate it first: create a new key, move applications to it, then `aws iam delete-access-key --user-name %s --access-key-id %s`", req.KeyID, ErrKeyActive, id.Principal, req.KeyID))
	case id.Principal == "":
		return res, x.refuse(ctx, "release", fmt.Errorf("%s is deleted and IAM no longer names its user: pass --principal user/NAME", req.KeyID))
	}
	if x.c, err = r.clients(ctx, id.Account); err != nil {
		return res, err
	}
	detail := "key is " + id.Status
	if id.Status == StatusInactive {
		detail += fmt.Sprintf("; it still exists: delete it once nothing uses it (aws iam delete-access-key --user-name %s --access-key-id %s)", id.Principal, id.KeyID)
	}
	if err := x.record(ctx, audit.Entry{Step: "release-precondition", Outcome: audit.Checked, Detail: detail}); err != nil {
		return res, err
	}
	for _, arn := range id.Attached {
		if !isQuarantineARN(arn) {
			continue
		}
		e := audit.Entry{Step: "release", Action: "iam:DetachUserPolicy", Target: arn}
		out, err := x.c.iam.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(id.Principal), PolicyArn: aws.String(arn)})
		if err != nil {
			return res, x.fail(ctx, e, err)
		}
		e.Outcome, e.RequestID = audit.Done, requestID(out.ResultMetadata)
		if err := x.record(ctx, e); err != nil {
			return res, err
		}
	}
	if contains(id.Inline, denyAllPolicyName) {
		e := audit.Entry{Step: "release", Action: "iam:DeleteUserPolicy", Target: denyAllPolicyName}
		out, err := x.c.iam.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(id.Principal), PolicyName: aws.String(denyAllPolicyName)})
		if err != nil {
			return res, x.fail(ctx, e, err)
		}
		e.Outcome, e.RequestID = audit.Done, requestID(out.ResultMetadata)
		if err := x.record(ctx, e); err != nil {
			return res, err
		}
	}
	if !res.Changed {
		if err := x.record(ctx, audit.Entry{Step: "release", Outcome: audit.Already, Detail: "no LeakGuard quarantine on " + id.Principal}); err != nil {
			return res, err
		}
	}
	return res, nil
}
