package tagihanai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Webhook is a webhook subscription of the API key's workspace: TagihanAI
// posts the events of EventTypes to URL, signed with SigningSecret.
type Webhook struct {
	ID            string   `json:"id"`
	URL           string   `json:"url"`
	EventTypes    []string `json:"event_types"`
	IsActive      bool     `json:"is_active"`
	Description   string   `json:"description,omitempty"`
	SigningSecret string   `json:"signing_secret,omitempty"` // only in CreateWebhook's answer
}

// TestResult is what TagihanAI reports of the test event it posted: whether
// the endpoint answered 2xx, its status (0 when it did not answer) and how
// long it took.
type TestResult struct {
	Success        bool `json:"success"`
	StatusCode     int  `json:"status_code"`
	ResponseTimeMS int  `json:"response_time_ms"`
}

// WebhookDelivery is one entry of a subscription's delivery log: one
// attempt of TagihanAI to deliver an event.
type WebhookDelivery struct {
	ID             string    `json:"id"`
	EventType      string    `json:"event_type"`
	Status         string    `json:"status"` // success, failed, dead_letter
	ResponseStatus int       `json:"response_status"`
	AttemptNumber  int       `json:"attempt_number"`
	CreatedAt      time.Time `json:"created_at"`
	// EventID and TransactionID are not in the reference's example; read when TagihanAI sends them.
	EventID       string `json:"event_id,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
}

// ListWebhooks returns the workspace's webhook subscriptions (GET
// /webhooks, scope webhooks:read), without their signing secrets.
// 429, 5xx and network errors are retried within the call (see the package
// documentation); errors are *Error.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	const op = "list webhook subscriptions"
	code, body, err := c.do(ctx, request{op: op, scope: scopeWebhooksRead, method: http.MethodGet,
		path: "/webhooks", retry: retryIdempotent})
	if err != nil {
		return nil, err
	}
	env, err := readEnvelope(op, code, body)
	if err != nil {
		return nil, err
	}
	var subs []Webhook
	if err := json.Unmarshal(env.Data, &subs); err != nil {
		return nil, unexpected(op, code, "no list of webhook subscriptions in \"data\"")
	}
	return subs, nil
}

// CreateWebhook creates a subscription for url (POST /webhooks, scope
// webhooks:write) and returns it with the signing secret TagihanAI
// generated, which only this answer carries. eventTypes are TagihanAI's
// event types, or "*" for all.
//
// It is not idempotent, so only failures that surely created nothing are
// retried within the call: 429, 408, 425, 503 and failures to connect.
// After another temporary error the subscription may exist: list them to
// find out (its secret is then lost; delete it). An answer without an id
// or a signing secret is an error matching ErrUnexpectedResponse.
func (c *Client) CreateWebhook(ctx context.Context, url string, eventTypes []string, description string) (Webhook, error) {
	op := fmt.Sprintf("create webhook subscription for %q", url)
	if eventTypes == nil {
		eventTypes = []string{} // the API wants a list; let it say what it thinks of an empty one
	}
	body, err := json.Marshal(struct {
		URL         string   `json:"url"`
		EventTypes  []string `json:"event_types"`
		Description string   `json:"description,omitempty"`
	}{url, eventTypes, description})
	if err != nil {
		return Webhook{}, &Error{Op: op, Err: err}
	}
	code, answer, err := c.do(ctx, request{op: op, scope: scopeWebhooksWrite, method: http.MethodPost,
		path: "/webhooks", body: body, retry: retryUnsent})
	if err != nil {
		return Webhook{}, err
	}
	var sub Webhook
	if err := decodeData(op, code, answer, "webhook subscription", &sub); err != nil {
		return Webhook{}, err
	}
	if sub.ID == "" || sub.SigningSecret == "" {
		// Permanent: trying again would create yet another subscription.
		return sub, &Error{Op: op, StatusCode: code,
			Err: fmt.Errorf("%w: the created subscription has no id or no signing_secret", ErrUnexpectedResponse)}
	}
	return sub, nil
}

// DeleteWebhook deletes subscription id (DELETE /webhooks/:id, scope
// webhooks:write). An unknown id is an error matching ErrNotFound, also
// when a retry within the call finds the subscription already gone.
// Errors are *Error.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	op := fmt.Sprintf("delete webhook subscription %q", id)
	if id == "" {
		return &Error{Op: op, Err: errors.New("empty webhook subscription id")}
	}
	_, _, err := c.do(ctx, request{op: op, scope: scopeWebhooksWrite, method: http.MethodDelete,
		path: "/webhooks/" + url.PathEscape(id), retry: retryIdempotent})
	return err
}

// TestWebhook makes TagihanAI post its synthetic test event to subscription
// id (POST /webhooks/:id/test, scope webhooks:write) and returns what it
// reports of the endpoint's answer. A failed test is a TestResult with
// Success false, not an error; errors are *Error (the call itself failed).
// A temporary failure is retried within the call, which may post the test
// event more than once.
func (c *Client) TestWebhook(ctx context.Context, id string) (TestResult, error) {
	op := fmt.Sprintf("test webhook subscription %q", id)
	if id == "" {
		return TestResult{}, &Error{Op: op, Err: errors.New("empty webhook subscription id")}
	}
	code, body, err := c.do(ctx, request{op: op, scope: scopeWebhooksWrite, method: http.MethodPost,
		path: "/webhooks/" + url.PathEscape(id) + "/test", retry: retryIdempotent})
	if err != nil {
		return TestResult{}, err
	}
	var res TestResult
	err = decodeData(op, code, body, "test result", &res)
	return res, err
}

// WebhookDeliveries calls fn for each entry of the delivery log of webhook id with status ("" all), every page (per_page 100) until the last (a page shorter than per_page, or pagination.has_more false when present).
//
// It reads GET /webhooks/:id/deliveries (scope webhooks:read). When an
// answer has pagination.has_more, that decides alone (a server that pages
// by fewer than 100 is followed). An error from fn stops the walk and is
// returned as is; every other error is an *Error.
func (c *Client) WebhookDeliveries(ctx context.Context, id, status string, fn func(WebhookDelivery) error) error {
	op := fmt.Sprintf("list deliveries of webhook subscription %q", id)
	if id == "" {
		return &Error{Op: op, Err: errors.New("empty webhook subscription id")}
	}
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	req := request{op: op, scope: scopeWebhooksRead, method: http.MethodGet,
		path: "/webhooks/" + url.PathEscape(id) + "/deliveries", query: q, retry: retryIdempotent}
	return c.eachItem(ctx, req, "deliveries", func(op string, raw json.RawMessage) error {
		var d WebhookDelivery
		if err := decodeItem(op, raw, "delivery", &d); err != nil {
			return err
		}
		return fn(d)
	})
}
