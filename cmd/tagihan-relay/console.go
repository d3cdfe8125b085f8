package main

import (
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// mountConsole returns the function that adds the web console to the admin
// listener, or nil while the console is not built in.
func mountConsole(ops *relay.Operations, cfg *Config, log *slog.Logger) func(*echo.Echo) {
	return nil
}
