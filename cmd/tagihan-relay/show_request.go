package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// printRequest prints the request body the latest attempt sent, indented
// under the delivery, when one was kept.
func printRequest(w io.Writer, dl *relay.DeliveryState) {
	a := relay.LastRequest(dl.History)
	text, note := relay.RequestText(a)
	if text == "" {
		return
	}
	head := fmt.Sprintf("request sent at %s", a.At.Local().Format("2006-01-02 15:04:05"))
	if note != "" {
		head += " (" + note + ")"
	}
	fmt.Fprintf(w, "%17s %s:\n", "", head)
	for _, line := range strings.Split(text, "\n") {
		fmt.Fprintf(w, "%19s%s\n", "", line)
	}
}

// printReviewCard prints what settles a needs_review delivery: what to look
// for in the sink's system and the two resolve commands.
func printReviewCard(w io.Writer, c *relay.ReviewCard) {
	fmt.Fprintf(w, "%17s needs review: the last attempt's outcome is unknown, so %s may or may not have the document.\n", "", c.System)
	fmt.Fprintf(w, "%17s look in %s for:\n", "", c.System)
	for _, f := range c.Look {
		fmt.Fprintf(w, "%19s%-17s %s\n", "", f.Name, f.Value)
	}
	fmt.Fprintf(w, "%17s found it (record its number; nothing is sent again):\n%19s%s\n", "", "", c.Found)
	fmt.Fprintf(w, "%17s not there (send it again; a second document if it was there after all):\n%19s%s\n", "", "", c.NotFound)
}
