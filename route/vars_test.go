package route

import (
	"testing"
)

// TestVars runs each case as a one-route table: the route must match the
// request exactly when the expression holds.
func TestVars(t *testing.T) {
	std := &testVars{
		args:    map[string]string{"n": "10", "s": "abc", "hex": "0x1F", "blank": " 7 ", "empty": ""},
		headers: map[string]string{"x-api-key": "K1", "x-forwarded-for": "10.1.2.3", "content-type": "application/x-www-form-urlencoded; charset=utf-8"},
		cookies: map[string]string{"sid": "s3"},
		named:   map[string]string{"scheme": "https", "server_port": "9443", "request_uri": "/v?n=10"},
		body:    "a=1&name=J%C3%B6rg+M&tag=x&tag=y",
	}
	jsonBody := &testVars{
		headers: map[string]string{"content-type": "application/json"},
		body:    `{"user":{"name":"ann","age":30,"admin":true,"tags":["a","b"],"ids":[1,2]},"n":null}`,
	}
	cases := []struct {
		vars []any
		req  *testVars
		want bool
	}{
		{[]any{[]any{"arg_n", "==", "10"}}, std, true},
		{[]any{[]any{"arg_n", "==", 10.0}}, std, true},
		{[]any{[]any{"arg_hex", "==", 31.0}}, std, true}, // tonumber reads hex
		{[]any{[]any{"arg_blank", "==", 7.0}}, std, true},
		{[]any{[]any{"arg_s", "==", 1.0}}, std, false},
		{[]any{[]any{"arg_n", "==", "11"}}, std, false},
		{[]any{[]any{"arg_n", "10"}}, std, true}, // legacy [var, value]
		{[]any{[]any{"arg_missing", "==", nil}}, std, true},
		{[]any{[]any{"arg_empty", "==", nil}}, std, false},
		{[]any{[]any{"arg_empty", "==", ""}}, std, true},
		{[]any{[]any{"arg_n", "==", true}}, std, false},
		{[]any{[]any{"arg_n", "~=", "10"}}, std, false},
		{[]any{[]any{"arg_s", "~=", 1.0}}, std, true}, // not a number: not equal
		{[]any{[]any{"arg_missing", "~=", "x"}}, std, true},
		{[]any{[]any{"arg_n", ">", 9.0}}, std, true},
		{[]any{[]any{"arg_n", ">", "10"}}, std, false},
		{[]any{[]any{"arg_n", ">=", "10"}}, std, true},
		{[]any{[]any{"arg_n", "<", 10.5}}, std, true},
		{[]any{[]any{"arg_n", "<=", 9.0}}, std, false},
		{[]any{[]any{"arg_s", ">", 1.0}}, std, false},
		{[]any{[]any{"arg_n", ">", "x"}}, std, false},
		{[]any{[]any{"arg_s", "~~", "^a.c$"}}, std, true},
		{[]any{[]any{"arg_s", "~~", "^A"}}, std, false},
		{[]any{[]any{"arg_s", "~*", "^A"}}, std, true},
		{[]any{[]any{"arg_missing", "~~", ".*"}}, std, false},
		{[]any{[]any{"arg_s", "in", []any{"x", "abc"}}}, std, true},
		{[]any{[]any{"arg_n", "in", []any{10.0}}}, std, false}, // Lua: "10" ~= 10
		{[]any{[]any{"arg_s", "IN", []any{"x"}}}, std, false},  // operators are case-insensitive
		{[]any{[]any{"arg_s", "in", []any{}}}, std, false},     // an empty list holds nothing
		{[]any{[]any{"remote_addr", "ipmatch", []any{}}}, std, false},
		{[]any{[]any{"arg_n", "==", "10"}, []any{"arg_empty", "==", ""}}, std, true}, // an empty string last in the pool
		{[]any{[]any{"arg_s", "!", "in", []any{"x"}}}, std, true},
		{[]any{[]any{"arg_s", "!", "==", "abc"}}, std, false},
		{[]any{[]any{"http_x_forwarded_for", "ipmatch", []any{"10.0.0.0/8"}}}, std, true},
		{[]any{[]any{"http_x_forwarded_for", "ipmatch", "10.1.2.3"}}, std, true},
		{[]any{[]any{"http_x_forwarded_for", "ipmatch", []any{"192.168.0.0/16", "::1"}}}, std, false},
		{[]any{[]any{"remote_addr", "ipmatch", []any{"192.0.2.0/24"}}}, std, true},
		{[]any{[]any{"remote_addr", "==", "192.0.2.9"}}, std, true},
		{[]any{[]any{"http_x_api_key", "==", "K1"}}, std, true},
		{[]any{[]any{"http_X_API_KEY", "==", "K1"}}, std, true},
		{[]any{[]any{"cookie_sid", "==", "s3"}}, std, true},
		{[]any{[]any{"scheme", "==", "https"}}, std, true},
		{[]any{[]any{"server_port", ">", 9000.0}}, std, true},
		{[]any{[]any{"request_uri", "==", "/v?n=10"}}, std, true},
		{[]any{[]any{"uri", "==", "/v"}}, std, true},
		{[]any{[]any{"host", "==", "h.test"}}, std, true},
		{[]any{[]any{"request_method", "==", "GET"}}, std, true},
		{[]any{[]any{"post_arg.name", "==", "Jörg M"}}, std, true},
		{[]any{[]any{"post_arg_a", "==", 1.0}}, std, true},
		{[]any{[]any{"post_arg.tag", "==", "x"}}, std, true}, // first occurrence
		{[]any{[]any{"post_arg.nope", "==", nil}}, std, true},
		{[]any{[]any{"post_arg.user.name", "==", "ann"}}, jsonBody, true},
		{[]any{[]any{"post_arg.user.age", "==", 30.0}}, jsonBody, true},
		{[]any{[]any{"post_arg.user.age", "==", "30"}}, jsonBody, false}, // a JSON number is not a string
		{[]any{[]any{"post_arg.user.age", ">", 18.0}}, jsonBody, true},
		{[]any{[]any{"post_arg.user.age", "in", []any{29.0, 30.0}}}, jsonBody, true},
		{[]any{[]any{"post_arg.user.admin", "==", true}}, jsonBody, true},
		{[]any{[]any{"post_arg.user.tags", "has", "b"}}, jsonBody, true},
		{[]any{[]any{"post_arg.user.tags", "has", "c"}}, jsonBody, false},
		{[]any{[]any{"post_arg.user.ids", "has", 2.0}}, jsonBody, true},
		{[]any{[]any{"arg_s", "has", "abc"}}, std, false}, // has needs an array
		{[]any{[]any{"post_arg.n", "==", nil}}, jsonBody, true},
		{[]any{[]any{"post_arg.user.name", "==", "ann"}}, std, false}, // form body: no such field
		// logic
		{[]any{[]any{"arg_n", "==", "10"}, []any{"arg_s", "==", "x"}}, std, false},
		{[]any{"AND", []any{"arg_n", "==", "10"}, []any{"arg_s", "==", "abc"}}, std, true},
		{[]any{"OR", []any{"arg_n", "==", "1"}, []any{"arg_s", "==", "abc"}}, std, true},
		{[]any{"or", []any{"arg_n", "==", "1"}, []any{"arg_s", "==", "x"}}, std, false},
		{[]any{"!OR", []any{"arg_n", "==", "1"}, []any{"arg_s", "==", "x"}}, std, true},
		{[]any{"!AND", []any{"arg_n", "==", "10"}, []any{"arg_s", "==", "abc"}}, std, false},
		{[]any{"OR", []any{"AND", []any{"arg_n", "==", "10"}, []any{"arg_s", "==", "x"}},
			[]any{[]any{"cookie_sid", "==", "s3"}, []any{"scheme", "==", "https"}}}, std, true},
		{[]any{"AND", []any{"OR", []any{"arg_n", "==", "1"}, []any{"arg_n", "==", "2"}},
			[]any{"arg_s", "==", "abc"}}, std, false},
		{[]any{}, std, true},
		{[]any{[]any{"arg_n", "==", "10"}}, nil, false}, // no Vars: every variable absent
	}
	var m Match
	for _, c := range cases {
		r := New()
		if err := r.Insert(Spec{ID: "v", URI: "/v", Vars: c.vars}); err != nil {
			t.Errorf("%s: %v", render(c.vars), err)
			continue
		}
		req := &Request{Method: []byte("GET"), Path: []byte("/v"), Host: []byte("h.test")}
		req.RemoteAddr = mustAddr("192.0.2.9")
		if c.req != nil {
			req.Vars = c.req
		}
		if got := r.Lookup(req, &m) != nil; got != c.want {
			t.Errorf("%s: got %v, want %v\n%s", render(c.vars), got, c.want, r.Table().Explain(req))
		}
	}
}

func TestToNumber(t *testing.T) {
	for s, want := range map[string]float64{"1": 1, "-2.5": -2.5, "1e3": 1000, " 4 ": 4, "0x10": 16, "-0xff": -255, ".5": 0.5, "5.": 5} {
		if got, ok := toNumber([]byte(s)); !ok || got != want {
			t.Errorf("toNumber(%q) = %v %v, want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "inf", "nan", "1_0", "1e", "0x", "1.2.3", "abc", "--1", "0x1g"} {
		if got, ok := toNumber([]byte(s)); ok {
			t.Errorf("toNumber(%q) = %v, want not a number", s, got)
		}
	}
}
