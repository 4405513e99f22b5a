package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/webhook"
	"github.com/agentledger/agentledger/engine"
	"github.com/spf13/cobra"
)

func (a *app) webhookCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Webhooks: tell your systems what happened (signed POSTs, retried, in order)",
		Long: `Webhook endpoints receive agentledger's events as signed JSON POSTs:
{"id","type","created_at","data"} with the headers
X-Agentledger-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
and X-Agentledger-Event: <type>. A 2xx within 5 s delivers; anything else is
retried after 5 s, 30 s, 2 min, 10 min and 1 h, then marked failed. Each
endpoint gets its events in order. 'agentledger serve' sends them; so does
'agentledger webhook run'.

Event types: ` + strings.Join(engine.EventTypes, ", ") + `.`,
	}

	var events []string
	add := &cobra.Command{
		Use: "add URL [--events TYPE,…]", Short: "Register an endpoint; its signing secret is shown once", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			w, err := a.engine.AddWebhook(a.ctx, op, engine.AddWebhookInput{URL: args[0], Events: events})
			if err != nil {
				return err
			}
			return a.emit(w, func(out io.Writer) {
				fmt.Fprintf(out, "Added webhook endpoint %s for %s (%s).\n", w.ID, w.URL, subscribed(w.Events))
				fmt.Fprintf(out, "Signing secret (shown once, store it now):\n\n  %s\n", w.Secret)
			})
		}),
	}
	add.Flags().Var(&listValue{v: &events}, "events", "only these event types, comma-separated (default: every event)")

	list := &cobra.Command{
		Use: "list", Short: "List webhook endpoints (never their secrets)", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			endpoints, err := a.engine.ListWebhooks(a.ctx, op, engine.Page{})
			if err != nil {
				return err
			}
			list := endpoints.Items
			return a.emit(list, func(w io.Writer) {
				t := newTable(w, "ID", "URL", "EVENTS", "CREATED", "REMOVED")
				for _, e := range list {
					t.row(e.ID, e.URL, subscribed(e.Events), timestamp(e.CreatedAt), optionalTime(e.RemovedAt))
				}
				t.flush()
			})
		}),
	}

	remove := &cobra.Command{
		Use: "remove ENDPOINT", Short: "Stop sending to an endpoint; its pending deliveries are cancelled", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			w, err := a.engine.RemoveWebhook(a.ctx, op, engine.RemoveWebhookInput{EndpointID: args[0]})
			if err != nil {
				return err
			}
			return a.emit(w, func(out io.Writer) { fmt.Fprintf(out, "Webhook endpoint %s removed.\n", w.ID) })
		}),
	}

	var filter engine.ListDeliveriesInput
	var deliveryPages pageFlags
	deliveries := &cobra.Command{
		Use: "deliveries [--endpoint ENDPOINT] [--status STATUS]", Short: "List deliveries, newest event first", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			return printList(a, deliveryPages, listing[engine.Delivery]{
				id: func(d *engine.Delivery) string { return d.ID },
				list: func(p engine.Page) (engine.List[engine.Delivery], error) {
					filter.Page = p
					return a.engine.ListDeliveries(a.ctx, op, filter)
				},
				headers: []string{"EVENT", "TYPE", "ENDPOINT", "STATUS", "ATTEMPTS", "LAST", "NEXT ATTEMPT"},
				row: func(d *engine.Delivery) []string {
					last := "—"
					if d.Attempts > 0 {
						last = orDash(d.LastError)
						if d.LastStatusCode != 0 && d.LastError == "" {
							last = strconv.Itoa(d.LastStatusCode)
						}
					}
					next := "—"
					if d.Status == engine.DeliveryPending {
						next = timestamp(d.NextAttemptAt)
					}
					return []string{d.EventID, d.EventType, d.EndpointID, d.Status, strconv.Itoa(d.Attempts), last, next}
				},
			})
		}),
	}
	deliveries.Flags().StringVar(&filter.EndpointID, "endpoint", "", "only this endpoint's deliveries")
	deliveries.Flags().StringVar(&filter.Status, "status", "", "pending, delivered, failed or cancelled")
	deliveryPages.add(deliveries, 50)

	var replayEndpoint string
	replay := &cobra.Command{
		Use: "replay EVENT [--endpoint ENDPOINT]", Short: "Send an event again (to one endpoint, or every endpoint subscribed to it)", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			list, err := a.engine.ReplayEvent(a.ctx, op, engine.ReplayInput{EventID: args[0], EndpointID: replayEndpoint})
			if err != nil {
				return err
			}
			return a.emit(list, func(w io.Writer) {
				if len(list) == 0 {
					fmt.Fprintf(w, "No current endpoint is subscribed to event %s.\n", args[0])
					return
				}
				for _, d := range list {
					fmt.Fprintf(w, "Event %s (%s) queued again for %s.\n", d.EventID, d.EventType, d.EndpointID)
				}
			})
		}),
	}
	replay.Flags().StringVar(&replayEndpoint, "endpoint", "", "only to this endpoint")

	var eventFilter engine.ListEventsInput
	var eventPages pageFlags
	eventsCmd := &cobra.Command{
		Use: "events [--type TYPE]", Short: "List events, newest first", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			return printList(a, eventPages, listing[engine.Event]{
				id: func(e *engine.Event) string { return e.ID },
				list: func(p engine.Page) (engine.List[engine.Event], error) {
					eventFilter.Page = p
					return a.engine.ListEvents(a.ctx, op, eventFilter)
				},
				headers: []string{"ID", "TYPE", "CREATED"},
				row:     func(e *engine.Event) []string { return []string{e.ID, e.Type, timestamp(e.CreatedAt)} },
			})
		}),
	}
	eventsCmd.Flags().StringVar(&eventFilter.Type, "type", "", "only events of this type")
	eventPages.add(eventsCmd, 50)

	var once bool
	runCmd := &cobra.Command{
		Use:   "run [--once]",
		Short: "Deliver webhooks until stopped (serve does this too)",
		Long: `Deliver webhooks until Ctrl-C. Any number of senders may run against one
database (serve runs one too): each delivery is leased to one sender at a time.
With --once, deliver what is due now and exit.`,
		Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			// Running, each delivery is a log line; once, the summary says it
			// all and only failures are logged.
			level := slog.LevelInfo
			if once {
				level = slog.LevelWarn
			}
			s := a.sender(slog.New(masking{slog.NewTextHandler(a.err, &slog.HandlerOptions{Level: level})}))
			if !once {
				fmt.Fprintln(a.err, "agentledger webhook sender running; Ctrl-C stops it")
				return s.Run(a.ctx)
			}
			total := 0
			for {
				n, err := s.RunOnce(a.ctx)
				total += n
				if err != nil {
					return err
				}
				if n == 0 {
					break
				}
			}
			return a.emit(map[string]int{"attempted": total}, func(w io.Writer) { fmt.Fprintf(w, "Attempted %d deliveries.\n", total) })
		}),
	}
	runCmd.Flags().BoolVar(&once, "once", false, "deliver what is due now, then exit")

	cmd.AddCommand(add, list, remove, deliveries, replay, eventsCmd, runCmd)
	return cmd
}

// sender is the webhook sender of this process.
func (a *app) sender(logger *slog.Logger) *webhook.Sender {
	return &webhook.Sender{Engine: a.engine, Logger: logger, OnDelivery: a.hooks.delivered}
}

// runSender delivers webhooks in the background until ctx ends; the
// returned func waits for it to stop.
func (a *app) runSender(ctx context.Context, logger *slog.Logger) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.sender(logger).Run(ctx)
	}()
	return func() { <-done }
}

func subscribed(events []string) string {
	if len(events) == 0 {
		return "every event"
	}
	return strings.Join(events, ", ")
}
