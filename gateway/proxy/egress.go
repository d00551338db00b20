package proxy

import (
	"fmt"

	"github.com/plugboardhq/plugboard/manifest"
)

// EgressRefusedMessage says what end users and apps are told when the
// egress guard refused a call for in (apierror.EgressRefused): the host,
// never the address it resolved to (that goes to the log).
func EgressRefusedMessage(in *manifest.Integration, host string) string {
	where := in.Name
	if host != "" {
		where += " at " + host
	}
	return fmt.Sprintf("the gateway may not connect to %s: its address is in a private or reserved network this gateway is not allowed to reach (if a subdomain or region was typed, check it; otherwise ask the gateway's operator)", where)
}
