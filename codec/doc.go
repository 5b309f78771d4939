// Package codec owns the HTTP/1.1 wire format: a resumable parser that returns
// views into the caller's buffer, body framing, and a head writer that emits
// iovecs from the original bytes plus edits. It imports only the standard library.
package codec
