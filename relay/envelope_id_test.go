package relay

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckID(t *testing.T) {
	tests := []struct {
		name, id string
		ok       bool
	}{
		{"plain", "evt_01HZX", true},
		{"256 bytes", strings.Repeat("a", 256), true},
		{"UTF-8", "évènement-1", true},
		{"spaces inside", "evt 1", true},
		{"empty", "", false},
		{"257 bytes", strings.Repeat("a", 257), false},
		{"SOH", "evt_\x01", false},
		{"NUL", "evt\x00", false},
		{"newline", "evt\n1", false},
		{"tab", "evt\t1", false},
		{"DEL", "evt\x7f", false},
		{"C1", "evt\u0085", false},
		{"invalid UTF-8", "evt\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why := CheckID(tt.id)
			if (why == "") != tt.ok {
				t.Fatalf("CheckID(%q) = %q, want ok=%v", tt.id, why, tt.ok)
			}
			if why != "" && len(tt.id) > 3 && strings.Contains(why, tt.id) {
				t.Errorf("reason %q quotes the id", why)
			}
		})
	}
}

// TestReadEnvelope_InvalidIDAndSubject: an id or subject that cannot be a
// key or a header value makes the delivery unparsed, under the body's
// sha256 when the id is the problem, with a reason that does not quote it.
func TestReadEnvelope_InvalidIDAndSubject(t *testing.T) {
	long := strings.Repeat("x", 300)
	huge := strings.Repeat("s", 100<<10)
	tests := []struct {
		name        string
		body        string
		hdr         map[string]string
		wantErr     error
		wantID      string // "" means the body's sha256
		wantSubject string
	}{
		{name: "id 300 bytes", body: `{"id":"` + long + `","type":"transaction.paid","data":{"id":"trx_1"}}`, wantErr: ErrInvalidID},
		{name: "id with SOH", body: `{"id":"evt_\u0001","type":"transaction.paid","data":{"id":"trx_1"}}`, wantErr: ErrInvalidID},
		{name: "event_id with newline", body: `{"event_id":"evt\n2","type":"transaction.paid"}`, wantErr: ErrInvalidID},
		{name: "header id too long", body: `{"type":"transaction.paid"}`, hdr: map[string]string{HeaderEventID: long}, wantErr: ErrInvalidID},
		{name: "not JSON, header id with DEL", body: `not json`, hdr: map[string]string{HeaderEventID: "evt\x7f"}, wantErr: ErrNotJSON},
		{name: "subject 100 KB", body: `{"id":"evt_subj","type":"transaction.paid","data":{"id":"` + huge + `"}}`, wantErr: ErrInvalidSubject, wantID: "evt_subj"},
		{name: "subject with control", body: `{"id":"evt_subj2","type":"payment.completed","data":{"payment_id":"p\u0007"}}`, wantErr: ErrInvalidSubject, wantID: "evt_subj2"},
		{name: "both", body: `{"id":"` + long + `","type":"transaction.paid","data":{"id":"` + huge + `"}}`, wantErr: ErrInvalidID},
		{name: "valid 256", body: `{"id":"` + long[:256] + `","type":"transaction.paid","data":{"id":"` + long[:256] + `"}}`, wantID: long[:256], wantSubject: long[:256]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := ReadEnvelope([]byte(tt.body), headers(tt.hdr))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			want := tt.wantID
			if want == "" {
				want = sha256ID(tt.body)
			}
			if env.ID != want {
				t.Errorf("ID = %.80q, want %.80q", env.ID, want)
			}
			if env.Subject != tt.wantSubject {
				t.Errorf("Subject = %.80q, want %.80q", env.Subject, tt.wantSubject)
			}
			if err != nil && len(err.Error()) > 400 {
				t.Errorf("reason is %d bytes: it quotes the value", len(err.Error()))
			}
		})
	}
}

func TestReadEnvelope_LongSearchFieldsCut(t *testing.T) {
	doc := strings.Repeat("é", 40<<10) // 80 KB, two bytes a rune
	env, err := ReadEnvelope([]byte(`{"id":"evt_doc","type":"transaction.sent","data":{"id":"trx_1","document_number":"`+doc+`","receiver_name":"PT Ok"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(env.DocumentNumber) > maxSearchBytes || !utf8.ValidString(env.DocumentNumber) || !strings.HasPrefix(doc, env.DocumentNumber) || env.DocumentNumber == "" {
		t.Errorf("DocumentNumber cut to %d bytes (valid UTF-8 %v)", len(env.DocumentNumber), utf8.ValidString(env.DocumentNumber))
	}
	if env.Counterparty != "PT Ok" {
		t.Errorf("Counterparty = %q", env.Counterparty)
	}
}

// TestReceiver_InvalidIDIsUnparsed: Prepare keeps such a delivery as
// unparsed, with the reason, routed nowhere.
func TestReceiver_InvalidIDIsUnparsed(t *testing.T) {
	r := &Receiver{Routes: []Route{{Sink: "erp", Events: []string{"*"}, OrderBySubject: true}}}
	body := []byte(`{"id":"evt_\u0001","type":"transaction.paid","data":{"id":"trx_1"}}`)
	e := r.Prepare(Delivery{Body: body}, true)
	if !e.Unparsed || e.ID != sha256ID(string(body)) || len(e.Targets) != 0 || !strings.Contains(e.ParseError, "control character") {
		t.Fatalf("Prepare = unparsed %v, id %q, %d targets, reason %q", e.Unparsed, e.ID, len(e.Targets), e.ParseError)
	}
}

func TestLogText(t *testing.T) {
	for _, s := range []string{"", "evt_1", strings.Repeat("a", 128), strings.Repeat("a", 129), strings.Repeat("é", 300), strings.Repeat("x", 1<<20)} {
		got := LogText(s)
		switch {
		case len(got) > MaxLogText:
			t.Errorf("LogText(%d bytes) = %d bytes", len(s), len(got))
		case !utf8.ValidString(got):
			t.Errorf("LogText(%d bytes) is not valid UTF-8", len(s))
		case len(s) <= MaxLogText && got != s:
			t.Errorf("LogText(%q) = %q, want it unchanged", s, got)
		case len(s) > MaxLogText && (!strings.HasSuffix(got, "…") || !strings.HasPrefix(s, strings.TrimSuffix(got, "…"))):
			t.Errorf("LogText(%d bytes) = %q, want a prefix and …", len(s), got)
		}
	}
}
