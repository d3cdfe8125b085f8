package relay_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

const exportLine = `{"id":"evt_1","received_at":"2026-03-01T10:00:00Z","headers":{},"body_base64":"e30=","status":"delivered"}`

func readAllExport(t *testing.T, in string) ([]string, error) {
	t.Helper()
	r := relay.NewExportReader(strings.NewReader(in))
	var ids []string
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return ids, nil
		}
		if err != nil {
			return ids, err
		}
		ids = append(ids, rec.ID)
	}
}

func TestExportReader(t *testing.T) {
	t.Run("Records", func(t *testing.T) {
		ids, err := readAllExport(t, exportLine+"\n\n"+strings.Replace(exportLine, "evt_1", "evt_2", 1))
		if err != nil || strings.Join(ids, ",") != "evt_1,evt_2" {
			t.Fatalf("got %v, %v", ids, err)
		}
	})
	t.Run("BadLineNamed", func(t *testing.T) {
		_, err := readAllExport(t, exportLine+"\n\n{not json\n"+exportLine+"\n")
		var le *relay.LineError
		if !errors.As(err, &le) || le.Line != 3 || !strings.HasPrefix(err.Error(), "line 3: ") || relay.ErrorCode(err) != relay.EINVALID {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("LastLineCut", func(t *testing.T) {
		ids, err := readAllExport(t, exportLine+"\n"+exportLine[:40])
		if len(ids) != 1 || err == nil || !strings.Contains(err.Error(), "line 2: ") || !strings.Contains(err.Error(), "export cut short") {
			t.Fatalf("got %v, %v", ids, err)
		}
	})
	t.Run("FailureLine", func(t *testing.T) {
		var b strings.Builder
		w := relay.NewExportWriter(&b)
		rec, err := relay.ParseExportRecord([]byte(exportLine))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Fail(relay.Errorf(relay.EUNAVAILABLE, "store closed")); err != nil {
			t.Fatal(err)
		}
		ids, err := readAllExport(t, b.String())
		var cut *relay.ExportCutError
		if len(ids) != 1 || !errors.As(err, &cut) || cut.Code != relay.EUNAVAILABLE || !strings.Contains(err.Error(), "store closed") {
			t.Fatalf("got %v, %v", ids, err)
		}
	})
	t.Run("LineTooLong", func(t *testing.T) {
		_, err := readAllExport(t, exportLine+"\n"+strings.Repeat("x", relay.MaxExportLine+1)+"\n")
		var le *relay.LineError
		if !errors.As(err, &le) || le.Line != 2 {
			t.Fatalf("got %v", err)
		}
	})
}
