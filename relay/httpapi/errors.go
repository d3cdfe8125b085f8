package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// statusOf maps an application error code to its HTTP status.
func statusOf(code string) int {
	switch code {
	case relay.EFORBIDDENHOST, relay.ECROSSSITE:
		return http.StatusForbidden
	case relay.EUNSUPPORTEDMEDIA:
		return http.StatusUnsupportedMediaType
	case relay.EINVALID:
		return http.StatusBadRequest
	case relay.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case relay.ENOTFOUND:
		return http.StatusNotFound
	case relay.ECONFLICT:
		return http.StatusConflict
	case relay.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// apiError is the JSON error body everywhere: {"error","message"}.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// errorHandler is the one place errors become responses.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var he *echo.HTTPError
		var body apiError
		status := http.StatusInternalServerError
		switch {
		case errors.As(err, &he):
			status = he.Code
			body = apiError{Error: httpCode(he.Code), Message: http.StatusText(he.Code)}
			if m, ok := he.Message.(string); ok && m != "" {
				body.Message = m
			}
		default:
			code := relay.ErrorCode(err)
			status = statusOf(code)
			body = apiError{Error: code, Message: relay.ErrorMessage(err)}
			if code == relay.EINTERNAL {
				log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "error", err)
			}
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(status)
			return
		}
		_ = c.JSON(status, body)
	}
}

func httpCode(status int) string {
	switch status {
	case http.StatusNotFound:
		return relay.ENOTFOUND
	case http.StatusUnauthorized:
		return relay.EUNAUTHORIZED
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusBadRequest:
		return relay.EINVALID
	case http.StatusServiceUnavailable:
		return relay.EUNAVAILABLE
	}
	return relay.EINTERNAL
}
