package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
)

// apiError is the JSON error body everywhere: {"error","message"}.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// errorHandler is the one place errors become JSON responses, on both
// listeners: every handler (ingest and /readyz included) returns its
// error, and adminhttp.Answer gives the status, code and message
// (relay's code → status table). Errors that are no *relay.Error are
// logged, never answered; so are those of a response already begun.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		a := adminhttp.Answer(err)
		if a.Internal {
			log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "error", err)
		}
		if c.Response().Committed {
			// A stream (export, backup) failed after its status was sent.
			return
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(a.Status)
			return
		}
		_ = c.JSON(a.Status, apiError{Error: a.Code, Message: a.Message})
	}
}
