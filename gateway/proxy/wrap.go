package proxy

import "io"

// outputWrapper streams an upstream JSON body as {"output":<body>} without
// decoding or re-encoding it. An empty body stays empty.
type outputWrapper struct {
	body  io.ReadCloser
	state int // 0: prefix not sent, 1: streaming body, 2: suffix pending, 3: done
	pend  []byte
}

func newOutputWrapper(body io.ReadCloser) io.ReadCloser { return &outputWrapper{body: body} }

var (
	wrapPrefix = []byte(`{"output":`)
	wrapSuffix = []byte(`}`)
)

func (o *outputWrapper) Read(p []byte) (int, error) {
	for {
		if len(o.pend) > 0 {
			n := copy(p, o.pend)
			o.pend = o.pend[n:]
			return n, nil
		}
		switch o.state {
		case 0:
			// Read the first bytes before committing to the wrapper, so an
			// empty body is passed on as empty rather than {"output":}.
			buf := make([]byte, len(p))
			n, err := o.body.Read(buf)
			if n == 0 && err == io.EOF {
				o.state = 3
				return 0, io.EOF
			}
			if n == 0 && err != nil {
				return 0, err
			}
			if n == 0 {
				continue
			}
			o.pend = append(append([]byte{}, wrapPrefix...), buf[:n]...)
			o.state = 1
			if err == io.EOF {
				o.pend = append(o.pend, wrapSuffix...)
				o.state = 3
			} else if err != nil {
				return 0, err
			}
		case 1:
			n, err := o.body.Read(p)
			if err == io.EOF {
				o.state = 2
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		case 2:
			o.pend = wrapSuffix
			o.state = 3
		default:
			return 0, io.EOF
		}
	}
}

func (o *outputWrapper) Close() error { return o.body.Close() }
