package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// signingKey finds the secret to sign with: the flag, else the first
// configured secret, else the zero-config file in RELAY_DATA_DIR.
func signingKey(flagSecret string, m map[string]string) ([]byte, error) {
	secret := flagSecret
	if secret == "" {
		if list := m["TAGIHANAI_WEBHOOK_SECRETS"]; list != "" {
			secret = strings.TrimSpace(strings.Split(list, ",")[0])
		}
	}
	if secret == "" {
		dir := m["RELAY_DATA_DIR"]
		if dir == "" {
			dir = "./data"
		}
		b, err := os.ReadFile(secretFile(dir))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no signing secret: pass --secret, set TAGIHANAI_WEBHOOK_SECRETS, or start `tagihan-relay serve` once (it creates %s)", secretFile(dir))
		}
		if err != nil {
			return nil, err
		}
		secret = strings.TrimSpace(string(b))
	}
	enc := m["TAGIHANAI_SECRET_ENCODING"]
	key, err := signature.DecodeSecret(secret, enc)
	if err != nil {
		return nil, &relay.ConfigError{Var: "TAGIHANAI_SECRET_ENCODING", Value: enc, Err: err}
	}
	return key, nil
}

// signedRequest builds a POST signed the way TagihanAI signs.
func signedRequest(url string, key, body []byte, eventID string, now time.Time) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tagihan-relay-send/"+version)
	req.Header.Set(relay.HeaderSignature, signature.SignatureHeader(key, ts, body))
	if eventID != "" {
		req.Header.Set(relay.HeaderEventID, eventID)
	}
	return req, nil
}

func cmdSend(env *cliEnv, args []string) error {
	fs := env.flags("send")
	var url, secret, id, subject, doc, source string
	var list, printBody bool
	fs.StringVar(&url, "url", "", "webhook URL (default http://<RELAY_LISTEN_ADDR>/webhooks/tagihanai, or .../webhooks/tagihanai/<source> with --source)")
	fs.StringVar(&source, "source", "", "post to this run-time source's endpoint (give its --secret)")
	fs.StringVar(&secret, "secret", "", "signing secret (default: first of TAGIHANAI_WEBHOOK_SECRETS, else <RELAY_DATA_DIR>/webhook-secret)")
	fs.StringVar(&id, "id", "", "event id (default a new random evt_...)")
	fs.StringVar(&subject, "subject", "", "the TagihanAI transaction id the delivery is about: the subject of transaction.* events; payment, subscription and party ids are derived from it (default a new random UUID)")
	fs.StringVar(&doc, "document-number", "", "the invoice number (default INV-<year>-<4 random digits>)")
	fs.BoolVar(&list, "list", false, "list the 24 event types")
	fs.BoolVar(&printBody, "print", false, "also print the body sent")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if list {
		for _, t := range fixtures.Types() {
			fmt.Fprintln(env.stdout, t)
		}
		return nil
	}
	if source != "" && url != "" {
		return &usageError{"send: give --source or --url, not both"}
	}
	if source != "" && source != relay.DefaultSource {
		if err := relay.CheckSourceName(source); err != nil {
			return &usageError{"send: --source: " + err.Error()}
		}
		if secret == "" {
			return &usageError{"send: --source " + source + " needs that source's --secret (the environment's secret does not verify there)"}
		}
	}
	if fs.NArg() != 1 {
		return &usageError{"send: give one event type, e.g. `send transaction.paid` (send --list shows all 24)"}
	}
	m, err := env.envMap()
	if err != nil {
		return err
	}
	body, err := fixtures.Body(fs.Arg(0), fixtures.Options{EventID: id, TransactionID: subject, DocumentNumber: doc})
	if err != nil {
		return &usageError{err.Error() + " (send --list shows the 24 types)"}
	}
	key, err := signingKey(secret, m)
	if err != nil {
		return err
	}
	if url == "" {
		url = listenURL(m) + "/webhooks/tagihanai"
		if source != "" {
			url += "/" + source
		}
	}
	env0, _ := relay.ReadEnvelope(body, nil)
	req, err := signedRequest(url, key, body, "", time.Now())
	if err != nil {
		return err
	}
	req = req.WithContext(env.ctx)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("send %s to %s: %w", fs.Arg(0), url, err)
	}
	defer resp.Body.Close()
	answer, _ := relay.ReadAnswer(resp.Body, 64<<10)
	if printBody {
		fmt.Fprintf(env.stdout, "%s\n", body)
	}
	fmt.Fprintf(env.stdout, "%s %s → %s %s\n", fs.Arg(0), env0.ID, resp.Status, strings.TrimSpace(string(answer)))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errSilent
	}
	return nil
}
