package relay

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// wib is Jakarta time, so tests see receive times converted to UTC.
var wib = time.FixedZone("WIB", 7*60*60)

func TestNormalize(t *testing.T) {
	received := time.Date(2026, 11, 23, 17, 0, 0, 123456789, wib)
	const resource = "{  \"id\" : \"trx_1\",\n\t\"total\": 9007199254740993, \"note\": \"Rp 150.000 \\u2014 lunas\", \"x\": [ 1 , 2 ] }"

	tests := []struct {
		name   string
		body   string
		source string
		want   Event
	}{
		{
			name:   "OK",
			body:   "{\"id\":\"evt_1\",\"type\":\"transaction.paid\",\"created_at\":\"2026-11-23T16:59:58+07:00\",\"data\":  " + resource + "  }",
			source: "tagihanai",
			want: Event{
				SpecVersion:     "1.0",
				ID:              "evt_1",
				Source:          "tagihanai",
				Type:            "com.tagihanai.transaction.paid",
				Time:            "2026-11-23T09:59:58Z",
				Subject:         "trx_1",
				DataContentType: "application/json",
				Data:            json.RawMessage(resource),
				TagihanAIEvent:  "transaction.paid",
				RelayReceivedAt: "2026-11-23T10:00:00.123456789Z",
			},
		},
		{
			name:   "TimeFromUnixMillis",
			body:   `{"id":"evt_2","type":"payment.completed","timestamp":1767225600123,"payload":{"id":"pay_1"}}`,
			source: "erp-staging",
			want: Event{
				SpecVersion: "1.0", ID: "evt_2", Source: "erp-staging", Type: "com.tagihanai.payment.completed",
				Time: "2026-01-01T00:00:00.123Z", Subject: "pay_1", DataContentType: "application/json",
				Data: json.RawMessage(`{"id":"pay_1"}`), TagihanAIEvent: "payment.completed",
				RelayReceivedAt: "2026-11-23T10:00:00.123456789Z",
			},
		},
		{
			name:   "ReceiveTimeWhenEnvelopeHasNone",
			body:   `{"id":"evt_3","type":"invoice.unknown","created_at":"not a time"}`,
			source: "tagihanai",
			want: Event{
				SpecVersion: "1.0", ID: "evt_3", Source: "tagihanai", Type: "com.tagihanai.invoice.unknown",
				Time: "2026-11-23T10:00:00.123456789Z", DataContentType: "application/json",
				TagihanAIEvent: "invoice.unknown", RelayReceivedAt: "2026-11-23T10:00:00.123456789Z",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := ReadEnvelope([]byte(tt.body), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := Normalize(env, received, tt.source)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Normalize mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvent_MarshalJSON(t *testing.T) {
	const data = "{  \"id\" : \"trx_1\",\n\t\"total\": 9007199254740993 }"
	body := []byte("{\"id\":\"evt_1\",\"type\":\"transaction.sent\",\"created_at\":\"2026-11-23T10:00:00Z\",\"data\":" + data + "}")
	env, err := ReadEnvelope(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := Normalize(env, time.Date(2026, 11, 23, 10, 0, 1, 5, time.UTC), "tagihanai")

	t.Run("OK", func(t *testing.T) {
		got, err := ev.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		want := `{"specversion":"1.0","id":"evt_1","source":"tagihanai","type":"com.tagihanai.transaction.sent",` +
			`"time":"2026-11-23T10:00:00Z","subject":"trx_1","datacontenttype":"application/json",` +
			`"tagihanaievent":"transaction.sent","relayreceivedat":"2026-11-23T10:00:01.000000005Z","data":` + data + `}`
		if diff := cmp.Diff(want, string(got)); diff != "" {
			t.Errorf("MarshalJSON mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("DataByteIdentical", func(t *testing.T) {
		got, _ := ev.MarshalJSON()
		var m map[string]json.RawMessage
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m["data"], []byte(data)) {
			t.Errorf("data = %q, want %q", m["data"], data)
		}
		// The big integer survives as written (no float64 on the way).
		if !bytes.Contains(got, []byte("9007199254740993")) {
			t.Error("amount was rewritten")
		}
	})

	t.Run("AppendJSON", func(t *testing.T) {
		got := ev.AppendJSON([]byte("prefix:"))
		want, _ := ev.MarshalJSON()
		if !bytes.Equal(got, append([]byte("prefix:"), want...)) {
			t.Errorf("AppendJSON = %s", got)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		b, _ := ev.MarshalJSON()
		var back Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ev, back); diff != "" {
			t.Errorf("round trip mismatch (-want +got):\n%s", diff)
		}
		// encoding/json may compact a Marshaler's output, but it must
		// accept it.
		viaEncoding, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		var back2 Event
		if err := json.Unmarshal(viaEncoding, &back2); err != nil || back2.ID != ev.ID || back2.Subject != ev.Subject {
			t.Fatalf("json.Marshal output %s: %v", viaEncoding, err)
		}
	})

	t.Run("NoSubjectNoData", func(t *testing.T) {
		e := Event{SpecVersion: "1.0", ID: "e", Source: "s", Type: "com.tagihanai.x", Time: "t", DataContentType: "application/json", TagihanAIEvent: "x", RelayReceivedAt: "r"}
		got, _ := e.MarshalJSON()
		want := `{"specversion":"1.0","id":"e","source":"s","type":"com.tagihanai.x","time":"t","datacontenttype":"application/json","tagihanaievent":"x","relayreceivedat":"r"}`
		if string(got) != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}

func TestEvent_MarshalJSON_Escaping(t *testing.T) {
	for _, s := range []string{
		"plain",
		``,
		`quote " and backslash \`,
		"new\nline\ttab\r\x00\x01\x1f",
		"html <script>&amp;</script>",
		"Rp 150.000 — lunas, 請求書, emoji 🧾",
		"line sep \u2028 para sep \u2029",
		"invalid \xff utf8",
		"\x7f del",
	} {
		t.Run("", func(t *testing.T) {
			ev := Event{
				SpecVersion: "1.0", ID: s, Source: s, Type: TypePrefix + s, Time: s, Subject: s,
				DataContentType: "application/json", Data: json.RawMessage(`{"k":"v"}`), TagihanAIEvent: s, RelayReceivedAt: s,
			}
			b, err := ev.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b) {
				t.Fatalf("invalid JSON: %q", b)
			}
			var back Event
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			// What encoding/json writes for s is what must come back
			// (invalid UTF-8 becomes U+FFFD there too).
			var want string
			q, _ := json.Marshal(s)
			_ = json.Unmarshal(q, &want)
			if s == "" {
				// An empty subject is omitted.
				back.Subject = ""
			}
			for name, got := range map[string]string{
				"id": back.ID, "source": back.Source, "type": back.Type[len(TypePrefix):], "time": back.Time,
				"subject": back.Subject, "tagihanaievent": back.TagihanAIEvent, "relayreceivedat": back.RelayReceivedAt,
			} {
				if got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if got := AppendJSONString(nil, s); !bytes.Equal(got, q) {
				t.Errorf("AppendJSONString(%q) = %q", s, got)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"evt_1", `"evt_1"`},
		{"", `""`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{"a\nb", `"a\nb"`},
		{"\x01", `"\u0001"`},
		{"<&>", `"\u003c\u0026\u003e"`},
		{"é", `"é"`},
		{"\u2028", `"\u2028"`},
		// Invalid UTF-8 becomes U+FFFD: escaped by Go before 1.27, written
		// as the rune itself since; both are valid JSON of the same string.
		{"\xff", "\"\ufffd\""},
	}
	for _, tt := range tests {
		if got := string(AppendJSONString([]byte("x"), tt.in)); got != "x"+tt.want {
			t.Errorf("AppendJSONString(%q) = %s, want x%s", tt.in, got, tt.want)
		}
	}
}
