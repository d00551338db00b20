package demo

import (
	"sync"
	"time"
)

// grant is what an authorization code, access token or refresh token
// stands for.
type grant struct {
	subject  string // the demo user, or "client:<id>" for client credentials
	clientID string
	scope    string
	expires  time.Time
	// family ties the tokens of one authorization together, so a reused
	// refresh token revokes all of them (RFC 9700 §4.14.2).
	family string
	// codes: what the token request must match.
	redirectURI, challenge string
	// used marks a redeemed code or a rotated refresh token: kept until it
	// expires so that its reuse is recognised.
	used bool
}

type kind int

const (
	kindCode kind = iota
	kindAccess
	kindRefresh
	kinds
)

// grants holds codes and tokens in memory, at most max of each kind; safe
// for concurrent use.
type grants struct {
	mu  sync.Mutex
	max int
	m   [kinds]map[string]*grant
}

func newGrants(max int) *grants {
	g := &grants{max: max}
	for k := range g.m {
		g.m[k] = map[string]*grant{}
	}
	return g
}

// put stores gr under tok, making room when full: the expired go first,
// then the one closest to expiring.
func (g *grants) put(k kind, tok string, gr *grant, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.m[k]
	if len(m) >= g.max {
		for t, x := range m {
			if !now.Before(x.expires) {
				delete(m, t)
			}
		}
	}
	for len(m) >= g.max {
		var oldest string
		for t, x := range m {
			if oldest == "" || x.expires.Before(m[oldest].expires) {
				oldest = t
			}
		}
		delete(m, oldest)
	}
	m[tok] = gr
}

// live returns the grant of an unexpired, unused token.
func (g *grants) live(k kind, tok string, now time.Time) (*grant, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gr, ok := g.m[k][tok]
	if !ok || gr.used || !now.Before(gr.expires) {
		return nil, false
	}
	return gr, true
}

// use marks a code or refresh token as spent and returns its grant. reused
// is true when it had been spent before; then every token of its family is
// revoked.
func (g *grants) use(k kind, tok string, now time.Time) (gr *grant, ok, reused bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gr, found := g.m[k][tok]
	switch {
	case !found || !now.Before(gr.expires):
		return nil, false, false
	case gr.used:
		g.revokeFamilyLocked(gr.family)
		return nil, false, true
	}
	gr.used = true
	return gr, true, false
}

// revoke deletes a token; a refresh token takes its family with it.
func (g *grants) revoke(tok, clientID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gr, ok := g.m[kindRefresh][tok]; ok && gr.clientID == clientID {
		g.revokeFamilyLocked(gr.family)
		return
	}
	if gr, ok := g.m[kindAccess][tok]; ok && gr.clientID == clientID {
		delete(g.m[kindAccess], tok)
	}
}

func (g *grants) revokeFamilyLocked(family string) {
	if family == "" {
		return
	}
	for _, m := range g.m {
		for t, x := range m {
			if x.family == family {
				delete(m, t)
			}
		}
	}
}

// count is how many grants of a kind are held (tests).
func (g *grants) count(k kind) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m[k])
}
