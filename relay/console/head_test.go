package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestConsole_Head: HEAD answers like GET through a real listener: 200
// with the page's headers and no body, or the same 303.
func TestConsole_Head(t *testing.T) {
	f := MustOpenFixture(t, "")
	srv := httptest.NewServer(f.e)
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		path     string
		status   int
		location string
	}{
		{"/ui/", http.StatusOK, ""},
		{"/ui/events", http.StatusOK, ""},
		{"/ui/dead-letters", http.StatusOK, ""},
		{"/ui", http.StatusSeeOther, "/ui/"},
		{"/", http.StatusSeeOther, "/ui/"},
		{"/ui/nosuch", http.StatusNotFound, ""},
	} {
		get, err := client.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		req, _ := http.NewRequest(http.MethodHead, srv.URL+tt.path, nil)
		head, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(head.Body)
		head.Body.Close()
		if head.StatusCode != tt.status || get.StatusCode != tt.status || head.Header.Get("Location") != tt.location || len(body) != 0 {
			t.Errorf("HEAD %s = %d (Location %q, %d body bytes), GET %d; want %d %q and no body", tt.path, head.StatusCode, head.Header.Get("Location"), len(body), get.StatusCode, tt.status, tt.location)
		}
		if head.Header.Get("Content-Security-Policy") == "" || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s headers %v differ from GET's", tt.path, head.Header)
		}
	}
}
