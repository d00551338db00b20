package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
)

func TestChartDrawsOneLinePerSeries(t *testing.T) {
	in := `# series,x,y
SQLite,100000,48
SQLite,1000,49
PostgreSQL,1000,142
SQLite,1000000,50
PostgreSQL,100000,125
`
	var out, errs bytes.Buffer
	if code := runChart([]string{"-title", "Default <lookup>", "-x", "connections", "-y", "µs", "-log-x"}, strings.NewReader(in), &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	var svg struct {
		Polylines []struct {
			Points string `xml:"points,attr"`
			Title  string `xml:"title"`
		} `xml:"polyline"`
		Texts []string `xml:"text"`
	}
	if err := xml.Unmarshal(out.Bytes(), &svg); err != nil {
		t.Fatalf("not well-formed SVG: %v\n%s", err, out.String())
	}
	if len(svg.Polylines) != 2 || svg.Polylines[0].Title != "SQLite" || svg.Polylines[1].Title != "PostgreSQL" {
		t.Fatalf("want the SQLite and PostgreSQL lines in order of appearance, got %+v", svg.Polylines)
	}
	// Points are joined in x order, left to right.
	pts := strings.Fields(svg.Polylines[0].Points)
	if len(pts) != 3 {
		t.Fatalf("SQLite has points %q", pts)
	}
	var prev float64 = -1
	for _, p := range pts {
		var x, y float64
		if _, err := fmt.Sscanf(p, "%f,%f", &x, &y); err != nil || x <= prev {
			t.Fatalf("points not in x order: %q", pts)
		}
		prev = x
	}
	texts := strings.Join(svg.Texts, "|")
	for _, want := range []string{"Default <lookup>", "1k", "10k", "100k", "1M", "connections", "µs"} {
		if !strings.Contains(texts, want) {
			t.Errorf("no text %q in %s", want, texts)
		}
	}
	if strings.Contains(out.String(), "Default <lookup>") {
		t.Error("the title is not escaped")
	}
}

func TestChartRefusesBadInput(t *testing.T) {
	for in, want := range map[string]string{
		"":                "no points",
		"a,1\n":           "line 1: want series,x,y",
		"a,1,x\n":         "x and y must be numbers",
		"a,0,1\na,10,2\n": "logarithmic axis",
	} {
		var out, errs bytes.Buffer
		if code := runChart([]string{"-log-x"}, strings.NewReader(in), &out, &errs); code != 1 || !strings.Contains(errs.String(), want) {
			t.Errorf("%q: exit %d, %q; want 1 and %q", in, code, errs.String(), want)
		}
	}
}
