package limiter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/sluice-gateway/sluice/plugin"
)

// Num is a limit's number as APISIX 3.16 takes it: an integer, or a string
// of variables resolved for each request ("${http_x_conn ?? 5}"), which
// must come to an integer.
type Num struct {
	n   int64
	tpl *Template
	src string
}

// ParseNum reads an integer or a template (the schema checked which).
func ParseNum(raw json.RawMessage) (Num, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		t := ParseTemplate(s)
		if lit, ok := t.Static(); ok {
			n, ok := parseInt(lit)
			if !ok {
				return Num{}, fmt.Errorf("%q is neither an integer nor has a $variable", s)
			}
			return Num{n: n, src: s}, nil
		}
		return Num{tpl: &t, src: s}, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || f > 1<<53 {
		return Num{}, fmt.Errorf("want an integer or a string of variables, got %s", raw)
	}
	return Num{n: int64(f), src: string(raw)}, nil
}

// Static is the number when it has no variable.
func (n *Num) Static() (int64, bool) { return n.n, n.tpl == nil }

// String is the number as configured.
func (n *Num) String() string { return n.src }

// Get is the number for this request: false when the variables do not come
// to an integer of at most 2^53-1 (APISIX's checks; the caller checks the
// bounds of its own).
func (n *Num) Get(c *plugin.Ctx) (int64, bool) {
	if n.tpl == nil {
		return n.n, true
	}
	var b [32]byte
	out, _ := n.tpl.Append(c, b[:0])
	return parseInt(out)
}

// parseInt reads an integer as Lua's tonumber does for these: spaces
// around, a decimal point with no fraction allowed ("5.0").
func parseInt(b []byte) (int64, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0, false
	}
	s := unsafe.String(unsafe.SliceData(b), len(b))
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, v <= 1<<53-1
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53-1 {
		return 0, false
	}
	return int64(f), true
}
