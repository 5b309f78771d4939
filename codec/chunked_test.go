package codec

import (
	"errors"
	"strings"
	"testing"
)

// decodeAll runs a chunked body through a ChunkedDecoder in pieces of step
// bytes, keeping unconsumed bytes as a proxy's read buffer would.
func decodeAll(in string, step int, l Limits) (payload string, used int, err error) {
	var d ChunkedDecoder
	d.Reset(l)
	var buf []byte
	var out strings.Builder
	fed := 0
	for !d.Done() {
		if fed < len(in) {
			end := min(fed+step, len(in))
			buf = append(buf, in[fed:end]...)
			fed = end
		}
		n, data, err := d.Decode(buf)
		out.Write(data)
		used += n
		buf = buf[n:]
		if err == ErrNeedMore || err == nil && n == 0 {
			if fed == len(in) {
				return out.String(), used, ErrNeedMore
			}
			continue
		}
		if err != nil {
			return out.String(), used, err
		}
	}
	return out.String(), used, nil
}

func TestChunkedDecoder(t *testing.T) {
	tests := []struct {
		in, payload string
		err         error
	}{
		{"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", nil},
		{"A\r\n0123456789\r\n000\r\n\r\n", "0123456789", nil},
		{"1;a;b=c;d=\"e \\\" f\"\r\nx\r\n0;z\r\nT: 1\r\nU: \r\n\r\n", "x", nil},
		{"0\r\n\r\n", "", nil},
		{"5\r\nhel", "hel", ErrNeedMore},
		{"5 \r\nhello\r\n0\r\n\r\n", "", ErrBadChunkSize},
		{"5\t\r\nhello\r\n0\r\n\r\n", "", ErrBadChunkSize},
		{"x\r\n", "", ErrBadChunkSize},
		{"\r\n", "", ErrBadChunkSize},
		{"-1\r\n", "", ErrBadChunkSize},
		{"10000000000000000\r\n", "", ErrBadChunkSize},
		{"7fffffffffffffff\r\n", "", ErrNeedMore},
		{"0000000000000005\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"00000000000000005\r\nhello\r\n0\r\n\r\n", "", ErrBadChunkSize},
		{"00000000000000000\r\n\r\n", "", ErrBadChunkSize},
		{"5;\r\nhello\r\n", "", ErrBadChunkExtension},
		{"5 ;a\r\nhello\r\n", "", ErrBadChunkSize},
		{"5;a=\r\nhello\r\n", "", ErrBadChunkExtension},
		{"5;a=\"b\r\nhello\r\n", "", ErrBadChunkExtension},
		{"5;a b\r\nhello\r\n", "", ErrBadChunkExtension},
		{"5\nhello\r\n", "", ErrBareLF},
		{"5\r\r\nhello\r\n", "", ErrBareCR},
		{"5\r\nhelloX\r\n", "hello", ErrBadChunkData},
		{"5\r\nhello\r0\r\n", "hello", ErrBadChunkData},
		{"0\r\nT : 1\r\n\r\n", "", ErrSpaceBeforeColon},
		{"0\r\n T: 1\r\n\r\n", "", ErrObsFold},
		{"0\r\nT: \x00\r\n\r\n", "", ErrBadFieldValue},
		{"0\r\nT: 1\n\r\n", "", ErrBareLF},
		{"0\r\n" + strings.Repeat("a", DefaultMaxHeaderBytes), "", ErrHeaderTooLarge},
		{"5" + strings.Repeat(";a", DefaultMaxChunkLine/2) + "\r\n", "", ErrChunkLineTooLong},
		{"0" + strings.Repeat("0", DefaultMaxChunkLine+1), "", ErrChunkLineTooLong},
		{strings.Repeat("0", DefaultMaxChunkLine+2) + "\n", "", ErrChunkLineTooLong}, // too long beats bare LF
		{strings.Repeat("0", DefaultMaxChunkLine+1) + "\n", "", ErrBareLF},
		{"0\r\nT: " + strings.Repeat("v", DefaultMaxHeaderBytes) + "\n", "", ErrHeaderTooLarge},
	}
	for _, tt := range tests {
		for _, step := range []int{len(tt.in), 1, 3} {
			payload, used, err := decodeAll(tt.in, step, Limits{})
			if !errors.Is(err, tt.err) || payload != tt.payload {
				t.Errorf("%.60q step %d: (%q, %v), want (%q, %v)", tt.in, step, payload, err, tt.payload, tt.err)
			}
			if err == nil && used != len(tt.in) {
				t.Errorf("%q step %d: used %d of %d", tt.in, step, used, len(tt.in))
			}
		}
	}
}

func TestChunkedLimits(t *testing.T) {
	if _, _, err := decodeAll("6\r\nhello!\r\n0\r\n\r\n", 100, Limits{MaxBodySize: 5}); err != ErrBodyTooLarge {
		t.Errorf("MaxBodySize: %v", err)
	}
	if _, _, err := decodeAll("3\r\nabc\r\n3\r\nabc\r\n0\r\n\r\n", 100, Limits{MaxBodySize: 6}); err != nil {
		t.Errorf("MaxBodySize exact: %v", err)
	}
	if _, _, err := decodeAll("0\r\nA: 1\r\nB: 2\r\n\r\n", 100, Limits{MaxFields: 1}); err != ErrTooManyFields {
		t.Errorf("trailer MaxFields: %v", err)
	}
	// The pipelined next message is left alone.
	var d ChunkedDecoder
	in := []byte("1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n")
	n, _, err := d.Decode(in)
	for err == nil && !d.Done() {
		var k int
		k, _, err = d.Decode(in[n:])
		n += k
	}
	if err != nil || string(in[n:]) != "GET / HTTP/1.1\r\n" {
		t.Fatalf("rest %q, %v", in[n:], err)
	}
	if k, _, err := d.Decode(in[n:]); k != 0 || err != nil {
		t.Fatal("decoder consumed after Done")
	}
}

func TestBody(t *testing.T) {
	var b Body
	b.Reset(Framing{BodyLength, 3}, Limits{})
	n, data, err := b.Next([]byte("abcdef"))
	if n != 3 || string(data) != "abc" || err != nil || !b.Done() || b.Remaining() != 0 || b.Kind() != BodyLength {
		t.Fatal(n, data, err)
	}
	b.Reset(Framing{Kind: BodyUntilClose}, Limits{})
	if n, _, _ := b.Next([]byte("xyz")); n != 3 || b.Done() {
		t.Fatal("until close")
	}
	b.Reset(Framing{Kind: BodyNone}, Limits{})
	if !b.Done() {
		t.Fatal("none")
	}
	b.Reset(Framing{Kind: BodyChunked}, Limits{})
	if n, err := b.Skip([]byte("3\r\nabc\r\n0\r\n\r\nNEXT")); n != 13 || err != nil || !b.Done() {
		t.Fatal(n, err)
	}
	b.Reset(Framing{Kind: BodyChunked}, Limits{})
	if n, err := b.Skip([]byte("3\r\nabc\r\n0\r")); n != 8 || err != ErrNeedMore {
		t.Fatal(n, err)
	}
}

func TestChunkedTrailers(t *testing.T) {
	in := []byte("2\r\nok\r\n0\r\ngrpc-status: 0 \r\nGrpc-Message:\r\n\r\nNEXT")
	var b Body
	b.Reset(Framing{Kind: BodyChunked}, Limits{})
	var got []string
	p := in
	for !b.Done() {
		n, _, err := b.Next(p)
		if err != nil {
			t.Fatal(err)
		}
		if name, value, ok := b.Trailer(); ok {
			got = append(got, string(name)+"="+string(value))
		}
		p = p[n:]
	}
	if strings.Join(got, ",") != "grpc-status=0,Grpc-Message=" || string(p) != "NEXT" {
		t.Fatalf("trailers %q, rest %q", got, p)
	}
	if _, _, ok := b.Trailer(); ok {
		t.Fatal("Trailer after the final empty line")
	}
	b.Reset(Framing{BodyLength, 1}, Limits{})
	if _, _, ok := b.Trailer(); ok {
		t.Fatal("Trailer on a length body")
	}
}
