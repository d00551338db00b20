package integration

import (
	"html"

	"github.com/plugboardhq/plugboard/gateway/portal"
	"github.com/plugboardhq/plugboard/manifest"
)

// InitialIcon is the icon of an integration whose manifest has none: its
// initial in white on its accent colour, the same badge the portal pages
// draw. The colour is the manifest's validated #RRGGBB; the letter is
// escaped.
func InitialIcon(in *manifest.Integration) []byte {
	return []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">` +
		`<rect width="64" height="64" rx="12" fill="` + html.EscapeString(in.AccentColor) + `"/>` +
		`<text x="32" y="32" dy=".35em" text-anchor="middle" font-family="system-ui,-apple-system,'Segoe UI',Roboto,sans-serif" font-size="30" font-weight="700" fill="#fff">` +
		html.EscapeString(portal.Integration{Name: in.Name}.Initial()) + `</text></svg>`)
}
