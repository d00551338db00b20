// Package mcp serves the user's actions to AI agents as an MCP server
// (Streamable HTTP transport) at /projects/{pid}/mcp, with the official Go
// SDK (github.com/modelcontextprotocol/go-sdk).
//
// Every request is authenticated with the user token, as the SDK API's
// routes are; the tools are the actions of the integrations the user has
// connected (actions.Service.Available), and a tool call runs through
// actions.Service.Run, so through the proxy: the credential is injected and
// refreshed there and never reaches the agent. Each user has one SDK server,
// whose tool set is kept in step with the catalog and the user's
// connections: the SDK tells the user's live sessions with
// notifications/tools/list_changed when it changes.
package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	gomcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plugboardhq/plugboard/gateway/actions"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/project"
	"github.com/plugboardhq/plugboard/gateway/routes"
)

// DefaultSessionTimeout is Server.SessionTimeout's default.
const DefaultSessionTimeout = 30 * time.Minute

// syncTimeout bounds a background recomputation of a user's tools.
const syncTimeout = 30 * time.Second

// keepIdle is how long a user's server without sessions is kept: long
// enough for the session being opened with it to be registered.
const keepIdle = time.Minute

// Server is the MCP endpoint. Actions and Projects are required.
type Server struct {
	Actions  *actions.Service
	Projects *project.Registry
	Version  string // served as the implementation's version
	Log      *slog.Logger
	// SessionTimeout closes sessions idle this long. Default
	// DefaultSessionTimeout.
	SessionTimeout time.Duration

	once    sync.Once
	handler http.Handler

	mu      sync.Mutex
	users   map[userKey]*userServer
	pruneAt int // prune idle users' servers when there are this many
}

type userKey struct{ project, user string }

// userServer is one user's SDK server and the tools it serves.
type userServer struct {
	key    userKey
	server *gomcp.Server
	used   time.Time // guarded by Server.mu

	mu     sync.Mutex        // serialises syncs
	synced bool              // tools reflect the catalog and connections as last read
	tools  map[string]string // tool name → the definition served, as JSON
}

type ctxKey struct{}

// Register mounts the MCP endpoint:
//
//	POST   /projects/{pid}/mcp   JSON-RPC messages from the client
//	GET    /projects/{pid}/mcp   the session's stream of server messages
//	DELETE /projects/{pid}/mcp   ends the session
func (s *Server) Register(mux *routes.Table) {
	s.init()
	for _, m := range []string{"POST", "GET", "DELETE"} {
		mux.Handle(m+" /projects/{pid}/mcp", s)
	}
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		timeout := s.SessionTimeout
		if timeout <= 0 {
			timeout = DefaultSessionTimeout
		}
		s.users = map[userKey]*userServer{}
		s.pruneAt = 128
		sdk := gomcp.NewStreamableHTTPHandler(s.serverFor, &gomcp.StreamableHTTPOptions{
			SessionTimeout: timeout,
			Logger:         s.Log,
			// The SDK refuses requests that arrive on a loopback address
			// with another Host (DNS rebinding). A gateway behind a reverse
			// proxy on the same machine gets exactly those; and every
			// request here carries a bearer token, which a rebound page
			// does not have.
			DisableLocalhostProtection: true,
		})
		// The token was verified by ServeHTTP; this hands its user to the
		// SDK, which then refuses a session's requests made with another
		// user's token, and to the tool handlers (RequestExtra.TokenInfo).
		verified := func(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
			k, ok := r.Context().Value(ctxKey{}).(userKey)
			if !ok {
				return nil, auth.ErrInvalidToken
			}
			return &auth.TokenInfo{UserID: k.project + "\x00" + k.user, Extra: map[string]any{"project": k.project, "user": k.user}}, nil
		}
		s.handler = auth.RequireBearerToken(verified, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(sdk)
	})
}

// ServeHTTP authenticates the user token, then hands the request to the
// SDK's Streamable HTTP handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	u, ok := s.Projects.Authenticate(w, r, r.PathValue("pid"))
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, userKey{u.Project.ID, u.ID}))
	s.handler.ServeHTTP(w, r)
}

// serverFor returns the SDK server of the request's (verified) user, with
// its tools computed.
func (s *Server) serverFor(r *http.Request) *gomcp.Server {
	k, ok := r.Context().Value(ctxKey{}).(userKey)
	if !ok {
		return nil
	}
	now := time.Now()
	s.mu.Lock()
	us := s.users[k]
	if us == nil {
		s.prune(now)
		us = &userServer{key: k, tools: map[string]string{}}
		us.server = gomcp.NewServer(&gomcp.Implementation{Name: "plugboard", Title: "Plugboard", Version: s.Version}, &gomcp.ServerOptions{
			Instructions: "Tools are the actions of the integrations this user has connected on the Plugboard gateway; " +
				"the gateway adds the user's credentials to each call.",
			Capabilities: &gomcp.ServerCapabilities{Tools: &gomcp.ToolCapabilities{ListChanged: true}},
			Logger:       s.Log,
		})
		// Every tools/call is run by call, whether or not the tool is in
		// the user's list: a tool of an integration the user has not
		// connected (or no longer has) is then a tool error that says so,
		// rather than JSON-RPC's "unknown tool".
		run := s.call(k)
		us.server.AddReceivingMiddleware(func(next gomcp.MethodHandler) gomcp.MethodHandler {
			return func(ctx context.Context, method string, req gomcp.Request) (gomcp.Result, error) {
				if call, ok := req.(*gomcp.CallToolRequest); ok && method == "tools/call" && call.Params != nil {
					return run(ctx, call)
				}
				return next(ctx, method, req)
			}
		})
		s.users[k] = us
	}
	us.used = now
	s.mu.Unlock()

	us.mu.Lock()
	defer us.mu.Unlock()
	if !us.synced {
		if err := s.syncLocked(r.Context(), us); err != nil {
			s.Log.Warn("mcp: could not list the user's actions; serving the tools as last listed", "project", k.project, "error", err.Error())
		}
	}
	return us.server
}

// prune drops the servers of users without sessions that were not used
// lately, when there are many. s.mu is held.
func (s *Server) prune(now time.Time) {
	if len(s.users) < s.pruneAt {
		return
	}
	for k, us := range s.users {
		if now.Sub(us.used) < keepIdle {
			continue
		}
		idle := true
		for range us.server.Sessions() {
			idle = false
			break
		}
		if idle {
			delete(s.users, k)
		}
	}
	s.pruneAt = max(128, 2*len(s.users))
}

// CatalogChanged recomputes the tools of every user with a session (the
// others' are recomputed when next used). It returns at once.
func (s *Server) CatalogChanged() {
	s.init()
	s.mu.Lock()
	all := make([]*userServer, 0, len(s.users))
	for _, us := range s.users {
		all = append(all, us)
	}
	s.mu.Unlock()
	go func() {
		for _, us := range all {
			s.resync(us)
		}
	}()
}

// UserChanged recomputes the tools of the user's server, if there is one
// (a connection was added or removed). It returns at once.
func (s *Server) UserChanged(projectID, userID string) {
	s.init()
	s.mu.Lock()
	us := s.users[userKey{projectID, userID}]
	s.mu.Unlock()
	if us != nil {
		go s.resync(us)
	}
}

func (s *Server) resync(us *userServer) {
	us.mu.Lock()
	defer us.mu.Unlock()
	us.synced = false
	live := false
	for range us.server.Sessions() {
		live = true
		break
	}
	if !live {
		return // recomputed when next used
	}
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	if err := s.syncLocked(ctx, us); err != nil {
		s.Log.Warn("mcp: could not recompute the user's tools; will retry on the next request", "project", us.key.project, "error", err.Error())
	}
}

// syncLocked makes the user's server serve the actions now available to
// them. The SDK notifies the sessions when a tool is added, changed or
// removed. us.mu is held.
func (s *Server) syncLocked(ctx context.Context, us *userServer) error {
	tools, e := s.Actions.Available(ctx, us.key.project, us.key.user, nil)
	if e != nil {
		return fmt.Errorf("%s: %s", e.Code, e.Message)
	}
	want := make(map[string]*gomcp.Tool, len(tools))
	for _, t := range tools {
		want[t.Action.Tool] = definition(t)
	}
	var gone []string
	for name := range us.tools {
		if want[name] == nil {
			gone = append(gone, name)
			delete(us.tools, name)
		}
	}
	if len(gone) > 0 {
		us.server.RemoveTools(gone...)
	}
	for name, def := range want {
		b, err := json.Marshal(def)
		if err != nil {
			return err
		}
		if us.tools[name] == string(b) {
			continue
		}
		us.server.AddTool(def, s.call(us.key))
		us.tools[name] = string(b)
	}
	us.synced = true
	return nil
}

// definition is an action as an MCP tool.
func definition(t actions.Tool) *gomcp.Tool {
	a := t.Action
	readOnly := a.Method == http.MethodGet || a.Method == http.MethodHead
	return &gomcp.Tool{
		Name:        a.Tool,
		Title:       a.Title,
		Description: a.Description,
		InputSchema: a.Schema,
		Annotations: &gomcp.ToolAnnotations{ReadOnlyHint: readOnly, OpenWorldHint: ptr(true)},
	}
}

func ptr[T any](v T) *T { return &v }

// call runs a tool for the user whose server it is on. The user is checked
// against the token of the request that carries the call.
func (s *Server) call(owner userKey) gomcp.ToolHandler {
	return func(ctx context.Context, req *gomcp.CallToolRequest) (*gomcp.CallToolResult, error) {
		var ti *auth.TokenInfo
		if req.Extra != nil {
			ti = req.Extra.TokenInfo
		}
		if ti == nil || ti.UserID != owner.project+"\x00"+owner.user {
			return failure("This session belongs to another user token."), nil
		}
		var raw json.RawMessage
		if req.Params != nil {
			raw = req.Params.Arguments
		}
		params, err := actions.DecodeParameters(raw)
		if err != nil {
			return failure("The arguments must be a JSON object."), nil
		}
		t, e := s.Actions.Find(req.Params.Name)
		if e != nil {
			return gatewayFailure(e), nil
		}
		out, e := s.Actions.Run(ctx, owner.project, owner.user, t, params)
		if e != nil {
			return gatewayFailure(e), nil
		}
		body := []byte(out.Output)
		if out.Output == nil {
			body = out.Text
		}
		if !out.OK() {
			return failure(fmt.Sprintf("%s answered %d: %s", t.Integration.Name, out.Status, bytes.TrimSpace(body))), nil
		}
		return &gomcp.CallToolResult{Content: []gomcp.Content{&gomcp.TextContent{Text: string(body)}}}, nil
	}
}

// gatewayFailure is a gateway error as a tool error: its message, which
// never holds a credential, and its code.
func gatewayFailure(e *apierror.Error) *gomcp.CallToolResult {
	msg := strings.TrimSpace(e.Message)
	if e.Code != "" {
		msg += " (" + string(e.Code) + ")"
	}
	return failure(msg)
}

func failure(msg string) *gomcp.CallToolResult {
	return &gomcp.CallToolResult{IsError: true, Content: []gomcp.Content{&gomcp.TextContent{Text: msg}}}
}

// Close ends every MCP session, so that their open streams do not hold up
// a graceful shutdown.
func (s *Server) Close() {
	s.init()
	s.mu.Lock()
	all := make([]*userServer, 0, len(s.users))
	for _, us := range s.users {
		all = append(all, us)
	}
	s.mu.Unlock()
	for _, us := range all {
		for ss := range us.server.Sessions() {
			_ = ss.Close()
		}
	}
}
