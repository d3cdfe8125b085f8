// Command baseline is the ingest benchmark's yardstick: a bare Echo v4
// server whose POST /webhooks/tagihanai reads the body and answers 200,
// nothing else. bench/ingest.sh measures tagihan-relay against it in the
// same run.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"

	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address")
	flag.Parse()
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.POST("/webhooks/tagihanai", func(c echo.Context) error {
		if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
			return err
		}
		return c.String(http.StatusOK, `{"status":"ok"}`)
	})
	log.Fatal(http.ListenAndServe(*addr, e))
}
