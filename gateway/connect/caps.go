package connect

import (
	"context"
	"fmt"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/manifest"
)

// CapFailure reports whether the user may store one more connection to in;
// nil means yes. It is checked before the provider is called, and again
// just before storing (concurrent attempts may each pass the first check).
func (f *Flows) CapFailure(ctx context.Context, in *manifest.Integration, projectID, userID string) *apierror.Error {
	for _, c := range []struct {
		max         int
		integration string
		what        string
	}{
		{orDefault(f.Caps.PerUserIntegration, DefaultMaxConnectionsPerUserIntegration), in.ID, in.Name + " connections"},
		{orDefault(f.Caps.PerUser, DefaultMaxConnectionsPerUser), "", "connections in all"},
	} {
		if c.max < 0 {
			continue
		}
		n, err := f.Connections.Count(ctx, projectID, userID, c.integration)
		if err != nil {
			f.Log.Error("counting connections failed", "integration", in.ID, "error", err.Error())
			return apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, "Could not check the user's connections; try again.")
		}
		if n >= c.max {
			return apierror.New(http.StatusConflict, apierror.ConnectionLimit,
				fmt.Sprintf("This account already has %d %s, the most this gateway allows; reconnect or remove one of them.", n, c.what))
		}
	}
	return nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
