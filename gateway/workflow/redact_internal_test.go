package workflow

import "testing"

func TestRedactForm(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"access_token=abc&scope=read", "access_token=<redacted>&scope=read"},
		{"scope=read&refresh%5Ftoken=r1&id_token=x\n", "scope=read&refresh%5Ftoken=<redacted>&id_token=<redacted>"},
		{"next_page_token=p2&items=3", "next_page_token=p2&items=3"},
		{"token=", "token=<redacted>"},
		{"scope=read&page=2", "scope=read&page=2"},
		{"Your token=abc is wrong", "Your token=abc is wrong"}, // text, not a form
		{"token=abc&hello", "token=abc&hello"},                 // a bare word: not a form
		{`{"token":"x"}=1`, `{"token":"x"}=1`},                 // not a field name
		{"plain text", "plain text"},
	} {
		if got := redactForm(tc.in); got != tc.want {
			t.Errorf("redactForm(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
