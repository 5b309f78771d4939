package route

import (
	"fmt"
	"strings"
)

// Outcome is what happened to one candidate in Explain.
type Outcome uint8

const (
	// Selected: the route Lookup returns.
	Selected Outcome = iota
	// Rejected: the uri matched but a predicate did not; Reason says which.
	Rejected
	// NotReached: ranked below the selected route, so never checked.
	NotReached
)

func (o Outcome) String() string {
	switch o {
	case Selected:
		return "selected"
	case Rejected:
		return "rejected"
	}
	return "not reached"
}

// Candidate is one route whose uri matched the request path.
type Candidate struct {
	ID       string
	URI      string // the uri of the route that matched
	Priority int
	Outcome  Outcome
	Reason   string
}

// Explanation lists, in the order Lookup tries them, every route whose uri
// matched the path, and why each was not the answer.
type Explanation struct {
	Path       string
	Selected   string // the winner's id, "" for none
	Candidates []Candidate
}

func (x Explanation) String() string {
	var b strings.Builder
	if x.Selected == "" {
		fmt.Fprintf(&b, "%s: no route\n", x.Path)
	} else {
		fmt.Fprintf(&b, "%s: route %q\n", x.Path, x.Selected)
	}
	for i, c := range x.Candidates {
		fmt.Fprintf(&b, "  %d. %q uri=%s priority=%d: %s", i+1, c.ID, c.URI, c.Priority, c.Outcome)
		if c.Reason != "" {
			fmt.Fprintf(&b, ": %s", c.Reason)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Explain runs the lookup for req step by step. It allocates and is meant
// for the Admin API and for tests, not for the request path; its Selected
// is always what Lookup would return.
func (t *Table) Explain(req *Request) Explanation {
	var m Match
	t.collect(req.Path, &m)
	sortCands(m.cands)
	x := Explanation{Path: string(req.Path)}
	for _, e := range m.cands {
		c := Candidate{ID: e.route.ID, URI: e.raw(), Priority: e.route.Priority}
		switch {
		case x.Selected != "":
			c.Outcome = NotReached
			c.Reason = fmt.Sprintf("route %q ranks higher", x.Selected)
		default:
			why, clause := e.check(req, &m)
			if why == accepted {
				c.Outcome = Selected
				x.Selected = e.route.ID
			} else {
				c.Outcome = Rejected
				c.Reason = e.explainReject(req, why, clause)
			}
		}
		x.Candidates = append(x.Candidates, c)
	}
	return x
}

func (e *entry) explainReject(req *Request, why reject, clause int) string {
	r := e.route
	var pred []byte
	if e.predOff != 0 {
		pred = e.blob[e.predOff:]
	}
	switch why {
	case rejMethod:
		var ms []string
		for i, name := range methodNames {
			if r.methods&(1<<i) != 0 {
				ms = append(ms, name)
			}
		}
		return fmt.Sprintf("method %q not in %v", req.Method, ms)
	case rejRemoteAddr:
		if !req.RemoteAddr.IsValid() {
			return fmt.Sprintf("no remote address to check against %v", predAddrs(pred))
		}
		return fmt.Sprintf("remote address %s not in %v", req.RemoteAddr, predAddrs(pred))
	case rejHost:
		return fmt.Sprintf("host %q not in %v", req.Host, predHosts(pred))
	case rejVars:
		kids := r.vars
		if _, ok := kids[0].(string); ok {
			kids = kids[1:] // ["AND", clause, ...]
		}
		if clause > 0 {
			return fmt.Sprintf("vars clause %d %s is false", clause, render(kids[clause-1]))
		}
		return fmt.Sprintf("vars %s is false", render(r.vars))
	}
	return ""
}
