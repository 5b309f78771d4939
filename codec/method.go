package codec

// Method identifies a registered request method, so that callers branch on a
// byte instead of comparing strings. MethodOther is any other method, which
// Parse admits only with Limits.ExtensionMethods.
type Method uint8

// Methods the parser tells apart.
const (
	MethodOther Method = iota
	MethodGet
	MethodHead
	MethodPost
	MethodPut
	MethodDelete
	MethodConnect
	MethodOptions
	MethodTrace
	MethodPatch
	// MethodRegistered is any other method in the IANA HTTP Method Registry
	// (or one llhttp knows, such as PURGE and M-SEARCH).
	MethodRegistered
)

// lookupMethod classifies a method token. The switch on string(m) compiles
// to comparisons without converting (no allocation).
func lookupMethod(m []byte) Method {
	switch string(m) {
	case "GET":
		return MethodGet
	case "HEAD":
		return MethodHead
	case "POST":
		return MethodPost
	case "PUT":
		return MethodPut
	case "DELETE":
		return MethodDelete
	case "CONNECT":
		return MethodConnect
	case "OPTIONS":
		return MethodOptions
	case "TRACE":
		return MethodTrace
	case "PATCH":
		return MethodPatch
	// The IANA registry (RFC 9110 §16.1.1) plus the non-standard methods
	// widely deployed caches and UPnP use.
	case "ACL", "BASELINE-CONTROL", "BIND", "CHECKIN", "CHECKOUT", "COPY",
		"LABEL", "LINK", "LOCK", "MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL",
		"MKREDIRECTREF", "MKWORKSPACE", "MOVE", "ORDERPATCH", "PROPFIND",
		"PROPPATCH", "QUERY", "REBIND", "REPORT", "SEARCH", "UNBIND",
		"UNCHECKOUT", "UNLINK", "UNLOCK", "UPDATE", "UPDATEREDIRECTREF",
		"VERSION-CONTROL", "PURGE", "M-SEARCH", "NOTIFY", "SUBSCRIBE",
		"UNSUBSCRIBE", "SOURCE":
		return MethodRegistered
	}
	return MethodOther
}

// MethodOf identifies a method's bytes ("GET"); MethodOther for any
// method without an ID.
func MethodOf(m []byte) Method { return lookupMethod(m) }
