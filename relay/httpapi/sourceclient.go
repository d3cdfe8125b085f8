package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// The sources calls of Client (SPEC 6): the same SourceAdmin the service
// runs, over the admin API. Answers hold secrets only as fingerprints.

var _ relay.SourceAdmin = (*Client)(nil)

func sourcePath(name string) string { return "/v1/sources/" + url.PathEscape(name) }

// sendJSON sends in (nil: no body) as application/json with method and
// decodes the answer into out. The Content-Type goes on every call, a
// DELETE without a body included: the admin API refuses a state-changing
// request without it.
func (c *Client) sendJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.do(ctx, method, path, nil, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// ListSources is GET /v1/sources: the default source and every run-time
// one, by name.
func (c *Client) ListSources(ctx context.Context) ([]relay.SourceInfo, error) {
	var l SourceList
	if err := c.getJSON(ctx, "/v1/sources", nil, &l); err != nil {
		return nil, err
	}
	return l.Sources, nil
}

// ShowSource is GET /v1/sources/{name}: the source with its stats.
func (c *Client) ShowSource(ctx context.Context, name string) (relay.SourceInfo, error) {
	var info relay.SourceInfo
	err := c.getJSON(ctx, sourcePath(name), nil, &info)
	return info, err
}

// ApplySource is PUT /v1/sources/{spec.Name}: it creates, replaces or
// leaves alone the source, and says which.
func (c *Client) ApplySource(ctx context.Context, spec relay.SourceSpec) (relay.SourceApplied, error) {
	var res relay.SourceApplied
	err := c.sendJSON(ctx, http.MethodPut, sourcePath(spec.Name), spec, &res)
	return res, err
}

// AddSourceSecret is POST /v1/sources/{name}/secrets.
func (c *Client) AddSourceSecret(ctx context.Context, name, secret string) (relay.SourceInfo, error) {
	var info relay.SourceInfo
	err := c.sendJSON(ctx, http.MethodPost, sourcePath(name)+"/secrets", SecretRequest{Secret: secret}, &info)
	return info, err
}

// RemoveSourceSecret is DELETE /v1/sources/{name}/secrets/{id}; the
// service refuses to remove the last secret.
func (c *Client) RemoveSourceSecret(ctx context.Context, name, id string) (relay.SourceInfo, error) {
	var info relay.SourceInfo
	err := c.sendJSON(ctx, http.MethodDelete, sourcePath(name)+"/secrets/"+url.PathEscape(id), nil, &info)
	return info, err
}

// SetSourceEnabled is POST /v1/sources/{name}/enable or /disable.
func (c *Client) SetSourceEnabled(ctx context.Context, name string, enabled bool) (relay.SourceInfo, error) {
	action := "/disable"
	if enabled {
		action = "/enable"
	}
	var info relay.SourceInfo
	err := c.sendJSON(ctx, http.MethodPost, sourcePath(name)+action, struct{}{}, &info)
	return info, err
}

// DeleteSource is DELETE /v1/sources/{name}: intake stops at once, what
// the source had pending still drains.
func (c *Client) DeleteSource(ctx context.Context, name string) error {
	var out SourceDeleted
	return c.sendJSON(ctx, http.MethodDelete, sourcePath(name), nil, &out)
}
