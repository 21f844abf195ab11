package procfacts

import (
	"maps"
	"testing"
)

func TestFacts(t *testing.T) {
	e, err := New([]string{`^deploy (?P<environment>staging|prod)$`})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want map[string]string
	}{
		{[]string{"close-issue 583"}, map[string]string{"procedure_name": "close-issue", "issue_number": "583"}},
		{[]string{"close-issue #0583"}, map[string]string{"procedure_name": "close-issue", "issue_number": "583"}},
		{[]string{"--model", "opus", "extract-best-frame 12"}, map[string]string{"procedure_name": "extract-best-frame", "issue_number": "12"}},
		{[]string{"please fix #123 today"}, map[string]string{"issue_number": "123"}},
		{[]string{"review https://github.com/acme/app/pull/77 carefully"}, map[string]string{"repository": "acme/app", "issue_number": "77"}},
		{[]string{"see https://gitlab.com/g/p/-/issues/9"}, map[string]string{"repository": "g/p", "issue_number": "9"}},
		{[]string{"deploy prod"}, map[string]string{"environment": "prod"}},
		{[]string{"implement the feature"}, map[string]string{}},
		{[]string{"fix 3 bugs in parser"}, map[string]string{}},
		{[]string{"color #fff"}, map[string]string{}},
		{nil, map[string]string{}},
	}
	for _, tt := range tests {
		if got := e.Facts(tt.args); !maps.Equal(got, tt.want) {
			t.Errorf("Facts(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestBadPatterns(t *testing.T) {
	for _, p := range []string{`(unclosed`, `no-named-group (\d+)`} {
		if _, err := New([]string{p}); err == nil {
			t.Errorf("New(%q) accepted it", p)
		}
	}
}
