package accountingplus

import "strings"

// needsEnrichment reports whether the event's transaction lacks what the
// mapping needs and the API may have: line items, a customer name, the
// document date or the type.
func needsEnrichment(tx map[string]any) bool {
	if !hasLineItems(tx) {
		return true
	}
	if _, err := customerName(tx); err != nil {
		return true
	}
	for _, k := range []string{"document_date", "type"} {
		if s, _ := text(tx, k); s == "" {
			return true
		}
	}
	return false
}

// merge overlays the transaction fetched from the API on the event's: a
// field the API has (not null, not blank, not an empty array) wins, as the
// current state; the event's fills what the API left out (the example
// answer of GET /transactions/:id has no document_date, for one).
func merge(event, fetched map[string]any) map[string]any {
	out := make(map[string]any, len(event)+len(fetched))
	for k, v := range event {
		out[k] = v
	}
	for k, v := range fetched {
		if !blank(v) {
			out[k] = v
		}
	}
	return out
}

func blank(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(v) == ""
	case []any:
		return len(v) == 0
	default:
		return false
	}
}
