package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store"
)

// progress returns a progress bar on stderr when it is a terminal, else nil.
func (e *cliEnv) progress(total int64, what string) *progressbar.ProgressBar {
	if !isTerminal(e.stderr) {
		return nil
	}
	return newProgress(e.stderr, total, what)
}

// newProgress is a bar of total events ("12,000/50,000"), or, when the
// total is unknown (-1), a spinner with the count so far and the rate
// ("1234 events, 5000 events/s"), never "1234/-".
func newProgress(w io.Writer, total int64, what string) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
	}
	if total >= 0 {
		opts = append(opts, progressbar.OptionSetPredictTime(true))
	} else {
		opts = append(opts, progressbar.OptionShowTotalBytes(false), progressbar.OptionSetPredictTime(false))
	}
	return progressbar.NewOptions64(total, opts...)
}

func cmdExport(env *cliEnv, args []string) error {
	fs := env.flags("export")
	admin := env.adminFlags(fs)
	var out, typ string
	fs.StringVar(&out, "out", "", "write to this file (default stdout)")
	fs.StringVar(&typ, "type", "", "only this TagihanAI type glob")
	when := timeFlags(fs, "received since (duration or RFC 3339)", "received until (duration or RFC 3339)")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	f := relay.ExportFilter{Type: typ}
	var err error
	if f.Since, f.Until, err = when.parse(time.Now()); err != nil {
		return err
	}
	b, err := env.openBackend(admin, false)
	if err != nil {
		return err
	}
	defer b.Close()
	w := env.stdout
	var file *os.File
	if out != "" {
		if file, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	bar := env.progress(-1, "exporting")
	n := 0
	err = b.Export(env.ctx, f, func(r *relay.ExportRecord) error {
		n++
		if bar != nil {
			_ = bar.Add(1)
		}
		return enc.Encode(r)
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if file != nil {
		if err := file.Sync(); err != nil {
			return err
		}
	}
	if out != "" || isTerminal(env.stderr) {
		fmt.Fprintf(env.stderr, "exported %d deliveries\n", n)
	}
	return nil
}

// importBatch is how many records go in one admin API request.
const importBatch = 500

func cmdImport(env *cliEnv, args []string) error {
	fs := env.flags("import")
	admin := env.adminFlags(fs)
	var route bool
	fs.BoolVar(&route, "route", false, "route imported events to the configured sinks (default: store only)")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{"import: give one FILE (- reads stdin)"}
	}
	var r io.Reader = env.stdin
	var total int64 = -1
	if p := fs.Arg(0); p != "-" {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			total = fi.Size()
		}
		r = f
	}
	b, err := env.openBackend(admin, true)
	if err != nil {
		return err
	}
	defer b.Close()
	bar := env.progress(total, "importing")
	if bar != nil {
		r = io.TeeReader(r, bar)
	}
	imported, skipped := 0, 0
	var batch []*relay.ExportRecord
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		i, s, err := b.Import(env.ctx, batch, route)
		imported += i
		skipped += s
		batch = batch[:0]
		return err
	}
	er := relay.NewExportReader(r)
	for {
		rec, err := er.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		batch = append(batch, rec)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if env.wantJSON() {
		return env.printJSON(map[string]int{"imported": imported, "skipped": skipped})
	}
	fmt.Fprintf(env.stdout, "imported %d, skipped %d (already present)\n", imported, skipped)
	return nil
}

func cmdBackup(env *cliEnv, args []string) error {
	fs := env.flags("backup")
	admin := env.adminFlags(fs)
	var out string
	fs.StringVar(&out, "out", "", "file to write the copy to (required)")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if out == "" {
		return &usageError{"backup: --out FILE is required"}
	}
	b, err := env.openBackend(admin, false)
	if err != nil {
		return err
	}
	defer b.Close()
	tmp := out + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	n, err := b.Backup(env.ctx, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	if isSnapshot(tmp) {
		// RELAY_BACKEND=nats: the backup is an export-format snapshot.
		if err := os.Rename(tmp, out); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "backup: %d bytes of NDJSON snapshot written to %s (restore with `tagihan-relay import`)\n", n, out)
		return nil
	}
	// Check the copy opens before it takes the final name.
	st, err := store.Open(tmp, store.Options{ReadOnly: true})
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: the copy does not open: %w", err)
	}
	st.Close()
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "backup: %d bytes written to %s\n", n, out)
	return nil
}

func cmdCompact(env *cliEnv, args []string) error {
	fs := env.flags("compact")
	var db, out string
	fs.StringVar(&db, "db", "", "the database file (service stopped)")
	fs.StringVar(&out, "out", "", "write the compacted copy here (default: replace --db, keeping FILE.bak)")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if db == "" {
		return &usageError{"compact: --db FILE is required (the service must be stopped)"}
	}
	dst := out
	if dst == "" {
		dst = filepath.Join(filepath.Dir(db), "."+filepath.Base(db)+".compact")
	}
	before, err := os.Stat(db)
	if err != nil {
		return err
	}
	os.Remove(dst)
	if err := store.Compact(dst, db); err != nil {
		os.Remove(dst)
		return err
	}
	if out == "" {
		if err := os.Rename(db, db+".bak"); err != nil {
			return err
		}
		if err := os.Rename(dst, db); err != nil {
			return err
		}
		dst = db
	}
	after, err := os.Stat(dst)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, compactSummary(db, dst, before.Size(), after.Size(), out == ""))
	return nil
}

// compactSummary says what compact did, in sizes a person reads.
func compactSummary(db, dst string, before, after int64, replaced bool) string {
	where := "written to " + dst
	if replaced {
		where = "the old file is kept as " + db + ".bak"
	}
	if after >= before {
		return fmt.Sprintf("compacted %s: nothing to reclaim (%s before, %s after); %s", db, humanBytes(before), humanBytes(after), where)
	}
	return fmt.Sprintf("compacted %s: %s → %s, %s reclaimed (%.0f%%); %s", db, humanBytes(before), humanBytes(after),
		humanBytes(before-after), 100*float64(before-after)/float64(before), where)
}

// humanBytes prints a size in B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), suffix)
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

// isSnapshot reports whether a backup file is NDJSON (a NATS backend's
// snapshot) rather than a bbolt database file.
func isSnapshot(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 1)
	n, _ := f.Read(b)
	return n == 0 || b[0] == '{'
}
