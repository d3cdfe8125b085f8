package signature_test

import (
	"fmt"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

func ExampleVerifier_Verify() {
	key, err := signature.DecodeSecret("whsec_test_current", "raw")
	if err != nil {
		panic(err)
	}
	now := time.Unix(1767225600, 0)
	v := signature.NewVerifier([][]byte{key}, 5*time.Minute).WithClock(func() time.Time { return now })

	body := []byte(`{"id":"evt_01JGZ8T6Q4","type":"transaction.paid"}`)
	header := signature.SignatureHeader(key, "1767225600", body)
	fmt.Println(header)

	// The HTTP layer passes the raw headers and body, then answers 401 with
	// Code(err) on failure.
	fmt.Printf("%q\n", signature.Code(v.Verify(header, "", body)))
	fmt.Println(signature.Code(v.Verify(header, "", []byte(`{"id":"evt_01JGZ8T6Q4","type":"transaction.void"}`))))
	fmt.Println(signature.Code(v.WithClock(func() time.Time { return now.Add(time.Hour) }).Verify(header, "", body)))
	fmt.Println(signature.Code(v.Verify("", "", body)))
	// Output:
	// t=1767225600,v1=a62b7427173685556dfbf8961a1fe4339d954f0a5d57fd7a56ba8af01d63b832
	// ""
	// signature_mismatch
	// timestamp_out_of_tolerance
	// missing_signature
}

func ExampleStandardSignature() {
	// The Standard Webhooks reference test vector.
	key, err := signature.StandardKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	fmt.Println(signature.StandardSignature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`)))
	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

func ExampleExplain() {
	body := []byte(`{"id":"evt_01JGZ8T6Q4","type":"transaction.paid"}`)
	sent := signature.SignatureHeader([]byte("whsec_old"), "1767225300", body)
	now := time.Unix(1767225600, 0)

	r := signature.Explain(sent, "", body, [][]byte{[]byte("whsec_test_current")}, 4*time.Minute, now)
	fmt.Print(r)
	// Output:
	// verdict:   FAIL timestamp_out_of_tolerance: signature: timestamp is older than the tolerance
	// form:      t=<timestamp>,v1=<hex> (timestamp from t=)
	// timestamp: 1767225300 = 2025-12-31T23:55:00Z
	// skew:      5 minutes in the past (now - t = 5m0s, tolerance ±4m0s): too old
	// received:  #1 399e933cad10…
	// expected:  secret #1 d3a18d1136e1…
	// hint:      the timestamp is outside the window, and no signature matches either
}

func ExampleVerifier_CheckHeader() {
	key := []byte("whsec_test_current")
	now := time.Unix(1767225600, 0)
	v := signature.NewVerifier([][]byte{key}, 5*time.Minute).WithClock(func() time.Time { return now })
	body := []byte(`{"id":"evt_01JGZ8T6Q4","type":"transaction.paid"}`)

	// Before reading the body: a stale header is refused without it.
	_, err := v.CheckHeader(signature.SignatureHeader(key, "1767220000", body), "")
	fmt.Println(signature.Code(err))

	// A timely header: read the body, then check its HMAC.
	c, err := v.CheckHeader(signature.SignatureHeader(key, "1767225600", body), "")
	fmt.Printf("%q\n", signature.Code(err))
	fmt.Printf("%q\n", signature.Code(v.VerifyBody(c, body)))
	fmt.Println(signature.Code(v.VerifyBody(c, []byte("tampered"))))
	// Output:
	// timestamp_out_of_tolerance
	// ""
	// ""
	// signature_mismatch
}
