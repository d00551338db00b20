package gateway

import (
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
)

func TestRefreshTokenExpiring(t *testing.T) {
	now := time.Now()
	conn := func(rt string, exp time.Time) *connection.Connection {
		return &connection.Connection{Credential: connection.Credential{RefreshToken: rt, RefreshExpiresAt: exp}}
	}
	for _, tc := range []struct {
		name string
		c    *connection.Connection
		want bool
	}{
		{"no lifetime given", conn("rt", time.Time{}), false},
		{"expires after the check after next", conn("rt", now.Add(13*time.Hour)), false},
		{"expires before the check after next", conn("rt", now.Add(11*time.Hour)), true},
		{"already expired", conn("rt", now.Add(-time.Minute)), true},
		{"no refresh token", conn("", now.Add(time.Hour)), false},
	} {
		if got := refreshTokenExpiring(tc.c, 6*time.Hour, now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
