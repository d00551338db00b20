package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

const chartUsage = `Usage: plugbench chart [flags] < data.csv > chart.svg

Draws a line chart as SVG from CSV lines "series,x,y" (one point each;
lines starting with # and blank lines are skipped; points of a series are
joined in x order). The README's "How cost grows" charts are drawn with it.

Flags:
`

// chartOptions describe one chart.
type chartOptions struct {
	title, xLabel, yLabel string
	logX, logY            bool
	width, height         int
}

type chartSeries struct {
	name   string
	points [][2]float64
}

// runChart is `plugbench chart`.
func runChart(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugbench chart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), chartUsage)
		fs.PrintDefaults()
	}
	var o chartOptions
	fs.StringVar(&o.title, "title", "", "chart title")
	fs.StringVar(&o.xLabel, "x", "", "x axis label")
	fs.StringVar(&o.yLabel, "y", "", "y axis label")
	fs.BoolVar(&o.logX, "log-x", false, "logarithmic x axis (values must be > 0)")
	fs.BoolVar(&o.logY, "log-y", false, "logarithmic y axis (values must be > 0)")
	fs.IntVar(&o.width, "width", 640, "width in pixels")
	fs.IntVar(&o.height, "height", 360, "height in pixels")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	series, err := readSeries(stdin)
	if err == nil {
		err = drawChart(stdout, o, series)
	}
	if err != nil {
		fmt.Fprintf(stderr, "plugbench chart: %v\n", err)
		return 1
	}
	return 0
}

// readSeries parses "series,x,y" lines, keeping the series in the order
// they first appear.
func readSeries(r io.Reader) ([]chartSeries, error) {
	var out []chartSeries
	index := map[string]int{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		parts := strings.Split(text, ",")
		if len(parts) != 3 {
			return nil, fmt.Errorf("line %d: want series,x,y, got %q", line, text)
		}
		x, errX := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
		y, errY := strconv.ParseFloat(strings.TrimSpace(parts[2]), 64)
		if errX != nil || errY != nil || math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
			return nil, fmt.Errorf("line %d: x and y must be numbers, got %q", line, text)
		}
		name := strings.TrimSpace(parts[0])
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, chartSeries{name: name})
		}
		out[i].points = append(out[i].points, [2]float64{x, y})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no points on standard input")
	}
	for _, s := range out {
		slices.SortFunc(s.points, func(a, b [2]float64) int { return cmpFloat(a[0], b[0]) })
	}
	return out, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// chartAxis maps values to pixels, linearly or logarithmically, over
// "nice" ticks that cover the data.
type chartAxis struct {
	log    bool
	lo, hi float64 // in axis units (log10 of the value when log)
	ticks  []float64
}

func newAxis(values []float64, log bool) (chartAxis, error) {
	a := chartAxis{log: log}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if log {
			if v <= 0 {
				return a, fmt.Errorf("value %v on a logarithmic axis", v)
			}
			v = math.Log10(v)
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if log {
		a.lo, a.hi = math.Floor(lo), math.Ceil(hi)
		if a.hi == a.lo {
			a.hi++
		}
		for e := a.lo; e <= a.hi; e++ {
			a.ticks = append(a.ticks, e)
		}
		return a, nil
	}
	lo = min(lo, 0) // linear axes start at zero: growth reads honestly
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	a.lo, a.hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	for v := a.lo; v <= a.hi+step/2; v += step {
		a.ticks = append(a.ticks, v)
	}
	return a, nil
}

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func (a chartAxis) unit(v float64) float64 {
	if a.log {
		v = math.Log10(v)
	}
	return (v - a.lo) / (a.hi - a.lo)
}

func (a chartAxis) label(t float64) string {
	v := t
	if a.log {
		v = math.Pow(10, t)
	}
	switch {
	case math.Abs(v) >= 1e6 && math.Mod(v, 1e6) == 0:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case math.Abs(v) >= 1e3 && math.Mod(v, 1e3) == 0:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// chartColors are distinguishable on white and for the common kinds of
// colour blindness (Okabe–Ito).
var chartColors = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

func drawChart(w io.Writer, o chartOptions, series []chartSeries) error {
	var xs, ys []float64
	for _, s := range series {
		for _, p := range s.points {
			xs, ys = append(xs, p[0]), append(ys, p[1])
		}
	}
	ax, err := newAxis(xs, o.logX)
	if err != nil {
		return fmt.Errorf("x axis: %w", err)
	}
	ay, err := newAxis(ys, o.logY)
	if err != nil {
		return fmt.Errorf("y axis: %w", err)
	}
	// The legend sits right of the plot, as wide as its longest name.
	longest := 0
	for _, s := range series {
		longest = max(longest, len([]rune(s.name)))
	}
	const left, top, bottom = 64, 36, 48
	right := 48 + 7*longest
	pw, ph := float64(o.width-left-right), float64(o.height-top-bottom)
	if pw < 100 || ph < 60 {
		return fmt.Errorf("%dx%d is too small for the plot and its legend", o.width, o.height)
	}
	px := func(v float64) float64 { return left + ax.unit(v)*pw }
	py := func(v float64) float64 { return top + (1-ay.unit(v))*ph }
	esc := html.EscapeString

	b := &strings.Builder{}
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		o.width, o.height, o.width, o.height)
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", o.width, o.height)
	if o.title != "" {
		fmt.Fprintf(b, `<text x="%d" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", left, esc(o.title))
	}
	for _, t := range ax.ticks {
		x := left + (t-ax.lo)/(ax.hi-ax.lo)*pw
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, top, x, top+ph)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, top+ph+16, esc(ax.label(t)))
	}
	for _, t := range ay.ticks {
		y := top + (1-(t-ay.lo)/(ay.hi-ay.lo))*ph
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+pw, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, esc(ay.label(t)))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", left, top, pw, ph)
	if o.xLabel != "" {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", left+pw/2, o.height-8, esc(o.xLabel))
	}
	if o.yLabel != "" {
		fmt.Fprintf(b, `<text transform="translate(14 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+ph/2, esc(o.yLabel))
	}
	for i, s := range series {
		color := chartColors[i%len(chartColors)]
		pts := make([]string, len(s.points))
		for j, p := range s.points {
			pts[j] = fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1]))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`+"\n", color, strings.Join(pts, " "), esc(s.name))
		for _, p := range s.points {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(p[0]), py(p[1]), color)
		}
		ly := top + 8 + 18*i
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", left+pw+12, ly, left+pw+32, ly, color)
		fmt.Fprintf(b, `<text x="%.1f" y="%d">%s</text>`+"\n", left+pw+38, ly+4, esc(s.name))
	}
	b.WriteString("</svg>\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// `plugbench chart` is dispatched here, before main looks at its flags, so
// that it needs no change to the benchmark's own command line.
