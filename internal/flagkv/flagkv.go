// Package flagkv holds the small flag helpers the three commands share:
// the repeatable key=value flag and environment defaults. It is tiny on
// purpose: aitrack-wrap imports it.
package flagkv

import (
	"fmt"
	"sort"
	"strings"
)

// KV is a repeatable key=value flag (--param k=v --param k2=v2).
type KV map[string]string

func (kv KV) String() string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + kv[k]
	}
	return strings.Join(parts, ",")
}

// Set parses one key=value.
func (kv KV) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	kv[k] = v
	return nil
}

// EnvOr returns the environment variable's value, or def when it is unset.
func EnvOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
