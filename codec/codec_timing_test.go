package codec

import (
	"os"
	"path/filepath"
	"testing"
)

// Benchmark inputs shared with bench/codeccmp, which parses the same bytes
// with net/http and fasthttp.
func benchInput(b *testing.B, name string) []byte {
	in, err := os.ReadFile(filepath.Join("testdata", "bench", name))
	if err != nil {
		b.Fatal(err)
	}
	return in
}

func benchRequest(b *testing.B, name string) {
	in := benchInput(b, name)
	var r Request
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		if _, err := r.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRequestBrowser: a 500-byte browser request head.
func BenchmarkParseRequestBrowser(b *testing.B) { benchRequest(b, "browser.http") }

// BenchmarkParseRequestAPI20: an API request with 20 fields.
func BenchmarkParseRequestAPI20(b *testing.B) { benchRequest(b, "api20.http") }

// BenchmarkParseRequestBrowserSplit: the browser head arriving in 64-byte
// reads, to price resumption.
func BenchmarkParseRequestBrowserSplit(b *testing.B) {
	in := benchInput(b, "browser.http")
	var r Request
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		for end := 64; ; end += 64 {
			if end > len(in) {
				end = len(in)
			}
			if _, err := r.Parse(in[:end]); err != ErrNeedMore {
				if err != nil {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	in := benchInput(b, "response.http")
	var r Response
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		if _, err := r.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChunkedDecode: 16 chunks of 1000 bytes, payload handed back.
func BenchmarkChunkedDecode(b *testing.B) {
	in := benchInput(b, "chunked.body")
	var d ChunkedDecoder
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		d.Reset(Limits{})
		p := in
		total := 0
		for !d.Done() {
			n, data, err := d.Decode(p)
			if err != nil {
				b.Fatal(err)
			}
			total += len(data)
			p = p[n:]
		}
		if total != 16000 {
			b.Fatal(total)
		}
	}
}

// BenchmarkChunkedSkip: the same body, framing tracked for forwarding only.
func BenchmarkChunkedSkip(b *testing.B) {
	in := benchInput(b, "chunked.body")
	var body Body
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(Framing{Kind: BodyChunked}, Limits{})
		if n, err := body.Skip(in); err != nil || n != len(in) || !body.Done() {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkWriteRequest: the browser head forwarded with the edits a
// gateway typically makes.
func BenchmarkWriteRequest(b *testing.B) {
	in := benchInput(b, "browser.http")
	var r Request
	if _, err := r.Parse(in); err != nil {
		b.Fatal(err)
	}
	var e Edits
	var w HeadWriter
	xff, xffv := []byte("X-Forwarded-For"), []byte("198.51.100.4")
	host := []byte("backend.internal:8080")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		e.Reset()
		e.Set(xff, xffv)
		e.SetHost(host)
		if iov := w.Request(&r, &e); len(iov) == 0 {
			b.Fatal("empty")
		}
	}
}
