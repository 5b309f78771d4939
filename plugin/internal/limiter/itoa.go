package limiter

import (
	"strconv"

	"github.com/sluice-gateway/sluice/plugin"
)

// small holds the decimal forms of 0..len-1, made once: most quota
// remainders and reset times in a header are small numbers.
var small = func() (s [1024][]byte) {
	for i := range s {
		s[i] = []byte(strconv.Itoa(i))
	}
	return
}()

// Itoa is c.Itoa, with small non-negative numbers preformatted.
func Itoa(c *plugin.Ctx, v int64) []byte {
	if v >= 0 && v < int64(len(small)) {
		return small[v]
	}
	return c.Itoa(v)
}
