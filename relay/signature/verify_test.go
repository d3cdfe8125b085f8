package signature_test

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// The one valid delivery every case starts from.
var (
	testNow       = time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z
	testTolerance = 5 * time.Minute
	testTS        = "1767225600"
	testBody      = []byte(`{"id":"evt_01JGZ8T6Q4","type":"transaction.paid"}`)
	keyCurrent    = []byte("whsec_test_current")
	keyPrevious   = []byte("whsec_test_previous")
	keyStranger   = []byte("whsec_someone_else")
)

// delivery is what the HTTP layer hands the verifier, plus the keys it was
// configured with.
type delivery struct {
	sig, ts string
	body    []byte
	keys    [][]byte
}

func validDelivery() delivery {
	return delivery{
		sig:  signature.SignatureHeader(keyCurrent, testTS, testBody),
		body: append([]byte(nil), testBody...),
		keys: [][]byte{keyCurrent, keyPrevious},
	}
}

// unix renders now+d as decimal Unix seconds.
func unix(d time.Duration) string {
	return strconv.FormatInt(testNow.Add(d).Unix(), 10)
}

// hexOf returns the v1 digest of a SignatureHeader value.
func hexOf(header string) string {
	_, v1, _ := strings.Cut(header, ",v1=")
	return v1
}

func TestVerifier_Verify(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(d *delivery)
		wantErr error
	}{
		{"OK", func(d *delivery) {}, nil},

		// Secrets and rotation.
		{"WrongSecret", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyStranger, testTS, d.body)
		}, signature.ErrNoValidSignature},
		{"RotationSecondSecretMatches", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyPrevious, testTS, d.body)
		}, nil},
		{"RotationOldSecretDropped", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyPrevious, testTS, d.body)
			d.keys = [][]byte{keyCurrent}
		}, signature.ErrNoValidSignature},
		{"NoKeysConfigured", func(d *delivery) { d.keys = nil }, signature.ErrNoValidSignature},
		{"EmptyKeyNeverMatches", func(d *delivery) {
			d.sig = signature.SignatureHeader(nil, testTS, d.body)
			d.keys = [][]byte{{}, keyCurrent}
		}, signature.ErrNoValidSignature},
		{"Base64KeyEncoding", func(d *delivery) {
			key, err := signature.DecodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64")
			if err != nil {
				panic(err)
			}
			d.sig = signature.SignatureHeader(key, testTS, d.body)
			d.keys = [][]byte{key}
		}, nil},
		{"Base64SignedRawConfigured", func(d *delivery) {
			key, _ := signature.DecodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64")
			d.sig = signature.SignatureHeader(key, testTS, d.body)
			d.keys = [][]byte{[]byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")}
		}, signature.ErrNoValidSignature},

		// Payload.
		{"BodyChangedOneByte", func(d *delivery) { d.body[len(d.body)-2] ^= 1 }, signature.ErrNoValidSignature},
		{"BodyReserialized", func(d *delivery) {
			d.body = []byte(`{"id": "evt_01JGZ8T6Q4", "type": "transaction.paid"}`)
		}, signature.ErrNoValidSignature},
		{"TimestampSignedAsSent", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyCurrent, "0"+testTS, d.body)
		}, nil},
		{"TimestampNotAsSigned", func(d *delivery) {
			d.sig = "t=0" + testTS + ",v1=" + hexOf(d.sig)
		}, signature.ErrNoValidSignature},

		// Replay window.
		{"Stale", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyCurrent, unix(-testTolerance-time.Second), d.body)
		}, signature.ErrTooOld},
		{"Future", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyCurrent, unix(testTolerance+time.Second), d.body)
		}, signature.ErrTooNew},
		{"OldEdgeAccepted", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyCurrent, unix(-testTolerance), d.body)
		}, nil},
		{"NewEdgeAccepted", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyCurrent, unix(testTolerance), d.body)
		}, nil},
		{"StaleWrongSecretIsTooOld", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyStranger, unix(-time.Hour), d.body)
		}, signature.ErrTooOld},
		{"Milliseconds", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyCurrent, testTS+"123", d.body)
		}, nil},
		{"MillisecondsStale", func(d *delivery) {
			ms := strconv.FormatInt(testNow.Add(-testTolerance-time.Millisecond).UnixMilli(), 10)
			d.sig = signature.SignatureHeader(keyCurrent, ms, d.body)
		}, signature.ErrTooOld},
		{"FarFuture", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyCurrent, "253402300799", d.body)
		}, signature.ErrTooNew},
		{"BeyondYear9999", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyCurrent, "253402300800", d.body)
		}, signature.ErrMalformedHeader},
		{"Int64Overflow", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyCurrent, "99999999999999999999", d.body)
		}, signature.ErrMalformedHeader},

		// Header syntax.
		{"ExtraSpaces", func(d *delivery) {
			d.sig = "  t = " + testTS + " ,  v1= " + hexOf(d.sig) + "  "
		}, nil},
		{"UppercaseHex", func(d *delivery) {
			d.sig = "t=" + testTS + ",v1=" + strings.ToUpper(hexOf(d.sig))
		}, nil},
		{"UppercaseKeys", func(d *delivery) {
			d.sig = "T=" + testTS + ",V1=" + hexOf(d.sig)
		}, nil},
		{"TruncatedSignature", func(d *delivery) { d.sig = d.sig[:len(d.sig)-1] }, signature.ErrMalformedHeader},
		{"TruncatedSignatureOddHex", func(d *delivery) { d.sig = d.sig[:len(d.sig)-2] }, signature.ErrMalformedHeader},
		{"MissingT", func(d *delivery) { d.sig = "v1=" + hexOf(d.sig) }, signature.ErrMalformedHeader},
		{"TInTimestampHeaderV1", func(d *delivery) {
			d.sig, d.ts = "v1="+hexOf(d.sig), testTS
		}, nil},
		{"TInTimestampHeaderBare", func(d *delivery) {
			d.sig, d.ts = hexOf(d.sig), testTS
		}, nil},
		{"TInTimestampHeaderSHA256", func(d *delivery) {
			d.sig, d.ts = "sha256="+hexOf(d.sig), testTS
		}, nil},
		{"TimestampHeaderStale", func(d *delivery) {
			d.ts = unix(-time.Hour)
			d.sig = hexOf(signature.SignatureHeader(keyCurrent, d.ts, d.body))
		}, signature.ErrTooOld},
		{"BareWithoutTimestampHeader", func(d *delivery) { d.sig = hexOf(d.sig) }, signature.ErrMalformedHeader},
		{"TWinsOverTimestampHeader", func(d *delivery) { d.ts = unix(-time.Hour) }, nil},
		{"TimestampHeaderIgnoredWithT", func(d *delivery) {
			d.ts = unix(time.Second)
			d.sig = "t=" + testTS + ",v1=" + hexOf(signature.SignatureHeader(keyCurrent, d.ts, d.body))
		}, signature.ErrNoValidSignature},
		{"RepeatedV1SecondMatches", func(d *delivery) {
			wrong := hexOf(signature.SignatureHeader(keyStranger, testTS, d.body))
			d.sig = "t=" + testTS + ",v1=" + wrong + ",v1=" + hexOf(d.sig)
		}, nil},
		{"RepeatedV1NoneMatch", func(d *delivery) {
			wrong := hexOf(signature.SignatureHeader(keyStranger, testTS, d.body))
			d.sig = "t=" + testTS + ",v1=" + wrong + ",v1=" + wrong
		}, signature.ErrNoValidSignature},
		{"InvalidV1IgnoredBesideValid", func(d *delivery) {
			d.sig = "t=" + testTS + ",v1=zz,v1=" + hexOf(d.sig)
		}, nil},
		{"UnknownKeysIgnored", func(d *delivery) {
			d.sig = "t=" + testTS + ",v0=abc,scheme=hmac,v1=" + hexOf(d.sig) + ","
		}, nil},
		{"OnlyUnknownScheme", func(d *delivery) {
			d.sig = "t=" + testTS + ",v0=" + hexOf(d.sig)
		}, signature.ErrMalformedHeader},
		{"TNotDecimal", func(d *delivery) { d.sig = strings.Replace(d.sig, "t=", "t=x", 1) }, signature.ErrMalformedHeader},
		{"TNegative", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyCurrent, "-"+testTS, d.body)
		}, signature.ErrMalformedHeader},
		{"TRepeated", func(d *delivery) { d.sig = "t=" + testTS + "," + d.sig }, signature.ErrMalformedHeader},
		{"EmptyHeader", func(d *delivery) { d.sig = "" }, signature.ErrMissingSignature},
		{"BlankHeader", func(d *delivery) { d.sig = " \t " }, signature.ErrMissingSignature},
		{"Garbage", func(d *delivery) { d.sig = "garbage" }, signature.ErrMalformedHeader},
		{"GarbageCommas", func(d *delivery) { d.sig = ",,,=,=" }, signature.ErrMalformedHeader},
		{"PartWithoutEquals", func(d *delivery) { d.sig += ",junk" }, signature.ErrMalformedHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDelivery()
			tt.mutate(&d)
			v := signature.NewVerifier(d.keys, testTolerance).WithClock(func() time.Time { return testNow })

			err := v.Verify(d.sig, d.ts, d.body)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Verify(%q, %q) = %v, want %v", d.sig, d.ts, err, tt.wantErr)
			}
			if got, want := signature.Code(err), signature.Code(tt.wantErr); got != want {
				t.Errorf("Code = %q, want %q", got, want)
			}

			// The verify command must tell the same story as the ingest path.
			r := signature.Explain(d.sig, d.ts, d.body, d.keys, testTolerance, testNow)
			if r.OK != (tt.wantErr == nil) || !errors.Is(r.Err, tt.wantErr) || r.Code != signature.Code(tt.wantErr) {
				t.Errorf("Explain: OK=%v Err=%v Code=%q, want err %v", r.OK, r.Err, r.Code, tt.wantErr)
			}
		})
	}
}

func TestVerifier_WithClock(t *testing.T) {
	d := validDelivery()
	v := signature.NewVerifier(d.keys, testTolerance)
	if err := v.Verify(d.sig, d.ts, d.body); !errors.Is(err, signature.ErrTooOld) && !errors.Is(err, signature.ErrTooNew) {
		// Only true while the wall clock is more than 5 minutes from 2026-01-01.
		if time.Since(testNow).Abs() > testTolerance {
			t.Fatalf("real clock: Verify = %v, want out of tolerance", err)
		}
	}
	fixed := v.WithClock(func() time.Time { return testNow })
	if err := fixed.Verify(d.sig, d.ts, d.body); err != nil {
		t.Fatalf("fixed clock: Verify = %v", err)
	}
	if err := v.WithClock(nil).Verify(d.sig, d.ts, d.body); err == nil && time.Since(testNow).Abs() > testTolerance {
		t.Fatal("WithClock(nil) did not fall back to time.Now")
	}
}

func TestNewVerifier_CopiesKeys(t *testing.T) {
	d := validDelivery()
	key := append([]byte(nil), keyCurrent...)
	v := signature.NewVerifier([][]byte{key}, testTolerance).WithClock(func() time.Time { return testNow })
	key[0] ^= 0xff
	if err := v.Verify(d.sig, d.ts, d.body); err != nil {
		t.Fatalf("Verify after caller changed its key slice = %v", err)
	}
}

func TestNewVerifier_NegativeTolerance(t *testing.T) {
	d := validDelivery()
	v := signature.NewVerifier(d.keys, -time.Hour).WithClock(func() time.Time { return testNow })
	if err := v.Verify(d.sig, d.ts, d.body); err != nil {
		t.Fatalf("t == now with negative tolerance: Verify = %v", err)
	}
	d.sig = signature.SignatureHeader(keyCurrent, unix(-time.Second), d.body)
	if err := v.Verify(d.sig, d.ts, d.body); !errors.Is(err, signature.ErrTooOld) {
		t.Fatalf("Verify = %v, want ErrTooOld", err)
	}
}

// TestVerifier_Concurrent shares one Verifier (and its pools) between
// goroutines; run with -race.
func TestVerifier_Concurrent(t *testing.T) {
	v := signature.NewVerifier([][]byte{keyCurrent, keyPrevious}, testTolerance).WithClock(func() time.Time { return testNow })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := [][]byte{keyCurrent, keyPrevious, keyStranger}[g%3]
			body := []byte(`{"n":` + strconv.Itoa(g) + `}`)
			sig := signature.SignatureHeader(key, testTS, body)
			for range 200 {
				err := v.Verify(sig, "", body)
				if want := g%3 == 2; errors.Is(err, signature.ErrNoValidSignature) != want {
					t.Errorf("goroutine %d: Verify = %v", g, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{signature.ErrMissingSignature, "missing_signature"},
		{signature.ErrMalformedHeader, "malformed_signature"},
		{signature.ErrTooOld, "timestamp_out_of_tolerance"},
		{signature.ErrTooNew, "timestamp_out_of_tolerance"},
		{signature.ErrNoValidSignature, "signature_mismatch"},
		{errors.Join(errors.New("httpapi"), signature.ErrTooNew), "timestamp_out_of_tolerance"},
		{errors.New("something else"), "malformed_signature"},
	}
	for _, tt := range tests {
		if got := signature.Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	// Detailed parse errors keep their code.
	_, err := signature.ParseHeader("t=1,v1=zz", "")
	if got := signature.Code(err); got != "malformed_signature" {
		t.Errorf("Code(%v) = %q", err, got)
	}
}

func BenchmarkVerify(b *testing.B) {
	body := []byte(strings.Repeat(`{"id":"evt_01JGZ8T6Q4","type":"transaction.paid"}`, 40)) // ~2 KiB
	sig := signature.SignatureHeader(keyPrevious, testTS, body)
	v := signature.NewVerifier([][]byte{keyCurrent, keyPrevious}, testTolerance).WithClock(func() time.Time { return testNow })
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := v.Verify(sig, "", body); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifier_ZeroValue(t *testing.T) {
	d := validDelivery()
	d.sig = signature.SignatureHeader(keyCurrent, strconv.FormatInt(time.Now().Unix(), 10), d.body)
	var v signature.Verifier
	if err := v.Verify(d.sig, d.ts, d.body); err == nil {
		t.Fatal("zero Verifier accepted a delivery")
	}
	v2 := v.WithClock(func() time.Time { return testNow })
	if err := v2.Verify(signature.SignatureHeader(keyCurrent, testTS, d.body), "", d.body); !errors.Is(err, signature.ErrNoValidSignature) {
		t.Fatalf("Verify = %v, want ErrNoValidSignature", err)
	}
}
