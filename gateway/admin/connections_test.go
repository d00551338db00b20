package admin

import (
	"errors"
	"net/url"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

func TestParseFilter(t *testing.T) {
	f, err := ParseFilter(url.Values{"project": {"p"}, "user": {"u"}, "integration": {"custom.github"},
		"status": {"needs_reconnect"}, "cursor": {"c"}, "limit": {"500"}})
	want := Filter{Project: "p", User: "u", Integration: "github", Status: connection.HealthNeedsReconnect, Cursor: "c", Limit: 500}
	if err != nil || f != want {
		t.Errorf("ParseFilter = %+v, %v; want %+v", f, err, want)
	}
	for q, param := range map[string]string{
		"status=ok": "status", "limit=0": "limit", "limit=-3": "limit", "limit=1e3": "limit",
		"projet=p": "projet", "user=a&user=b": "user",
	} {
		v, _ := url.ParseQuery(q)
		var fe *FilterError
		if _, err := ParseFilter(v); !errors.As(err, &fe) || fe.Param != param {
			t.Errorf("ParseFilter(%s) = %v, want a FilterError on %q", q, err, param)
		}
	}
}
