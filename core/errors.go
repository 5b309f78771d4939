package core

import "errors"

var (
	// ErrIdleTimeout ends a relay that moved no byte for its idle timeout.
	ErrIdleTimeout = errors.New("core: idle timeout")
	// ErrConnectTimeout is a connect to an upstream that did not complete in time.
	ErrConnectTimeout = errors.New("core: connect timeout")
	// ErrShutdown ends sessions still open when the drain deadline passes.
	ErrShutdown = errors.New("core: shutting down")
)
