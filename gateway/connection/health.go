package connection

import (
	"time"
)

// Health is a connection's status as operators see it, computed from the
// stored status, the token's expiry and whether it can be renewed.
type Health string

const (
	// HealthValid: the credential worked when last used or tested, and its
	// access token (if it expires) has not expired.
	HealthValid Health = "valid"
	// HealthExpiredRefreshable: the access token has expired, and a
	// refresh token or client credentials will renew it at its next use.
	HealthExpiredRefreshable Health = "expired_refreshable"
	// HealthNeedsReconnect: the provider refused the credential for good,
	// or the token expired with nothing to renew it: the user must
	// connect again.
	HealthNeedsReconnect Health = "needs_reconnect"
)

// Healths lists every Health, in the order operators read them.
var Healths = []Health{HealthValid, HealthExpiredRefreshable, HealthNeedsReconnect}

// ExpiredNotRenewable is the reason given for a connection whose token
// expired with nothing to renew it.
const ExpiredNotRenewable = "the access token expired and there is no refresh token; the user must reconnect"

// HealthOf computes a connection's Health at now from what the store keeps
// beside the sealed credential, and says why when it is needs_reconnect:
// the provider's last error, or ExpiredNotRenewable. The store's status
// filters compute the same in SQL (store.Inventory); a conformance test
// holds the two together.
func HealthOf(status Status, expiresAt time.Time, renewable bool, lastError string, now time.Time) (Health, string) {
	expired := !expiresAt.IsZero() && !expiresAt.After(now)
	switch {
	case status == StatusNeedsReconnect:
		if lastError == "" {
			lastError = "the provider refused the credential; the user must reconnect"
		}
		return HealthNeedsReconnect, lastError
	case expired && !renewable:
		return HealthNeedsReconnect, ExpiredNotRenewable
	case expired:
		return HealthExpiredRefreshable, ""
	}
	return HealthValid, ""
}

// Health is HealthOf c, its credential deciding whether it is renewable.
func (c *Connection) Health(now time.Time) (Health, string) {
	return HealthOf(c.Status, c.ExpiresAt, c.Credential.Renewable(), c.LastError, now)
}
