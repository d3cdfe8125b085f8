package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Sign returns the lowercase hex HMAC-SHA256, with key, of the TagihanAI
// signed payload: timestamp, ".", body. It is what a v1 value carries.
func Sign(key []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// SignatureHeader returns the X-TagihanAI-Signature value
// "t=<timestamp>,v1=<Sign(key, timestamp, body)>", the primary form, which
// the send and replay commands post and Verify accepts.
func SignatureHeader(key []byte, timestamp string, body []byte) string {
	return "t=" + timestamp + ",v1=" + Sign(key, timestamp, body)
}

// StandardSignature returns the Standard Webhooks webhook-signature value
// "v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>" that the
// HTTP forward sink sends (SPEC 3.1). key comes from StandardKey; id is the
// webhook-id (the event id) and timestamp the webhook-timestamp, in Unix
// seconds, exactly as sent in those headers.
func StandardSignature(key []byte, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
