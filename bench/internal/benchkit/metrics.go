package benchkit

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Metrics are the samples of a Prometheus text exposition, keyed by the
// series as printed (name{label="v",...}).
type Metrics map[string]float64

// ScrapeMetrics GETs a /metrics URL.
func ScrapeMetrics(ctx context.Context, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	m := Metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// Commits summarizes the store's group commits between two scrapes.
type Commits struct {
	Count    float64       // commits
	Ops      float64       // operations they held
	Busy     time.Duration // total commit time (write + fsync)
	MeanOps  float64       // operations per commit
	MeanTime time.Duration // per commit
}

// CommitsBetween reads tagihan_relay_store_commit_* from two scrapes.
func CommitsBetween(before, after Metrics) Commits {
	d := func(k string) float64 { return after[k] - before[k] }
	c := Commits{
		Count: d("tagihan_relay_store_commit_batch_size_count"),
		Ops:   d("tagihan_relay_store_commit_batch_size_sum"),
		Busy:  time.Duration(d("tagihan_relay_store_commit_duration_seconds_sum") * float64(time.Second)),
	}
	if c.Count > 0 {
		c.MeanOps = c.Ops / c.Count
		c.MeanTime = time.Duration(float64(c.Busy) / c.Count)
	}
	return c
}

// String is "N commits, X ops each, Y ms each, busy Z s".
func (c Commits) String() string {
	return fmt.Sprintf("%.0f commits × %.1f ops, %.2f ms each; writer busy %.1f s", c.Count, c.MeanOps,
		float64(c.MeanTime.Microseconds())/1000, c.Busy.Seconds())
}
