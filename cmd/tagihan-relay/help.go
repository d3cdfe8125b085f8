package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errHelp is returned after --help printed a command's help: exit 0.
var errHelp = errors.New("help shown")

// commandHelp is the help of one command or subcommand.
type commandHelp struct {
	usage    string // after "Usage: tagihan-relay "
	about    string
	examples []string
}

// helps holds the help of every command, by FlagSet name; the groups
// ("events", "dead-letters") list their subcommands.
var helps = map[string]commandHelp{
	"serve": {
		usage: "serve [--env-file F]",
		about: "Run the service: the webhook listener (RELAY_LISTEN_ADDR), the admin API, metrics and console (RELAY_ADMIN_ADDR).\nWith no configuration it keeps data in ./data, creates a development secret and relays to stdout.",
		examples: []string{
			"tagihan-relay serve",
			"tagihan-relay serve --env-file config.env",
		},
	},
	"send": {
		usage: "send TYPE [--url U] [--secret S] [--id ID] [--subject ID] [--document-number N] [--print]",
		about: "Post a realistic signed TagihanAI delivery of TYPE, like `stripe trigger`. --subject sends it for an existing\ntransaction (or payment, subscription, party) id: a second transaction.sent for the same subject shows create-once.",
		examples: []string{
			"tagihan-relay send --list",
			"tagihan-relay send transaction.sent",
			"tagihan-relay send transaction.sent --subject 550e8400-e29b-41d4-a716-446655440000 --document-number INV-2026-0042",
			"tagihan-relay send payment.received --url http://localhost:3000/webhooks/tagihanai --secret whsec_local",
		},
	},
	"verify": {
		usage: "verify --body FILE (--header \"X-TagihanAI-Signature: ...\" | --signature SIG [--timestamp TS]) [--secret S]",
		about: "Explain why a received signature passes or fails (wrong secret, stale timestamp, body changed, encoding).",
		examples: []string{
			"tagihan-relay verify --body body.json --header 'X-TagihanAI-Signature: t=1772442000,v1=5f2c...' --secret whsec_...",
			"pbpaste | tagihan-relay verify --body - --signature 't=1772442000,v1=5f2c...'",
		},
	},
	"events": {
		usage: "events (list | show ID | resolve ID) [flags]",
		about: "Stored events. Subcommands:\n  list      find events (q, type, status, subject, time)\n  show      one event: headers, body, CloudEvent, every delivery attempt\n  resolve   settle a needs-review delivery\nRun `tagihan-relay events list --help` (etc.) for each one's flags.",
		examples: []string{
			"tagihan-relay events list --q INV-2026-0042",
			"tagihan-relay events show evt_9f2c...",
		},
	},
	"events list": {
		usage: "events list [--q TEXT] [--type GLOB] [--status S] [--subject ID] [--since D] [--until D] [--limit N] [--cursor C]",
		about: "List events, newest first. As JSON (piped, or --json) it prints every match as NDJSON, following the cursor\nto the end; --limit N stops after N. On a terminal it prints one page (--limit, default 100) and says how to get more.",
		examples: []string{
			"tagihan-relay events list --q INV-2026-0042",
			"tagihan-relay events list --type 'transaction.*' --status dead --since 24h",
			"tagihan-relay events list --json --since 7d | jq -r .id",
		},
	},
	"events show": {
		usage: "events show ID",
		about: "Show one event: status, every delivery per sink with its attempts, the created document, headers, body and CloudEvent.",
		examples: []string{
			"tagihan-relay events show evt_9f2c...",
			"tagihan-relay events show evt_9f2c... --json | jq .deliveries",
		},
	},
	"events resolve": {
		usage: "events resolve ID --sink S (--delivered [--document-number N] | --retry)",
		about: "Settle a needs-review delivery after checking the sink: --delivered when the document exists there,\n--retry when it does not (the relay sends it again).",
		examples: []string{
			"tagihan-relay events resolve evt_9f2c... --sink accounting --delivered --document-number SI-000123",
			"tagihan-relay events resolve evt_9f2c... --sink accounting --retry",
		},
	},
	"dead-letters": {
		usage: "dead-letters (list | redrive) [flags]",
		about: "Deliveries that gave up (dead) or need an operator (needs_review). Subcommands:\n  list      list them\n  redrive   send dead ones again\nRun `tagihan-relay dead-letters list --help` (etc.) for each one's flags.",
		examples: []string{
			"tagihan-relay dead-letters list --sink erp",
			"tagihan-relay dead-letters redrive --sink erp --type 'payment.*'",
		},
	},
	"dead-letters list": {
		usage: "dead-letters list [--sink S] [--type GLOB] [--state dead|needs_review] [--since D] [--limit N]",
		about: "List dead and needs-review deliveries, newest first. As JSON (piped, or --json) it prints every one as NDJSON,\nfollowing the cursor to the end; --limit N stops after N. --sink must name a configured sink.",
		examples: []string{
			"tagihan-relay dead-letters list",
			"tagihan-relay dead-letters list --sink erp --state needs_review",
			"tagihan-relay dead-letters list --json | jq -r .event_id",
		},
	},
	"dead-letters redrive": {
		usage: "dead-letters redrive (ID... | --sink S | --type GLOB | --all)",
		about: "Move dead deliveries back to pending with a fresh schedule. Unknown event ids and sinks are refused.\nneeds_review deliveries are never redriven in bulk: resolve them with `events resolve`.",
		examples: []string{
			"tagihan-relay dead-letters redrive evt_9f2c...",
			"tagihan-relay dead-letters redrive --sink erp --type 'payment.*'",
			"tagihan-relay dead-letters redrive --all",
		},
	},
	"replay": {
		usage: "replay [ID...] [--type GLOB] [--since D] [--until D] (--to URL [--secret S] [--rate N/s] | --sink NAME) [--dry-run]",
		about: "Re-deliver stored events: --to posts each stored body byte for byte to URL, re-signed like TagihanAI with a\nfresh timestamp; --sink queues a new delivery to a configured sink.",
		examples: []string{
			"tagihan-relay replay --type transaction.paid --since 24h --to http://localhost:3000/webhooks/tagihanai --secret whsec_local",
			"tagihan-relay replay evt_9f2c... --sink erp",
			"tagihan-relay replay --since 1h --to http://localhost:3000/hook --rate 5/s --dry-run",
		},
	},
	"export": {
		usage: "export [--out FILE] [--type GLOB] [--since D] [--until D]",
		about: "Write stored deliveries as NDJSON (id, received_at, headers, body_base64, event, status), to stdout by default.",
		examples: []string{
			"tagihan-relay export --since 24h --out yesterday.ndjson",
			"tagihan-relay export --db data/relay.db --type 'transaction.*' > invoices.ndjson",
		},
	},
	"import": {
		usage: "import FILE [--route]",
		about: "Read an export (FILE, or - for stdin); existing event ids are skipped. --route also sends the imported events\nto the configured sinks. import --db creates the file when it does not exist.",
		examples: []string{
			"tagihan-relay import yesterday.ndjson",
			"tagihan-relay import --db /tmp/dev/relay.db yesterday.ndjson --route",
		},
	},
	"backup": {
		usage: "backup --out FILE",
		about: "Write a consistent hot copy of the database (through the admin API, or --db while the service is stopped).",
		examples: []string{
			"tagihan-relay backup --out relay-backup.db",
			"tagihan-relay backup --db data/relay.db --out relay-backup.db",
		},
	},
	"compact": {
		usage: "compact --db FILE [--out FILE]",
		about: "Rewrite a stopped service's database to give free pages back to the file system (keeps FILE.bak).",
		examples: []string{
			"tagihan-relay compact --db data/relay.db",
			"tagihan-relay compact --db data/relay.db --out /tmp/relay-compact.db",
		},
	},
	"healthcheck": {
		usage: "healthcheck [--live] [--url U]",
		about: "Exit 0 when the service's /readyz (or with --live /healthz) answers 200: a container HEALTHCHECK without curl.",
		examples: []string{
			"tagihan-relay healthcheck",
			"tagihan-relay healthcheck --live --url http://127.0.0.1:8080",
		},
	},
}

// printHelp writes the help of the command called name, with fs's flags.
func printHelp(w io.Writer, name string, fs *flag.FlagSet) {
	h, ok := helps[name]
	if !ok {
		h = commandHelp{usage: name + " [flags]"}
	}
	fmt.Fprintf(w, "Usage: tagihan-relay %s\n\n%s\n", h.usage, h.about)
	if fs != nil {
		var flags strings.Builder
		fs.SetOutput(&flags)
		fs.PrintDefaults()
		if flags.Len() > 0 {
			fmt.Fprintf(w, "\nFlags:\n%s", flags.String())
		}
	}
	if len(h.examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range h.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}
