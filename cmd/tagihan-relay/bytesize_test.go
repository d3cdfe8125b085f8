package main

import (
	"strings"
	"testing"
)

func TestLoadConfig_MaxInflightBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "", want: 64 << 20}, // the default
		{in: "64MiB", want: 64 << 20},
		{in: "1MiB", want: 1 << 20},
		{in: "1048576", want: 1 << 20},
		{in: "2097152B", want: 2 << 20},
		{in: "1 GiB", want: 1 << 30},
		{in: "4096kib", want: 4 << 20},
		{in: "5MB", want: 5_000_000},
		{in: "2gb", want: 2_000_000_000},
		{in: "1KiB", wantErr: true}, // below RELAY_MAX_BODY_BYTES
		{in: "0", wantErr: true},
		{in: "-1MiB", wantErr: true},
		{in: "1.5MiB", wantErr: true},
		{in: "64 megabytes", wantErr: true},
		{in: "MiB", wantErr: true},
		{in: "99999999999999999999", wantErr: true},
		{in: "9999999999GiB", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			env := map[string]string{}
			if tt.in != "" {
				env["RELAY_MAX_INFLIGHT_BYTES"] = tt.in
			}
			c, err := loadConfig(env)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "RELAY_MAX_INFLIGHT_BYTES") {
					t.Fatalf("loadConfig = %v, want an error naming RELAY_MAX_INFLIGHT_BYTES", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if int64(c.MaxInflightBytes) != tt.want {
				t.Fatalf("MaxInflightBytes = %d, want %d", c.MaxInflightBytes, tt.want)
			}
		})
	}
}
