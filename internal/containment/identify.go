package containment

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/leakguard/leakguard/internal/audit"
	"github.com/leakguard/leakguard/internal/awskey"
)

// Key statuses.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
	StatusDeleted  = "Deleted" // IAM no longer knows the key
	StatusUnknown  = "Unknown" // temporary keys: IAM keeps no status
)

// Identity is what LeakGuard knows about a leaked key and its owner.
type Identity struct {
	KeyID         string    `json:"key_id"`
	Temporary     bool      `json:"temporary"` // an ASIA key from STS
	Account       string    `json:"account"`
	AccountName   string    `json:"account_name,omitempty"`
	AccountSource string    `json:"account_source"` // "offline+sts", "offline", "sts"
	PrincipalType string    `json:"principal_type"` // "user", "role", "root" or ""
	Principal     string    `json:"principal"`      // user or role name
	PrincipalARN  string    `json:"principal_arn,omitempty"`
	Status        string    `json:"status"`
	Created       time.Time `json:"created,omitzero"`
	LastUsed      time.Time `json:"last_used,omitzero"`
	LastService   string    `json:"last_service,omitempty"`
	LastRegion    string    `json:"last_region,omitempty"`
	Groups        []string  `json:"groups,omitempty"`
	Attached      []string  `json:"attached_policies,omitempty"` // ARNs
	Inline        []string  `json:"inline_policies,omitempty"`
	Policy        Policy    `json:"policy"` // the containment policy configured for the account
}

// Quarantined names the quarantine policies already on the principal.
func (id Identity) Quarantined() []string {
	var out []string
	for _, a := range id.Attached {
		if isQuarantineARN(a) {
			out = append(out, a)
		}
	}
	for _, n := range id.Inline {
		if n == denyAllPolicyName || n == revokePolicyName {
			out = append(out, n)
		}
	}
	return out
}

// Principal override syntax: "user/NAME", "role/NAME" or an ARN.
func parsePrincipal(s string) (typ, name string, err error) {
	if strings.HasPrefix(s, "arn:") {
		parts := strings.SplitN(s, ":", 6)
		if len(parts) < 6 {
			return "", "", fmt.Errorf("principal %q: not an ARN", s)
		}
		s = parts[5]
		if rest, ok := strings.CutPrefix(s, "assumed-role/"); ok {
			role, _, _ := strings.Cut(rest, "/")
			return "role", role, nil
		}
	}
	typ, name, ok := strings.Cut(s, "/")
	if !ok || name == "" || (typ != "user" && typ != "role") {
		return "", "", fmt.Errorf("principal %q: want user/NAME, role/NAME or an ARN", s)
	}
	// IAM paths: the name is the last element.
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return typ, name, nil
}

// IdentifyRequest says which key to look up.
type IdentifyRequest struct {
	KeyID string
	// Principal overrides the owner lookup: "user/NAME", "role/NAME" or an
	// ARN. Needed for temporary keys unless their secret is known, and for
	// keys already deleted.
	Principal string
	Incident  string
}

// Identify finds the key's account (decoded offline, confirmed with
// sts:GetAccessKeyInfo), its owner (iam:GetAccessKeyLastUsed), its status,
// last use, groups and policies. It makes no change.
func (r *Responder) Identify(ctx context.Context, req IdentifyRequest) (Identity, error) {
	return r.identify(ctx, req, true)
}

// identify is Identify; with full false it reads only what containment
// needs first (owner, status, policies), leaving ARN and groups for later.
// sts:GetAccessKeyInfo runs while the key is looked up in the account
// decoded offline; if STS names another account, the lookup is redone
// there.
func (r *Responder) identify(ctx context.Context, req IdentifyRequest, full bool) (Identity, error) {
	id := Identity{KeyID: req.KeyID}
	if !awskey.IsAccessKeyID(req.KeyID) {
		return id, fmt.Errorf("%q is not an AWS access key ID (AKIA/ASIA + 16 base32 characters)", req.KeyID)
	}
	id.Temporary = strings.HasPrefix(req.KeyID, "ASIA")
	type stsResult struct {
		account string
		err     error
	}
	stsDone := make(chan stsResult, 1)
	go func() {
		out, err := sts.NewFromConfig(r.configure(r.Base, "")).GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(req.KeyID)})
		if err != nil {
			stsDone <- stsResult{err: err}
			return
		}
		stsDone <- stsResult{account: aws.ToString(out.Account)}
	}()
	offline, offErr := awskey.AccountID(req.KeyID)
	var spec Identity
	var specErr error
	if offErr == nil {
		spec = id
		spec.Account = offline
		specErr = r.resolve(ctx, &spec, req, full)
	}
	st := <-stsDone
	switch {
	case offErr == nil && st.account == offline:
		spec.AccountSource = "offline+sts"
		return spec, specErr
	case st.account != "":
		id.Account, id.AccountSource = st.account, "sts"
	case offErr == nil:
		r.logger().Warn("sts:GetAccessKeyInfo failed; using the account decoded from the key ID", "key_id", req.KeyID, "err", st.err)
		spec.AccountSource = "offline"
		return spec, specErr
	default:
		return id, fmt.Errorf("find the account of %s: offline: %v; sts:GetAccessKeyInfo: %w", req.KeyID, offErr, st.err)
	}
	return id, r.resolve(ctx, &id, req, full)
}

// resolve fills what id's account says about the key: the account's
// policy, the owner, status and policies.
func (r *Responder) resolve(ctx context.Context, id *Identity, req IdentifyRequest, full bool) error {
	acct, _ := r.account(id.Account)
	id.AccountName, id.Policy = acct.Name, acct.Policy
	if id.Policy == "" {
		id.Policy = r.DefaultPolicy
	}
	if id.Policy == "" {
		id.Policy = Quarantine
	}
	if id.Temporary {
		id.Policy = RevokeSessions
		id.Status = StatusUnknown
	}
	c, err := r.clients(ctx, id.Account)
	if err != nil {
		return err
	}
	if req.Principal != "" {
		typ, name, err := parsePrincipal(req.Principal)
		if err != nil {
			return err
		}
		id.PrincipalType, id.Principal = typ, name
	}
	if !id.Temporary {
		if err := r.lookupKey(ctx, c, id); err != nil {
			return err
		}
	}
	if full {
		return r.describePrincipal(ctx, c, id)
	}
	if id.PrincipalType == "root" {
		id.PrincipalARN = "arn:aws:iam::" + id.Account + ":root"
		return nil
	}
	if id.Principal == "" {
		return nil
	}
	return r.listPolicies(ctx, c, id)
}

// lookupKey fills the owner, status, creation and last use of a long-term key.
func (r *Responder) lookupKey(ctx context.Context, c *accountClients, id *Identity) error {
	lu, err := c.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id.KeyID)})
	switch {
	case errorCode(err) == "NoSuchEntity":
		id.Status = StatusDeleted
		return nil
	case err != nil:
		return fmt.Errorf("iam:GetAccessKeyLastUsed %s in %s: %w", id.KeyID, id.Account, err)
	}
	user := aws.ToString(lu.UserName)
	if id.Principal == "" {
		id.PrincipalType, id.Principal = "user", user
	}
	if user == "root" || user == "<root_account>" {
		id.PrincipalType = "root"
	}
	if u := lu.AccessKeyLastUsed; u != nil {
		id.LastUsed = aws.ToTime(u.LastUsedDate)
		if s := aws.ToString(u.ServiceName); s != "N/A" {
			id.LastService = s
		}
		if s := aws.ToString(u.Region); s != "N/A" {
			id.LastRegion = s
		}
	}
	if id.PrincipalType == "root" {
		id.Status = StatusUnknown
		return nil
	}
	keys, err := c.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(id.Principal)})
	if err != nil {
		return fmt.Errorf("iam:ListAccessKeys %s: %w", id.Principal, err)
	}
	id.Status = StatusDeleted
	for _, k := range keys.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == id.KeyID {
			id.Status = string(k.Status)
			id.Created = aws.ToTime(k.CreateDate)
		}
	}
	return nil
}

// describePrincipal fills the principal's ARN, groups and policies. The
// reads run concurrently.
func (r *Responder) describePrincipal(ctx context.Context, c *accountClients, id *Identity) error {
	return concurrently(
		func() error { return r.describeOwner(ctx, c, id) },
		func() error {
			if id.PrincipalType == "root" || id.Principal == "" {
				return nil
			}
			return r.listPolicies(ctx, c, id)
		})
}

// describeOwner fills the principal's ARN and groups.
func (r *Responder) describeOwner(ctx context.Context, c *accountClients, id *Identity) error {
	name := aws.String(id.Principal)
	var calls []func() error
	switch id.PrincipalType {
	case "user":
		calls = []func() error{
			func() error {
				u, err := c.iam.GetUser(ctx, &iam.GetUserInput{UserName: name})
				if err != nil {
					return fmt.Errorf("iam:GetUser %s: %w", id.Principal, err)
				}
				id.PrincipalARN = aws.ToString(u.User.Arn)
				return nil
			},
			func() error {
				groups, err := c.iam.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: name})
				if err != nil {
					return fmt.Errorf("iam:ListGroupsForUser %s: %w", id.Principal, err)
				}
				for _, g := range groups.Groups {
					id.Groups = append(id.Groups, aws.ToString(g.GroupName))
				}
				return nil
			},
		}
	case "role":
		calls = []func() error{
			func() error {
				ro, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: name})
				if err != nil {
					return fmt.Errorf("iam:GetRole %s: %w", id.Principal, err)
				}
				id.PrincipalARN = aws.ToString(ro.Role.Arn)
				return nil
			},
		}
	case "root":
		id.PrincipalARN = "arn:aws:iam::" + id.Account + ":root"
	}
	return concurrently(calls...)
}

// listPolicies fills the principal's attached and inline policies.
func (r *Responder) listPolicies(ctx context.Context, c *accountClients, id *Identity) error {
	name := aws.String(id.Principal)
	var attached, inline []string
	err := concurrently(
		func() error {
			if id.PrincipalType == "role" {
				att, err := c.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: name})
				if err != nil {
					return fmt.Errorf("iam:ListAttachedRolePolicies %s: %w", id.Principal, err)
				}
				for _, p := range att.AttachedPolicies {
					attached = append(attached, aws.ToString(p.PolicyArn))
				}
				return nil
			}
			att, err := c.iam.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: name})
			if err != nil {
				return fmt.Errorf("iam:ListAttachedUserPolicies %s: %w", id.Principal, err)
			}
			for _, p := range att.AttachedPolicies {
				attached = append(attached, aws.ToString(p.PolicyArn))
			}
			return nil
		},
		func() error {
			if id.PrincipalType == "role" {
				in, err := c.iam.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: name})
				if err != nil {
					return fmt.Errorf("iam:ListRolePolicies %s: %w", id.Principal, err)
				}
				inline = in.PolicyNames
				return nil
			}
			in, err := c.iam.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: name})
			if err != nil {
				return fmt.Errorf("iam:ListUserPolicies %s: %w", id.Principal, err)
			}
			inline = in.PolicyNames
			return nil
		},
	)
	id.Attached, id.Inline = attached, inline
	return err
}

// concurrently runs calls at once and returns their errors joined. Each
// call must write only its own fields.
func concurrently(calls ...func() error) error {
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = call()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Liveness is what sts:GetCallerIdentity signed with the leaked key said.
type Liveness struct {
	Checked bool   `json:"checked"`
	Live    bool   `json:"live"`
	ARN     string `json:"arn,omitempty"`
	Account string `json:"account,omitempty"`
	Detail  string `json:"detail,omitempty"` // why not live, e.g. "InvalidClientTokenId"
}

// String is "live", "not live" or "not checked".
func (l Liveness) String() string {
	switch {
	case !l.Checked:
		return "not checked"
	case l.Live:
		return "live"
	}
	return "not live"
}

// Credentials is a leaked credential. Only Verify and the containment
// check ever sign with it, and only sts:GetCallerIdentity and one
// probe that must be denied.
type Credentials struct {
	KeyID        string
	Secret       string
	SessionToken string
}

// leakedConfig is an SDK config signing with the leaked credentials, with
// at most one retry, so a leaked key is never used more than needed.
func (r *Responder) leakedConfig(cred Credentials, purpose string) aws.Config {
	cfg := r.Base.Copy()
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: cred.KeyID, SecretAccessKey: cred.Secret, SessionToken: cred.SessionToken, Source: "leaked"}, nil
	})
	// One retry, for connection errors only: AWS's refusals are final.
	cfg.RetryMaxAttempts, cfg.Retryer = 2, nil
	version := r.Version
	if version == "" {
		version = "dev"
	}
	// Calls signed with the key count against its account's API limits.
	account, _ := awskey.AccountID(cred.KeyID)
	cfg.APIOptions = append(append(cfg.APIOptions[:0:0], cfg.APIOptions...),
		awsmiddleware.AddUserAgentKeyValue("leakguard", version+"-"+purpose), r.limiterFor(account).middleware)
	return cfg
}

// Verify calls sts:GetCallerIdentity signed with the leaked credentials, the
// one call that policies cannot deny, to tell whether the key is live. It
// never calls anything else with them. The call is audited.
func (r *Responder) Verify(ctx context.Context, cred Credentials, incident string) (Liveness, error) {
	l, e, err := r.verify(ctx, cred)
	e.Time, e.Incident, e.KeyID, e.Actor = r.now(), incident, cred.KeyID, r.Actor
	if rerr := r.Audit.Record(context.WithoutCancel(ctx), e); rerr != nil {
		return l, rerr
	}
	return l, err
}

func (r *Responder) verify(ctx context.Context, cred Credentials) (Liveness, audit.Entry, error) {
	out, err := sts.NewFromConfig(r.leakedConfig(cred, "verify")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	e := audit.Entry{Step: "verify", Action: "sts:GetCallerIdentity (signed with the leaked key)"}
	switch {
	case err == nil:
		l := Liveness{Checked: true, Live: true, ARN: aws.ToString(out.Arn), Account: aws.ToString(out.Account)}
		e.Outcome, e.Detail, e.RequestID = audit.Checked, "live: "+l.ARN, requestID(out.ResultMetadata)
		return l, e, nil
	case isInvalidKey(err) || errorCode(err) == "SignatureDoesNotMatch":
		e.Outcome, e.Detail, e.RequestID = audit.Checked, "not live: "+errorCode(err), errRequestID(err)
		return Liveness{Checked: true, Detail: errorCode(err)}, e, nil
	}
	e.Outcome, e.Error, e.RequestID = audit.Failed, err.Error(), errRequestID(err)
	return Liveness{}, e, fmt.Errorf("verify %s with sts:GetCallerIdentity: %w", cred.KeyID, err)
}

// principalFromCaller turns a GetCallerIdentity ARN into the principal to
// contain: an assumed role's role, or the IAM user behind a session token.
func principalFromCaller(arn string) (typ, name string, err error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return "", "", fmt.Errorf("caller ARN %q", arn)
	}
	res := parts[5]
	switch {
	case strings.HasPrefix(res, "assumed-role/"):
		role, _, _ := strings.Cut(strings.TrimPrefix(res, "assumed-role/"), "/")
		return "role", role, nil
	case strings.HasPrefix(res, "user/"):
		return parsePrincipal(res)
	case res == "root":
		return "root", "root", nil
	}
	return "", "", fmt.Errorf("caller %s: %w (federated sessions name no IAM principal; pass --principal user/NAME)", arn, ErrNoPrincipal)
}

// policyDocument decodes the URL-encoded document IAM returns.
func policyDocument(s string) (string, error) {
	d, err := url.QueryUnescape(s)
	if err != nil {
		return "", fmt.Errorf("decode policy document: %w", err)
	}
	return d, nil
}
