package main

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// chart is one SVG file: draw writes it and its table, and reports false
// when no run belongs in it.
type chart struct {
	file string
	draw func(rs *results, file string, table io.Writer) (bool, error)
}

var charts = []chart{
	{"cpu-per-delivery.svg", drawCPU},
	{"polling-cpu.svg", drawPollingCPU},
	{"p99-vs-clients.svg", drawP99},
	{"rss-per-connection.svg", drawRSS},
	{"cluster-cpu.svg", drawClusterCPU},
	{"cluster-p99.svg", drawClusterP99},
}

// floorCase is the sub-benchmark of the floor that a paced fan-out to
// idle members compares with: one frame to each of 5,000 sockets, then a
// pause, every write waking a reader.
const floorCase = "sockets=5000/frames=1/bursts"

func drawCPU(rs *results, file string, table io.Writer) (bool, error) {
	g := newGroups()
	for _, r := range rs.runs {
		if r.Scenario == "fanout" && !r.cluster() && !r.polling() && r.CPU != nil && r.CPU.Server != nil {
			g.add(r.series(), r.fanoutCase(), r.CPU.Server.UsPerOp)
		}
	}
	if g.empty() {
		return false, nil
	}
	p := barPlot("Server CPU per delivery, one node, WebSocket clients", "µs of CPU per delivery", g)
	floor, haveFloor := median(rs.floor[floorCase])
	if haveFloor {
		for j, c := range g.cats {
			if !strings.HasPrefix(c, "paced") {
				continue
			}
			l, err := plotter.NewLine(plotter.XYs{{X: float64(j) - 0.45, Y: floor}, {X: float64(j) + 0.45, Y: floor}})
			if err != nil {
				return false, err
			}
			l.Color, l.Dashes, l.Width = plotutil.Color(len(g.series)), []vg.Length{vg.Points(4), vg.Points(3)}, vg.Points(1.5)
			p.Add(l)
			if j == slices.IndexFunc(g.cats, func(c string) bool { return strings.HasPrefix(c, "paced") }) {
				p.Legend.Add("floor: one loopback write per delivery, in bursts", l)
			}
		}
		headroom(p, floor, len(g.series)+1)
	}
	fmt.Fprintf(table, "### Server CPU per delivery, one node (µs; median [min–max], runs)\n\n")
	g.table(table, 3)
	if haveFloor {
		fmt.Fprintf(table, "\nFloor (%s): %s µs per frame, median of %d.\n", floorCase, format(floor, 3), len(rs.floor[floorCase]))
	}
	fmt.Fprintln(table)
	return true, save(p, file, len(g.cats))
}

func drawPollingCPU(rs *results, file string, table io.Writer) (bool, error) {
	g := newGroups()
	for _, r := range rs.runs {
		if r.Scenario == "fanout" && !r.cluster() && r.polling() && r.CPU != nil && r.CPU.Server != nil {
			g.add(r.series(), r.fanoutCase(), r.CPU.Server.UsPerOp)
		}
	}
	if g.empty() {
		return false, nil
	}
	fmt.Fprintf(table, "### Server CPU per delivery, one node, long-polling clients (µs; median [min–max], runs)\n\n")
	g.table(table, 2)
	fmt.Fprintln(table)
	return true, save(barPlot("Server CPU per delivery, one node, long-polling clients", "µs of CPU per delivery", g), file, len(g.cats))
}

func drawP99(rs *results, file string, table io.Writer) (bool, error) {
	return drawLines(rs, file, table, "Latency p99, paced fan-out, one node", "clients in the room", "p99, ms (POST to receipt)",
		"Latency p99 by clients, paced, one node (ms", func(r *report) (float64, bool) {
			if r.Scenario != "fanout" || r.Params.Rate == 0 || r.polling() || r.Fanout == nil {
				return 0, false
			}
			return r.Fanout.LatencyMs.P99, true
		})
}

func drawRSS(rs *results, file string, table io.Writer) (bool, error) {
	return drawLines(rs, file, table, "Server RSS per idle connection", "connections", "kB per connection",
		"Server RSS per idle connection by connections (kB", func(r *report) (float64, bool) {
			if r.Scenario != "connections" || r.Memory == nil {
				return 0, false
			}
			return r.Memory.PerConnKB, true
		})
}

// drawLines draws, for the one-node runs that figure picks, its median by
// clients, a line per series.
func drawLines(rs *results, file string, table io.Writer, title, xlabel, ylabel, tableTitle string, figure func(*report) (float64, bool)) (bool, error) {
	g := newGroups()
	for _, r := range rs.runs {
		if v, ok := figure(r); ok && !r.cluster() {
			g.add(r.series(), strconv.Itoa(r.Params.Clients), v)
		}
	}
	if g.empty() {
		return false, nil
	}
	p, err := linePlot(title, xlabel, ylabel, g)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(table, "### %s; median [min–max], runs)\n\n", tableTitle)
	g.table(table, 1)
	fmt.Fprintln(table)
	return true, save(p, file, 0)
}

func drawClusterCPU(rs *results, file string, table io.Writer) (bool, error) {
	g := newGroups()
	for _, r := range rs.runs {
		if r.Scenario == "fanout" && r.cluster() && r.CPU != nil && r.CPU.Server != nil {
			g.add(r.series(), r.fanoutCase(), r.CPU.Server.UsPerOp)
		}
	}
	if g.empty() {
		return false, nil
	}
	clusterTable(rs, table)
	return true, save(barPlot("Two nodes, one room: servers' CPU per delivery (summed)", "µs of CPU per delivery", g), file, len(g.cats))
}

func drawClusterP99(rs *results, file string, _ io.Writer) (bool, error) {
	g := newGroups()
	for _, r := range rs.runs {
		if r.Scenario == "fanout" && r.cluster() && r.Fanout != nil {
			g.add(r.series(), r.fanoutCase(), r.Fanout.LatencyMs.P99)
		}
	}
	if g.empty() {
		return false, nil
	}
	return true, save(barPlot("Two nodes, one room: latency p99", "p99, ms (POST to receipt)", g), file, len(g.cats))
}

// clusterTable is every figure of the cluster runs, medians by series
// and case; lost and duplicates are summed over the runs.
func clusterTable(rs *results, w io.Writer) {
	type key struct{ series, cas string }
	var keys []key
	byKey := make(map[key][]*report)
	for _, r := range rs.runs {
		if r.Scenario != "fanout" || !r.cluster() || r.Fanout == nil {
			continue
		}
		k := key{r.series(), r.fanoutCase()}
		if byKey[k] == nil {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], r)
	}
	slices.SortStableFunc(keys, func(a, b key) int { return strings.Compare(a.cas, b.cas) })
	fmt.Fprintf(w, "### Two nodes, one room, broadcasts to node A (medians of the runs)\n\n")
	fmt.Fprintln(w, "| | case | deliveries/s | lost | dup. | p50 / p99 ms | check p99 ms | server fan-out p99 ms | servers' CPU µs/delivery (%) | broker CPU % | servers' RSS MB | broker RSS MB | loadgen µs/delivery | runs |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, k := range keys {
		runs := byKey[k]
		med := func(digits int, f func(r *report) (float64, bool)) string {
			var v []float64
			for _, r := range runs {
				if x, ok := f(r); ok {
					v = append(v, x)
				}
			}
			m, ok := median(v)
			if !ok {
				return "–"
			}
			return format(m, digits)
		}
		var lost, dup int64
		for _, r := range runs {
			lost += r.Fanout.Lost
			dup += r.Fanout.Duplicates
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %s / %s | %s | %s | %s (%s) | %s | %s | %s | %s | %d |\n", k.series, cell(k.cas),
			med(0, func(r *report) (float64, bool) { return r.Fanout.DeliveriesPerSec, true }), lost, dup,
			med(2, func(r *report) (float64, bool) { return r.Fanout.LatencyMs.P50, true }),
			med(2, func(r *report) (float64, bool) { return r.Fanout.LatencyMs.P99, true }),
			med(2, func(r *report) (float64, bool) {
				return opt(r.Fanout.CheckLatencyMs, func(l latency) float64 { return l.P99 })
			}),
			med(2, func(r *report) (float64, bool) {
				return opt(r.Fanout.ServerFanoutMs, func(l latency) float64 { return l.P99 })
			}),
			med(2, func(r *report) (float64, bool) { return cpuOf(r, func(s *share) float64 { return s.UsPerOp }, false) }),
			med(0, func(r *report) (float64, bool) { return cpuOf(r, func(s *share) float64 { return s.Pct }, false) }),
			med(1, func(r *report) (float64, bool) { return cpuOf(r, func(s *share) float64 { return s.Pct }, true) }),
			med(1, func(r *report) (float64, bool) { return opt(r.Memory, func(m memory) float64 { return m.AfterMB }) }),
			med(1, func(r *report) (float64, bool) {
				v, ok := opt(r.Memory, func(m memory) float64 { return m.BrokerMB })
				return v, ok && v > 0
			}),
			med(2, func(r *report) (float64, bool) { return opt(r.CPU, func(c cpu) float64 { return c.Loadgen.UsPerOp }) }),
			len(runs))
	}
	fmt.Fprintln(w)
}

func opt[T any](p *T, f func(T) float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return f(*p), true
}

// cpuOf is f of the servers' share, or of the broker's.
func cpuOf(r *report, f func(*share) float64, broker bool) (float64, bool) {
	if r.CPU == nil {
		return 0, false
	}
	s := r.CPU.Server
	if broker {
		s = r.CPU.Broker
	}
	if s == nil {
		return 0, false
	}
	return f(s), true
}

// groups collects figures by series and category, both in the order first
// seen.
type groups struct {
	series, cats []string
	vals         map[[2]string][]float64
}

func newGroups() *groups { return &groups{vals: make(map[[2]string][]float64)} }

func (g *groups) add(series, cat string, v float64) {
	if !slices.Contains(g.series, series) {
		g.series = append(g.series, series)
	}
	if !slices.Contains(g.cats, cat) {
		g.cats = append(g.cats, cat)
	}
	k := [2]string{series, cat}
	g.vals[k] = append(g.vals[k], v)
}

func (g *groups) empty() bool { return len(g.vals) == 0 }

func (g *groups) median(series, cat string) (float64, bool) {
	return median(g.vals[[2]string{series, cat}])
}

// table writes the medians as markdown: a row per series, a column per
// category.
func (g *groups) table(w io.Writer, digits int) {
	heads := make([]string, len(g.cats))
	for j, c := range g.cats {
		heads[j] = cell(c)
		if n, err := strconv.Atoi(c); err == nil {
			heads[j] = thousands(n)
		}
	}
	fmt.Fprintf(w, "| | %s |\n|---|%s\n", strings.Join(heads, " | "), strings.Repeat("--:|", len(g.cats)))
	for _, s := range g.series {
		cells := make([]string, len(g.cats))
		for j, c := range g.cats {
			v := g.vals[[2]string{s, c}]
			m, ok := median(v)
			if !ok {
				cells[j] = "–"
				continue
			}
			cells[j] = fmt.Sprintf("%s [%s–%s] (%d)", format(m, digits), format(slices.Min(v), digits), format(slices.Max(v), digits), len(v))
		}
		fmt.Fprintf(w, "| %s | %s |\n", s, strings.Join(cells, " | "))
	}
}

// barPlot draws, in each category, a bar per series: the median of its
// runs (none where it has none).
func barPlot(title, ylabel string, g *groups) *plot.Plot {
	p := newPlot(title, ylabel)
	width := vg.Points(min(24, 240/float64(len(g.series)*len(g.cats))))
	top := 0.0
	for i, s := range g.series {
		vals := make(plotter.Values, len(g.cats))
		for j, c := range g.cats {
			vals[j], _ = g.median(s, c)
			top = max(top, vals[j])
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			panic(err) // only for values that are not finite, which medians of JSON numbers are not
		}
		b.Color, b.LineStyle.Width = plotutil.Color(i), 0
		b.Offset = vg.Length(float64(i)-float64(len(g.series)-1)/2) * width
		p.Add(b)
		p.Legend.Add(s, b)
	}
	p.NominalX(g.cats...)
	p.X.Min, p.X.Max = -0.5, float64(len(g.cats))-0.5 // a band per category, its name inside it
	headroom(p, top, len(g.series))
	return p
}

// linePlot draws a line per series through the medians at each category,
// which are numbers (clients, connections); it puts them in order for the
// table too.
func linePlot(title, xlabel, ylabel string, g *groups) (*plot.Plot, error) {
	slices.SortFunc(g.cats, func(a, b string) int {
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		return cmp.Compare(x, y)
	})
	p := newPlot(title, ylabel)
	p.X.Label.Text = xlabel
	p.X.Min = 0
	p.X.Tick.Marker = wholeTicks{}
	top, right := 0.0, 0.0
	for i, s := range g.series {
		var xys plotter.XYs
		for _, c := range g.cats {
			y, ok := g.median(s, c)
			x, err := strconv.ParseFloat(c, 64)
			if !ok || err != nil {
				continue
			}
			xys = append(xys, plotter.XY{X: x, Y: y})
			top, right = max(top, y), max(right, x)
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color, pts.Shape = plotutil.Color(i), plotutil.Color(i), plotutil.Shape(i)
		p.Add(l, pts)
		p.Legend.Add(s, l, pts)
	}
	headroom(p, top, len(g.series))
	p.X.Max = 1.08 * right // room for the last tick's label
	return p, nil
}

// wholeTicks are plot's default ticks labelled as whole numbers, in
// thousands: clients and connections.
type wholeTicks struct{}

func (wholeTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = thousands(int(math.Round(t.Value)))
		}
	}
	return ticks
}

// yTicks labels about six values up an axis, where plot's default labels
// three: a reader should not have to count grid lines.
type yTicks struct{}

func (yTicks) Ticks(lo, hi float64) []plot.Tick {
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	exp := int(math.Floor(math.Log10(step) + 1e-9))
	decimals := max(0, -exp)
	if exp <= 0 && math.Abs(step/math.Pow10(exp)-2.5) < 1e-9 {
		decimals++ // 2.5, 0.25
	}
	var ticks []plot.Tick
	for i := math.Ceil(lo / step); i*step <= hi*(1+1e-9); i++ {
		ticks = append(ticks, plot.Tick{Value: i * step, Label: strconv.FormatFloat(i*step, 'f', decimals, 64)})
	}
	return ticks
}

func newPlot(title, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Y.Tick.Marker = yTicks{}
	// Top left: a viewer without the SVG's font draws the text wider, and
	// text on the left of its swatch would run into it.
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(8)
	p.Add(plotter.NewGrid())
	return p
}

// headroom leaves room above the highest figure for a legend of lines
// lines.
func headroom(p *plot.Plot, top float64, lines int) {
	p.Y.Max = max(p.Y.Max, (1.2+0.12*float64(lines))*top)
}

// save writes p 16 cm wide, or wider for more than three categories of
// bars, whose names must fit side by side.
func save(p *plot.Plot, file string, categories int) error {
	return p.Save(max(16, 5.2*vg.Length(categories))*vg.Centimeter, 10*vg.Centimeter, file)
}

func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Sorted(slices.Values(v))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2, true
	}
	return s[len(s)/2], true
}

// cell is a category's name in a table: on one line.
func cell(cat string) string { return strings.ReplaceAll(cat, "\n", ": ") }

// format writes v with digits decimals, thousands separated.
func format(v float64, digits int) string {
	s := strconv.FormatFloat(v, 'f', digits, 64)
	whole, frac, _ := strings.Cut(s, ".")
	n, err := strconv.Atoi(whole)
	if err != nil || n < 1000 {
		return s
	}
	if frac != "" && n < 100_000 {
		return thousands(n) + "." + frac
	}
	return thousands(int(math.Round(v)))
}
