// Package adminhttp holds the rules the admin API (/v1/) and the web
// console (/ui/) share, so that the two can never disagree:
//
//   - Guard: the Host allow-list (DNS rebinding) and the cross-site refusal
//     of state-changing requests (SPEC 4, "Admin security, in both modes");
//   - PathID: how an event id is read from a path-escaped route parameter;
//   - TrustedProxies: which peers may set X-Forwarded-For and
//     X-Forwarded-Proto (Echo's IP and scheme extractors);
//   - AuthFailures: counting and rate-limited logging of failed bearer
//     tokens and console logins.
//   - Answer: the status, code and message of an error a handler returned
//     (relay's code → status table), which the API writes as JSON and the
//     console as an HTML page.
//
// It imports Echo and the relay domain package, never the store or the
// listeners' packages (httpapi, console), which both import it.
package adminhttp
