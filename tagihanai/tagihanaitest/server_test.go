package tagihanaitest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/tagihan-relay/tagihan-relay/tagihanai/tagihanaitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "tgh_test_sk_5f2c9a"

// call sends one request to the fake and returns its status, headers and
// decoded JSON body (nil when empty).
func call(t *testing.T, s *tagihanaitest.Server, key, method, path, body string) (int, http.Header, map[string]any) {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, rb)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return resp.StatusCode, resp.Header, nil
	}
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, b)
	}
	return resp.StatusCode, resp.Header, out
}

// errorType is the type of an error answer, {"error":{"type":...}}.
func errorType(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestServer_Auth(t *testing.T) {
	t.Run("MissingKey", func(t *testing.T) {
		s := tagihanaitest.New(t, testKey)
		code, _, body := call(t, s, "", "GET", "/webhooks", "")
		if code != 401 || errorType(body) != "unauthorized" {
			t.Errorf("answer = %d %v, want 401 unauthorized", code, body)
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		s := tagihanaitest.New(t, testKey)
		code, _, body := call(t, s, "tgh_other", "GET", "/transactions", "")
		if code != 401 || errorType(body) != "unauthorized" {
			t.Errorf("answer = %d %v, want 401 unauthorized", code, body)
		}
	})
	t.Run("Revoked", func(t *testing.T) {
		s := tagihanaitest.New(t, testKey)
		if code, _, _ := call(t, s, testKey, "GET", "/webhooks", ""); code != 200 {
			t.Fatalf("before RevokeKey: %d, want 200", code)
		}
		s.RevokeKey()
		code, _, body := call(t, s, testKey, "GET", "/webhooks", "")
		if code != 401 || errorType(body) != "unauthorized" {
			t.Errorf("answer = %d %v, want 401 unauthorized", code, body)
		}
	})
	t.Run("MissingScope", func(t *testing.T) {
		s := tagihanaitest.New(t, testKey)
		s.SetScopes("webhooks:read", "transactions:read")
		if code, _, _ := call(t, s, testKey, "GET", "/webhooks", ""); code != 200 {
			t.Errorf("GET /webhooks with webhooks:read: %d, want 200", code)
		}
		code, _, body := call(t, s, testKey, "POST", "/webhooks", `{"url":"https://relay.example.com/webhooks/tagihanai/a","event_types":["*"]}`)
		if code != 403 || errorType(body) != "forbidden" || !strings.Contains(body["error"].(map[string]any)["message"].(string), "webhooks:write") {
			t.Errorf("answer = %d %v, want 403 forbidden naming webhooks:write", code, body)
		}
	})
	t.Run("UnknownEndpoint", func(t *testing.T) {
		s := tagihanaitest.New(t, testKey)
		if code, _, body := call(t, s, testKey, "GET", "/nothing", ""); code != 404 || errorType(body) != "not-found" {
			t.Errorf("answer = %d %v, want 404 not-found", code, body)
		}
		if code, _, _ := call(t, s, testKey, "PUT", "/webhooks", "{}"); code != 405 {
			t.Errorf("PUT /webhooks: %d, want 405", code)
		}
	})
}

func TestServer_CreateWebhook(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantType    string
	}{
		{name: "OK", body: `{"url":"https://relay.example.com/webhooks/tagihanai/a","event_types":["transaction.sent","payment.completed"],"description":"ERP"}`, wantStatus: 201},
		{name: "All", body: `{"url":"https://relay.example.com/x","event_types":["*"]}`, wantStatus: 201},
		{name: "Loopback", body: `{"url":"http://127.0.0.1:8080/webhooks/tagihanai/a","event_types":["*"]}`, wantStatus: 201},
		{name: "Localhost", body: `{"url":"http://localhost:8080/x","event_types":["*"]}`, wantStatus: 201},
		{name: "PlainHTTP", body: `{"url":"http://relay.example.com/x","event_types":["*"]}`, wantStatus: 422, wantType: "validation-failed"},
		{name: "Relative", body: `{"url":"/webhooks","event_types":["*"]}`, wantStatus: 422, wantType: "validation-failed"},
		{name: "NoURL", body: `{"event_types":["*"]}`, wantStatus: 422, wantType: "validation-failed"},
		{name: "NoEventTypes", body: `{"url":"https://relay.example.com/x"}`, wantStatus: 422, wantType: "validation-failed"},
		{name: "EmptyEventTypes", body: `{"url":"https://relay.example.com/x","event_types":[]}`, wantStatus: 422, wantType: "validation-failed"},
		{name: "Glob", body: `{"url":"https://relay.example.com/x","event_types":["transaction.*"]}`, wantStatus: 422, wantType: "validation-failed"},
		{name: "UnknownType", body: `{"url":"https://relay.example.com/x","event_types":["invoice.paid"]}`, wantStatus: 422, wantType: "validation-failed"},
		{name: "MalformedJSON", body: `{"url":`, wantStatus: 400, wantType: "bad-request"},
		{name: "WrongShape", body: `{"url":"https://relay.example.com/x","event_types":"*"}`, wantStatus: 400, wantType: "bad-request"},
		{name: "NotJSON", contentType: "text/plain", body: `{"url":"https://relay.example.com/x","event_types":["*"]}`, wantStatus: 400, wantType: "bad-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tagihanaitest.New(t, testKey)
			req, _ := http.NewRequest("POST", s.URL()+"/webhooks", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || errorType(body) != tt.wantType {
				t.Fatalf("answer = %d %v, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantType)
			}
			subs := s.Webhooks()
			if tt.wantStatus != 201 {
				if len(subs) != 0 {
					t.Errorf("subscriptions = %v, want none", subs)
				}
				return
			}
			data := body["data"].(map[string]any)
			secret, _ := data["signing_secret"].(string)
			if len(subs) != 1 || !strings.HasPrefix(secret, "whsec_") || len(secret) < 30 || subs[0].SigningSecret != secret ||
				data["id"] != subs[0].ID || data["is_active"] != true {
				t.Errorf("created %v, fake holds %+v", data, subs)
			}
			// The secret is only in the answer to the creation.
			_, _, list := call(t, s, testKey, "GET", "/webhooks", "")
			_, _, one := call(t, s, testKey, "GET", "/webhooks/"+subs[0].ID, "")
			if strings.Contains(mustJSON(t, list), secret) || strings.Contains(mustJSON(t, one), secret) {
				t.Errorf("a later GET shows the signing secret: %v %v", list, one)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServer_Webhooks(t *testing.T) {
	s := tagihanaitest.New(t, testKey)
	a := s.AddWebhook("https://relay.example.com/webhooks/tagihanai/a", []string{"*"}, "a")
	b := s.AddWebhook("https://relay.example.com/webhooks/tagihanai/b", []string{"transaction.paid"}, "")

	_, _, list := call(t, s, testKey, "GET", "/webhooks", "")
	data := list["data"].([]any)
	if len(data) != 2 || data[0].(map[string]any)["id"] != a.ID || data[1].(map[string]any)["id"] != b.ID {
		t.Fatalf("GET /webhooks = %v, want a then b", list)
	}
	first := data[0].(map[string]any)
	for _, k := range []string{"url", "event_types", "is_active", "consecutive_failures", "last_delivery_at"} {
		if _, ok := first[k]; !ok {
			t.Errorf("listed subscription has no %q: %v", k, first)
		}
	}

	code, _, patched := call(t, s, testKey, "PATCH", "/webhooks/"+b.ID, `{"event_types":["*"],"is_active":false}`)
	if code != 200 || patched["data"].(map[string]any)["is_active"] != false {
		t.Errorf("PATCH = %d %v, want 200 inactive", code, patched)
	}
	if code, _, _ := call(t, s, testKey, "PATCH", "/webhooks/"+b.ID, `{"url":"http://example.com/x"}`); code != 422 {
		t.Errorf("PATCH to plain http: %d, want 422", code)
	}

	if code, _, body := call(t, s, testKey, "DELETE", "/webhooks/"+a.ID, ""); code != 204 || body != nil {
		t.Errorf("DELETE = %d %v, want 204 without body", code, body)
	}
	for _, p := range []string{"/webhooks/" + a.ID, "/webhooks/" + a.ID + "/deliveries"} {
		if code, _, body := call(t, s, testKey, "GET", p, ""); code != 404 || errorType(body) != "not-found" {
			t.Errorf("GET %s after DELETE = %d %v, want 404", p, code, body)
		}
	}
	if code, _, _ := call(t, s, testKey, "DELETE", "/webhooks/"+a.ID, ""); code != 404 {
		t.Errorf("second DELETE = %d, want 404", code)
	}
	if code, _, _ := call(t, s, testKey, "POST", "/webhooks/"+a.ID+"/test", ""); code != 404 {
		t.Errorf("test of a deleted subscription = %d, want 404", code)
	}
}

func TestServer_Deliveries(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	s := tagihanaitest.New(t, testKey)
	s.SetClock(clock.Now)
	sub := s.AddWebhook("https://relay.example.com/x", []string{"*"}, "")
	for i := range 25 {
		st := tagihanaitest.StatusSuccess
		if i%5 == 0 {
			st = tagihanaitest.StatusFailed
		}
		s.AddDelivery(sub.ID, tagihanaitest.Delivery{EventType: "transaction.sent", Status: st, ResponseStatus: 200, EventID: "evt_" + string(rune('a'+i))})
		clock.Advance(time.Second)
	}
	given := s.GiveUp(sub.ID, "transaction.paid", []byte(`{"id":"evt_lost","type":"transaction.paid","data":{"id":"tx-1"}}`))
	if len(given) != tagihanaitest.GiveUpAttempts || given[len(given)-1].Status != tagihanaitest.StatusDeadLetter ||
		given[0].Status != tagihanaitest.StatusFailed || given[0].EventID != "evt_lost" || given[0].TransactionID != "tx-1" {
		t.Fatalf("GiveUp = %+v", given)
	}

	t.Run("DefaultPage", func(t *testing.T) {
		_, _, body := call(t, s, testKey, "GET", "/webhooks/"+sub.ID+"/deliveries", "")
		if n := len(body["data"].([]any)); n != 20 {
			t.Errorf("default page has %d entries, want 20", n)
		}
		if _, ok := body["pagination"]; ok {
			t.Errorf("answer has pagination, the reference's has none: %v", body["pagination"])
		}
		first := body["data"].([]any)[0].(map[string]any)
		if first["event_id"] != "evt_lost" || first["status"] != "dead_letter" { // newest first: GiveUp's last attempt
			t.Errorf("first entry = %v, want the newest", first)
		}
		for _, k := range []string{"id", "event_type", "status", "response_status", "response_time_ms", "attempt_number", "created_at"} {
			if _, ok := first[k]; !ok {
				t.Errorf("entry has no %q: %v", k, first)
			}
		}
	})
	t.Run("StatusFilter", func(t *testing.T) {
		_, _, body := call(t, s, testKey, "GET", "/webhooks/"+sub.ID+"/deliveries?status=failed&per_page=100", "")
		if n := len(body["data"].([]any)); n != 5+tagihanaitest.GiveUpAttempts-1 {
			t.Errorf("failed entries = %d, want %d", n, 5+tagihanaitest.GiveUpAttempts-1)
		}
		_, _, body = call(t, s, testKey, "GET", "/webhooks/"+sub.ID+"/deliveries?status=dead_letter", "")
		d := body["data"].([]any)
		if len(d) != 1 || d[0].(map[string]any)["transaction_id"] != "tx-1" {
			t.Errorf("dead letters = %v, want GiveUp's last", d)
		}
		if code, _, _ := call(t, s, testKey, "GET", "/webhooks/"+sub.ID+"/deliveries?status=pending", ""); code != 400 {
			t.Errorf("status=pending: %d, want 400", code)
		}
	})
	t.Run("Pages", func(t *testing.T) {
		var ids []string
		for page := 1; page <= 3; page++ {
			_, _, body := call(t, s, testKey, "GET", "/webhooks/"+sub.ID+"/deliveries?per_page=12&page="+string(rune('0'+page)), "")
			for _, e := range body["data"].([]any) {
				ids = append(ids, e.(map[string]any)["id"].(string))
			}
		}
		if len(ids) != 25+tagihanaitest.GiveUpAttempts {
			t.Errorf("3 pages of 12 hold %d entries, want %d", len(ids), 25+tagihanaitest.GiveUpAttempts)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("entry %s on two pages", id)
			}
			seen[id] = true
		}
	})
	t.Run("PerPageOver100", func(t *testing.T) {
		if code, _, body := call(t, s, testKey, "GET", "/webhooks/"+sub.ID+"/deliveries?per_page=101", ""); code != 400 || errorType(body) != "bad-request" {
			t.Errorf("per_page=101: %d %v, want 400", code, body)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		s.PaginateDeliveries()
		_, _, body := call(t, s, testKey, "GET", "/webhooks/"+sub.ID+"/deliveries?per_page=20&page=2", "")
		want := map[string]any{"total": json.Number("30"), "page": json.Number("2"), "per_page": json.Number("20"), "has_more": false}
		if diff := cmp.Diff(want, body["pagination"]); diff != "" {
			t.Errorf("pagination (-want +got):\n%s", diff)
		}
	})
	t.Run("HideIDs", func(t *testing.T) {
		s.HideDeliveryIDs()
		_, _, body := call(t, s, testKey, "GET", "/webhooks/"+sub.ID+"/deliveries?status=dead_letter", "")
		e := body["data"].([]any)[0].(map[string]any)
		if _, ok := e["event_id"]; ok {
			t.Errorf("entry has event_id after HideDeliveryIDs: %v", e)
		}
	})
}

func TestServer_Transactions(t *testing.T) {
	s := tagihanaitest.New(t, testKey)
	base := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	for i := range 45 {
		tx := tagihanaitest.Transaction{Status: []string{"SENT", "PAID", "DRAFT"}[i%3], CreatedAt: base.Add(time.Duration(i) * time.Hour),
			DocumentDate: base.AddDate(0, 0, i/3).Format(time.DateOnly)}
		if i%9 == 0 {
			tx.Type = "BILL"
		}
		s.AddTransaction(tx)
	}
	big := s.AddTransaction(tagihanaitest.Transaction{ID: "550e8400-e29b-41d4-a716-446655440000", DocumentNumber: "INV-2026-0042",
		Status: "PARTIAL", CreatedAt: base.AddDate(0, 1, 0), Fields: map[string]any{"total": json.Number("9007199254740993")}})

	t.Run("GetOne", func(t *testing.T) {
		_, _, body := call(t, s, testKey, "GET", "/transactions/"+big, "")
		d := body["data"].(map[string]any)
		if d["total"] != json.Number("9007199254740993") || d["status"] != "PARTIAL" || d["payment_status"] != "PARTIAL" ||
			d["document_number"] != "INV-2026-0042" || d["type"] != "INVOICE" {
			t.Errorf("GET /transactions/:id = %v", d)
		}
		for _, k := range []string{"line_items", "receiver_name", "counterparty_name", "counterparty_id", "subtotal", "tax_amount", "metadata", "document_date", "due_date"} {
			if _, ok := d[k]; !ok {
				t.Errorf("transaction has no %q", k)
			}
		}
		if code, _, body := call(t, s, testKey, "GET", "/transactions/nope", ""); code != 404 || errorType(body) != "not-found" {
			t.Errorf("unknown id: %d %v, want 404", code, body)
		}
	})
	t.Run("Pages", func(t *testing.T) {
		seen := map[string]bool{}
		for page := 1; ; page++ {
			_, _, body := call(t, s, testKey, "GET", "/transactions?per_page=20&page="+string(rune('0'+page)), "")
			for _, e := range body["data"].([]any) {
				m := e.(map[string]any)
				if _, ok := m["line_items"]; ok {
					t.Fatalf("list entry has line_items: the reference's list has not")
				}
				seen[m["id"].(string)] = true
			}
			p := body["pagination"].(map[string]any)
			if p["total"] != json.Number("46") {
				t.Fatalf("pagination = %v, want total 46", p)
			}
			if p["has_more"] == false {
				if page != 3 {
					t.Errorf("last page = %d, want 3", page)
				}
				break
			}
		}
		if len(seen) != 46 {
			t.Errorf("pages held %d transactions, want 46", len(seen))
		}
	})
	t.Run("Newest first", func(t *testing.T) {
		_, _, body := call(t, s, testKey, "GET", "/transactions?per_page=1", "")
		if id := body["data"].([]any)[0].(map[string]any)["id"]; id != big {
			t.Errorf("first = %v, want the latest created", id)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		count := func(q string) int {
			t.Helper()
			code, _, body := call(t, s, testKey, "GET", "/transactions?per_page=100&"+q, "")
			if code != 200 {
				t.Fatalf("%s: %d %v", q, code, body)
			}
			return len(body["data"].([]any))
		}
		if n := count("type=BILL"); n != 5 {
			t.Errorf("type=BILL: %d, want 5", n)
		}
		if n := count("type=INVOICE&status=SENT"); n != 10 {
			t.Errorf("INVOICE SENT: %d, want 10", n)
		}
		if n := count("status=PAID"); n != 15 {
			t.Errorf("status=PAID: %d, want 15", n)
		}
		if n := count("date_from=2026-11-10&date_to=2026-11-12"); n != 9 {
			t.Errorf("date range: %d, want 9", n)
		}
		if n := count("date_from=2026-11-10T00:00:00Z&date_to=2026-11-12"); n != 9 {
			t.Errorf("date-time date_from: %d, want 9", n)
		}
	})
	t.Run("BadParams", func(t *testing.T) {
		for _, q := range []string{"per_page=101", "per_page=0", "page=0", "page=x", "type=RECEIPT", "date_from=yesterday", "sort=amount:desc"} {
			if code, _, body := call(t, s, testKey, "GET", "/transactions?"+q, ""); code != 400 || errorType(body) != "bad-request" {
				t.Errorf("%s: %d %v, want 400 bad-request", q, code, body)
			}
		}
	})
}

func TestServer_Limit(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	s := tagihanaitest.New(t, testKey)
	s.SetClock(clock.Now)
	s.Limit(2, time.Minute)
	for i := range 2 {
		if code, _, _ := call(t, s, testKey, "GET", "/webhooks", ""); code != 200 {
			t.Fatalf("request %d: %d, want 200", i, code)
		}
		clock.Advance(10 * time.Second)
	}
	code, h, body := call(t, s, testKey, "GET", "/webhooks", "")
	if code != 429 || errorType(body) != "rate-limit-exceeded" || h.Get("Retry-After") != "40" {
		t.Fatalf("third request: %d Retry-After %q %v, want 429 after 40", code, h.Get("Retry-After"), body)
	}
	clock.Advance(40 * time.Second)
	if code, _, _ := call(t, s, testKey, "GET", "/webhooks", ""); code != 200 {
		t.Errorf("after Retry-After: %d, want 200", code)
	}
	var got []int
	for _, r := range s.Requests() {
		got = append(got, r.Status)
	}
	if diff := cmp.Diff([]int{200, 200, 429, 200}, got); diff != "" {
		t.Errorf("logged statuses (-want +got):\n%s", diff)
	}
}

func TestServer_Fail5xx(t *testing.T) {
	s := tagihanaitest.New(t, testKey)
	s.Fail5xx(2)
	var got []int
	for range 3 {
		code, _, _ := call(t, s, testKey, "GET", "/transactions", "")
		got = append(got, code)
	}
	if diff := cmp.Diff([]int{500, 500, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	reqs := s.Requests()
	if len(reqs) != 3 || reqs[0].String() != "GET /api/v1/transactions" {
		t.Errorf("requests = %v", reqs)
	}
}
