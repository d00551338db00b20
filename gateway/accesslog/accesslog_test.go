package accesslog

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"0b6f3c1e-9d1a-4a57-b5f2-2d8e0c4f9a10":    true,
		"svc:abc_DEF.1~2+3/4=5@x":                 true,
		strings.Repeat("a", MaxRequestIDLength):   true,
		strings.Repeat("a", MaxRequestIDLength+1): false,
		"":          false,
		"two words": false,
		"a\nb":      false,
		`a"b`:       false,
		"a\\b":      false,
		"café":      false,
		"<script>":  false,
		"a,b":       false,
		"a;b":       false,
	} {
		if got := ValidRequestID(id); got != want {
			t.Errorf("ValidRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewRequestID()
		if len(id) != 32 || !ValidRequestID(id) || seen[id] {
			t.Fatalf("NewRequestID() = %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

func TestAnnotations(t *testing.T) {
	// Without an entry they do nothing.
	SetUser(context.Background(), "p", "u")
	SetIntegration(context.Background(), "i")
	Set(context.Background(), "p", "u", "i")

	e := &Entry{}
	ctx := NewContext(context.Background(), e)
	Set(ctx, "p", "", "")
	SetUser(ctx, "p", "u")
	Set(ctx, "", "", "i")
	e.AddUpstream(401, time.Second)
	e.AddUpstream(200, time.Second)
	if e.Project != "p" || e.User != "u" || e.Integration != "i" || e.UpstreamStatus != 200 || e.Upstream != 2*time.Second {
		t.Errorf("%+v", *e)
	}
	if From(ctx) != e {
		t.Error("From")
	}
}
