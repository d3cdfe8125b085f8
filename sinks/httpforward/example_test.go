package httpforward_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks/httpforward"
)

// A signed CloudEvents delivery as a Standard Webhooks receiver sees it. The
// receiver recomputes the signature with the same key: HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>", base64, after "v1,".
func Example_signed() {
	key := []byte("an example key, 32 bytes long!!!")
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
		m := hmac.New(sha256.New, key)
		fmt.Fprintf(m, "%s.%s.%s", id, ts, body)
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))

		fmt.Println("Content-Type:", r.Header.Get("Content-Type"))
		fmt.Println("webhook-id:", id)
		fmt.Println("webhook-timestamp:", ts)
		fmt.Println("webhook-signature:", r.Header.Get("webhook-signature"))
		fmt.Println("valid:", hmac.Equal([]byte(r.Header.Get("webhook-signature")), []byte(want)))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	tr := httpforward.NewTransport()
	defer tr.CloseIdleConnections()

	sink, err := httpforward.New("SINK_ERP_", httpforward.Config{
		URL:           srv.URL,
		SigningSecret: secret,
	}, httpforward.Deps{
		HTTP: &http.Client{Transport: tr},
		Now:  func() time.Time { return time.Unix(1767225600, 0) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	res := sink.Deliver(context.Background(), &relay.Outbound{
		EventID: "evt_01JGXYZ",
		Event:   []byte(`{"specversion":"1.0","id":"evt_01JGXYZ","type":"com.tagihanai.transaction.sent"}`),
	})
	fmt.Println(res.Outcome, res.StatusCode)
	// Output:
	// Content-Type: application/cloudevents+json
	// webhook-id: evt_01JGXYZ
	// webhook-timestamp: 1767225600
	// webhook-signature: v1,yUI7v7Xk8DEAXYw9S7sDMxshmrCKd9zW+cSAhzCQRUQ=
	// valid: true
	// delivered 202
}
