package codeccmp

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-gateway/sluice/codec"
	"github.com/valyala/fasthttp"
)

func input(tb testing.TB, name string) []byte {
	in, err := os.ReadFile(filepath.Join("..", "..", "codec", "testdata", "bench", name))
	if err != nil {
		tb.Fatal(err)
	}
	return in
}

// TestInputsAgree checks that all three parsers accept every input and see
// the same method, target and field count, so that the benchmarks compare
// equal work.
func TestInputsAgree(t *testing.T) {
	for _, name := range []string{"browser.http", "api20.http"} {
		in := input(t, name)
		var r codec.Request
		if _, err := r.Parse(in); err != nil {
			t.Fatal(name, err)
		}
		hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(in)))
		if err != nil {
			t.Fatal(name, err)
		}
		var fh fasthttp.RequestHeader
		if err := fh.Read(bufio.NewReader(bytes.NewReader(in))); err != nil {
			t.Fatal(name, err)
		}
		if string(r.Method()) != hr.Method || string(fh.Method()) != hr.Method ||
			string(r.Target()) != hr.RequestURI || string(fh.RequestURI()) != hr.RequestURI {
			t.Errorf("%s: method/target differ", name)
		}
		if n := r.NumFields(); n != fh.Len()+1 && n != fh.Len() { // fasthttp keeps Host apart
			t.Errorf("%s: %d fields, fasthttp %d", name, n, fh.Len())
		}
	}
	in := input(t, "response.http")
	var r codec.Response
	if _, err := r.Parse(in); err != nil {
		t.Fatal(err)
	}
	hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), nil)
	if err != nil || hr.StatusCode != r.Status() {
		t.Fatal(err)
	}
	var fh fasthttp.ResponseHeader
	if err := fh.Read(bufio.NewReader(bytes.NewReader(in))); err != nil || fh.StatusCode() != r.Status() {
		t.Fatal(err)
	}
	body := input(t, "chunked.body")
	dec, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(body)))
	if err != nil || len(dec) != 16000 {
		t.Fatal(len(dec), err)
	}
}

func benchRequest(b *testing.B, name string) {
	in := input(b, name)
	b.Run("sluice", func(b *testing.B) {
		var r codec.Request
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			r.Reset()
			if _, err := r.Parse(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fasthttp", func(b *testing.B) {
		var h fasthttp.RequestHeader
		rd := bytes.NewReader(in)
		br := bufio.NewReaderSize(rd, 4096)
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(in)
			br.Reset(rd)
			h.Reset()
			if err := h.Read(br); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("nethttp", func(b *testing.B) {
		rd := bytes.NewReader(in)
		br := bufio.NewReaderSize(rd, 4096)
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(in)
			br.Reset(rd)
			if _, err := http.ReadRequest(br); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRequestBrowser500: the 500-byte browser request head.
func BenchmarkRequestBrowser500(b *testing.B) { benchRequest(b, "browser.http") }

// BenchmarkRequestAPI20: a 20-field API request head.
func BenchmarkRequestAPI20(b *testing.B) { benchRequest(b, "api20.http") }

func BenchmarkResponseHead(b *testing.B) {
	in := input(b, "response.http")
	b.Run("sluice", func(b *testing.B) {
		var r codec.Response
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			r.Reset()
			if _, err := r.Parse(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fasthttp", func(b *testing.B) {
		var h fasthttp.ResponseHeader
		rd := bytes.NewReader(in)
		br := bufio.NewReaderSize(rd, 4096)
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(in)
			br.Reset(rd)
			h.Reset()
			if err := h.Read(br); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("nethttp", func(b *testing.B) {
		rd := bytes.NewReader(in)
		br := bufio.NewReaderSize(rd, 4096)
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(in)
			br.Reset(rd)
			if _, err := http.ReadResponse(br, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChunkedBody: a 16 KB chunked body decoded. fasthttp has no
// standalone chunked reader, so it reads a whole response whose body is
// this one; its head costs about what BenchmarkResponseHead shows.
func BenchmarkChunkedBody(b *testing.B) {
	body := input(b, "chunked.body")
	b.Run("sluice", func(b *testing.B) {
		var d codec.ChunkedDecoder
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			d.Reset(codec.Limits{})
			p := body
			for !d.Done() {
				n, _, err := d.Decode(p)
				if err != nil {
					b.Fatal(err)
				}
				p = p[n:]
			}
		}
	})
	b.Run("fasthttp", func(b *testing.B) {
		in := append([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), body...)
		var resp fasthttp.Response
		rd := bytes.NewReader(in)
		br := bufio.NewReaderSize(rd, 4096)
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(in)
			br.Reset(rd)
			resp.Reset()
			if err := resp.Read(br); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("nethttp", func(b *testing.B) {
		rd := bytes.NewReader(body)
		buf := make([]byte, 32<<10)
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(body)
			cr := httputil.NewChunkedReader(rd)
			for {
				_, err := cr.Read(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
