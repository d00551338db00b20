package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plugboardhq/plugboard/gateway/admin"
	"github.com/plugboardhq/plugboard/gateway/connection"
)

const adminHelp = `
Ask a running gateway's admin API about end users' connections and the
loaded integrations, and disconnect a connection.

Commands:
  connections list     connections, filtered, oldest first (--all for every page)
  connections show ID  one connection: status and why, non-secret inputs, times
  connections delete ID  disconnect it (revoked at the provider where declared)
  integrations         every manifest file: integration, status, problems

Each takes --url (PLUGBOARD_URL, default http://127.0.0.1:8080; the
--admin-listen address when the gateway has one), the admin token
(--admin-token, PLUGBOARD_ADMIN_TOKEN, or --admin-token-file,
PLUGBOARD_ADMIN_TOKEN_FILE; a dev gateway writes its token to
.plugboard/admin-token) and --json for the API's JSON instead of a table.
Exit codes: 0 done, 1 the gateway refused or failed, 2 usage.
`

const defaultAdminURL = "http://127.0.0.1:8080"

var adminCommands = []string{"connections list", "connections show", "connections delete", "integrations"}

// runAdmin dispatches `plugboard admin <what> [<verb>]`.
func runAdmin(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprintf(w, "Usage: plugboard admin <command> [flags]\n\n%s\n", strings.TrimSpace(adminHelp))
		if len(args) == 0 {
			return exitError{exitUsage}
		}
		return nil
	}
	name := args[0]
	rest := args[1:]
	if name == "connections" {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			fmt.Fprintln(stderr, "plugboard admin connections: say list, show ID or delete ID\nRun `plugboard admin --help` for the commands.")
			return exitError{exitUsage}
		}
		name, rest = "connections "+rest[0], rest[1:]
	}
	switch name {
	case "connections list":
		return runAdminList(rest, stdout, stderr)
	case "connections show", "connections delete":
		return runAdminOne(name, rest, stdout, stderr)
	case "integrations":
		return runAdminIntegrations(rest, stdout, stderr)
	}
	msg := fmt.Sprintf("plugboard admin: unknown command %q", name)
	candidates := adminCommands
	if !strings.Contains(name, " ") {
		candidates = []string{"connections", "integrations"}
	}
	if s := suggest(name, candidates); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	fmt.Fprintf(stderr, "%s\nRun `plugboard admin --help` for the commands.\n", msg)
	return exitError{exitUsage}
}

// adminClient is the connection to a gateway's admin API, from the flags
// every admin command shares.
type adminClient struct {
	url, token, tokenFile string
	json                  bool
	http                  *http.Client
}

func adminFlags(name, synopsis, description string, stderr io.Writer) (*flag.FlagSet, *adminClient) {
	fs := newFlagSet("admin "+name, synopsis, description, stderr)
	c := &adminClient{http: &http.Client{Timeout: 30 * time.Second}}
	fs.StringVar(&c.url, "url", "", "the gateway's base URL, or its --admin-listen address (env PLUGBOARD_URL; default "+defaultAdminURL+")")
	fs.StringVar(&c.token, "admin-token", "", "the gateway's admin token (env PLUGBOARD_ADMIN_TOKEN)")
	fs.StringVar(&c.tokenFile, "admin-token-file", "", "read the admin token from this file (env PLUGBOARD_ADMIN_TOKEN_FILE), e.g. .plugboard/admin-token in dev")
	fs.BoolVar(&c.json, "json", false, "print the API's JSON instead of a table")
	return fs, c
}

// resolve fills in what the command line left out: the URL and the token,
// from the environment. A flag wins over the environment.
func (c *adminClient) resolve(lookup func(string) (string, bool)) error {
	if c.url == "" {
		c.url = defaultAdminURL
		if v, ok := lookup("PLUGBOARD_URL"); ok && v != "" {
			c.url = v
		}
	}
	u, err := url.Parse(c.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErr("--url %q is not an http(s) URL such as %s", c.url, defaultAdminURL)
	}
	c.url = strings.TrimRight(c.url, "/")
	switch {
	case c.token != "" && c.tokenFile != "":
		return usageErr("give --admin-token or --admin-token-file, not both")
	case c.token != "":
	case c.tokenFile != "":
		return c.readTokenFile(c.tokenFile, "--admin-token-file")
	default:
		if v, ok := lookup("PLUGBOARD_ADMIN_TOKEN"); ok && v != "" {
			c.token = v
		} else if path, ok := lookup("PLUGBOARD_ADMIN_TOKEN_FILE"); ok && path != "" {
			return c.readTokenFile(path, "PLUGBOARD_ADMIN_TOKEN_FILE")
		}
	}
	if c.token == "" {
		hint := "a dev gateway writes its token to .plugboard/admin-token: --admin-token-file .plugboard/admin-token"
		if _, err := os.Stat(filepath.Join(".plugboard", adminTokenFile)); err == nil {
			hint = "this folder has a dev gateway's token: add --admin-token-file .plugboard/admin-token"
		}
		return fmt.Errorf("no admin token: pass --admin-token, --admin-token-file or PLUGBOARD_ADMIN_TOKEN (%s)", hint)
	}
	return nil
}

func (c *adminClient) readTokenFile(path, from string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %v", from, err)
	}
	c.token = strings.TrimSpace(string(b))
	if c.token == "" {
		return fmt.Errorf("%s: %s is empty", from, path)
	}
	return nil
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usageErr(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// apiError is the admin API's refusal, said for a person.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

// do calls the admin API and decodes a JSON answer into out (nil: none).
func (c *adminClient) do(method, path string, out any) ([]byte, error) {
	req, err := http.NewRequest(method, c.url+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the gateway at %s (is it running? --url or PLUGBOARD_URL names it): %v", c.url, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the gateway's answer: %v", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, c.refusal(method, path, resp, body)
	}
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("%s %s: the answer is not the admin API's JSON (is %s a plugboard gateway?)", method, path, c.url)
		}
	}
	return body, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// refusal explains a non-2xx answer: what the gateway said, and what to do.
func (c *adminClient) refusal(method, path string, resp *http.Response, body []byte) error {
	var e struct{ Code, Message string }
	_ = json.Unmarshal(body, &e)
	if e.Code == "" {
		e.Code = resp.Header.Get("X-Plugboard-Error")
	}
	status := fmt.Sprintf("%d %s", resp.StatusCode, e.Code)
	var msg string
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		msg = "the gateway refused the admin token (" + status + "): check --admin-token, --admin-token-file or PLUGBOARD_ADMIN_TOKEN " +
			"(a dev gateway's token is in .plugboard/admin-token and changes when that folder is recreated)"
	case e.Code == "admin_disabled":
		msg = "the gateway's admin API is disabled (" + status + "): start it with --admin-token or PLUGBOARD_ADMIN_TOKEN"
	case e.Code == "credential_not_found":
		msg = "no connection has that id (" + status + ")"
	case resp.StatusCode == http.StatusNotFound:
		msg = fmt.Sprintf("%s %s: the gateway at %s does not serve this (%s); with --admin-listen, --url must be that address", method, path, c.url, status)
	case e.Message != "":
		msg = e.Message + " (" + status + ")"
	default:
		msg = fmt.Sprintf("%s %s: the gateway answered %s", method, path, resp.Status)
	}
	return &apiError{status: resp.StatusCode, code: e.Code, message: msg}
}

// finish reports err as admin commands do: usage errors exit 2 with a
// hint, everything else 1.
func finish(fs *flag.FlagSet, stderr io.Writer, err error) error {
	var ue usageError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "plugboard %s: %s\n%s\n", fs.Name(), ue.msg, usageHint(fs.Name()))
		return exitError{exitUsage}
	default:
		fmt.Fprintf(stderr, "plugboard %s: %v\n", fs.Name(), err)
		return exitError{exitInvalid}
	}
}

const adminListHelp = `
List end users' connections, oldest first, with their status: valid,
expired_refreshable (the access token expired; a refresh token or client
credentials renew it at its next use) or needs_reconnect (and why). One page
of --limit; --all follows every page. Never shows a secret.
`

func runAdminList(args []string, stdout, stderr io.Writer) error {
	fs, c := adminFlags("connections list", "[--project ID] [--user ID] [--integration ID] [--status S] [--limit N] [--all] [flags]", adminListHelp, stderr)
	var f admin.Filter
	fs.StringVar(&f.Project, "project", "", "only this project's connections")
	fs.StringVar(&f.User, "user", "", "only this end user's")
	fs.StringVar(&f.Integration, "integration", "", "only this integration's (its manifest id)")
	status := fs.String("status", "", "only those with this status: valid, expired_refreshable or needs_reconnect")
	fs.StringVar(&f.Cursor, "cursor", "", "continue a listing where its previous page ended")
	fs.IntVar(&f.Limit, "limit", admin.DefaultLimit, fmt.Sprintf("connections per page, 1 to %d", admin.MaxLimit))
	all := fs.Bool("all", false, "follow every page")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return finish(fs, stderr, usageErr("unexpected argument %q", fs.Arg(0)))
	}
	f.Status = connection.Health(*status)
	if err := c.resolve(os.LookupEnv); err != nil {
		return finish(fs, stderr, err)
	}
	var out admin.Page
	out.Connections = []admin.Summary{}
	for {
		var page admin.Page
		if _, err := c.do("GET", "/admin/v1/connections?"+filterQuery(f).Encode(), &page); err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.status == http.StatusBadRequest {
				return finish(fs, stderr, usageErr("%v", err))
			}
			return finish(fs, stderr, err)
		}
		out.Connections = append(out.Connections, page.Connections...)
		out.NextCursor = page.NextCursor
		if !*all || page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if c.json {
		return finish(fs, stderr, writeJSON(stdout, out))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROJECT\tUSER\tINTEGRATION\tSTATUS\tEXPIRES\tLAST USED\tCREATED\tWHY")
	for _, s := range out.Connections {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Project, s.User, s.Integration.ID, s.Status,
			when(s.ExpiresAt), when(s.LastUsedAt), when(&s.CreatedAt), shorten(s.StatusReason, 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case len(out.Connections) == 0:
		fmt.Fprintln(stderr, "no connections match")
	case out.NextCursor != "":
		fmt.Fprintf(stderr, "%d shown; more with --cursor %s, or --all\n", len(out.Connections), out.NextCursor)
	}
	return nil
}

func filterQuery(f admin.Filter) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"project": f.Project, "user": f.User, "integration": f.Integration,
		"status": string(f.Status), "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit != 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	return q
}

const adminOneHelp = `
show: one connection in detail: project, user, integration, status and why,
the inputs the user typed (values only of those the manifest does not mark
secret), token expiry, last refresh, last use, last error, created, updated.
Never a token, a client secret or a secret input's value.

delete: disconnect it as the user's own disconnect does: the token is
revoked at the provider when the manifest declares revocation, then the
connection is deleted.
`

func runAdminOne(name string, args []string, stdout, stderr io.Writer) error {
	fs, c := adminFlags(name, "ID [flags]", adminOneHelp, stderr)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return finish(fs, stderr, usageErr("give one connection id (the ID column of `plugboard admin connections list`)"))
	}
	id := fs.Arg(0)
	if err := c.resolve(os.LookupEnv); err != nil {
		return finish(fs, stderr, err)
	}
	path := "/admin/v1/connections/" + url.PathEscape(id)
	if name == "connections delete" {
		if _, err := c.do("DELETE", path, nil); err != nil {
			return finish(fs, stderr, err)
		}
		if c.json {
			return finish(fs, stderr, writeJSON(stdout, map[string]string{"deleted": id}))
		}
		fmt.Fprintf(stdout, "disconnected %s\n", id)
		return nil
	}
	var d admin.Detail
	body, err := c.do("GET", path, &d)
	if err != nil {
		return finish(fs, stderr, err)
	}
	if c.json {
		_, err := stdout.Write(body)
		return finish(fs, stderr, err)
	}
	integration := d.Integration.ID
	if d.Integration.Loaded {
		integration += " (" + d.Integration.Name + ")"
	} else {
		integration += " (not loaded)"
	}
	status := string(d.Status)
	if d.StatusReason != "" {
		status += ": " + d.StatusReason
	}
	var inputs []string
	for _, k := range d.InputKeys {
		if v, ok := d.Inputs[k]; ok {
			inputs = append(inputs, k+"="+v)
		} else {
			inputs = append(inputs, k+" (secret or undeclared: not shown)")
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, row := range [][2]string{
		{"id", d.ID}, {"project", d.Project}, {"user", d.User}, {"integration", integration},
		{"default", fmt.Sprint(d.IsDefault)}, {"status", status}, {"inputs", strings.Join(inputs, ", ")},
		{"token expires", when(d.ExpiresAt)}, {"last refresh", when(d.LastRefreshAt)}, {"last used", when(d.LastUsedAt)},
		{"last error", d.LastError}, {"created", when(&d.CreatedAt)}, {"updated", when(&d.UpdatedAt)},
	} {
		if row[1] == "" {
			row[1] = "-"
		}
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

const adminIntegrationsHelp = `
List every manifest file the gateway loaded or tried to: its integration,
auth type and status (ok, stale: its last good version serves; rejected),
with each located problem, and the catalog's revision.
`

func runAdminIntegrations(args []string, stdout, stderr io.Writer) error {
	fs, c := adminFlags("integrations", "[flags]", adminIntegrationsHelp, stderr)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return finish(fs, stderr, usageErr("unexpected argument %q", fs.Arg(0)))
	}
	if err := c.resolve(os.LookupEnv); err != nil {
		return finish(fs, stderr, err)
	}
	var cat admin.Catalog
	body, err := c.do("GET", "/admin/v1/integrations", &cat)
	if err != nil {
		return finish(fs, stderr, err)
	}
	if c.json {
		_, err := stdout.Write(body)
		return finish(fs, stderr, err)
	}
	fmt.Fprintf(stdout, "revision %s: %d integrations\n", shorten(cat.Revision, 12), cat.Integrations)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tAUTH\tSTATUS\tFILE")
	for _, f := range cat.Files {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", dash(f.ID), dash(f.Name), dash(f.AuthType), f.Status, f.File)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range cat.Files {
		for _, p := range f.Problems {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// when prints a time for tables: UTC, to the minute; "-" for none.
func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
