package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func cmdVerify(env *cliEnv, args []string) error {
	fs := env.flags("verify")
	var header, sig, ts, bodyPath, tolerance string
	var secrets stringList
	fs.StringVar(&header, "header", "", `the signature header as received, e.g. "X-TagihanAI-Signature: t=...,v1=..." (or just its value)`)
	fs.StringVar(&sig, "signature", "", "the X-TagihanAI-Signature value")
	fs.StringVar(&ts, "timestamp", "", "the X-TagihanAI-Timestamp value (for the bare/sha256=/v1= forms)")
	fs.StringVar(&bodyPath, "body", "", "file with the raw body exactly as received (- for stdin)")
	fs.Var(&secrets, "secret", "a signing secret (repeat for several; default the configured ones)")
	fs.StringVar(&tolerance, "tolerance", "", "replay window (default TAGIHANAI_SIGNATURE_TOLERANCE or 5m)")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if bodyPath == "" {
		return &usageError{"verify: --body FILE is required (- reads stdin)"}
	}
	if header != "" {
		if name, value, ok := strings.Cut(header, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "X-TagihanAI-Signature") {
			header = value
		}
		sig = strings.TrimSpace(header)
	}
	var body []byte
	var err error
	if bodyPath == "-" {
		body, err = io.ReadAll(env.stdin)
	} else {
		body, err = os.ReadFile(bodyPath)
	}
	if err != nil {
		return fmt.Errorf("verify: read body: %w", err)
	}
	m, err := env.envMap()
	if err != nil {
		return err
	}
	enc := m["TAGIHANAI_SECRET_ENCODING"]
	var keys [][]byte
	if len(secrets) == 0 {
		if list := m["TAGIHANAI_WEBHOOK_SECRETS"]; list != "" {
			secrets = strings.Split(list, ",")
		}
	}
	for i, s := range secrets {
		k, err := signature.DecodeSecret(strings.TrimSpace(s), enc)
		if err != nil {
			return fmt.Errorf("verify: secret %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		k, err := signingKey("", m)
		if err != nil {
			return err
		}
		keys = [][]byte{k}
	}
	tol := 5 * time.Minute
	if tolerance == "" {
		tolerance = m["TAGIHANAI_SIGNATURE_TOLERANCE"]
	}
	if tolerance != "" {
		if tol, err = time.ParseDuration(tolerance); err != nil {
			return &usageError{fmt.Sprintf("verify: tolerance %q: %v", tolerance, err)}
		}
	}
	r := signature.Explain(sig, ts, body, keys, tol, time.Now())
	fmt.Fprint(env.stdout, r.String())
	if !strings.HasSuffix(r.String(), "\n") {
		fmt.Fprintln(env.stdout)
	}
	if !r.OK {
		return errSilent
	}
	return nil
}
