package benchkit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Service is `tagihan-relay serve` running as a child process.
type Service struct {
	Cmd     *exec.Cmd
	Public  string    // http://127.0.0.1:port of the public listener
	Admin   string    // http://127.0.0.1:port of the admin listener
	Started time.Time // just before exec
	// Listening is when the "listening" log line was read.
	Listening time.Time

	logs *tail
	done chan struct{}
}

// BaseEnv is the environment every bench run gives the service on top of
// PATH/HOME: loopback listeners on free ports, the bench secret and its data
// directory. Everything else keeps the zero-config default unless extra
// sets it.
func BaseEnv(dataDir string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"RELAY_DATA_DIR=" + dataDir,
		"RELAY_LISTEN_ADDR=127.0.0.1:0",
		"RELAY_ADMIN_ADDR=127.0.0.1:0",
		"TAGIHANAI_WEBHOOK_SECRETS=" + Secret,
	}
	return append(env, extra...)
}

// StartService starts bin serve with env and waits (up to timeout) for its
// "listening" line on stderr. Its logs are kept (the last 64 KiB) for
// error messages; the rest is discarded.
func StartService(bin string, env []string, timeout time.Duration) (*Service, error) {
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	s := &Service{Cmd: cmd, logs: &tail{max: 64 << 10}, done: make(chan struct{})}
	s.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan [2]string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			s.logs.Write(line)
			if s.Public != "" || !strings.Contains(string(line), `"listening"`) {
				continue
			}
			var l struct {
				Msg    string `json:"msg"`
				Public string `json:"public"`
				Admin  string `json:"admin"`
			}
			if json.Unmarshal(line, &l) == nil && l.Msg == "listening" {
				select {
				case ready <- [2]string{l.Public, l.Admin}:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case a := <-ready:
		s.Listening = time.Now()
		s.Public, s.Admin = "http://"+a[0], "http://"+a[1]
		return s, nil
	case <-s.done:
		_ = cmd.Wait()
		return nil, fmt.Errorf("service exited before listening:\n%s", s.Logs())
	case <-time.After(timeout):
		s.Kill()
		return nil, fmt.Errorf("service not listening after %s:\n%s", timeout, s.Logs())
	}
}

// PID is the service's process id.
func (s *Service) PID() int { return s.Cmd.Process.Pid }

// Logs returns the tail of the service's stderr.
func (s *Service) Logs() string { return s.logs.String() }

// Kill sends SIGKILL and waits until the process is gone.
func (s *Service) Kill() {
	if s.Cmd.ProcessState != nil {
		return
	}
	_ = s.Cmd.Process.Signal(syscall.SIGKILL)
	_ = s.Cmd.Wait()
	<-s.done
}

// Stop sends SIGTERM and waits up to timeout for a clean exit, then kills.
func (s *Service) Stop(timeout time.Duration) error {
	if s.Cmd.ProcessState != nil {
		return nil
	}
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- s.Cmd.Wait() }()
	select {
	case err := <-exited:
		<-s.done
		return err
	case <-time.After(timeout):
		_ = s.Cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		<-s.done
		return fmt.Errorf("service did not stop within %s; killed", timeout)
	}
}

// GetJSON GETs url into v (a non-200 answer is an error).
func GetJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// SinkStats is one sink's entry of GET /v1/stats.
type SinkStats struct {
	Pending     int `json:"pending"`
	InFlight    int `json:"in_flight"`
	Delivered   int `json:"delivered"`
	Dead        int `json:"dead"`
	NeedsReview int `json:"needs_review"`
}

// Stats is GET /v1/stats.
type Stats struct {
	Events map[string]int       `json:"events"`
	Sinks  map[string]SinkStats `json:"sinks"`
}

// Stats reads the service's /v1/stats.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := GetJSON(ctx, http.DefaultClient, s.Admin+"/v1/stats", &st)
	return st, err
}

// Build compiles ./cmd/tagihan-relay (or another package) of the module at
// root into out, unless bin is given (then bin is returned as is).
func Build(root, pkg, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// ModuleRoot finds the directory holding go.mod, from the working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found: run from inside the tagihan-relay module")
		}
		dir = parent
	}
}

// RelayBinary returns bin when set, else builds the service into
// <root>/bench/out/tagihan-relay and returns that path. It prints which
// build is measured on stderr (the tree's revision, or the prebuilt path).
func RelayBinary(bin string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	if bin != "" {
		fmt.Fprintf(os.Stderr, "measuring prebuilt %s (tree at %s)\n", bin, TreeRevision(root))
		return bin, nil
	}
	out := filepath.Join(root, "bench", "out", "tagihan-relay")
	fmt.Fprintf(os.Stderr, "measuring the working tree at %s\n", TreeRevision(root))
	return out, Build(root, "./cmd/tagihan-relay", out)
}

// tail keeps the last max bytes written to it, line by line.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(line []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, line...)
	t.buf = append(t.buf, '\n')
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	return string(b)
}
