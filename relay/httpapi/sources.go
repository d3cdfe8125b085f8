package httpapi

import (
	"net/http"

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
