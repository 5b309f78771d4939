package codec

// Limits bound what the parser accepts. A zero field takes its default.
// Set them before the first Parse; Reset keeps them.
type Limits struct {
	// MaxRequestLine bounds the request line or status line, CRLF excluded.
	// Default 16 KiB; a longer request line is ErrRequestLineTooLong (414).
	MaxRequestLine int
	// MaxHeaderBytes bounds the field section (all field lines and the
	// final CRLF), and likewise the trailer section. Default 64 KiB (431).
	MaxHeaderBytes int
	// MaxFields bounds the number of field lines. Default 100 (431); at most 32767.
	MaxFields int
	// MaxChunkLine bounds a chunk-size line with its extensions. Default 4 KiB.
	MaxChunkLine int
	// MaxBodySize bounds the body; 0 means no bound. Larger is ErrBodyTooLarge (413).
	MaxBodySize int64
	// ExtensionMethods accepts any token as a method instead of answering
	// unregistered ones with 501.
	ExtensionMethods bool
}

// Defaults for Limits.
const (
	DefaultMaxRequestLine = 16 << 10
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxFields      = 100
	DefaultMaxChunkLine   = 4 << 10
)

// maxFieldsCap bounds MaxFields; far beyond any sane head.
const maxFieldsCap = 1<<15 - 1

// maxOffset keeps every offset in a uint32; a head larger than this is
// refused long before by MaxHeaderBytes unless limits are set absurdly.
const maxOffset = 1<<31 - 1

func (l Limits) resolved() Limits {
	if l.MaxRequestLine <= 0 {
		l.MaxRequestLine = DefaultMaxRequestLine
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxFields <= 0 {
		l.MaxFields = DefaultMaxFields
	}
	if l.MaxFields > maxFieldsCap {
		l.MaxFields = maxFieldsCap // field indexes are int16
	}
	if l.MaxChunkLine <= 0 {
		l.MaxChunkLine = DefaultMaxChunkLine
	}
	if l.MaxRequestLine+l.MaxHeaderBytes > maxOffset {
		l.MaxRequestLine = maxOffset / 2
		l.MaxHeaderBytes = maxOffset / 2
	}
	return l
}

// noCopy makes go vet's copylocks check flag copies of structs that hold
// views: a copy would outlive the Reset that invalidates them silently.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
