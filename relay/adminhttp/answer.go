package adminhttp

import (
	"errors"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Answer is how the listeners answer an error a handler returned: an
// *echo.HTTPError (Echo's own 404 and 405, a handler's explicit status) by
// its status and message, anything else by relay's one code → status table
// (relay.AnswerError). The admin API and ingest write it as JSON, the
// console as an HTML page with the same status.
func Answer(err error) relay.HTTPAnswer {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg, _ := he.Message.(string)
		return relay.AnswerStatus(he.Code, msg)
	}
	return relay.AnswerError(err)
}
