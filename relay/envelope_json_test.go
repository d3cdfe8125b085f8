package relay

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// FuzzReadEnvelopeValidJSON checks the fast reader against encoding/json:
// whatever ReadEnvelope accepts is valid JSON, its resource is valid JSON
// (it goes into the CloudEvent byte for byte), and whatever encoding/json
// accepts (in valid UTF-8) as an object is read as JSON.
func FuzzReadEnvelopeValidJSON(f *testing.F) {
	for _, typ := range fixtures.Types() {
		b, err := fixtures.Body(typ, fixtures.Options{EventID: "evt_seed", TransactionID: "tx"})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{"type":"a","data":{"id":1}}`, `{"type":"a","data":[1,2]}`, `{"type":"a","data":null,"payload":{"id":"p"}}`,
		`{"type":"a","data":01}`, `{"type":"a" "data":1}`, `{"type":"a","data":"\ud800"}`, `{"type":"a","data":{"id":"x"}}garbage`, `{"type":5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := ReadEnvelope(body, nil)
		if env.ID == "" {
			t.Fatal("no id")
		}
		if err != nil {
			var v struct {
				Type any `json:"type"`
			}
			if err == ErrNotJSON && utf8.Valid(body) && json.Unmarshal(body, &v) == nil && body[0] == '{' {
				t.Fatalf("encoding/json accepts %q but ReadEnvelope says not JSON", body)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("ReadEnvelope accepted invalid JSON %q", body)
		}
		if len(env.Resource) > 0 && !json.Valid(env.Resource) {
			t.Fatalf("resource %q is not valid JSON", env.Resource)
		}
		ev := Normalize(env, env.Time, "src").AppendJSON(nil)
		if !json.Valid(ev) {
			t.Fatalf("CloudEvent %q is not valid JSON", ev)
		}
	})
}

func TestReadEnvelope_DeepNestingIsUnparsed(t *testing.T) {
	deep := []byte(`{"type":"transaction.paid","data":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`)
	if _, err := ReadEnvelope(deep, nil); err != ErrNotJSON {
		t.Fatalf("100000-deep body: err = %v, want ErrNotJSON (stored as unparsed)", err)
	}
	ok := []byte(`{"type":"transaction.paid","data":{"s":"[[[[{{{{\"]]]","a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`)
	if _, err := ReadEnvelope(ok, nil); err != nil {
		t.Fatalf("100-deep body with brackets in strings: %v", err)
	}
}
