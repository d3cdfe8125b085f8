package relay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// The export format is NDJSON: one ExportRecord a line. A writer that fails
// after it started (an HTTP status already sent) ends the stream with one
// ExportFailure line, so a reader never takes a cut export for a whole one.

// MaxExportLine bounds one NDJSON line of an export or import.
const MaxExportLine = 8 << 20

// ExportFailure is the last line of an export that was cut short.
type ExportFailure struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// ExportWriter writes records in the export format.
type ExportWriter struct{ enc *json.Encoder }

// NewExportWriter writes to w (buffer it: each record is one Write).
func NewExportWriter(w io.Writer) *ExportWriter { return &ExportWriter{enc: json.NewEncoder(w)} }

// Write writes one record as a line.
func (w *ExportWriter) Write(r *ExportRecord) error { return w.enc.Encode(r) }

// Fail ends the stream with the ExportFailure line of err.
func (w *ExportWriter) Fail(err error) error {
	return w.enc.Encode(ExportFailure{Error: ErrorCode(err), Message: "export failed: " + ErrorMessage(err)})
}

// ExportReader reads an export line by line (blank lines are skipped). It
// is the one reader of the format: imports on the server and in the CLI,
// and the CLI's export through the admin API.
type ExportReader struct {
	sc           *bufio.Scanner
	line         int
	unterminated bool // the last line read had no newline: the stream ended in it
}

// NewExportReader reads an export from r.
func NewExportReader(r io.Reader) *ExportReader {
	er := &ExportReader{sc: bufio.NewScanner(r)}
	er.sc.Buffer(make([]byte, 0, 64<<10), MaxExportLine)
	er.sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if atEOF && adv == len(data) && len(data) > 0 && data[len(data)-1] != '\n' {
			er.unterminated = true
		}
		return adv, tok, err
	})
	return er
}

// Line is the number of the line Next read last (from 1).
func (r *ExportReader) Line() int { return r.line }

// LineError is a line of an export that is not a record.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ExportCutError is an ExportFailure line: the export stopped there.
type ExportCutError struct {
	Code    string // the failure's error code
	Message string
}

func (e *ExportCutError) Error() string { return "export cut short: " + e.Message }

// Next returns the next record, or io.EOF after the last. A line that is
// not a record is a *LineError naming it (a last line without its newline
// that does not parse says the export was cut short); an ExportFailure
// line is an *ExportCutError.
func (r *ExportReader) Next() (*ExportRecord, error) {
	for r.sc.Scan() {
		r.line++
		b := r.sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var f ExportFailure
		if bytes.Contains(b, []byte(`"error"`)) && json.Unmarshal(b, &f) == nil && f.Error != "" {
			return nil, &ExportCutError{Code: f.Error, Message: f.Message}
		}
		rec, err := ParseExportRecord(b)
		if err != nil {
			if r.unterminated {
				err = Errorf(EINVALID, "export cut short (the last line is incomplete): %s", ErrorMessage(err))
			}
			return nil, &LineError{Line: r.line, Err: err}
		}
		return rec, nil
	}
	if err := r.sc.Err(); err != nil {
		return nil, &LineError{Line: r.line + 1, Err: err}
	}
	return nil, io.EOF
}
