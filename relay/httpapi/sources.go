package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// The sources API (SPEC 6). Every answer shows secrets only as
// fingerprints; a refused change leaves the running configuration as it
// was.

// SourceList is the answer of GET /v1/sources.
type SourceList struct {
	Sources []relay.SourceInfo `json:"sources"`
}

// SecretRequest is the body of POST /v1/sources/{name}/secrets.
type SecretRequest struct {
	Secret string `json:"secret"`
}

// SourceDeleted is the answer of DELETE /v1/sources/{name}.
type SourceDeleted struct {
	Deleted string `json:"deleted"`
}

func sourceRoutes(v1 *echo.Group, ops *relay.Operations) {
	with := func(f func(c echo.Context, sa relay.SourceAdmin, name string) error) echo.HandlerFunc {
		return func(c echo.Context) error {
			if ops.Sources == nil {
				return relay.Errorf(relay.ENOTFOUND, "this relay does not manage sources")
			}
			name := c.Param("name")
			if name != "" && name != relay.DefaultSource {
				if err := relay.CheckSourceName(name); err != nil {
					return err
				}
			}
			return f(c, ops.Sources, name)
		}
	}
	v1.GET("/sources", with(func(c echo.Context, sa relay.SourceAdmin, _ string) error {
		list, err := sa.ListSources(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, SourceList{Sources: list})
	}))
	v1.GET("/sources/:name", with(func(c echo.Context, sa relay.SourceAdmin, name string) error {
		info, err := sa.ShowSource(c.Request().Context(), name)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, info)
	}))
	v1.PUT("/sources/:name", with(func(c echo.Context, sa relay.SourceAdmin, name string) error {
		var spec relay.SourceSpec
		if err := bindJSON(c, &spec); err != nil {
			return err
		}
		if spec.Name != "" && spec.Name != name {
			return relay.Errorf(relay.EINVALID, "name: the body names %q but the path %q", spec.Name, name)
		}
		spec.Name = name
		res, err := sa.ApplySource(c.Request().Context(), spec)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if res.Action == relay.ApplyCreated {
			status = http.StatusCreated
		}
		return c.JSON(status, res)
	}))
	v1.POST("/sources/:name/secrets", with(func(c echo.Context, sa relay.SourceAdmin, name string) error {
		var body SecretRequest
		if err := bindJSON(c, &body); err != nil {
			return err
		}
		info, err := sa.AddSourceSecret(c.Request().Context(), name, body.Secret)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, info)
	}))
	v1.DELETE("/sources/:name/secrets/:id", with(func(c echo.Context, sa relay.SourceAdmin, name string) error {
		info, err := sa.RemoveSourceSecret(c.Request().Context(), name, c.Param("id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, info)
	}))
	for action, enabled := range map[string]bool{"enable": true, "disable": false} {
		v1.POST("/sources/:name/"+action, with(func(c echo.Context, sa relay.SourceAdmin, name string) error {
			info, err := sa.SetSourceEnabled(c.Request().Context(), name, enabled)
			if err != nil {
				return err
			}
			return c.JSON(http.StatusOK, info)
		}))
	}
	v1.DELETE("/sources/:name", with(func(c echo.Context, sa relay.SourceAdmin, name string) error {
		if err := sa.DeleteSource(c.Request().Context(), name); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, SourceDeleted{Deleted: name})
	}))
}

// ReconcileRequest is the body of POST /v1/sources/{name}/reconcile.
type ReconcileRequest struct {
	// Since is how far back to look, a Go duration ("168h"); "" is 168h.
	Since string `json:"since,omitempty"`
	Fix   bool   `json:"fix,omitempty"`
}

// Disconnected is the answer of POST /v1/sources/{name}/disconnect.
type Disconnected struct {
	Source    string `json:"source"`
	WebhookID string `json:"webhook_id"`
}

// syncWriteTimeout bounds a connect or reconcile call.
const syncWriteTimeout = 30 * time.Minute

// syncRoutes are SPEC 7's connect, disconnect and reconcile.
func syncRoutes(v1 *echo.Group, ops *relay.Operations) {
	with := func(f func(c echo.Context, ss relay.SourceSync, name string) error) echo.HandlerFunc {
		return func(c echo.Context) error {
			if ops.Sync == nil {
				return relay.Errorf(relay.ENOTFOUND, "this relay does not connect sources to TagihanAI")
			}
			name := c.Param("name")
			if err := relay.CheckSourceName(name); err != nil {
				return err
			}
			// Connect waits up to 30 s for the test event and reconcile
			// pages through TagihanAI at RELAY_TAGIHANAI_MAX_RPS: both may
			// outlast the listener's 60 s write timeout.
			_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Now().Add(syncWriteTimeout))
			return f(c, ops.Sync, name)
		}
	}
	v1.POST("/sources/:name/connect", with(func(c echo.Context, ss relay.SourceSync, name string) error {
		var req relay.ConnectRequest
		if err := bindJSON(c, &req); err != nil {
			return err
		}
		res, err := ss.Connect(c.Request().Context(), name, req)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, res)
	}))
	v1.POST("/sources/:name/disconnect", with(func(c echo.Context, ss relay.SourceSync, name string) error {
		id, err := ss.Disconnect(c.Request().Context(), name)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, Disconnected{Source: name, WebhookID: id})
	}))
	v1.POST("/sources/:name/reconcile", with(func(c echo.Context, ss relay.SourceSync, name string) error {
		var req ReconcileRequest
		if err := bindJSON(c, &req); err != nil {
			return err
		}
		window := relay.DefaultReconcileWindow
		if req.Since != "" {
			d, err := time.ParseDuration(req.Since)
			if err != nil || d <= 0 {
				return relay.Errorf(relay.EINVALID, "since: %q is not a positive duration such as 168h", req.Since)
			}
			window = d
		}
		rep, err := ss.Reconcile(c.Request().Context(), name, window, req.Fix)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, rep)
	}))
	v1.GET("/sources/:name/reconcile", with(func(c echo.Context, ss relay.SourceSync, name string) error {
		rep, ok := ss.LastReport(name)
		if !ok {
			return relay.Errorf(relay.ENOTFOUND, "source %q has not been reconciled since the relay started", name)
		}
		return c.JSON(http.StatusOK, rep)
	}))
}
