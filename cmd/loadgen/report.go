package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets.
const (
	targetRate          = 10_000 // closed-loop durable authorizations a second
	targetOfBaseline    = 0.5    // closed-loop rate as a share of the baseline's
	targetP99Ms         = 5.0    // p99 at targetP99Rate offered
	targetP99Rate       = 1000
	targetHistoryShare  = 0.9 // with a long history, within 10% of a fresh database
	targetVelocityShare = 0.9 // a velocity-limited agent at the rate of one without
)

// report is everything a run measured and concluded.
type report struct {
	Started     time.Time     `json:"started"`
	CPUs        int           `json:"cpus"`
	Go          string        `json:"go"`
	Config      runConfig     `json:"config"`
	History     *historyInfo  `json:"history,omitempty"`
	Results     []*result     `json:"results"`
	Comparisons []comparison  `json:"comparisons"`
	Whole       []wholeServer `json:"whole_run"`
	Checks      []check       `json:"checks"`
}

// historyInfo describes the seeded database a run measured.
type historyInfo struct {
	DB                string    `json:"db"`
	Authorizations    int64     `json:"authorizations"` // when the run began
	Seeded            int64     `json:"seeded"`
	SeededAt          time.Time `json:"seeded_at"`
	SeedSeconds       float64   `json:"seed_seconds"`
	OrdinaryCards     int       `json:"ordinary_cards"`
	Groups            []string  `json:"groups"`
	VelocityWindowMin int64     `json:"velocity_window_spends_min"`
	VelocityWindowMax int64     `json:"velocity_window_spends_max"`
}

// comparison is one figure set against its target (Met is nil when the
// figure has none).
type comparison struct {
	What   string  `json:"what"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Target string  `json:"target,omitempty"`
	Met    *bool   `json:"met,omitempty"`
	Detail string  `json:"detail,omitempty"`
}

// wholeServer is what a server kept over the whole run, measured once it
// stopped (its WAL checkpointed into the database).
type wholeServer struct {
	Target         string  `json:"target"`
	Authorizations int64   `json:"authorizations"` // answered, warm-ups included
	KeptPerAuth    float64 `json:"kept_bytes_per_auth"`
}

// check is a pass or fail of one server's run.
type check struct {
	Target string `json:"target"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func newReport(cfg runConfig) *report {
	return &report{Started: time.Now().UTC(), CPUs: runtime.NumCPU(), Go: runtime.Version(), Config: cfg}
}

func (r *report) ok() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return len(r.Checks) > 0
}

// median is the median of a figure of one phase on one target over the
// rounds; false when none was measured.
func (r *report) median(target, phase string, figure func(*result) float64) (float64, bool) {
	var v []float64
	for _, res := range r.Results {
		if res.Target == target && res.Phase == phase {
			v = append(v, figure(res))
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2, true
	}
	return v[len(v)/2], true
}

// sum adds up a count of one phase on one target over the rounds.
func (r *report) sum(target, phase string, count func(*result) int64) int64 {
	var n int64
	for _, res := range r.Results {
		if res.Target == target && res.Phase == phase {
			n += count(res)
		}
	}
	return n
}

func rate(res *result) float64 { return res.Throughput }
func p99(res *result) float64  { return res.P99Ms }

func (r *report) compare(what string, value float64, unit, target string, met bool, detail string) {
	r.Comparisons = append(r.Comparisons, comparison{What: what, Value: value, Unit: unit, Target: target, Met: &met,
		Detail: detail})
}

func (r *report) inform(what string, value float64, unit, detail string) {
	r.Comparisons = append(r.Comparisons, comparison{What: what, Value: value, Unit: unit, Detail: detail})
}

// finish sets the run's figures against the targets, and records what each
// server kept over the whole run.
func (r *report) finish(base, fresh, hist *target) {
	name := func(t *target) string {
		if t == nil {
			return ""
		}
		return t.name
	}
	for _, c := range r.Config.Clients {
		ph := fmt.Sprintf("closed-%d", c)
		a, ok := r.median(fresh.name, ph, rate)
		if !ok {
			continue
		}
		what := fmt.Sprintf("closed loop, %d clients: agentledger", c)
		r.compare(what, a, "/s", fmt.Sprintf("≥ %d/s", targetRate), a >= targetRate, "")
		if b, ok := r.median(name(base), ph, rate); ok && b > 0 {
			r.compare(what+" ÷ baseline", a/b, "×", fmt.Sprintf("≥ %.1f×", targetOfBaseline), a/b >= targetOfBaseline,
				fmt.Sprintf("baseline %.0f/s", b))
		}
		if h, ok := r.median(name(hist), ph, rate); ok && a > 0 {
			r.compare(what+" with history ÷ fresh", h/a, "×", fmt.Sprintf("≥ %.1f×", targetHistoryShare),
				h/a >= targetHistoryShare, fmt.Sprintf("%.0f/s with history, %.0f/s fresh", h, a))
		}
	}
	for _, offered := range r.Config.Rates {
		ph := "open-" + strconv.FormatFloat(offered, 'f', -1, 64)
		v, ok := r.median(fresh.name, ph, p99)
		if !ok {
			continue
		}
		what := fmt.Sprintf("open loop, %g/s offered: agentledger p99", offered)
		served, _ := r.median(fresh.name, ph, rate)
		others := []string{fmt.Sprintf("served %.0f/s", served)}
		if missed := r.sum(fresh.name, ph, func(res *result) int64 { return res.Missed }); missed > 0 {
			others = append(others, fmt.Sprintf("%d requests not sent (%d in flight): the p99 understates",
				missed, maxInFlight))
		}
		for _, t := range []*target{base, hist} {
			if o, ok := r.median(name(t), ph, p99); ok {
				others = append(others, fmt.Sprintf("%s %.2f ms", t.name, o))
			}
		}
		if offered == targetP99Rate {
			r.compare(what, v, "ms", fmt.Sprintf("≤ %g ms", targetP99Ms), v <= targetP99Ms, strings.Join(others, ", "))
		} else {
			r.inform(what, v, "ms", strings.Join(others, ", "))
		}
	}
	if hist != nil {
		for _, res := range r.Results {
			if !strings.HasPrefix(res.Phase, "velocity-") || res.Round != 1 {
				continue
			}
			control := "control-" + strings.TrimPrefix(res.Phase, "velocity-")
			v, _ := r.median(hist.name, res.Phase, rate)
			k, ok := r.median(hist.name, control, rate)
			if ok && k > 0 {
				r.compare("with history: velocity-limited agents ÷ the same history unlimited", v/k, "×",
					fmt.Sprintf("≥ %.1f×", targetVelocityShare), v/k >= targetVelocityShare,
					fmt.Sprintf("%.0f/s velocity-limited, %.0f/s without", v, k))
			}
		}
	}
	for _, t := range []*target{base, fresh, hist} {
		if t == nil {
			continue
		}
		n := t.answered.Load()
		w := wholeServer{Target: t.name, Authorizations: n, KeptPerAuth: -1}
		if n > 0 {
			w.KeptPerAuth = float64(filesSize(t.db, t.db+"-wal")-t.keptAtStart) / float64(n)
		}
		r.Whole = append(r.Whole, w)
	}
}

func (r *report) print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "\nloadgen, %s: %d CPUs, %s. Each phase: %s warm-up, then %s measured; %d round(s).\n",
		r.Started.Format(time.RFC3339), r.CPUs, r.Go, c.Warmup, c.Duration, c.Rounds)
	fmt.Fprintln(w, "The load and every server share this machine; one phase runs at a time, all in this run.")
	if h := r.History; h != nil {
		fmt.Fprintf(w, "History: %s, %d authorizations (%d seeded %s in %s); agents %s; velocity windows hold "+
			"%d–%d spends.\n", h.DB, h.Authorizations, h.Seeded, h.SeededAt.Format(time.DateTime),
			(time.Duration(h.SeedSeconds) * time.Second).Round(time.Second), strings.Join(h.Groups, ", "),
			h.VelocityWindowMin, h.VelocityWindowMax)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tphase\tround\tcards\trequests\tapproved\tdeclined\terrors\tmissed\tauth/s\t"+
		"p50 ms\tp99 ms\tp99.9 ms\tmax ms\twritten B/auth\tkept B/auth\tserver CPU µs/auth\tloadgen CPU µs/auth\t")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.1f\t%s\t%s\t%s\t%s\t\n",
			res.Target, res.Phase, res.Round, res.Cards, res.Requests, res.Approved, res.Declined, res.Errors, res.Missed,
			res.Throughput, res.P50Ms, res.P99Ms, res.P999Ms, res.MaxMs,
			orUnknown(res.WrittenPerAuth), orUnknown(res.KeptPerAuth), orUnknown(res.CPUPerAuthUs),
			orUnknown(res.ClientCPUUs))
	}
	tw.Flush()
	if len(r.Whole) > 0 {
		fmt.Fprint(w, "\nKept over the whole run (database after the server stopped, per authorization answered):")
		for _, s := range r.Whole {
			fmt.Fprintf(w, " %s %s B (%d);", s.Target, orUnknown(s.KeptPerAuth), s.Authorizations)
		}
		fmt.Fprintln(w)
	}
	if len(r.Comparisons) > 0 {
		fmt.Fprintln(w, "\nTargets:")
		for _, cmp := range r.Comparisons {
			verdict := "      "
			if cmp.Met != nil {
				verdict = map[bool]string{true: "MET   ", false: "MISSED"}[*cmp.Met]
			}
			line := fmt.Sprintf("  %s  %s: %s", verdict, cmp.What, formatValue(cmp.Value, cmp.Unit))
			if cmp.Target != "" {
				line += " (target " + cmp.Target + ")"
			}
			if cmp.Detail != "" {
				line += "; " + cmp.Detail
			}
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintln(w, "\nChecks:")
	for _, ck := range r.Checks {
		fmt.Fprintf(w, "  %s  %s: %s\n", map[bool]string{true: "ok    ", false: "FAILED"}[ck.OK], ck.Target, ck.Detail)
	}
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "/s":
		return fmt.Sprintf("%.0f/s", v)
	case "×":
		return fmt.Sprintf("%.2f×", v)
	case "ms":
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%g %s", v, unit)
}

func orUnknown(v float64) string {
	if v < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f", v)
}
