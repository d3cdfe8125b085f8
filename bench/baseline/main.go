// Command baseline is the ingest benchmark's yardstick: a bare Echo v4
// server whose POST /webhooks/tagihanai reads the body and answers 200,
// nothing else (no verification, no storage, no logging). bench/ingest.sh
// measures tagihan-relay against it in the same run, under the same load.
// It logs {"msg":"listening","public":"<addr>"} on stderr, like the
// service, so the address may be 127.0.0.1:0.
package main

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (port 0: any free port)")
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
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	_ = json.NewEncoder(os.Stderr).Encode(map[string]string{"msg": "listening", "public": ln.Addr().String()})
	// The same server limits as the service, so only the handler differs.
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	log.Fatal(srv.Serve(ln))
}
