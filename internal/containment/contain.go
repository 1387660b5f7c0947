package containment

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/awskey"
)

const (
	quarantineV3 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
	quarantineV2 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"
	// copyPolicyName is the customer managed copy of V3 LeakGuard creates
	// where AWS's managed policies do not exist (other partitions). An
	// inline copy is impossible: V3 is 2,718 characters and a user's
	// inline policies may total 2,048.
	copyPolicyName    = "LeakGuardCompromisedKeyQuarantine"
	denyAllPolicyName = "LeakGuardDenyAll"
	// revokePolicyName is the name the IAM console's "Revoke active
	// sessions" writes; LeakGuard uses it so both tools see one policy.
	revokePolicyName = "AWSRevokeOlderSessions"
	denyAllDocument  = `{"Version":"2012-10-17","Statement":[{"Sid":"LeakGuardDenyAll","Effect":"Deny","Action":"*","Resource":"*"}]}`
)

//go:embed policies/AWSCompromisedKeyQuarantineV3.json
var quarantineCopyDocument string

func isQuarantineARN(arn string) bool {
	return arn == quarantineV3 || arn == quarantineV2 || strings.HasSuffix(arn, ":policy/"+copyPolicyName) ||
		strings.HasPrefix(arn, "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine")
}

// revokeDocument denies everything to sessions issued before t.
func revokeDocument(t time.Time) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":%q}}}]}`, t.UTC().Format(time.RFC3339))
}

// revokeTime reads the cut-off of an existing revoke-sessions document.
func revokeTime(doc string) (time.Time, bool) {
	var p struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &p) != nil {
		return time.Time{}, false
	}
	type stmt struct {
		Condition map[string]map[string]any
	}
	var many []stmt
	if json.Unmarshal(p.Statement, &many) != nil {
		var one stmt
		if json.Unmarshal(p.Statement, &one) != nil {
			return time.Time{}, false
		}
		many = []stmt{one}
	}
	for _, s := range many {
		for op, kv := range s.Condition {
			if op != "DateLessThan" {
				continue
			}
			for k, v := range kv {
				if !strings.EqualFold(k, "aws:TokenIssueTime") {
					continue
				}
				if str, ok := v.(string); ok {
					if t, err := time.Parse(time.RFC3339, str); err == nil {
						return t, true
					}
				}
			}
		}
	}
	return time.Time{}, false
}

const revokeDetail = "sessions issued before "

// RevokeCutoff reads the session-revocation cut-off from an audit entry of
// a containment, so that a later run can pass it as Request.Since.
func RevokeCutoff(e audit.Entry) (time.Time, bool) {
	s, ok := strings.CutPrefix(e.Detail, revokeDetail)
	if e.Step != "revoke-sessions" || !ok || (e.Outcome != audit.Done && e.Outcome != audit.Already) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

// Request asks for one leaked key to be contained.
type Request struct {
	Credentials // KeyID is required; Secret and SessionToken are optional
	// Principal overrides the owner lookup ("user/NAME", "role/NAME", ARN).
	Principal string
	// Policy overrides the account's configured policy.
	Policy Policy
	// DryRun plans without changing anything.
	DryRun   bool
	Incident string
	// Since is the cut-off for session revocation: sessions issued before
	// it are denied. Zero means now. Callers re-running a containment pass
	// the first run's time, so the second run changes nothing.
	Since time.Time
}

// Result is what a containment did and found.
type Result struct {
	Identity  Identity      `json:"identity"`
	Policy    Policy        `json:"policy"`
	Live      Liveness      `json:"live"`
	Steps     []audit.Entry `json:"steps"`
	Changed   bool          `json:"changed"` // false: everything was already in place
	Holds     bool          `json:"holds"`   // the check passed
	Proved    bool          `json:"proved"`  // the check included a denied call signed with the leaked key
	Started   time.Time     `json:"started"`
	Contained time.Time     `json:"contained,omitzero"`
	Checked   time.Time     `json:"checked,omitzero"`
}

// run carries one containment's state through its steps.
type run struct {
	r   *Responder
	c   *accountClients
	req Request
	res *Result
}

// record stamps e with the run's context, keeps it in the result and
// writes it to the audit log.
func (x *run) record(ctx context.Context, e audit.Entry) error {
	id := x.res.Identity
	e.Time = x.r.now()
	e.Incident, e.KeyID, e.Account, e.Actor = x.req.Incident, id.KeyID, id.Account, x.r.Actor
	if e.Principal == "" && id.Principal != "" {
		e.Principal = id.PrincipalType + "/" + id.Principal
	}
	if e.Outcome == audit.Done {
		x.res.Changed = true
	}
	x.res.Steps = append(x.res.Steps, e)
	// Written even if ctx was cancelled meanwhile: the step happened.
	if err := x.r.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("audit %s: %w", e.Step, err)
	}
	return nil
}

// fail records a failed call and returns err with context.
func (x *run) fail(ctx context.Context, e audit.Entry, err error) error {
	e.Outcome, e.Error, e.RequestID = audit.Failed, err.Error(), errRequestID(err)
	if rerr := x.record(ctx, e); rerr != nil {
		return errors.Join(err, rerr)
	}
	what := e.Step
	if e.Action != "" {
		what += " (" + e.Action + " " + e.Target + ")"
	}
	return fmt.Errorf("%s for %s: %w", what, x.res.Identity.KeyID, err)
}

// Contain applies the containment policy to a leaked key and checks that
// it holds. Steps already in place are recorded as such and not repeated.
// On error the result lists every step taken, including the failed one.
func (r *Responder) Contain(ctx context.Context, req Request) (Result, error) {
	res := Result{Started: r.now()}
	x := &run{r: r, req: req, res: &res}
	// Verification signs with the leaked key, not with the account's
	// credentials, so it runs while the key is identified.
	type verified struct {
		live  Liveness
		entry audit.Entry
		err   error
	}
	var verifyDone chan verified
	if req.Secret != "" && !req.DryRun && awskey.IsAccessKeyID(req.KeyID) {
		verifyDone = make(chan verified, 1)
		go func() {
			l, e, err := r.verify(ctx, req.Credentials)
			verifyDone <- verified{l, e, err}
		}()
	}
	id, err := r.identify(ctx, IdentifyRequest{KeyID: req.KeyID, Principal: req.Principal, Incident: req.Incident}, false)
	res.Identity = id
	if verifyDone != nil {
		v := <-verifyDone
		res.Live = v.live
		if rerr := x.record(ctx, v.entry); rerr != nil {
			return res, rerr
		}
		if v.err != nil {
			r.logger().Warn("could not verify the leaked key; containing anyway", "key_id", req.KeyID, "err", v.err)
		}
	}
	if err != nil {
		return res, x.fail(ctx, audit.Entry{Step: "identify", Action: "sts:GetAccessKeyInfo, iam:GetAccessKeyLastUsed"}, err)
	}
	x.c, err = r.clients(ctx, id.Account)
	if err != nil {
		return res, err
	}
	if res.Live.Live && id.Principal == "" {
		typ, name, err := principalFromCaller(res.Live.ARN)
		if err != nil {
			return res, err
		}
		id.PrincipalType, id.Principal = typ, name
		if err := r.describePrincipal(ctx, x.c, &id); err != nil {
			return res, err
		}
		res.Identity = id
	}
	if err := x.record(ctx, audit.Entry{Step: "identify", Action: "sts:GetAccessKeyInfo, iam:GetAccessKeyLastUsed", Outcome: audit.Checked,
		Detail: fmt.Sprintf("account %s (%s), %s %s, key %s", id.Account, id.AccountSource, id.PrincipalType, id.Principal, id.Status)}); err != nil {
		return res, err
	}
	switch {
	case id.Temporary && id.Principal == "":
		err := fmt.Errorf("%s: %w: pass --principal role/NAME (or user/NAME for GetSessionToken keys), or the secret and session token", req.KeyID, ErrNoPrincipal)
		return res, x.refuse(ctx, "identify", err)
	case id.PrincipalType == "root":
		err := fmt.Errorf("%s belongs to account %s's root user: %w; policies cannot restrict root, so delete the key from the root user's security credentials now", req.KeyID, id.Account, ErrRootKey)
		return res, x.refuse(ctx, "identify", err)
	}
	if !id.Temporary && id.Status == StatusDeleted {
		res.Policy = id.Policy
		if err := x.record(ctx, audit.Entry{Step: "contain", Outcome: audit.Already, Detail: "the key is already deleted: it cannot be used, nothing to contain"}); err != nil {
			return res, err
		}
		res.Contained, res.Checked, res.Holds = r.now(), r.now(), true
		return res, nil
	}
	res.Policy = id.Policy
	if req.Policy != "" && !id.Temporary {
		res.Policy = req.Policy
	}
	since := req.Since
	if since.IsZero() {
		since = res.Started
	}
	since = since.Truncate(time.Second)
	var steps []func(context.Context) error
	switch res.Policy {
	case Quarantine:
		steps = append(steps, x.attachQuarantine)
	case Deactivate:
		steps = append(steps, x.attachQuarantine, x.deactivate, func(ctx context.Context) error { return x.revoke(ctx, since) })
	case DenyAll:
		steps = append(steps, x.denyAll)
	case RevokeSessions:
		steps = append(steps, func(ctx context.Context) error { return x.revoke(ctx, since) })
	default:
		return res, fmt.Errorf("containment policy %q: unknown", res.Policy)
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return res, err
		}
	}
	res.Contained = r.now()
	if req.DryRun {
		return res, nil
	}
	// The owner's ARN and groups, for the report, are read while the
	// containment is checked.
	owner := res.Identity
	err = concurrently(
		func() error { return x.check(ctx) },
		func() error {
			if err := r.describeOwner(ctx, x.c, &owner); err != nil {
				r.logger().Warn("describe the key's owner", "key_id", req.KeyID, "err", err)
			}
			return nil
		})
	res.Identity.PrincipalARN, res.Identity.Groups = owner.PrincipalARN, owner.Groups
	if err != nil {
		return res, err
	}
	res.Checked = r.now()
	return res, nil
}

func (x *run) refuse(ctx context.Context, step string, err error) error {
	if rerr := x.record(ctx, audit.Entry{Step: step, Outcome: audit.Refused, Error: err.Error()}); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// attachQuarantine attaches AWS's quarantine policy, newest first, falling
// back to a customer managed copy where AWS's do not exist, and to an
// inline deny-all where the user has no room for another managed policy.
func (x *run) attachQuarantine(ctx context.Context) error {
	id := &x.res.Identity
	for _, a := range id.Attached {
		if isQuarantineARN(a) {
			return x.record(ctx, audit.Entry{Step: "quarantine", Action: "iam:AttachUserPolicy", Target: a, Outcome: audit.Already})
		}
	}
	for _, n := range id.Inline {
		if n == denyAllPolicyName {
			return x.record(ctx, audit.Entry{Step: "quarantine", Action: "iam:PutUserPolicy", Target: n, Outcome: audit.Already, Detail: "a deny-all policy is stronger than the quarantine"})
		}
	}
	if x.req.DryRun {
		return x.record(ctx, audit.Entry{Step: "quarantine", Action: "iam:AttachUserPolicy", Target: quarantineV3, Outcome: audit.Planned})
	}
	for _, arn := range []string{quarantineV3, quarantineV2, ""} {
		e := audit.Entry{Step: "quarantine", Action: "iam:AttachUserPolicy", Target: arn}
		if arn == "" {
			var err error
			if arn, err = x.quarantineCopy(ctx); err != nil {
				return err
			}
			e.Target = arn
		}
		out, err := x.c.iam.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(id.Principal), PolicyArn: aws.String(arn)})
		switch code := errorCode(err); {
		case err == nil:
			e.Outcome, e.RequestID = audit.Done, requestID(out.ResultMetadata)
			id.Attached = append(id.Attached, arn)
			return x.record(ctx, e)
		case code == "NoSuchEntity" || code == "PolicyNotAttachable":
			e.Outcome, e.Error, e.RequestID, e.Detail = audit.Unavailable, err.Error(), errRequestID(err), "not attachable here; trying the next quarantine policy"
			if err := x.record(ctx, e); err != nil {
				return err
			}
		case code == "LimitExceeded":
			e.Outcome, e.Error, e.RequestID, e.Detail = audit.Unavailable, err.Error(), errRequestID(err), "the user has no room for another managed policy; escalating to an inline deny-all"
			if err := x.record(ctx, e); err != nil {
				return err
			}
			return x.denyAll(ctx)
		default:
			return x.fail(ctx, e, err)
		}
	}
	return nil // unreachable: the copy either attaches or fails
}

// quarantineCopy creates (once per account) the customer managed copy of
// AWSCompromisedKeyQuarantineV3 and returns its ARN.
func (x *run) quarantineCopy(ctx context.Context) (string, error) {
	e := audit.Entry{Step: "quarantine", Action: "iam:CreatePolicy", Target: copyPolicyName}
	out, err := x.c.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName:     aws.String(copyPolicyName),
		PolicyDocument: aws.String(quarantineCopyDocument),
		Description:    aws.String("LeakGuard: copy of AWSCompromisedKeyQuarantineV3 for partitions without it"),
	})
	switch {
	case err == nil:
		e.Outcome, e.RequestID, e.Target = audit.Done, requestID(out.ResultMetadata), aws.ToString(out.Policy.Arn)
		return e.Target, x.record(ctx, e)
	case errorCode(err) == "EntityAlreadyExists":
		partition := "aws"
		if p := strings.SplitN(x.res.Identity.PrincipalARN, ":", 3); len(p) == 3 {
			partition = p[1]
		}
		return fmt.Sprintf("arn:%s:iam::%s:policy/%s", partition, x.res.Identity.Account, copyPolicyName), nil
	}
	return "", x.fail(ctx, e, err)
}

// deactivate sets the leaked key Inactive (reversible, unlike deletion).
func (x *run) deactivate(ctx context.Context) error {
	id := &x.res.Identity
	e := audit.Entry{Step: "deactivate", Action: "iam:UpdateAccessKey", Target: id.KeyID}
	switch {
	case id.Status == StatusInactive || id.Status == StatusDeleted:
		e.Outcome, e.Detail = audit.Already, "key is "+strings.ToLower(id.Status)
		return x.record(ctx, e)
	case x.req.DryRun:
		e.Outcome = audit.Planned
		return x.record(ctx, e)
	}
	out, err := x.c.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(id.Principal), AccessKeyId: aws.String(id.KeyID), Status: iamtypes.StatusTypeInactive})
	if err != nil {
		return x.fail(ctx, e, err)
	}
	id.Status = StatusInactive
	e.Outcome, e.RequestID = audit.Done, requestID(out.ResultMetadata)
	return x.record(ctx, e)
}

// denyAll puts an inline policy denying every action on the user.
func (x *run) denyAll(ctx context.Context) error {
	id := &x.res.Identity
	e := audit.Entry{Step: "deny-all", Action: "iam:PutUserPolicy", Target: denyAllPolicyName}
	for _, n := range id.Inline {
		if n == denyAllPolicyName {
			e.Outcome = audit.Already
			return x.record(ctx, e)
		}
	}
	if x.req.DryRun {
		e.Outcome = audit.Planned
		return x.record(ctx, e)
	}
	out, err := x.c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(id.Principal), PolicyName: aws.String(denyAllPolicyName), PolicyDocument: aws.String(denyAllDocument)})
	if err != nil {
		return x.fail(ctx, e, err)
	}
	id.Inline = append(id.Inline, denyAllPolicyName)
	e.Outcome, e.RequestID = audit.Done, requestID(out.ResultMetadata)
	return x.record(ctx, e)
}

// revoke denies every session of the principal issued before since: what
// the console's "Revoke active sessions" does for a role, and the only way
// to cut off temporary credentials, or session tokens minted from a
// leaked long-term key.
func (x *run) revoke(ctx context.Context, since time.Time) error {
	id := &x.res.Identity
	e := audit.Entry{Step: "revoke-sessions", Target: revokePolicyName, Detail: revokeDetail + since.Format(time.RFC3339)}
	var existing string
	var err error
	switch id.PrincipalType {
	case "user":
		e.Action = "iam:PutUserPolicy"
		var out *iam.GetUserPolicyOutput
		out, err = x.c.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(id.Principal), PolicyName: aws.String(revokePolicyName)})
		if err == nil {
			existing = aws.ToString(out.PolicyDocument)
		}
	case "role":
		e.Action = "iam:PutRolePolicy"
		var out *iam.GetRolePolicyOutput
		out, err = x.c.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(id.Principal), PolicyName: aws.String(revokePolicyName)})
		if err == nil {
			existing = aws.ToString(out.PolicyDocument)
		}
	default:
		return fmt.Errorf("revoke sessions of %s %q: unsupported principal type", id.PrincipalType, id.Principal)
	}
	if err != nil && errorCode(err) != "NoSuchEntity" {
		return x.fail(ctx, e, err)
	}
	if existing != "" {
		doc, err := policyDocument(existing)
		if err != nil {
			return x.fail(ctx, e, err)
		}
		if t, ok := revokeTime(doc); ok && !t.Before(since) {
			e.Outcome, e.Detail = audit.Already, revokeDetail+t.Format(time.RFC3339)
			return x.record(ctx, e)
		}
	}
	if x.req.DryRun {
		e.Outcome = audit.Planned
		return x.record(ctx, e)
	}
	doc := revokeDocument(since)
	if id.PrincipalType == "user" {
		var out *iam.PutUserPolicyOutput
		if out, err = x.c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(id.Principal), PolicyName: aws.String(revokePolicyName), PolicyDocument: aws.String(doc)}); err == nil {
			e.RequestID = requestID(out.ResultMetadata)
		}
	} else {
		var out *iam.PutRolePolicyOutput
		if out, err = x.c.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(id.Principal), PolicyName: aws.String(revokePolicyName), PolicyDocument: aws.String(doc)}); err == nil {
			e.RequestID = requestID(out.ResultMetadata)
		}
	}
	if err != nil {
		return x.fail(ctx, e, err)
	}
	if !contains(id.Inline, revokePolicyName) {
		id.Inline = append(id.Inline, revokePolicyName)
	}
	e.Outcome = audit.Done
	return x.record(ctx, e)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// check re-reads the principal's policies and key status and, when the
// secret is known, proves with the leaked key that a denied action fails.
// IAM is eventually consistent, so the proof is retried until CheckTimeout.
func (x *run) check(ctx context.Context) error {
	id := x.res.Identity
	fresh := Identity{KeyID: id.KeyID, Account: id.Account, PrincipalType: id.PrincipalType, Principal: id.Principal, Status: id.Status}
	err := concurrently(
		func() error { return x.r.listPolicies(ctx, x.c, &fresh) },
		func() error {
			if id.Temporary {
				return nil
			}
			keys, err := x.c.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(id.Principal)})
			if err != nil {
				return fmt.Errorf("iam:ListAccessKeys %s: %w", id.Principal, err)
			}
			fresh.Status = StatusDeleted
			for _, k := range keys.AccessKeyMetadata {
				if aws.ToString(k.AccessKeyId) == id.KeyID {
					fresh.Status = string(k.Status)
				}
			}
			return nil
		})
	if err != nil {
		return x.fail(ctx, audit.Entry{Step: "check", Action: "iam:ListAttachedUserPolicies, iam:ListUserPolicies, iam:ListAccessKeys"}, err)
	}
	var missing []string
	quarantined := false
	for _, a := range fresh.Attached {
		quarantined = quarantined || isQuarantineARN(a)
	}
	switch x.res.Policy {
	case Quarantine:
		if !quarantined && !contains(fresh.Inline, denyAllPolicyName) {
			missing = append(missing, "quarantine policy")
		}
	case Deactivate:
		if !quarantined && !contains(fresh.Inline, denyAllPolicyName) {
			missing = append(missing, "quarantine policy")
		}
		if fresh.Status == StatusActive {
			missing = append(missing, "key still Active")
		}
		if !contains(fresh.Inline, revokePolicyName) {
			missing = append(missing, revokePolicyName)
		}
	case DenyAll:
		if !contains(fresh.Inline, denyAllPolicyName) {
			missing = append(missing, denyAllPolicyName)
		}
	case RevokeSessions:
		if !contains(fresh.Inline, revokePolicyName) {
			missing = append(missing, revokePolicyName)
		}
	}
	e := audit.Entry{Step: "check", Action: "iam:ListAttachedUserPolicies, iam:ListUserPolicies, iam:ListAccessKeys"}
	if len(missing) > 0 {
		return x.fail(ctx, e, fmt.Errorf("%w: %s", ErrNotContained, strings.Join(missing, ", ")))
	}
	e.Outcome, e.Detail = audit.Checked, fmt.Sprintf("policies in place: %s; key %s", strings.Join(fresh.Quarantined(), ", "), fresh.Status)
	if err := x.record(ctx, e); err != nil {
		return err
	}
	x.res.Holds = true
	if x.req.Secret == "" {
		return nil
	}
	return x.prove(ctx)
}

// prove calls iam:CreateUser signed with the leaked key and expects a
// denial. Should the call succeed, containment has failed: the probe user
// is deleted at once with the responder's own identity and the check is
// retried until CheckTimeout, then reported as not holding.
func (x *run) prove(ctx context.Context) error {
	timeout := x.r.CheckTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	deadline := x.r.now().Add(timeout)
	leaked := iam.NewFromConfig(x.r.leakedConfig(x.req.Credentials, "check"))
	backoff := 500 * time.Millisecond
	for {
		name := probeName()
		e := audit.Entry{Step: "prove", Action: "iam:CreateUser (signed with the leaked key)", Target: name}
		out, err := leaked.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name), Path: aws.String("/leakguard-probe/")})
		switch {
		case isDenied(err) || isInvalidKey(err):
			e.Outcome, e.RequestID, e.Detail = audit.Checked, errRequestID(err), "refused as expected: "+errorCode(err)
			x.res.Proved = true
			return x.record(ctx, e)
		case err == nil:
			e.RequestID = requestID(out.ResultMetadata)
			_, derr := x.c.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(name)})
			e.Outcome, e.Error = audit.Failed, "the leaked key could still create a user; the probe user was deleted"
			if derr != nil {
				e.Error += fmt.Sprintf(" (delete failed: %v; delete user %s by hand)", derr, name)
			}
			if err := x.record(ctx, e); err != nil {
				return err
			}
		default:
			return x.fail(ctx, e, err)
		}
		if !x.r.now().Before(deadline) {
			x.res.Holds = false
			return fmt.Errorf("%s: %w: the leaked key can still call iam:CreateUser after %s", x.res.Identity.KeyID, ErrNotContained, timeout)
		}
		if err := x.r.sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func probeName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "leakguard-probe-" + hex.EncodeToString(b)
}
