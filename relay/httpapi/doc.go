// Package httpapi is the Echo layer: the public listener (webhook ingest,
// health) and the admin listener (metrics, health, the /v1 JSON API). It
// turns requests into calls on the relay domain; every error a handler
// returns is answered as JSON in one place (errorHandler), with the status
// of relay's one code → status table (relay.HTTPStatus). No Echo type
// leaves this package.
package httpapi
