package main

import (
	"log/slog"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
	"github.com/tagihan-relay/tagihan-relay/relay/console"
)

// mountConsole returns the function that adds the web console (/ui/) to the
// admin listener. g is read for the ingest counts; failures counts failed logins
// with the admin API's wrong bearer tokens.
func mountConsole(ops *relay.Operations, cfg *Config, g prometheus.Gatherer, failures *adminhttp.AuthFailures, log *slog.Logger) (func(*echo.Echo), error) {
	sinks := make([]console.Sink, len(cfg.SinkConfs))
	for i, sc := range cfg.SinkConfs {
		sinks[i] = console.Sink{Name: sc.Name, Kind: sc.Kind.Name, Label: sc.Kind.Label, CreateOnce: sc.Kind.CreateOnce}
	}
	c, err := console.New(console.Config{
		Ops: ops, Token: cfg.AdminToken, Sinks: sinks, Gatherer: g, Log: log, AuthFailures: failures,
	})
	if err != nil {
		return nil, err
	}
	return c.Mount, nil
}
