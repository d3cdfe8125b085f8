package relay

import "testing"

func TestSourceNames(t *testing.T) {
	for _, tc := range []struct{ source, sink, want string }{
		{"", "ap", "ap"},
		{DefaultSource, "ap", "ap"},
		{"acme", "ap", "acme/ap"},
	} {
		got := SourceSinkName(tc.source, tc.sink)
		if got != tc.want {
			t.Errorf("SourceSinkName(%q, %q) = %q, want %q", tc.source, tc.sink, got, tc.want)
		}
		src, sink := SinkSource(got)
		wantSrc := tc.source
		if wantSrc == "" {
			wantSrc = DefaultSource
		}
		if src != wantSrc || sink != tc.sink {
			t.Errorf("SinkSource(%q) = %q, %q", got, src, sink)
		}
	}
	if got := SourceEventID("acme", "evt_1"); got != "acme:evt_1" {
		t.Errorf("SourceEventID = %q", got)
	}
	if got := SourceEventID(DefaultSource, "evt_1"); got != "evt_1" {
		t.Errorf("SourceEventID(default) = %q", got)
	}
	if got := SourceEventID("acme", ""); got != "" {
		t.Errorf("SourceEventID(acme, \"\") = %q, want empty", got)
	}
}

func TestEventSource(t *testing.T) {
	for _, tc := range []struct{ source, stored, read string }{
		{"", "", DefaultSource},
		{DefaultSource, "", DefaultSource},
		{"acme", "acme", "acme"},
	} {
		stored := StoredSource(tc.source)
		if stored != tc.stored {
			t.Errorf("StoredSource(%q) = %q, want %q", tc.source, stored, tc.stored)
		}
		if got := EventSource(stored); got != tc.read {
			t.Errorf("EventSource(%q) = %q, want %q", stored, got, tc.read)
		}
	}
}

func TestCheckSourceFilter(t *testing.T) {
	for _, ok := range []string{"", DefaultSource, "acme", "0-first"} {
		if err := CheckSourceFilter(ok); err != nil {
			t.Errorf("CheckSourceFilter(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"Acme", "-acme", "acme/ap", "a b", "acme:evt"} {
		if err := CheckSourceFilter(bad); ErrorCode(err) != EINVALID {
			t.Errorf("CheckSourceFilter(%q) = %v, want invalid", bad, err)
		}
	}
}
