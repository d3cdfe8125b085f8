package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// fakeAccountingPlus answers POST /v1/sales-invoices like AccountingPlus,
// refusing an invoice with a line without item_code as the real API does.
type fakeAccountingPlus struct {
	*httptest.Server
	mu       sync.Mutex
	invoices []map[string]any
}

func newFakeAccountingPlus(t *testing.T) *fakeAccountingPlus {
	f := &fakeAccountingPlus{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/sales-invoices" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") ||
			r.Header.Get("A-Signature") == "" || r.Header.Get("A-Data") == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"99","message":"bad request"}`)
			return
		}
		var inv map[string]any
		if err := json.Unmarshal(body, &inv); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		items, _ := inv["items"].([]any)
		for _, it := range items {
			if code, _ := it.(map[string]any)["item_code"].(string); code == "" {
				w.WriteHeader(http.StatusUnprocessableEntity)
				fmt.Fprint(w, `{"status":"02","message":"item_code is required"}`)
				return
			}
		}
		f.mu.Lock()
		f.invoices = append(f.invoices, inv)
		n := len(f.invoices)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"00","message":"success","data":{"document_number":"%05d/FPJ/11/26"}}`, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAccountingPlus) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.invoices)
}

// TestCLI_AccountingPlusFirstDay follows a newcomer: the README's minimal
// AccountingPlus settings, `send transaction.sent` creates an invoice;
// `send --subject` the same transaction again is skipped (create-once), and
// the table says "skipped" where the API keeps "delivered"; `events show`
// says "skipped: <reason>" and indents the CloudEvent.
func TestCLI_AccountingPlusFirstDay(t *testing.T) {
	ap := newFakeAccountingPlus(t)
	p := startRelay(t, t.TempDir(), "RELAY_SINKS=accounting", "SINK_ACCOUNTING_KIND=accountingplus",
		"SINK_ACCOUNTING_BASE_URL="+ap.URL, "SINK_ACCOUNTING_CLIENT_ID=your-client-id",
		"SINK_ACCOUNTING_CLIENT_SECRET=your-client-secret", "SINK_ACCOUNTING_SIGNATURE_SECRET=your-signature-secret",
		"SINK_ACCOUNTING_EMAIL=finance@example.co.id", "SINK_ACCOUNTING_TENANT_ID=your-tenant-id")
	const subject = "7d1f0e6a-3b9c-4e2a-9f4d-0c8b5a6e7f10"
	send := func(id string) {
		t.Helper()
		stdout, stderr, code := runBinary(t, nil, "send", "transaction.sent", "--url", p.public+"/webhooks/tagihanai",
			"--secret", testSecret, "--id", id, "--subject", subject, "--document-number", "INV-2026-0042")
		if code != 0 || !strings.Contains(stdout, "200 OK") {
			t.Fatalf("send: exit %d\n%s%s", code, stdout, stderr)
		}
	}
	type detail struct {
		Subject    string `json:"subject"`
		Status     string `json:"status"`
		Deliveries []struct {
			State     string            `json:"state"`
			LastError string            `json:"last_error"`
			Result    map[string]string `json:"result"`
		} `json:"deliveries"`
	}
	settled := func(id, state string) detail {
		t.Helper()
		var d detail
		testkit.Eventually(t, 20*time.Second, id+" "+state, func() bool {
			d = detail{}
			getJSON(t, p.admin+"/v1/events/"+id, &d)
			return len(d.Deliveries) == 1 && d.Deliveries[0].State == state
		})
		return d
	}
	send("evt_firstday_1")
	d := settled("evt_firstday_1", "delivered")
	if d.Subject != subject || d.Deliveries[0].Result["document_number"] != "00001/FPJ/11/26" || ap.count() != 1 {
		t.Fatalf("first send: %+v, %d invoices", d, ap.count())
	}
	send("evt_firstday_2")
	d = settled("evt_firstday_2", "skipped")
	if d.Status != "delivered" || d.Deliveries[0].LastError == "" || ap.count() != 1 {
		t.Fatalf("second send: %+v, %d invoices; want skipped with a reason, API status delivered, one invoice", d, ap.count())
	}

	// A BILL is not a sales invoice: skipped too.
	bill := bytes.Replace(fixture(t, "transaction.sent", "evt_firstday_bill", ""), []byte(`"type": "INVOICE"`), []byte(`"type": "BILL"`), 1)
	if code, b := post(&http.Client{Timeout: 5 * time.Second}, p.public, bill); code != http.StatusOK {
		t.Fatalf("post bill: %d %s", code, b)
	}
	settled("evt_firstday_bill", "skipped")

	out, code := onTerminal(t, nil, "events", "list", "--admin", p.admin)
	rows := map[string]string{}
	for _, l := range lines(out)[1:] {
		f := strings.Fields(l)
		rows[f[2]] = f[4] // date time id type status ...
	}
	if code != 0 || rows["evt_firstday_1"] != "delivered" || rows["evt_firstday_2"] != "skipped" || rows["evt_firstday_bill"] != "skipped" {
		t.Errorf("terminal list statuses %v, want delivered and skipped:\n%s", rows, out)
	}
	stdout, _, _ := runBinary(t, nil, "events", "list", "--admin", p.admin, "--subject", subject)
	if strings.Count(stdout, `"status":"delivered"`) != 2 {
		t.Errorf("JSON keeps the API status delivered for both:\n%s", stdout)
	}

	out, _ = onTerminal(t, nil, "events", "show", "evt_firstday_2", "--admin", p.admin)
	if !strings.Contains(out, "skipped: "+d.Deliveries[0].LastError) || strings.Contains(out, "last error:") {
		t.Errorf("events show of a skip does not say skipped: <reason>:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^CloudEvent:\n\{\n  "specversion": "1.0",$`).MatchString(out) {
		t.Errorf("CloudEvent is not indented on a terminal:\n%s", out)
	}
}

// TestCLI_VerifySaysHowOld: the skew is said in days, not 8055h3m14s.
func TestCLI_VerifySaysHowOld(t *testing.T) {
	body := fixture(t, "transaction.paid", "evt_old", "")
	path := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Add(-(335*24*time.Hour + 3*time.Hour)).Unix(), 10)
	stdout, _, code := runBinary(t, nil, "verify", "--body", path, "--signature", signature.SignatureHeader([]byte(testSecret), ts, body), "--secret", testSecret)
	if code != 1 || !strings.Contains(stdout, "skew:      335 days in the past (now - t = ") || !strings.Contains(stdout, "too old") {
		t.Errorf("verify: exit %d\n%s", code, stdout)
	}
}

// TestCLI_CompactSaysWhatItReclaimed: human sizes, and "nothing to
// reclaim" when compacting changed nothing.
func TestCLI_CompactSaysWhatItReclaimed(t *testing.T) {
	db := seedDB(t, 300)
	human := `\d+(\.\d)? (B|KiB|MiB|GiB)`
	stdout, stderr, code := runBinary(t, nil, "compact", "--db", db)
	re := regexp.MustCompile(`^compacted \S+: (` + human + ` → ` + human + `, ` + human + ` reclaimed \(\d+%\)|nothing to reclaim \(` + human + ` before, ` + human + ` after\)); the old file is kept as \S+\.bak\n$`)
	if code != 0 || !re.MatchString(stdout) {
		t.Fatalf("compact: exit %d, %q %s", code, stdout, stderr)
	}
	stdout, _, _ = runBinary(t, nil, "compact", "--db", db, "--out", filepath.Join(t.TempDir(), "again.db"))
	if !strings.Contains(stdout, "nothing to reclaim (") && !strings.Contains(stdout, "reclaimed") {
		t.Errorf("second compact: %q", stdout)
	}
}

func TestCompactSummary(t *testing.T) {
	for _, tt := range []struct {
		before, after int64
		want          string
	}{
		{131072, 131072, "compacted r.db: nothing to reclaim (128 KiB before, 128 KiB after); the old file is kept as r.db.bak"},
		{3 << 20, 1 << 20, "compacted r.db: 3 MiB → 1 MiB, 2 MiB reclaimed (67%); the old file is kept as r.db.bak"},
		{1536, 512, "compacted r.db: 1.5 KiB → 512 B, 1 KiB reclaimed (67%); the old file is kept as r.db.bak"},
	} {
		if got := compactSummary("r.db", "r.db", tt.before, tt.after, true); got != tt.want {
			t.Errorf("compactSummary(%d, %d) = %q, want %q", tt.before, tt.after, got, tt.want)
		}
	}
}

// TestProgress_UnknownTotal: an export's bar never shows "n/-".
func TestProgress_UnknownTotal(t *testing.T) {
	var buf bytes.Buffer
	bar := newProgress(&buf, -1, "exporting")
	_ = bar.Add(7)
	defer bar.Finish() // ends the spinner's goroutine
	if s := buf.String(); strings.Contains(s, "/-") || !strings.Contains(s, "exporting") || !strings.Contains(s, "7") {
		t.Errorf("unknown total renders %q", s)
	}
	buf.Reset()
	bar2 := newProgress(&buf, 10, "importing")
	_ = bar2.Add(3)
	defer bar2.Finish()
	if s := buf.String(); !strings.Contains(s, "3/10") {
		t.Errorf("known total renders %q, want 3/10", s)
	}
}
