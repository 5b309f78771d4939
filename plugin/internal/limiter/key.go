package limiter

import (
	"fmt"
	"strconv"

	"github.com/sluice-gateway/sluice/plugin"
)

// Key is what a limit counts requests by, resolved at build time from
// APISIX's key_type and key.
type Key struct {
	kind  uint8
	konst []byte
	fast  fastVar
	v     plugin.Var
	tpl   Template
}

const (
	keyVar uint8 = iota
	keyCombination
	keyConstant
)

// ParseKey resolves key for keyType ("var", "var_combination" or
// "constant"; "" is "var").
func ParseKey(keyType, key string) (Key, error) {
	switch keyType {
	case "", "var":
		if key == "" {
			return Key{}, fmt.Errorf("key: a variable name is required")
		}
		return Key{kind: keyVar, fast: fastVarOf(key), v: plugin.ParseVar(key)}, nil
	case "var_combination":
		t := ParseTemplate(key)
		if t.Vars() == 0 {
			return Key{}, fmt.Errorf("key: %q names no $variable (key_type var_combination)", key)
		}
		return Key{kind: keyCombination, tpl: t}, nil
	case "constant":
		return Key{kind: keyConstant, konst: []byte(key)}, nil
	}
	return Key{}, fmt.Errorf("key_type: %q is not one of var, var_combination, constant", keyType)
}

// Constant reports whether every request has the same key.
func (k *Key) Constant() bool { return k.kind == keyConstant }

// Append appends the request's key to dst. As in APISIX, a key whose
// variables are all absent falls back to the client's address. The
// encoding is the limiter's own (the client address, for one, is its 16
// raw bytes): keys are compared, never shown.
func (k *Key) Append(c *plugin.Ctx, dst []byte) []byte {
	switch k.kind {
	case keyConstant:
		return append(dst, k.konst...)
	case keyVar:
		if k.fast == fastRemoteAddr {
			return appendAddr(c, dst)
		}
		if k.fast != fastNone {
			return k.fast.append(c, dst)
		}
		if v, ok := c.Get(&k.v); ok {
			return append(dst, v...)
		}
	case keyCombination:
		n := len(dst)
		out, resolved := k.tpl.Append(c, dst)
		if resolved > 0 {
			return out
		}
		dst = out[:n]
	}
	return appendAddr(c, dst)
}

// appendAddr is the client address as 16 bytes, which no header value can
// equal (it has NUL bytes).
func appendAddr(c *plugin.Ctx, dst []byte) []byte {
	a := c.Remote.Addr().As16()
	return append(dst, a[:]...)
}

// fastVar is a variable read from the Ctx itself rather than through the
// request's variables, so that it costs no formatting and also works for a
// stream (L4) connection, which has no HTTP request.
type fastVar uint8

const (
	fastNone fastVar = iota
	fastRemoteAddr
	fastRemotePort
	fastServerAddr
	fastServerPort
)

func fastVarOf(name string) fastVar {
	switch name {
	case "remote_addr":
		return fastRemoteAddr
	case "remote_port":
		return fastRemotePort
	case "server_addr":
		return fastServerAddr
	case "server_port":
		return fastServerPort
	}
	return fastNone
}

// append writes the variable as text, as nginx shows it.
func (f fastVar) append(c *plugin.Ctx, dst []byte) []byte {
	switch f {
	case fastRemoteAddr:
		return c.Remote.Addr().Unmap().AppendTo(dst)
	case fastRemotePort:
		return strconv.AppendUint(dst, uint64(c.Remote.Port()), 10)
	case fastServerAddr:
		return c.Local.Addr().Unmap().AppendTo(dst)
	case fastServerPort:
		return strconv.AppendUint(dst, uint64(c.Local.Port()), 10)
	}
	return dst
}
