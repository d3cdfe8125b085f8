package accountingplus

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ItemMap maps TagihanAI item names to AccountingPlus item codes (ITEM_MAP).
// Names match after trimming, collapsing inner whitespace and ignoring case.
// The zero value is an empty map. It is read-only after loading, so safe for
// concurrent use.
type ItemMap struct {
	codes map[string]string
}

// LoadItemMap reads an ITEM_MAP CSV file; see ParseItemMap.
func LoadItemMap(path string) (ItemMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return ItemMap{}, err
	}
	defer f.Close()
	return ParseItemMap(f)
}

// ParseItemMap reads CSV records `item_name,item_code`. An optional header
// row with exactly those names, a UTF-8 byte order mark, blank lines and
// lines starting with # are ignored. Every record needs both fields, non
// empty; a name mapped twice to different codes is an error naming both
// lines.
func ParseItemMap(r io.Reader) (ItemMap, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	m := ItemMap{codes: map[string]string{}}
	lines := map[string]int{}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return ItemMap{}, err
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != 2 {
			return ItemMap{}, fmt.Errorf("line %d: %d fields, want 2 (item_name,item_code)", line, len(rec))
		}
		name, code := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if first && strings.EqualFold(name, "item_name") && strings.EqualFold(code, "item_code") {
			continue
		}
		if name == "" || code == "" {
			return ItemMap{}, fmt.Errorf("line %d: item_name and item_code must both be set", line)
		}
		key := itemKey(name)
		if prev, ok := m.codes[key]; ok && prev != code {
			return ItemMap{}, fmt.Errorf("line %d: item %q is already mapped to %q on line %d", line, name, prev, lines[key])
		}
		m.codes[key] = code
		lines[key] = line
	}
}

// Lookup returns the item code mapped to name.
func (m ItemMap) Lookup(name string) (code string, ok bool) {
	code, ok = m.codes[itemKey(name)]
	return code, ok
}

// Len returns the number of names mapped.
func (m ItemMap) Len() int { return len(m.codes) }

func itemKey(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), " "))
}
