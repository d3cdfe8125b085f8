package adminhttp

import (
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// PathID returns the event id in the route parameter name, which clients
// path-escape (url.PathEscape). It is the one id-decoding rule of the admin
// API and the console.
//
// Echo matches on URL.RawPath when it is set (the client's escaping differs
// from Go's default, e.g. an escaped "/" or lower-case hex) and on the
// already decoded URL.Path otherwise, so the parameter is unescaped in the
// first case only: unescaping a decoded "evt_%41" again would give "evt_A",
// another event, and a decoded "evt 100%" would not unescape at all.
func PathID(c echo.Context, name string) (string, error) {
	id := c.Param(name)
	if c.Request().URL.RawPath != "" {
		var err error
		if id, err = url.PathUnescape(id); err != nil {
			id = ""
		}
	}
	if id == "" {
		return "", relay.Errorf(relay.EINVALID, "%s: not a valid path-escaped event id", name)
	}
	return id, nil
}
