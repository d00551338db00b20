// Package fakedns is a DNS server on 127.0.0.1 for tests: it answers every
// A query with one address, as a zone whose owner points names wherever it
// likes would (DNS rebinding included). Its Resolver sends Go's own
// resolver there, so tests go through real name resolution.
package fakedns

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Server is a running fake DNS server.
type Server struct {
	conn    net.PacketConn
	mu      sync.Mutex
	answer  netip.Addr
	Queries atomic.Int64 // A queries answered
	done    chan struct{}
}

// New starts a server answering A queries with answer (an IPv4 address).
func New(answer netip.Addr) *Server {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := &Server{conn: conn, answer: answer, done: make(chan struct{})}
	go s.serve()
	return s
}

// SetAnswer changes the address later queries get.
func (s *Server) SetAnswer(a netip.Addr) {
	s.mu.Lock()
	s.answer = a
	s.mu.Unlock()
}

// Close stops the server.
func (s *Server) Close() {
	_ = s.conn.Close() // ends the serving loop, which is all Close is for
	<-s.done
}

// Resolver returns a pure-Go resolver that asks this server only.
func (s *Server) Resolver() *net.Resolver {
	addr := s.conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func (s *Server) serve() {
	defer close(s.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.respond(buf[:n]); resp != nil {
			_, _ = s.conn.WriteTo(resp, from)
		}
	}
}

// respond answers one query: the question copied, and an A record for A
// queries (other types get an empty answer).
func (s *Server) respond(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	question := q[12 : i+5]
	resp := make([]byte, 12, 12+len(question)+16)
	copy(resp[0:2], q[0:2])
	binary.BigEndian.PutUint16(resp[2:4], 0x8180) // response, recursion desired and available
	binary.BigEndian.PutUint16(resp[4:6], 1)
	resp = append(resp, question...)
	s.mu.Lock()
	a := s.answer
	s.mu.Unlock()
	if qtype == 1 && a.Is4() {
		binary.BigEndian.PutUint16(resp[6:8], 1)
		ip := a.As4()
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4)
		resp = append(resp, ip[:]...)
		s.Queries.Add(1)
	}
	return resp
}
