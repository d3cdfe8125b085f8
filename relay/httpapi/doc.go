// Package httpapi is the Echo layer: the public listener (webhook ingest,
// health) and the admin listener (metrics, health, the /v1 JSON API). It
// turns requests into calls on the relay domain and maps relay.Error codes
// to HTTP statuses in one place (errorHandler). No Echo type leaves this
// package.
package httpapi
