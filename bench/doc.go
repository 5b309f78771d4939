// Package bench holds sluice's load drivers and side-by-side comparisons with
// peers (nginx, HAProxy, Caddy) and comparator libraries. It is its own module
// so that comparators never become dependencies of the product.
package bench
