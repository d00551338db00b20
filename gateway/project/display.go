package project

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/plugboardhq/plugboard/gateway/usertoken"
)

// maxDisplayRunes caps names shown on portal pages.
const maxDisplayRunes = 80

// accountLabel is how portal pages name the end user whose account is being
// connected: the token's name and email when present, else its subject.
func accountLabel(c usertoken.Claims) string {
	name, email := DisplayText(c.Name), DisplayText(c.Email)
	switch {
	case name != "" && email != "" && name != email:
		return name + " (" + email + ")"
	case name != "":
		return name
	case email != "":
		return email
	}
	if sub := DisplayText(c.Subject); sub != "" {
		return sub
	}
	return "an unnamed account"
}

// DisplayText makes a claim safe to show as a name: no control or format
// characters (bidirectional overrides, zero-width joiners could make one
// name look like another), whitespace collapsed, at most 80 characters.
func DisplayText(s string) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			continue
		}
		if n >= maxDisplayRunes {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
