package proxy

import "io"

// outputWrapper streams an upstream JSON body as {"output":<body>} without
// decoding or re-encoding it, reading straight into the caller's buffer. An
// empty body stays empty.
type outputWrapper struct {
	body     io.ReadCloser
	started  bool // the prefix has been produced
	bodyDone bool // the upstream body is at EOF
	pend     []byte
}

var (
	wrapPrefix = []byte(`{"output":`)
	wrapSuffix = []byte(`}`)
)

// wrapOverhead is how many bytes the wrapper adds to a non-empty body.
const wrapOverhead = len(`{"output":}`)

func newOutputWrapper(body io.ReadCloser) io.ReadCloser { return &outputWrapper{body: body} }

func (o *outputWrapper) Read(p []byte) (int, error) {
	for {
		if len(o.pend) > 0 {
			n := copy(p, o.pend)
			o.pend = o.pend[n:]
			return n, nil
		}
		switch {
		case !o.started:
			// Read the first bytes before committing to the wrapper, so an
			// empty body is passed on as empty rather than {"output":}.
			buf := p[min(len(wrapPrefix), len(p)):]
			small := len(buf) == 0
			if small {
				buf = make([]byte, 512) // only for callers with tiny buffers
			}
			n, err := o.body.Read(buf)
			if n == 0 {
				if err == io.EOF {
					o.started, o.bodyDone = true, true
					return 0, io.EOF
				}
				if err != nil {
					return 0, err
				}
				continue
			}
			o.started = true
			if err == io.EOF {
				o.bodyDone, o.pend = true, wrapSuffix
			} else if err != nil {
				return 0, err
			}
			if small {
				o.pend = append(append(append([]byte{}, wrapPrefix...), buf[:n]...), o.pend...)
				continue
			}
			copy(p, wrapPrefix)
			return len(wrapPrefix) + n, nil
		case !o.bodyDone:
			n, err := o.body.Read(p)
			if err == io.EOF {
				o.bodyDone, o.pend = true, wrapSuffix
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		default:
			return 0, io.EOF
		}
	}
}

func (o *outputWrapper) Close() error { return o.body.Close() }
