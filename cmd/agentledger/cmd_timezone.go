package main

import (
	"fmt"
	"io"

	"github.com/agentledger/agentledger/engine"
	"github.com/spf13/cobra"
)

func (a *app) timezoneCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "timezone",
		Short: "The organisation's time zone, which keys every daily and monthly window: show, set",
		Long: `Daily and monthly windows are calendar days and months in the organisation's
time zone. It is stored in the database, so that every process on it (a stdio
server a desktop client started, an HTTP server, the CLI) keys a charge to the
same day. $AGENTLEDGER_TZ, when set, must agree with it.`,
		Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			s, err := a.engine.GetSettings(a.ctx, op)
			if err != nil {
				return err
			}
			return a.emit(s, func(w io.Writer) {
				fields(w, "timezone", s.TimeZone, "changed_at", optionalTime(s.UpdatedAt))
			})
		}),
	}
	set := &cobra.Command{
		Use:   "set ZONE",
		Short: "Change the time zone (an IANA name such as Europe/Berlin) for every process, at once",
		Long: `Change the organisation's time zone. It takes effect at once in every process
on the database. Spend already counted stays in the day and month it was
counted in (a later reversal gives back to those); from now on the current day
and month are those of the new zone. The command says what that means for the
windows open right now.`,
		Args: cobra.ExactArgs(1),
		// Changing the zone is how a disagreeing $AGENTLEDGER_TZ is fixed.
		PreRun: func(*cobra.Command, []string) { a.changingTimeZone = true },
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			c, err := a.engine.SetTimeZone(a.ctx, op, engine.SetTimeZoneInput{TimeZone: args[0]})
			if err != nil {
				return err
			}
			return a.emit(c, func(w io.Writer) { printTimeZoneChange(w, c) })
		}),
	}
	cmd.AddCommand(set)
	return cmd
}

// printTimeZoneChange says what a change of zone does to the open windows.
func printTimeZoneChange(w io.Writer, c *engine.TimeZoneChange) {
	if c.From == c.To {
		fmt.Fprintf(w, "The time zone is already %s. Nothing changed.\n", c.To)
		return
	}
	fmt.Fprintf(w, "Time zone changed from %s to %s, for every process on this database.\n", c.From, c.To)
	fmt.Fprintln(w, "Spend already counted stays in the day and month it was counted in.")
	switch at := timestamp(c.At); {
	case c.DayAfter == c.DayBefore:
		fmt.Fprintf(w, "Today's daily window stays %s (at %s it is that day in both zones): today's spend keeps counting.\n", c.DayAfter, at)
	case c.DayAfter > c.DayBefore:
		fmt.Fprintf(w, "Today's daily window is now %s (it was %s in %s at %s): daily limits start afresh.\n",
			c.DayAfter, c.DayBefore, c.From, at)
	default:
		fmt.Fprintf(w, "Today's daily window is %s again (it was %s in %s at %s): what was spent on %s counts toward today's limits again until the day ends in %s.\n",
			c.DayAfter, c.DayBefore, c.From, at, c.DayAfter, c.To)
	}
	if c.MonthAfter != c.MonthBefore {
		fmt.Fprintf(w, "The monthly window is now %s (it was %s).\n", c.MonthAfter, c.MonthBefore)
	}
}
