package plugin

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// What APISIX's consumer.attach_consumer tells the upstream about the
// requester.
var (
	hdrConsumerUsername = []byte("X-Consumer-Username")
	hdrCredentialID     = []byte("X-Credential-Identifier")
	hdrConsumerCustomID = []byte("X-Consumer-Custom-ID")
)

// AttachConsumer records cons as the requester, as APISIX's
// attach_consumer does: it sets c.Consumer, and in the request the
// upstream receives X-Consumer-Username to cons's name and
// X-Consumer-Custom-ID to its labels.custom_id. A header with no value
// (the custom id of a consumer without one; X-Credential-Identifier, as
// sluice has no credential resources) is removed, so a client cannot
// forge it. Authentication plugins call it once they identified cons.
func (c *Ctx) AttachConsumer(cons *Consumer) {
	c.Consumer = cons
	if c.Edits == nil {
		return
	}
	c.Edits.Set(hdrConsumerUsername, cons.name)
	c.Edits.Del(hdrCredentialID)
	if cons.customID != nil {
		c.Edits.Set(hdrConsumerCustomID, cons.customID)
	} else {
		c.Edits.Del(hdrConsumerCustomID)
	}
}

// Consumer returns the consumer named username in this build, nil when
// there is none (an authentication plugin's anonymous_consumer).
func (b *Build) Consumer(username string) *Consumer { return b.byName[username] }

// envPrefix and secretPrefix start APISIX's secret references, which
// APISIX accepts in any string field of a consumer's credential.
const (
	envPrefix    = "$env://"
	secretPrefix = "$secret://"
)

// Secret resolves a credential's string field the way APISIX resolves
// secret references: "$env://NAME" is the environment variable NAME, and
// "$env://NAME/key" the string under key in NAME's JSON object value; any
// other value is itself. A variable that is not set is an error (APISIX
// skips such a consumer; sluice rejects the config so the mistake is
// seen). "$secret://" references need a secret manager, which sluice does
// not have: an error too.
func Secret(v string) (string, error) {
	switch {
	case hasPrefixFold(v, envPrefix):
		name, key, sub := strings.Cut(v[len(envPrefix):], "/")
		val, ok := os.LookupEnv(name)
		if !ok || name == "" {
			return "", fmt.Errorf("%s: environment variable %q is not set", v, name)
		}
		if !sub {
			return val, nil
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(val), &m); err != nil {
			return "", fmt.Errorf("%s: environment variable %q is not a JSON object: %v", v, name, err)
		}
		s, ok := m[key].(string)
		if !ok {
			return "", fmt.Errorf("%s: environment variable %q has no string %q", v, name, key)
		}
		return s, nil
	case hasPrefixFold(v, secretPrefix):
		return "", fmt.Errorf("%s: secret manager references are not supported (use $env:// or the value)", v)
	}
	return v, nil
}

// checkSecrets resolves the secret references among a credential's string
// fields, returning the first field that does not resolve. The plugin
// resolves them again when it indexes its consumers; checking here too
// makes a credential that cannot resolve an error of the consumer itself,
// so the Admin API refuses the consumer's write (its check compiles the
// consumer, not the routes that use it) instead of the data plane
// refusing every later change.
func checkSecrets(cred []byte) (string, error) {
	var fields map[string]any
	if json.Unmarshal(cred, &fields) != nil {
		return "", nil // not an object: the schema said what it wanted
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if s, ok := fields[k].(string); ok {
			if _, err := Secret(s); err != nil {
				return k, err
			}
		}
	}
	return "", nil
}

// checkUnique records the consumer's value of k's ConsumerKey, refusing
// one another consumer has. It returns "<field>: <reason>".
func (b *Build) checkUnique(k *kind, username string, cred []byte) error {
	if k.ConsumerKey == "" {
		return nil
	}
	var fields map[string]any
	if json.Unmarshal(cred, &fields) != nil {
		return nil
	}
	v, ok := fields[k.ConsumerKey].(string)
	if !ok {
		return nil
	}
	v, _ = Secret(v) // checkSecrets resolved it already
	seen := b.credKeys[k.Name]
	if seen == nil {
		seen = map[string]string{}
		b.credKeys[k.Name] = seen
	}
	if other, dup := seen[v]; dup && other != username {
		return fmt.Errorf("%s: consumer %s has the same %s (it must name one consumer)", k.ConsumerKey, other, k.ConsumerKey)
	}
	seen[v] = username
	return nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
