package partner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Feedback label values, exactly as GitHub requires them.
const (
	LabelTruePositive  = "true_positive"
	LabelFalsePositive = "false_positive"
)

// Label is one feedback entry for GitHub (the token_hash form: the token
// itself never leaves LeakGuard).
type Label struct {
	// TokenHash is the lowercase hex SHA-256 of the token.
	TokenHash string `json:"token_hash"`
	// TokenType is the alert's type.
	TokenType string `json:"token_type"`
	// Label is LabelTruePositive or LabelFalsePositive.
	Label string `json:"label"`
}

// LabelFor returns the feedback label for an alert.
func LabelFor(a Alert, truePositive bool) Label {
	l := Label{TokenHash: a.TokenHash(), TokenType: a.Type, Label: LabelFalsePositive}
	if truePositive {
		l.Label = LabelTruePositive
	}
	return l
}

// WriteLabels writes labels as a JSON array (an empty array for none). It
// checks each label first: a 64-digit lowercase hex hash, a token type,
// and one of the two label values.
func WriteLabels(w io.Writer, labels []Label) error {
	for i, l := range labels {
		if err := l.validate(); err != nil {
			return fmt.Errorf("partner: label %d: %w", i, err)
		}
	}
	if labels == nil {
		labels = []Label{}
	}
	out, err := json.Marshal(labels)
	if err != nil {
		return fmt.Errorf("partner: encode labels: %w", err)
	}
	if _, err := w.Write(append(out, '\n')); err != nil {
		return fmt.Errorf("partner: write labels: %w", err)
	}
	return nil
}

func (l Label) validate() error {
	if len(l.TokenHash) != 64 {
		return errors.New("token_hash is not a SHA-256 hex digest")
	}
	for _, c := range l.TokenHash {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return errors.New("token_hash is not a lowercase SHA-256 hex digest")
		}
	}
	if l.TokenType == "" {
		return errors.New("no token_type")
	}
	if l.Label != LabelTruePositive && l.Label != LabelFalsePositive {
		return fmt.Errorf("label %q is neither %s nor %s", truncate(l.Label, 32), LabelTruePositive, LabelFalsePositive)
	}
	return nil
}
