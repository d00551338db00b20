package usertoken

import (
	"crypto"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkVerifyRS256Uncached measures a full verification: parse, key
// selection, RS256 signature check with a 2048-bit key, claims.
func BenchmarkVerifyRS256Uncached(b *testing.B) { benchmarkUncached(b, keys(b).rsa) }

// BenchmarkVerifyES256Uncached is the same with a P-256 key.
func BenchmarkVerifyES256Uncached(b *testing.B) { benchmarkUncached(b, keys(b).ec) }

func benchmarkUncached(b *testing.B, key crypto.Signer) {
	v, _ := newTestVerifier(b, Options{CacheSize: -1})
	tok, err := Mint(key, kid(b, key), project, "user-42", time.Hour, t0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached measures repeats: 1024 distinct RS256 tokens, all
// cached, read by 32 goroutines per CPU at once.
func BenchmarkVerifyCached(b *testing.B) {
	const n = 1024
	k := keys(b)
	toks := make([]string, n)
	for i := range toks {
		var err error
		if toks[i], err = Mint(k.rsa, kid(b, k.rsa), project, fmt.Sprintf("user-%d", i), time.Hour, t0); err != nil {
			b.Fatal(err)
		}
	}
	benchmarkCached(b, toks)
}

// BenchmarkVerifyCachedOneToken is the hot-user case: every goroutine
// repeats the same token.
func BenchmarkVerifyCachedOneToken(b *testing.B) {
	k := keys(b)
	tok, err := Mint(k.rsa, kid(b, k.rsa), project, "user-42", time.Hour, t0)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkCached(b, []string{tok})
}

func benchmarkCached(b *testing.B, toks []string) {
	v, _ := newTestVerifier(b, Options{})
	for _, tok := range toks {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Uint32
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(97))
		for pb.Next() {
			i++
			if _, err := v.Verify(toks[i%len(toks)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
