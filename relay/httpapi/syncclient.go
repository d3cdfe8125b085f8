package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// The connect and reconcile calls of Client (SPEC 7): the same SourceSync
// the service runs, over the admin API.

var _ relay.SourceSync = (*Client)(nil)

// Connect is POST /v1/sources/{name}/connect.
func (c *Client) Connect(ctx context.Context, name string, req relay.ConnectRequest) (relay.ConnectResult, error) {
	var res relay.ConnectResult
	err := c.sendJSON(ctx, http.MethodPost, sourcePath(name)+"/connect", req, &res)
	return res, err
}

// Disconnect is POST /v1/sources/{name}/disconnect; it returns the
// deleted subscription's id.
func (c *Client) Disconnect(ctx context.Context, name string) (string, error) {
	var res Disconnected
	err := c.sendJSON(ctx, http.MethodPost, sourcePath(name)+"/disconnect", struct{}{}, &res)
	return res.WebhookID, err
}

// Reconcile is POST /v1/sources/{name}/reconcile.
func (c *Client) Reconcile(ctx context.Context, name string, window time.Duration, fix bool) (relay.ReconcileReport, error) {
	var rep relay.ReconcileReport
	req := ReconcileRequest{Fix: fix}
	if window > 0 {
		req.Since = window.String()
	}
	err := c.sendJSON(ctx, http.MethodPost, sourcePath(name)+"/reconcile", req, &rep)
	return rep, err
}

// LastReport is GET /v1/sources/{name}/reconcile; false when the source
// has no report (or the relay cannot be asked).
func (c *Client) LastReport(name string) (relay.ReconcileReport, bool) {
	var rep relay.ReconcileReport
	if err := c.getJSON(context.Background(), sourcePath(name)+"/reconcile", nil, &rep); err != nil {
		return rep, false
	}
	return rep, true
}
