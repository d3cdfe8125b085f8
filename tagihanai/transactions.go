package tagihanai

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// TransactionSummary is a transaction as GET /transactions lists it: enough
// to tell which documents exist and in what state. Transaction returns the
// whole object.
type TransactionSummary struct {
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	DocumentNumber string    `json:"document_number"`
	DocumentDate   string    `json:"document_date"`
	Status         string    `json:"status"`
	PaymentStatus  string    `json:"payment_status"`
	ReceiverName   string    `json:"receiver_name"`
	CreatedAt      time.Time `json:"created_at"`
}

// TransactionQuery filters Transactions: the query parameters type, status,
// date_from and date_to (document_date bounds, YYYY-MM-DD), each sent only
// when not empty.
type TransactionQuery struct{ Type, Status, DateFrom, DateTo string } // query params type, status, date_from, date_to (empty: not sent)

// Transactions calls fn for each transaction matching q, every page (per_page=100, page=1..) until pagination.has_more is false.
//
// It reads GET /transactions (scope transactions:read). An answer without
// has_more ends the walk when it holds fewer than 100 entries. 429, 5xx and
// network errors are retried within the call. An error from fn stops the
// walk and is returned as is; every other error is an *Error.
func (c *Client) Transactions(ctx context.Context, q TransactionQuery, fn func(TransactionSummary) error) error {
	const op = "list transactions"
	v := url.Values{}
	for k, s := range map[string]string{"type": q.Type, "status": q.Status, "date_from": q.DateFrom, "date_to": q.DateTo} {
		if s != "" {
			v.Set(k, s)
		}
	}
	req := request{op: op, scope: scopeTransactionsRead, method: http.MethodGet, path: "/transactions", query: v, retry: retryIdempotent}
	return c.eachItem(ctx, req, "transactions", func(op string, raw json.RawMessage) error {
		var t TransactionSummary
		if err := decodeItem(op, raw, "transaction", &t); err != nil {
			return err
		}
		return fn(t)
	})
}
