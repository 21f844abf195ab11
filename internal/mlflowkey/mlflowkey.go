// Package mlflowkey knows MLflow's rules for metric, param and tag keys, so
// that a bad key is refused where the user typed it (a --param flag, a hook)
// rather than when MLflow refuses the run much later. It is tiny on purpose:
// aitrack-wrap imports it.
package mlflowkey

import (
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

const maxKeyLength = 250

// Validate applies MLflow's rules for metric, param and tag keys
// (validate_param_and_metric_name, path_not_unique): at most 250
// characters of letters, digits, "_-. /:", and unchanged by path
// normalisation.
func Validate(kind, key string) error {
	bad := func(reason string) error {
		return fmt.Errorf("%s key %q %s", kind, shorten(key, 80), reason)
	}
	if key == "" {
		return bad("is empty")
	}
	if n := utf8.RuneCountInString(key); n > maxKeyLength {
		return bad(fmt.Sprintf("has %d characters; MLflow allows at most %d", n, maxKeyLength))
	}
	if !utf8.ValidString(key) {
		return bad("is not valid UTF-8")
	}
	for _, r := range key {
		if !keyRune(r) {
			return bad(fmt.Sprintf("contains %q; MLflow keys may only hold letters, digits, spaces and _ - . / :", r))
		}
	}
	if key != path.Clean(key) || key == "." || strings.HasPrefix(key, "..") || strings.HasPrefix(key, "/") {
		return bad("is not a normalised path: no leading or trailing /, no //, no . or .. segments, no leading ..")
	}
	return nil
}

// keyRune mirrors Python's Unicode-aware [/\w.\- :].
func keyRune(r rune) bool {
	switch r {
	case '/', '_', '.', '-', ' ', ':':
		return true
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

func shorten(s string, runes int) string {
	if utf8.RuneCountInString(s) <= runes {
		return s
	}
	return string([]rune(s)[:runes]) + "…"
}

// ValidateLabels validates the keys of a run's params and tags.
func ValidateLabels(params, tags map[string]string) error {
	for k := range params {
		if err := Validate("param", k); err != nil {
			return err
		}
	}
	for k := range tags {
		if err := Validate("tag", k); err != nil {
			return err
		}
	}
	return nil
}
