package relay

import (
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// ReviewField is one thing to look for in the sink's own system.
type ReviewField struct {
	Name, Value string
}

// ReviewCard is what an operator needs to settle a needs_review delivery:
// the last attempt's outcome is unknown, so the document may or may not
// exist in the sink's system. It says what to look for there (customer,
// date, total, numbers), what was sent, and the two ways to resolve it.
// The CLI (events show) and the console render the same card.
type ReviewCard struct {
	EventID string
	Sink    string
	// System is where to look: the sink kind's name for people
	// ("AccountingPlus"), else the sink's name.
	System string
	// Look are the fields to search the sink's system for, in order.
	Look []ReviewField
	// Request is the latest attempt that kept the body sent (nil when none
	// did), RequestText its display and RequestNote its truncation note.
	Request     *Attempt
	RequestText string
	RequestNote string
	// Found and NotFound are the CLI commands for each answer.
	Found, NotFound string
}

// NewReviewCard returns the card of the delivery ds of event d, nil unless
// it is in needs_review. label names the sink's system ("AccountingPlus";
// the sink's name when "").
func NewReviewCard(d *EventDetail, ds *DeliveryState, label string) *ReviewCard {
	if d == nil || ds == nil || ds.State != StateNeedsReview {
		return nil
	}
	if label == "" {
		label = ds.Sink
	}
	c := &ReviewCard{EventID: d.ID, Sink: ds.Sink, System: label, Request: LastRequest(ds.History)}
	c.RequestText, c.RequestNote = RequestText(c.Request)
	data := gjson.GetBytes(d.Event, "data")
	add := func(name, value string) {
		if value = strings.TrimSpace(value); value != "" {
			c.Look = append(c.Look, ReviewField{Name: name, Value: value})
		}
	}
	add("Customer", firstOf(data, "counterparty_name", "receiver_name", "customer_name", "party_name"))
	add("Invoice date", firstOf(data, "document_date", "issue_date", "date"))
	if total := firstOf(data, "total", "amount"); total != "" {
		add("Total", strings.TrimSpace(data.Get("currency").String()+" "+groupDigits(total)))
	}
	add("TagihanAI number", firstOf(data, "document_number", "invoice_number"))
	add("Reference", firstOf(data, "external_invoice_id", "reference"))
	add("Transaction", d.Subject)
	if c.Request != nil {
		add("Sent at", c.Request.At.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	q := QuoteArg(d.ID)
	c.Found = fmt.Sprintf("tagihan-relay events resolve %s --sink %s --delivered --document-number NUMBER", q, ds.Sink)
	c.NotFound = fmt.Sprintf("tagihan-relay events resolve %s --sink %s --retry", q, ds.Sink)
	return c
}

// firstOf returns the first of keys that data has, as text.
func firstOf(data gjson.Result, keys ...string) string {
	for _, k := range keys {
		if v := data.Get(k); v.Exists() && v.Type != gjson.Null {
			return v.String()
		}
	}
	return ""
}

// groupDigits writes a decimal amount with thousands separators in its
// integer part ("23088000.5" → "23,088,000.5"); anything else as given.
func groupDigits(amount string) string {
	intPart, frac, hasFrac := strings.Cut(amount, ".")
	sign := ""
	if strings.HasPrefix(intPart, "-") {
		sign, intPart = "-", intPart[1:]
	}
	if intPart == "" || strings.Trim(intPart, "0123456789") != "" {
		return amount
	}
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

// QuoteArg quotes a command-line argument for a POSIX shell when it needs
// it (event ids may hold any character).
func QuoteArg(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/@%+=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
