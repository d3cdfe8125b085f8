package relay

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEventStatus(t *testing.T) {
	tests := []struct {
		name     string
		unparsed bool
		states   []string
		want     string
	}{
		{"Unparsed", true, nil, StatusUnparsed},
		{"Unrouted", false, nil, StatusUnrouted},
		{"Delivered", false, []string{StateDelivered, StateSkipped}, StatusDelivered},
		{"Pending", false, []string{StateDelivered, StatePending}, StatusPending},
		{"InFlightIsPending", false, []string{StateInFlight}, StatusPending},
		{"DeadBeatsPending", false, []string{StatePending, StateDead}, StatusDead},
		{"NeedsReviewBeatsDead", false, []string{StateDead, StateNeedsReview, StatePending}, StatusNeedsReview},
	}
	for _, tt := range tests {
		if got := EventStatus(tt.unparsed, tt.states); got != tt.want {
			t.Errorf("%s: EventStatus = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTerminal(t *testing.T) {
	for state, want := range map[string]bool{
		StateDelivered: true, StateSkipped: true, StateDead: true,
		StatePending: false, StateInFlight: false, StateNeedsReview: false,
	} {
		if Terminal(state) != want {
			t.Errorf("Terminal(%q) = %v", state, !want)
		}
	}
}

func TestRedrive_Empty(t *testing.T) {
	for _, r := range []Redrive{{IDs: []string{"e"}}, {Sink: "erp"}, {Type: "x.*"}, {All: true}} {
		if r.Empty() {
			t.Errorf("%+v is empty", r)
		}
	}
	if !(Redrive{Operator: "op"}).Empty() {
		t.Error("a redrive with only an operator selects something")
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		err      error
		code     string
		message  string
		wantNotF bool
	}{
		{nil, "", "internal error", false},
		{errors.New("boom: /var/secret"), EINTERNAL, "internal error", false},
		{Errorf(EINVALID, "sink: %q", "x"), EINVALID, `sink: "x"`, false},
		{fmt.Errorf("store: %w", Errorf(ECONFLICT, "busy")), ECONFLICT, "busy", false},
		{fmt.Errorf("get: %w", ErrNotFound), ENOTFOUND, "not found", true},
	}
	for _, tt := range tests {
		if got := ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.code)
		}
		if got := ErrorMessage(tt.err); got != tt.message {
			t.Errorf("ErrorMessage(%v) = %q, want %q", tt.err, got, tt.message)
		}
		if got := errors.Is(tt.err, ErrNotFound); got != tt.wantNotF {
			t.Errorf("errors.Is(%v, ErrNotFound) = %v", tt.err, got)
		}
	}
}

func TestConfigError(t *testing.T) {
	cause := errors.New("time: invalid duration")
	tests := []struct {
		err  *ConfigError
		want string
	}{
		{&ConfigError{Var: "TAGIHANAI_SIGNATURE_TOLERANCE", Value: "5 minutes", Err: cause}, `TAGIHANAI_SIGNATURE_TOLERANCE="5 minutes": time: invalid duration`},
		{&ConfigError{Var: "TAGIHANAI_WEBHOOK_SECRETS", Value: "whsec_secret", Secret: true, Err: cause}, `TAGIHANAI_WEBHOOK_SECRETS: time: invalid duration`},
		{&ConfigError{Var: "SINK_ERP_URL", Err: cause}, `SINK_ERP_URL: time: invalid duration`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(tt.err, cause) {
			t.Error("ConfigError does not unwrap to its cause")
		}
	}
}

func TestDeliveryHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("X-TagihanAI-Signature", "t=1,v1=ab")
	h["x-tagihanai-event-id"] = []string{"evt_1", "evt_2"}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "TagihanAI-Webhooks/1.0")
	h.Set("Authorization", "Bearer x")
	h.Set("X-Forwarded-For", "10.0.0.1")
	h["X-Tagihanai-Empty"] = []string{}
	got := DeliveryHeaders(h)
	want := map[string]string{
		"X-TagihanAI-Signature": "t=1,v1=ab",
		"X-TagihanAI-Event-Id":  "evt_1",
		"Content-Type":          "application/json",
		"User-Agent":            "TagihanAI-Webhooks/1.0",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DeliveryHeaders (-want +got):\n%s", diff)
	}
	d := Delivery{Headers: got}
	if d.Header(HeaderEventID) != "evt_1" || d.Header("content-type") != "application/json" || d.Header("Authorization") != "" {
		t.Error("Delivery.Header is not case-insensitive")
	}
}

func TestOutcome_String(t *testing.T) {
	want := map[Outcome]string{
		OutcomeDelivered: "delivered", OutcomeTransient: "transient", OutcomePermanent: "permanent",
		OutcomeUnknown: "unknown", OutcomeSkipped: "skipped", 0: "invalid", 99: "invalid",
	}
	for o, s := range want {
		if o.String() != s {
			t.Errorf("Outcome(%d).String() = %q, want %q", o, o.String(), s)
		}
	}
}
