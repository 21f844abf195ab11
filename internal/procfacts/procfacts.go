// Package procfacts derives procedure facts — which procedure an AI session
// ran and for which issue — from its prompt, so that
// `claude-with-tracking "close-issue 583"` can be found with
// params.procedure_name = "close-issue" AND params.issue_number = "583".
//
// Patterns are regular expressions whose named groups become params; the
// defaults cover "<procedure> <number>", "#<number>" and issue or pull
// request URLs, and users add their own in the config file.
package procfacts

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Defaults are tried after the user's patterns.
var Defaults = []string{
	`^(?P<procedure_name>[A-Za-z][\w.-]*)\s+#?(?P<issue_number>\d+)$`,
	`https?://[^\s/]+/(?P<repository>[^\s/]+/[^\s/]+)/(?:-/)?(?:issues|pull|pulls|merge_requests)/(?P<issue_number>\d+)`,
	`(?:^|\s)#(?P<issue_number>\d+)\b`,
}

// Extractor applies patterns to prompts.
type Extractor struct {
	patterns []*regexp.Regexp
}

// New compiles the user's patterns (first) and the defaults. A pattern
// without a named group is an error: it could never yield a param.
func New(user []string) (*Extractor, error) {
	e := &Extractor{}
	for i, p := range append(append([]string(nil), user...), Defaults...) {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("procedure pattern %d %q: %w", i+1, p, err)
		}
		named := false
		for _, n := range re.SubexpNames() {
			named = named || n != ""
		}
		if !named {
			return nil, fmt.Errorf("procedure pattern %d %q has no named group such as (?P<procedure_name>...)", i+1, p)
		}
		e.patterns = append(e.patterns, re)
	}
	return e, nil
}

// Facts returns the params found in the arguments that are not flags. For
// each param the first pattern and the first argument that yield it win.
// Values are canonical: trimmed, and numbers without leading zeros, so that
// they compare as strings in MLflow's search.
func (e *Extractor) Facts(args []string) map[string]string {
	out := map[string]string{}
	for _, re := range e.patterns {
		for _, a := range args {
			a = strings.TrimSpace(a)
			if a == "" || strings.HasPrefix(a, "-") {
				continue
			}
			m := re.FindStringSubmatch(a)
			if m == nil {
				continue
			}
			for i, name := range re.SubexpNames() {
				if name == "" || m[i] == "" {
					continue
				}
				if _, ok := out[name]; !ok {
					out[name] = canonical(m[i])
				}
			}
		}
	}
	return out
}

func canonical(v string) string {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return strconv.FormatUint(n, 10)
	}
	return v
}
