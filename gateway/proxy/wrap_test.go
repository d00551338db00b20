package proxy

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestOutputWrapper(t *testing.T) {
	for _, body := range []string{"", "1", `{"a":1}`, strings.Repeat("x", 100000)} {
		for _, bufSize := range []int{1, 5, 11, 12, 512, 32 << 10} {
			w := newOutputWrapper(io.NopCloser(iotest.HalfReader(strings.NewReader(body))))
			var out bytes.Buffer
			buf := make([]byte, bufSize)
			for {
				n, err := w.Read(buf)
				out.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			want := `{"output":` + body + `}`
			if body == "" {
				want = ""
			}
			if out.String() != want {
				t.Errorf("body %d bytes, buffer %d: got %d bytes %.40q", len(body), bufSize, out.Len(), out.String())
			}
			if body != "" && len(want) != len(body)+wrapOverhead {
				t.Fatal("wrapOverhead is wrong")
			}
		}
	}
}
