package signature_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

func TestSign(t *testing.T) {
	// Golden value computed outside Go (Python's hmac module).
	const want = "a62b7427173685556dfbf8961a1fe4339d954f0a5d57fd7a56ba8af01d63b832"
	if got := signature.Sign(keyCurrent, testTS, testBody); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if got := signature.SignatureHeader(keyCurrent, testTS, testBody); got != "t="+testTS+",v1="+want {
		t.Errorf("SignatureHeader = %s", got)
	}
}

func TestStandardSignature(t *testing.T) {
	t.Run("ReferenceVector", func(t *testing.T) {
		// The Standard Webhooks libraries' shared test vector.
		key, err := signature.StandardKey(standardSecret)
		if err != nil {
			t.Fatal(err)
		}
		got := signature.StandardSignature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`))
		if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
			t.Errorf("StandardSignature = %s, want %s", got, want)
		}
	})
	t.Run("IndependentHMAC", func(t *testing.T) {
		key := []byte("any key bytes")
		m := hmac.New(sha256.New, key)
		m.Write([]byte("evt_01JGZ8T6Q4.1767225600." + string(testBody)))
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		if got := signature.StandardSignature(key, "evt_01JGZ8T6Q4", testTS, testBody); got != want {
			t.Errorf("StandardSignature = %s, want %s", got, want)
		}
	})
}

func TestSign_IndependentHMAC(t *testing.T) {
	m := hmac.New(sha256.New, keyPrevious)
	m.Write([]byte(testTS + "." + string(testBody)))
	if got, want := signature.Sign(keyPrevious, testTS, testBody), hex.EncodeToString(m.Sum(nil)); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}
