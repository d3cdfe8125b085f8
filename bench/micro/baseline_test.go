package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// The baselines below are the irreducible cost of what each measured
// function does, run in the same `go test` invocation so that a ratio, not
// an absolute time on a noisy machine, is what the report compares.

// BenchmarkBaselineHMAC is one HMAC-SHA256 over the ~2 KiB body
// relay/signature's BenchmarkVerify uses, plus the hex decode and
// hmac.Equal of the received signature: a verifier with nothing else.
func BenchmarkBaselineHMAC(b *testing.B) {
	body := []byte(strings.Repeat(`{"id":"evt_01JGZ8T6Q4","type":"transaction.paid"}`, 40))
	key := []byte("whsec_previous_secret")
	ts := "1767225600"
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "."))
	m.Write(body)
	sig := hex.EncodeToString(m.Sum(nil))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		got, err := hex.DecodeString(sig)
		if err != nil {
			b.Fatal(err)
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(ts))
		m.Write([]byte{'.'})
		m.Write(body)
		if !hmac.Equal(m.Sum(nil), got) {
			b.Fatal("mismatch")
		}
	}
}

// BenchmarkBaselineJSONMap is json.Unmarshal of the same fixture bodies
// relay's BenchmarkReadEnvelope and BenchmarkPrepare read, into a
// map[string]any: what a naive handler does to look at a webhook.
func BenchmarkBaselineJSONMap(b *testing.B) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, typ := range []string{"transaction.paid", "payment.completed", "party.updated"} {
		body, err := fixtures.Body(typ, fixtures.Options{EventID: "evt_01JGZ8T6Q4BENCH", Now: now,
			TransactionID: "550e8400-e29b-41d4-a716-446655440000", DocumentNumber: "INV-2026-0042"})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(typ, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBaselineBoltUpdate is what a store without group commit would
// do: 8 goroutines (BenchmarkIngest's parallelism), each event its own
// bbolt Update (one 1 KiB Put, fsync) on a file in the same temp dir.
func BenchmarkBaselineBoltUpdate(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "baseline.db"), 0o600, &bolt.Options{
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("events")); return err }); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 1024)
	var seq atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := make([]byte, 8)
		for pb.Next() {
			binary.BigEndian.PutUint64(key, seq.Add(1))
			if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("events")).Put(key, value) }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
