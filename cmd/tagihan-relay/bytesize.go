package main

import (
	"errors"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes read from the environment: a whole number of
// bytes ("1048576", "512B") or a whole number with a unit, binary KiB, MiB,
// GiB (1024-based) or decimal KB, MB, GB (1000-based), case-insensitive,
// optionally with a space before the unit ("64MiB", "64 MiB").
type ByteSize int64

// errByteSize explains the accepted forms.
var errByteSize = errors.New(`want a whole number of bytes, optionally with a unit: B, KiB, MiB, GiB (1024-based) or KB, MB, GB (1000-based), e.g. 64MiB`)

var byteUnits = map[string]int64{
	"": 1, "b": 1,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
}

// UnmarshalText implements encoding.TextUnmarshaler (caarlos0/env uses it).
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return errByteSize
	}
	unit, ok := byteUnits[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return errByteSize
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > (1<<62)/unit {
		return errors.New("too large")
	}
	*b = ByteSize(n * unit)
	return nil
}
