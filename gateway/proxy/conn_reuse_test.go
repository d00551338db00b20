package proxy

import "testing"

// Upstream connections are reused: closing the answer's body (which ends
// the attempt's context) must not cost the connection.
func TestUpstreamConnectionsAreReused(t *testing.T) {
	up := newUpstream(t, "token-1")
	in := testIntegration(t, tokenManifest, up.URL, "2s")
	base := startProxy(t, &Handler{Credentials: newFakeCreds("token-1")}, in)
	for range 50 {
		if status, body := send(t, "GET", base+"/things", nil); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("%d upstream connections for 50 sequential calls, want 1", n)
	}
}
