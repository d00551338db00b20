package store

import (
	"strings"
	"testing"
)

func TestChangeNoticePayload(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   changeNotice
		want changeNotice // after a round trip
	}{
		{"ids", changeNotice{"p1", "user@example.com", "github"}, changeNotice{"p1", "user@example.com", "github"}},
		{"quotes and unicode", changeNotice{`p"1`, "ü\\<u>", "zendesk"}, changeNotice{`p"1`, "ü\\<u>", "zendesk"}},
		{"invalid UTF-8", changeNotice{"p1", "u\xff", "github"}, changeNotice{}},
		{"too long", changeNotice{"p1", strings.Repeat("u", maxNotifyPayload), "github"}, changeNotice{}},
	} {
		payload := tc.in.payload()
		if len(payload) > maxNotifyPayload {
			t.Errorf("%s: payload of %d bytes, PostgreSQL would refuse it", tc.name, len(payload))
		}
		if got := parseNotice(payload); got != tc.want {
			t.Errorf("%s: %q decodes to %+v, want %+v", tc.name, payload, got, tc.want)
		}
	}
	for _, payload := range []string{"", "hello", "{}", `{"project_id":"p1"}`, `[1]`} {
		if got := parseNotice(payload); got != (changeNotice{}) {
			t.Errorf("parseNotice(%q) = %+v, want the zero notice (anything may have changed)", payload, got)
		}
	}
}
