package batchlog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-gateway/sluice/plugin/internal/cputime"
)

// appendString against encoding/json: the same string comes back from
// decoding, for control characters, quotes, non-ASCII and invalid UTF-8.
func TestAppendStringDecodes(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "nl\n\r\t\x00\x1f\x7f", "ünï 世界 🙂", "bad\xff\xfeutf8", "\xe2\x82"} {
		out := appendString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, out, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		// encoding/json replaces each invalid byte; so does appendString.
		b, _ := json.Marshal(s)
		var ref string
		json.Unmarshal(b, &ref)
		if got != ref {
			t.Errorf("%q: got %q, encoding/json %q (valid form %q)", s, got, ref, want)
		}
	}
}

func TestAppendQuery(t *testing.T) {
	for q, want := range map[string]string{
		"":                    `{}`,
		"a=1":                 `{"a":"1"}`,
		"a=1&a=2&b":           `{"a":["1","2"],"b":true}`,
		"x%20y=a+b%21&&c=%zz": `{"x y":"a b!","c":"%zz"}`,
	} {
		if got := string(appendQuery(nil, []byte(q))); got != want {
			t.Errorf("%q: %s, want %s", q, got, want)
		}
	}
}

func TestCompileFormat(t *testing.T) {
	for src, want := range map[string]string{
		`[1]`:                              "want an object",
		`{"a":true}`:                       "log_format.a: want a string",
		`{"a":{"b":["x"]}}`:                "log_format.a.b: want a string",
		`{"a":{"b":{"c":{"d":{"e":{}}}}}}`: "log_format.a.b.c.d.e: objects nest at most 5 deep",
	} {
		if _, err := CompileFormat([]byte(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
	f, err := CompileFormat([]byte(`{"a":{"b":{"c":{"d":"$host"}}},"lit":"$"}`))
	if err != nil || !f.Custom() {
		t.Fatalf("%v", err)
	}
	if f, _ := CompileFormat(nil); f.Custom() {
		t.Error("no log_format: want the full log")
	}
}

// The worker's cost per entry: parsing the heads again and the JSON.
func BenchmarkFormatFullLog(b *testing.B) { benchFormat(b, nil) }
func BenchmarkFormatLogFormat(b *testing.B) {
	benchFormat(b, []byte(`{"host":"$host","client_ip":"$remote_addr","status":"$status","@timestamp":"$time_iso8601"}`))
}

func benchFormat(b *testing.B, lf []byte) {
	f, err := CompileFormat(lf)
	if err != nil {
		b.Fatal(err)
	}
	r := &Record{
		Head:     []byte("GET /hello?a=1&b=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n"),
		RespHead: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"),
		Status:   200, RouteID: "1",
	}
	var st formatter
	var out []byte
	b.ReportAllocs()
	defer cputime.PerOp(b)()
	for b.Loop() {
		out = f.Append(out[:0], &st, r)
	}
}
