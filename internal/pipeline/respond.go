package pipeline

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/leakguard/leakguard/internal/containment"
	"github.com/leakguard/leakguard/internal/incident"
	"github.com/leakguard/leakguard/internal/respond"
)

type respondWorker struct {
	river.WorkerDefaults[RespondArgs]
	p *Pipeline
}

// Work runs the response playbook for an incident's AWS key. The playbook
// is idempotent through the incident's audit log: after a crash the job
// runs again, finds the key already contained and the owner already told,
// and only finishes what is missing.
func (w *respondWorker) Work(ctx context.Context, job *river.Job[RespondArgs]) error {
	a := job.Args
	pb, err := w.p.deps.Playbook(a.IncidentID)
	if err != nil {
		return err
	}
	rep, runErr := pb.Run(ctx, respond.Alert{
		Credentials: containment.Credentials{KeyID: a.KeyID}, Incident: a.IncidentID,
		FoundURL: a.FoundURL, FoundWhere: a.FoundWhere, DetectedAt: a.DetectedAt,
		Progress: func(rep respond.Report) {
			if err := w.p.progress(ctx, a.IncidentID, rep); err != nil {
				w.p.deps.Logger.Error("record incident progress", "incident", a.IncidentID, "err", err)
			}
		},
	})
	if err := w.p.progress(ctx, a.IncidentID, rep); err != nil {
		return err
	}
	if runErr != nil {
		if err := w.p.event(ctx, a.IncidentID, incident.Failed, w.p.now(), runErr.Error()); err != nil {
			return err
		}
		return fmt.Errorf("respond to %s: %w", a.IncidentID, runErr)
	}
	return nil
}

// progress writes what a response has done so far onto the incident:
// state, owner, activity and timeline events (each kind once).
func (p *Pipeline) progress(ctx context.Context, id string, rep respond.Report) error {
	res := rep.Containment
	state := incident.State("")
	if !res.Contained.IsZero() {
		state = incident.Contained
	}
	principal := res.Identity.Principal
	if principal != "" {
		principal = res.Identity.PrincipalType + "/" + principal
	}
	if err := p.deps.Store.Update(ctx, id, state, res.Identity.Account, principal, rep.Activity); err != nil {
		return err
	}
	if !res.Contained.IsZero() {
		if err := p.event(ctx, id, incident.ContainedEvent, res.Contained, string(res.Policy)); err != nil {
			return err
		}
	}
	if res.Holds {
		if err := p.event(ctx, id, incident.Verified, res.Checked, "policies re-read"); err != nil {
			return err
		}
	}
	if err := p.event(ctx, id, incident.Notified, rep.Notified, ""); err != nil {
		return err
	}
	if rep.CaseRef != "" {
		if err := p.event(ctx, id, incident.CaseOpened, p.now(), rep.CaseRef); err != nil {
			return err
		}
	}
	for _, e := range rep.Activity {
		if !e.Self() {
			return p.event(ctx, id, incident.FirstAttackerCall, e.Time, e.Service+":"+e.Name+" from "+e.SourceIP)
		}
	}
	return nil
}
