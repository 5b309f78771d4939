package limiter_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/sluice-gateway/sluice/plugin/internal/limiter"
	"github.com/sluice-gateway/sluice/plugin/plugintest"
)

// entry is idle once its value is below the epoch.
type entry struct{ v atomic.Int64 }

func (e *entry) Idle(epoch int64) bool { return e.v.Load() < epoch }

func TestTableSweepsIdleEntriesOnInsert(t *testing.T) {
	tb := limiter.NewTable[entry](10)
	for i := range 1000 {
		e, h := tb.Get([]byte(fmt.Sprint("k", i)), 0)
		e.v.Store(int64(i))
		h.Release()
	}
	if n := tb.Len(); n != 1000 {
		t.Fatalf("%d entries, want 1000", n)
	}
	// Same keys again: found, not added.
	for i := range 1000 {
		e, h := tb.Get([]byte(fmt.Sprint("k", i)), 5)
		if e.v.Load() != int64(i) {
			t.Fatalf("k%d: %d", i, e.v.Load())
		}
		h.Release()
	}
	// Before the sweep interval: new keys do not sweep.
	for i := range 64 {
		_, h := tb.Get([]byte(fmt.Sprint("new", i)), 9)
		h.Release()
	}
	if n := tb.Len(); n != 1064 {
		t.Fatalf("%d entries before the sweep interval, want 1064", n)
	}
	// After it, each shard is swept when a key is added to it: entries
	// below epoch 500 go (the fresh "new" ones, at 0, too).
	for i := range 4096 {
		_, h := tb.Get([]byte(fmt.Sprint("later", i)), 500)
		h.Release()
	}
	if n := tb.Len(); n > 500+4096 || n < 4096 {
		t.Errorf("%d entries after sweeps, want at most %d", n, 500+4096)
	}
	for i := range 1000 {
		e, h := tb.Get([]byte(fmt.Sprint("k", i)), 501)
		if i >= 500 && e.v.Load() != int64(i) {
			t.Errorf("k%d lost its value (%d) though not idle", i, e.v.Load())
		}
		h.Release()
	}
}

func TestShardPadding(t *testing.T) {
	// Each shard fills two cache lines, so loops locking neighbours do
	// not share one.
	var sh limiter.Shards[entry]
	if s := unsafe.Sizeof(sh); s != 64*128 {
		t.Errorf("shards are %d bytes, want %d", s, 64*128)
	}
	// Until its first key, a table is small.
	if s := unsafe.Sizeof(limiter.Table[entry, *entry]{}); s > 64 {
		t.Errorf("an unused table is %d bytes", s)
	}
}

func TestTemplate(t *testing.T) {
	tests := []struct{ tpl, want string }{
		{"plain", "plain"},
		{"$remote_addr", "10.1.2.3"},
		{"$remote_addr $http_x_user", "10.1.2.3 ann"},
		{"${http_x_user}-${arg_k}!", "ann-v!"},
		{"$http_x_missing|", "|"},
		{`\$remote_addr`, `\$remote_addr`},
		{"cost $ 5 ${ x} ${}", "cost $ 5  ${}"}, // ${ x } is x, absent, as in APISIX
		{"${http_x_custom_conn ?? 5}", "5"},
		{"${ http_x_user ?? 5 }/${http_x_user??}", "ann/ann"},
		{"${http_x_none??}|", "|"},
		{"${a b}", "${a b}"}, // not a name: literal
		{"${remote_port}:$server_port", "5000:9080"},
		{"$uri?$args", "/p?k=v"},
		{"$route_id/$consumer_name", "1/"},
		{"$http_x_user.x", ""}, // '.' is part of a name: "http_x_user.x" is absent
	}
	r := plugintest.NewRequest("GET /p?k=v HTTP/1.1\r\nHost: a\r\nX-User: ann\r\n\r\n", "10.1.2.3:5000")
	c := r.Reset(nil)
	for _, tt := range tests {
		tp := limiter.ParseTemplate(tt.tpl)
		got, _ := tp.Append(c, nil)
		if string(got) != tt.want {
			t.Errorf("%q: got %q, want %q", tt.tpl, got, tt.want)
		}
		if r := tp.Render(c); string(r) != tt.want {
			t.Errorf("%q: Render %q, want %q", tt.tpl, r, tt.want)
		}
	}
}

func TestKey(t *testing.T) {
	r := plugintest.NewRequest("GET /p HTTP/1.1\r\nHost: a\r\nX-User: ann\r\n\r\n", "10.1.2.3:5000")
	c := r.Reset(nil)
	a16 := c.Remote.Addr().As16()
	addr := string(a16[:])
	tests := []struct{ typ, key, want, err string }{
		{"var", "remote_addr", addr, ""},
		{"", "http_x_user", "ann", ""},
		{"var", "http_x_none", addr, ""},
		{"var", "remote_port", "5000", ""},
		{"var_combination", "$http_x_user:$remote_addr", "ann:10.1.2.3", ""},
		{"var_combination", "$http_x_none $arg_none", addr, ""},
		{"constant", "all", "all", ""},
		{"var", "", "", "a variable name is required"},
		{"var_combination", "x", "", "names no $variable"},
		{"header", "x", "", `key_type: "header"`},
	}
	for _, tt := range tests {
		k, err := limiter.ParseKey(tt.typ, tt.key)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s %q: error %v, want %q", tt.typ, tt.key, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := string(k.Append(c, nil)); got != tt.want {
			t.Errorf("%s %q: got %q, want %q", tt.typ, tt.key, got, tt.want)
		}
	}
}

func TestErrorMsg(t *testing.T) {
	if got := string(limiter.ErrorMsg(`a <b> & "c"`)); got != `{"error_msg":"a <b> & \"c\""}`+"\n" {
		t.Errorf("got %q", got)
	}
	if limiter.ErrorMsg("") != nil {
		t.Error("empty message: want nil (the server's default body)")
	}
}
