package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// cmdHealthcheck probes the running service's /readyz (default) or
// /healthz on the public listener and exits non-zero when it is not 200:
// a container HEALTHCHECK that needs no shell or curl.
func cmdHealthcheck(env *cliEnv, args []string) error {
	fs := env.flags("healthcheck")
	var url string
	var live bool
	fs.StringVar(&url, "url", "", "base URL (default http://<RELAY_LISTEN_ADDR>, 0.0.0.0 probed as 127.0.0.1)")
	fs.BoolVar(&live, "live", false, "probe /healthz (process up) instead of /readyz (ready to take deliveries)")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	m, err := env.envMap()
	if err != nil {
		return err
	}
	if url == "" {
		url = listenURL(m)
	}
	path := "/readyz"
	if live {
		path = "/healthz"
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(strings.TrimRight(url, "/") + path)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", path, resp.Status)
	}
	fmt.Fprintln(env.stdout, "ok")
	return nil
}

// listenURL is the local URL of the public listener RELAY_LISTEN_ADDR
// (default 127.0.0.1:8080; a 0.0.0.0 or empty host is reached on
// 127.0.0.1).
func listenURL(m map[string]string) string {
	addr := m["RELAY_LISTEN_ADDR"]
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	addr = strings.Replace(addr, "0.0.0.0:", "127.0.0.1:", 1)
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	return "http://" + addr
}
