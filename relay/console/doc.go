// Package console is tagihan-relay's operator web console (SPEC 4.2): the
// pages finance staff and operators use to answer "what happened to this
// invoice, and is it in AccountingPlus/OnlinePajak exactly once?", and to
// act on it (replay, redrive, resolve).
//
// # What it owns
//
// The routes under /ui on the admin listener (and the 303 redirects of / and
// /ui to /ui/), its embedded templates and assets, operator sessions, CSRF
// protection and the security headers of every console response. Pages are
// rendered on the server with html/template, so every piece of event content
// is escaped; the one script, static/console.js, only refreshes the overview
// and helps select rows, and everything works without it.
//
// # What it must not do
//
// It has no second implementation of anything: every query and action is a
// call on relay.Operations, the same one the /v1 API makes, with the operator
// "console:<login name>" so the event's history says who did it (without a
// token, "console:operator"). It imports Echo (it is an HTTP adapter) and the
// Prometheus client (to read the ingest counter), and adminhttp for the
// rules it shares with the /v1 API (the event-id rule, the cross-site rule,
// auth-failure accounting), but never the store, a sink or httpapi; only its
// tests use the bbolt store and httpapi, to prove it fits. It loads nothing
// from another origin.
//
// # Sessions and CSRF
//
// With a token configured, /ui/login compares the token in constant time and
// starts a session: an opaque random id (never the token) in the cookie
// relay_console (HttpOnly, SameSite=Strict, Path=/ui, 12 h), kept in memory
// only, so logout ends one and a restart ends all. Every POST carries a CSRF
// token (the session's, or a per-process one when no token is configured and
// the listener is loopback-only) and is refused with 403 when the token is
// wrong or Sec-Fetch-Site/Origin say another site sent it
// (adminhttp.CrossSite, which the admin listener's guard also applies to
// every request before routing). Failed logins are counted and logged by
// adminhttp.AuthFailures, shared with the API's bearer check.
package console
