package store

import "testing"

// BenchmarkOpenCredential: decrypting and decoding one typical credential,
// the part of every read that is not SQLite.
func BenchmarkOpenCredential(b *testing.B) {
	kr := mustKeyring(b, "k:"+keyAStd)
	c := benchConnection(42, 1)
	c.ID = newConnectionID()
	sealed, err := sealCredential(kr, c)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := openCredential(kr, c, sealed); err != nil {
			b.Fatal(err)
		}
	}
}
