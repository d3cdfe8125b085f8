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
