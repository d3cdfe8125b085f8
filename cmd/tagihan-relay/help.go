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

// helpRequest is a command's --help: run prints the help of fs's command
// (exit 0). Printing it there keeps the commands table free of a cycle.
type helpRequest struct{ fs *flag.FlagSet }

func (*helpRequest) Error() string { return "help requested" }

// command is one command or subcommand ("events list"). The top-level
// usage and every --help are generated from the table.
type command struct {
	name     string // "replay", or "events list" for a subcommand
	section  string // the top-level usage's group; "" for a subcommand
	summary  string // one line in the top-level usage, after the usage
	usage    string // after "Usage: tagihan-relay "
	about    string
	examples []string
	missing  string // a group's answer when no subcommand is given
	// run runs the command (a leaf) with the arguments after its name;
	// a group (run nil) dispatches to the commands named "group sub".
	run func(env *cliEnv, args []string) error
}

// commands is every command, in the order of the top-level usage.
var commands = []*command{
	{
		name:    "serve",
		run:     cmdServe,
		section: "Service",
		summary: "run the service (webhook + admin listeners)",
		usage:   "serve [--env-file F]",
		about:   "Run the service: the webhook listener (RELAY_LISTEN_ADDR), the admin API, metrics and console (RELAY_ADMIN_ADDR).\nWith no configuration it keeps data in ./data, creates a development secret and relays to stdout.",
		examples: []string{
			"tagihan-relay serve",
			"tagihan-relay serve --env-file config.env",
		},
	},
	{
		name:    "send",
		run:     cmdSend,
		section: "Development",
		summary: "post a realistic signed TagihanAI delivery of TYPE\n(send --list shows the 24 types)",
		usage:   "send TYPE [--url U | --source NAME] [--secret S] [--id ID] [--subject ID] [--document-number N] [--print]",
		about:   "Post a realistic signed TagihanAI delivery of TYPE, like `stripe trigger`. --subject sends it for an existing\ntransaction (or payment, subscription, party) id: a second transaction.sent for the same subject shows create-once.",
		examples: []string{
			"tagihan-relay send --list",
			"tagihan-relay send transaction.sent",
			"tagihan-relay send transaction.sent --subject 550e8400-e29b-41d4-a716-446655440000 --document-number INV-2026-0042",
			"tagihan-relay send payment.received --url http://localhost:3000/webhooks/tagihanai --secret whsec_local",
			"tagihan-relay send transaction.sent --source acme --secret \"$ACME_WEBHOOK_SECRET\"",
		},
	},
	{
		name:    "verify",
		run:     cmdVerify,
		section: "Development",
		summary: "explain why a signature passes or fails",
		usage:   "verify --body FILE (--header \"X-TagihanAI-Signature: ...\" | --signature SIG [--timestamp TS]) [--secret S]",
		about:   "Explain why a received signature passes or fails (wrong secret, stale timestamp, body changed, encoding).",
		examples: []string{
			"tagihan-relay verify --body body.json --header 'X-TagihanAI-Signature: t=1772442000,v1=5f2c...' --secret whsec_...",
			"pbpaste | tagihan-relay verify --body - --signature 't=1772442000,v1=5f2c...'",
		},
	},
	{
		name:    "replay",
		run:     cmdReplay,
		section: "Development",
		summary: "re-deliver stored events to a URL, signed like TagihanAI, or to a sink",
		usage:   "replay [ID...] [--type GLOB] [--since D] [--until D] (--to URL [--secret S] [--rate N/s] | --sink NAME) [--dry-run]",
		about:   "Re-deliver stored events: --to posts each stored body byte for byte to URL, re-signed like TagihanAI with a\nfresh timestamp; --sink queues a new delivery to a configured sink.",
		examples: []string{
			"tagihan-relay replay --type transaction.paid --since 24h --to http://localhost:3000/webhooks/tagihanai --secret whsec_local",
			"tagihan-relay replay evt_9f2c... --sink erp",
			"tagihan-relay replay --since 1h --to http://localhost:3000/hook --rate 5/s --dry-run",
		},
	},
	{
		name:    "events",
		section: "Operating (admin API at RELAY_ADMIN_ADDR, or --db FILE offline)",
		usage:   "events (list | show ID | resolve ID) [flags]",
		missing: "give list, show ID or resolve ID",
		about:   "Stored events. Subcommands:\n  list      find events (q, type, status, subject, time)\n  show      one event: headers, body, CloudEvent, every delivery attempt\n  resolve   settle a needs-review delivery\nRun `tagihan-relay events list --help` (etc.) for each one's flags.",
		examples: []string{
			"tagihan-relay events list --q INV-2026-0042",
			"tagihan-relay events show evt_9f2c...",
		},
	},
	{
		name:  "events list",
		run:   cmdEventsList,
		usage: "events list [--q TEXT] [--type GLOB] [--status S] [--subject ID] [--source NAME] [--since D] [--until D] [--limit N] [--cursor C] [--all]",
		about: "List events, newest first. As JSON (piped, or --json) it prints every match as NDJSON, following the cursor\nto the end; --limit N stops after N. On a terminal it prints one page (--limit, default 100) and says how to get more.",
		examples: []string{
			"tagihan-relay events list --q INV-2026-0042",
			"tagihan-relay events list --type 'transaction.*' --status dead --since 24h",
			"tagihan-relay events list --json --since 7d | jq -r .id",
			"tagihan-relay events list --source acme --status dead",
		},
	},
	{
		name:  "events show",
		run:   cmdEventsShow,
		usage: "events show ID",
		about: "Show one event: status, every delivery per sink with its attempts, the created document, headers, body and CloudEvent.",
		examples: []string{
			"tagihan-relay events show evt_9f2c...",
			"tagihan-relay events show evt_9f2c... --json | jq .deliveries",
		},
	},
	{
		name:  "events resolve",
		run:   cmdEventsResolve,
		usage: "events resolve ID --sink S (--delivered [--document-number N] | --retry)",
		about: "Settle a needs-review delivery after checking the sink: --delivered when the document exists there,\n--retry when it does not (the relay sends it again).",
		examples: []string{
			"tagihan-relay events resolve evt_9f2c... --sink accounting --delivered --document-number SI-000123",
			"tagihan-relay events resolve evt_9f2c... --sink accounting --retry",
		},
	},
	{
		name:    "dead-letters",
		section: "Operating (admin API at RELAY_ADMIN_ADDR, or --db FILE offline)",
		usage:   "dead-letters (list | redrive) [flags]",
		missing: "give list or redrive",
		about:   "Deliveries that gave up (dead) or need an operator (needs_review). Subcommands:\n  list      list them\n  redrive   send dead ones again\nRun `tagihan-relay dead-letters list --help` (etc.) for each one's flags.",
		examples: []string{
			"tagihan-relay dead-letters list --sink erp",
			"tagihan-relay dead-letters redrive --sink erp --type 'payment.*'",
		},
	},
	{
		name:  "dead-letters list",
		run:   cmdDeadLettersList,
		usage: "dead-letters list [--sink S] [--source NAME] [--type GLOB] [--state dead|needs_review] [--since D] [--limit N] [--cursor C] [--all]",
		about: "List dead and needs-review deliveries, newest first. As JSON (piped, or --json) it prints every one as NDJSON,\nfollowing the cursor to the end; --limit N stops after N. --sink must name a configured sink.",
		examples: []string{
			"tagihan-relay dead-letters list",
			"tagihan-relay dead-letters list --sink erp --state needs_review",
			"tagihan-relay dead-letters list --source acme",
			"tagihan-relay dead-letters list --json | jq -r .event_id",
		},
	},
	{
		name:  "dead-letters redrive",
		run:   cmdDeadLettersRedrive,
		usage: "dead-letters redrive (ID... | --sink S | --type GLOB | --all)",
		about: "Move dead deliveries back to pending with a fresh schedule. Unknown event ids and sinks are refused.\nneeds_review deliveries are never redriven in bulk: resolve them with `events resolve`.",
		examples: []string{
			"tagihan-relay dead-letters redrive evt_9f2c...",
			"tagihan-relay dead-letters redrive --sink erp --type 'payment.*'",
			"tagihan-relay dead-letters redrive --all",
		},
	},
	{
		name:    "export",
		run:     cmdExport,
		section: "Operating (admin API at RELAY_ADMIN_ADDR, or --db FILE offline)",
		usage:   "export [--out FILE] [--type GLOB] [--since D] [--until D]",
		about:   "Write stored deliveries as NDJSON (id, received_at, headers, body_base64, event, status), to stdout by default.",
		examples: []string{
			"tagihan-relay export --since 24h --out yesterday.ndjson",
			"tagihan-relay export --db data/relay.db --type 'transaction.*' > invoices.ndjson",
		},
	},
	{
		name:    "import",
		run:     cmdImport,
		section: "Operating (admin API at RELAY_ADMIN_ADDR, or --db FILE offline)",
		usage:   "import FILE [--route]",
		about:   "Read an export (FILE, or - for stdin); existing event ids are skipped. --route also sends the imported events\nto the configured sinks. import --db creates the file when it does not exist.",
		examples: []string{
			"tagihan-relay import yesterday.ndjson",
			"tagihan-relay import --db /tmp/dev/relay.db yesterday.ndjson --route",
		},
	},
	{
		name:    "backup",
		run:     cmdBackup,
		section: "Operating (admin API at RELAY_ADMIN_ADDR, or --db FILE offline)",
		usage:   "backup --out FILE",
		about:   "Write a consistent hot copy of the database (through the admin API, or --db while the service is stopped).",
		examples: []string{
			"tagihan-relay backup --out relay-backup.db",
			"tagihan-relay backup --db data/relay.db --out relay-backup.db",
		},
	},
	{
		name:    "compact",
		run:     cmdCompact,
		section: "Operating (admin API at RELAY_ADMIN_ADDR, or --db FILE offline)",
		summary: "(offline) rewrite the database to reclaim space",
		usage:   "compact --db FILE [--out FILE]",
		about:   "Rewrite a stopped service's database to give free pages back to the file system (keeps FILE.bak).",
		examples: []string{
			"tagihan-relay compact --db data/relay.db",
			"tagihan-relay compact --db data/relay.db --out /tmp/relay-compact.db",
		},
	},
	{
		name:    "sources",
		section: "Sources: many TagihanAI workspaces in one relay (admin API at RELAY_ADMIN_ADDR)",
		usage:   "sources (list | show | apply | add-secret | remove-secret | enable | disable | delete) [flags]",
		missing: "give list, show NAME, apply -f FILE, add-secret NAME, remove-secret NAME ID, enable NAME, disable NAME or delete NAME",
		about: "Run-time sources: each its own signing secrets and sinks, served at /webhooks/tagihanai/NAME. Subcommands:\n" +
			"  list           every source: enabled, secret fingerprints, sinks, path\n" +
			"  show           one source with what its sinks hold\n" +
			"  apply          create or update the sources of a YAML or JSON file (idempotent)\n" +
			"  add-secret     add a signing secret (the first step of a rotation)\n" +
			"  remove-secret  remove a signing secret by its fingerprint (never the last)\n" +
			"  enable         take deliveries again\n" +
			"  disable        answer 404 to deliveries; the sinks still send what the source has\n" +
			"  delete         stop intake at once; what it had pending still drains\n" +
			"The source \"default\" is the environment configuration: listed, read-only.\n" +
			"Secrets are shown only as fingerprints (the first 8 hex digits of their SHA-256).\n" +
			"Run `tagihan-relay sources apply --help` (etc.) for each one's flags.",
		examples: []string{
			"tagihan-relay sources apply -f sources.yaml",
			"tagihan-relay sources list",
			"tagihan-relay sources show acme",
		},
	},
	{
		name:  "sources list",
		run:   cmdSourcesList,
		usage: "sources list [--json]",
		about: "List the sources by name: enabled, secret fingerprints, sinks (name:kind) and the path TagihanAI posts to.\nAs JSON (piped, or --json) it prints one source per line (NDJSON).",
		examples: []string{
			"tagihan-relay sources list",
			"tagihan-relay sources list --json | jq -r 'select(.enabled) | .name'",
		},
	},
	{
		name:  "sources show",
		run:   cmdSourcesShow,
		usage: "sources show NAME [--json]",
		about: "Show one source: secrets (fingerprints, when added), sinks with the events they take, and what they hold:\nreceived in the last 24 h, pending, in flight, dead, needs review. JSON when piped or with --json.",
		examples: []string{
			"tagihan-relay sources show acme",
			"tagihan-relay sources show acme --json | jq .stats",
		},
	},
	{
		name:  "sources apply",
		run:   cmdSourcesApply,
		usage: "sources apply -f FILE [--json]",
		about: "Create or update the sources written in FILE (- for stdin): YAML or JSON, one source, a list, or {sources: [...]},\n" +
			"in one or more YAML documents. ${VAR} in a value is read from the environment (and --env-file), so secrets\n" +
			"need not be in the file. A source's whole configuration is replaced by what the file says (enabled defaults\n" +
			"to true); sources the file does not name are left alone. It prints one line per source: created NAME,\n" +
			"updated NAME or unchanged NAME (--json: the API's answer, one per line). A source the API refuses (its\n" +
			"message names the source, sink and key) is left as it was, the others are applied, and the exit status is 1.\n\n" +
			"  name: acme\n" +
			"  secrets: [\"${ACME_WEBHOOK_SECRET}\"]\n" +
			"  sinks:\n" +
			"    erp: {KIND: http, URL: \"https://erp.acme.example/hooks\", EVENTS: \"transaction.*\"}",
		examples: []string{
			"ACME_WEBHOOK_SECRET=whsec_... tagihan-relay sources apply -f sources.yaml",
			"tagihan-relay sources apply -f sources.json --env-file secrets.env",
			"render-sources | tagihan-relay sources apply -f -",
		},
	},
	{
		name:  "sources add-secret",
		run:   cmdSourcesAddSecret,
		usage: "sources add-secret NAME --secret (S | -)",
		about: "Add a signing secret to a source; deliveries signed with any of its secrets pass (rotation: add the new one,\n" +
			"switch TagihanAI over, then remove-secret the old one). --secret - reads one line from stdin (not echoed on a\n" +
			"terminal), which keeps the secret out of shell history. It prints the new secret's fingerprint, never the secret.",
		examples: []string{
			"tagihan-relay sources add-secret acme --secret -",
			"pass show tagihanai/acme | tagihan-relay sources add-secret acme --secret -",
		},
	},
	{
		name:  "sources remove-secret",
		run:   cmdSourcesRemoveSecret,
		usage: "sources remove-secret NAME ID",
		about: "Remove a signing secret by its ID (its fingerprint, shown by list and show). The last secret is never removed.",
		examples: []string{
			"tagihan-relay sources remove-secret acme 5f2c8a1e",
		},
	},
	{
		name:  "sources enable",
		run:   cmdSourcesEnable,
		usage: "sources enable NAME",
		about: "Enable a source: its deliveries are verified and stored again.",
		examples: []string{
			"tagihan-relay sources enable acme",
		},
	},
	{
		name:  "sources disable",
		run:   cmdSourcesDisable,
		usage: "sources disable NAME",
		about: "Disable a source: its deliveries get 404 unknown_source and nothing is stored (TagihanAI retries them);\nits sinks still send what it already has.",
		examples: []string{
			"tagihan-relay sources disable acme",
		},
	},
	{
		name:  "sources delete",
		run:   cmdSourcesDelete,
		usage: "sources delete NAME",
		about: "Delete a source: intake stops at once (404 unknown_source); what it had pending still drains, then it is gone.",
		examples: []string{
			"tagihan-relay sources delete acme",
		},
	},
	{
		name:    "connect",
		run:     cmdConnect,
		section: "TagihanAI: connect and reconcile (admin API at RELAY_ADMIN_ADDR)",
		summary: "create the TagihanAI webhook subscription of SOURCE, store its secret, check the test event",
		usage:   "connect SOURCE --api-key (K | -) --public-url URL [--events T,...] [--api-base-url U]",
		about: "Create (or reuse) the TagihanAI webhook subscription for URL/webhooks/tagihanai/SOURCE, store its signing\n" +
			"secret in the source (created without sinks when it does not exist), send TagihanAI's test event and wait up to\n" +
			"30 s until the relay has received and verified it. Exit 0 only then; else it says what TagihanAI reported.\n" +
			"Safe to run again: a subscription whose secret the source holds is reused; one it cannot verify is replaced\n" +
			"(the new one first, the old deleted after the test passed). The API key is stored sealed, never printed.",
		examples: []string{
			"tagihan-relay connect acme --api-key - --public-url https://relay.example.com",
			"tagihan-relay connect acme --api-key \"$ACME_TAGIHANAI_KEY\" --public-url https://relay.example.com --events 'transaction.*,payment.*'",
		},
	},
	{
		name:    "disconnect",
		run:     cmdDisconnect,
		section: "TagihanAI: connect and reconcile (admin API at RELAY_ADMIN_ADDR)",
		summary: "delete the TagihanAI webhook subscription of SOURCE",
		usage:   "disconnect SOURCE",
		about:   "Delete the source's TagihanAI webhook subscription. The source, its secrets and its API key stay (reconcile still works).",
		examples: []string{
			"tagihan-relay disconnect acme",
		},
	},
	{
		name:    "reconcile",
		run:     cmdReconcile,
		section: "TagihanAI: connect and reconcile (admin API at RELAY_ADMIN_ADDR)",
		summary: "compare TagihanAI with what the relay holds for SOURCE; --fix backfills missing documents",
		usage:   "reconcile SOURCE [--since 168h] [--fix] [--json]",
		about: "Report undelivered_by_tagihanai (TagihanAI's failed or dead-letter deliveries the relay never stored) and\n" +
			"missing_document (an INVOICE TagihanAI shows SENT, VIEWED, PARTIAL, PAID or OVERDUE that a create-once sink of\n" +
			"the source has no document for). --fix queues each missing document as the event reconcile:<transaction>:sent\n" +
			"through the outbox, only to the sinks that lack it: a second --fix creates nothing. Exit 0 when no gap is left.\n" +
			"It cannot see payments or parties (they have no documents to compare). JSON when piped or with --json.",
		examples: []string{
			"tagihan-relay reconcile acme",
			"tagihan-relay reconcile acme --since 720h --fix",
			"tagihan-relay reconcile acme --json | jq '.gaps[] | select(.kind==\"missing_document\")'",
		},
	},
	{
		name:    "healthcheck",
		run:     cmdHealthcheck,
		section: "Container",
		summary: "exit 0 when /readyz (or /healthz) answers 200",
		usage:   "healthcheck [--live] [--url U]",
		about:   "Exit 0 when the service's /readyz (or with --live /healthz) answers 200: a container HEALTHCHECK without curl.",
		examples: []string{
			"tagihan-relay healthcheck",
			"tagihan-relay healthcheck --live --url http://127.0.0.1:8080",
		},
	},
}

// findCommand returns the command called name ("events list"), or nil.
func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// subcommands returns the commands of the group called name.
func subcommands(name string) []*command {
	var subs []*command
	for _, c := range commands {
		if strings.HasPrefix(c.name, name+" ") {
			subs = append(subs, c)
		}
	}
	return subs
}

// runGroup dispatches a group's first argument to its subcommand.
func runGroup(env *cliEnv, g *command, args []string) error {
	subs := subcommands(g.name)
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = strings.TrimPrefix(s.name, g.name+" ")
	}
	if len(args) == 0 {
		printHelp(env.stderr, g.name, nil)
		return &usageError{fmt.Sprintf("%s: %s", g.name, g.missing)}
	}
	if isHelp(args[0]) {
		printHelp(env.stdout, g.name, nil)
		return errHelp
	}
	if c := findCommand(g.name + " " + args[0]); c != nil {
		return c.run(env, args[1:])
	}
	return &usageError{fmt.Sprintf("%s: unknown subcommand %q (%s)", g.name, args[0], strings.Join(names, ", "))}
}

// usageHeader and usageFooter frame the generated list of commands.
const (
	usageHeader = "tagihan-relay — receive, verify, store and relay TagihanAI webhooks\n\nUsage: tagihan-relay <command> [flags] [args]\n"
	usageFooter = `
Every command takes --help (usage, flags, examples); "tagihan-relay help CMD" is the same.
Common flags: --env-file F, --admin URL, --token T, --db FILE, --json
Durations for --since/--until: 24h, 90m, or RFC 3339 times.

Environment: see README.md and config.example.env.
`
	// summaryColumn is where a command's summary starts.
	summaryColumn = 35
)

// usage is the top-level usage: the commands by section, a group's
// subcommands in place of the group.
func usage() string {
	var b strings.Builder
	b.WriteString(usageHeader)
	section := ""
	for _, c := range commands {
		if c.section == "" {
			continue
		}
		if c.section != section {
			section = c.section
			fmt.Fprintf(&b, "\n%s:\n", section)
		}
		if c.run == nil {
			for _, s := range subcommands(c.name) {
				fmt.Fprintf(&b, "  %s\n", s.usage)
			}
			continue
		}
		writeUsageLine(&b, c)
	}
	b.WriteString(usageFooter)
	return b.String()
}

// writeUsageLine writes a command's usage and its summary, aligned at
// summaryColumn (on the next lines when the usage is long).
func writeUsageLine(b *strings.Builder, c *command) {
	line := "  " + c.usage
	lines := strings.Split(c.summary, "\n")
	if c.summary == "" {
		lines = nil
	}
	if len(lines) > 0 && len(line) < summaryColumn-1 {
		line += strings.Repeat(" ", summaryColumn-len(line)) + lines[0]
		lines = lines[1:]
	}
	b.WriteString(line + "\n")
	for _, l := range lines {
		b.WriteString(strings.Repeat(" ", summaryColumn) + l + "\n")
	}
}

// printHelp writes the help of the command called name, with fs's flags.
func printHelp(w io.Writer, name string, fs *flag.FlagSet) {
	c := findCommand(name)
	if c == nil {
		c = &command{usage: name + " [flags]"}
	}
	fmt.Fprintf(w, "Usage: tagihan-relay %s\n\n%s\n", c.usage, c.about)
	if fs != nil {
		var flags strings.Builder
		fs.SetOutput(&flags)
		fs.PrintDefaults()
		if flags.Len() > 0 {
			fmt.Fprintf(w, "\nFlags:\n%s", flags.String())
		}
	}
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}
