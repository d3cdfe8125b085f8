package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
)

// The sources page (SPEC 6): every source with its state, secrets (as
// fingerprints) and sinks; one source's figures; enable, disable, add and
// remove a signing secret. Creating, replacing and deleting a source is
// `sources apply` and `sources delete` (or the admin API), not the console:
// a source's sinks carry credentials that belong in a reviewed file, not in
// a browser form. No page ever renders a secret, only its fingerprint.

// sourcesPage is the sources list's data.
type sourcesPage struct {
	// Unavailable is set when the relay manages no sources (Operations has
	// no SourceAdmin): the page says so instead of listing.
	Unavailable bool
	Sources     []sourceView
}

// sourceView is a source as the pages show it.
type sourceView struct {
	relay.SourceInfo
	URL string
}

// State is the source's badge: not served (it has an Error), enabled or
// disabled.
func (s sourceView) State() string {
	switch {
	case s.Error != "":
		return "not served"
	case s.Enabled:
		return "enabled"
	default:
		return "disabled"
	}
}

// Tone is the colour of the State badge.
func (s sourceView) Tone() string {
	switch {
	case s.Error != "":
		return "bad"
	case s.Enabled:
		return "ok"
	default:
		return "muted"
	}
}

// sourcePage is one source's page.
type sourcePage struct {
	sourceView
	SinkRows []sourceSinkRow
	// Reconcile is the source's last reconcile report (SPEC 7), nil when
	// it has none since the relay started.
	Reconcile *relay.ReconcileReport
	// Notice confirms the action that redirected here.
	Notice string
	// Refused is the relay's message when it refused an action (the last
	// secret, a secret it already has, one that does not decode).
	Refused string
}

// sourceSinkRow is one sink of the source with its figures.
type sourceSinkRow struct {
	relay.SourceSinkInfo
	Stats              relay.SinkStats
	HasStats           bool
	DeadURL, ReviewURL string
}

// sourceURL is the console path of a source.
func sourceURL(name string) string { return "/ui/sources/" + url.PathEscape(name) }

func (con *Console) handleSources(c echo.Context) error {
	sa := con.ops.Sources
	if sa == nil {
		return con.render(c, http.StatusOK, "sources", "Sources", sourcesPage{Unavailable: true})
	}
	list, err := sa.ListSources(c.Request().Context())
	if err != nil {
		return err
	}
	data := sourcesPage{Sources: make([]sourceView, len(list))}
	for i, s := range list {
		data.Sources[i] = sourceView{SourceInfo: s, URL: sourceURL(s.Name)}
	}
	return con.render(c, http.StatusOK, "sources", "Sources", data)
}

// sourceOf returns the SourceAdmin and the source the path names, checked
// as the admin API checks it.
func (con *Console) sourceOf(c echo.Context) (relay.SourceAdmin, string, error) {
	sa := con.ops.Sources
	if sa == nil {
		return nil, "", relay.Errorf(relay.ENOTFOUND, "this relay does not manage sources")
	}
	name := c.Param("name")
	if name != relay.DefaultSource {
		if err := relay.CheckSourceName(name); err != nil {
			return nil, "", err
		}
	}
	return sa, name, nil
}

func (con *Console) handleSource(c echo.Context) error {
	sa, name, err := con.sourceOf(c)
	if err != nil {
		return err
	}
	return con.renderSource(c, http.StatusOK, sa, name, sourcePage{Notice: sourceNotice(c.QueryParams(), name)})
}

// renderSource shows the source called name with its figures; page brings
// the notice or the refusal.
func (con *Console) renderSource(c echo.Context, status int, sa relay.SourceAdmin, name string, page sourcePage) error {
	info, err := sa.ShowSource(c.Request().Context(), name)
	if err != nil {
		return err
	}
	page.sourceView = sourceView{SourceInfo: info, URL: sourceURL(info.Name)}
	for _, s := range info.Sinks {
		row := sourceSinkRow{SourceSinkInfo: s,
			DeadURL:   "/ui/dead-letters?" + url.Values{"sink": {s.Outbox}}.Encode(),
			ReviewURL: "/ui/review?" + url.Values{"sink": {s.Outbox}}.Encode(),
		}
		if info.Stats != nil {
			row.Stats, row.HasStats = info.Stats.Sinks[s.Name]
		}
		page.SinkRows = append(page.SinkRows, row)
	}
	if con.ops.Sync != nil {
		if rep, ok := con.ops.Sync.LastReport(info.Name); ok {
			page.Reconcile = &rep
		}
	}
	return con.render(c, status, "source", "Source "+info.Name, page)
}

// sourceNotice is the confirmation of the action that redirected to the
// source's page, built from known codes only (and a fingerprint, which is
// hex, never a secret).
func sourceNotice(q url.Values, name string) string {
	id := q.Get("id")
	if !isFingerprint(id) {
		id = ""
	}
	switch q.Get("done") {
	case "enabled":
		return "Source " + name + " enabled: it takes deliveries again."
	case "disabled":
		return "Source " + name + " disabled: its deliveries are refused (404 unknown_source) and not stored; its sinks still drain what it had."
	case "secret-added":
		if id != "" {
			return "Signing secret " + id + " added. Once TagihanAI signs with it, remove the old one."
		}
		return "Signing secret added."
	case "secret-removed":
		if id != "" {
			return "Signing secret " + id + " removed: deliveries signed with it are refused now."
		}
		return "Signing secret removed."
	}
	return ""
}

// isFingerprint reports whether s looks like a secret's fingerprint: a few
// lower-case hex digits.
func isFingerprint(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// sourceChange is one console action on a source: it returns the flash
// parameters of the redirect.
type sourceChange func(c echo.Context, sa relay.SourceAdmin, name string) (url.Values, error)

// sourceAction runs change on the source the path names and redirects to
// the source's page (post/redirect/get). A change the relay refuses
// (invalid, conflict) shows the page again with the relay's message, so the
// operator sees why next to the form; other errors are the error page.
func (con *Console) sourceAction(what string, change sourceChange) echo.HandlerFunc {
	return func(c echo.Context) error {
		sa, name, err := con.sourceOf(c)
		if err != nil {
			return err
		}
		done, err := change(c, sa, name)
		if code := relay.ErrorCode(err); code == relay.EINVALID || code == relay.ECONFLICT {
			return con.renderSource(c, relay.HTTPStatus(code), sa, name, sourcePage{Refused: relay.ErrorMessage(err)})
		}
		if err != nil {
			return err
		}
		con.log.Info("console changed a source", "source", name, "action", what, "operator", whoOf(c).operator())
		return c.Redirect(http.StatusSeeOther, withFlash(sourceURL(name), done))
	}
}

func (con *Console) handleSourceEnable() echo.HandlerFunc {
	return con.sourceAction("enable", func(c echo.Context, sa relay.SourceAdmin, name string) (url.Values, error) {
		_, err := sa.SetSourceEnabled(c.Request().Context(), name, true)
		return url.Values{"done": {"enabled"}}, err
	})
}

// handleSourceDisable disables a source once the operator ticked that it
// stops intake at once.
func (con *Console) handleSourceDisable() echo.HandlerFunc {
	return con.sourceAction("disable", func(c echo.Context, sa relay.SourceAdmin, name string) (url.Values, error) {
		if c.FormValue("confirm") != "yes" {
			return nil, relay.Errorf(relay.EINVALID, "confirm: tick the box to confirm that disabling %s stops its intake at once", name)
		}
		_, err := sa.SetSourceEnabled(c.Request().Context(), name, false)
		return url.Values{"done": {"disabled"}}, err
	})
}

// handleSourceAddSecret adds a signing secret. The secret goes to the
// relay and nowhere else: not into the redirect, the log or the page (a
// refusal's message names it by fingerprint only).
func (con *Console) handleSourceAddSecret() echo.HandlerFunc {
	return con.sourceAction("add-secret", func(c echo.Context, sa relay.SourceAdmin, name string) (url.Values, error) {
		secret := strings.TrimSpace(c.FormValue("secret"))
		if secret == "" {
			return nil, relay.Errorf(relay.EINVALID, "secret: paste the new signing secret (whsec_…)")
		}
		_, err := sa.AddSourceSecret(c.Request().Context(), name, secret)
		return url.Values{"done": {"secret-added"}, "id": {sealed.Fingerprint(secret)}}, err
	})
}

// handleSourceRemoveSecret removes a signing secret by its id (the
// fingerprint); the relay refuses the last one.
func (con *Console) handleSourceRemoveSecret() echo.HandlerFunc {
	return con.sourceAction("remove-secret", func(c echo.Context, sa relay.SourceAdmin, name string) (url.Values, error) {
		id := c.FormValue("id")
		if !isFingerprint(id) {
			return nil, relay.Errorf(relay.EINVALID, "id: not a secret's fingerprint (8 hex digits, as listed)")
		}
		_, err := sa.RemoveSourceSecret(c.Request().Context(), name, id)
		return url.Values{"done": {"secret-removed"}, "id": {id}}, err
	})
}
