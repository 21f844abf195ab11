package clitest

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestScriptNextStep(t *testing.T) {
	script := Script{
		Shell("make"),
		WriteFile("/p/a.txt", "a"),
		Say("first done"),
		Shell("make test"),
		Say("second done"),
	}
	call := func(step int) historyItem { return historyItem{callID: toolCallID("toolu_", step)} }
	text := func(s string) historyItem { return historyItem{text: s} }
	tests := []struct {
		name    string
		history []historyItem
		want    int
	}{
		{"fresh conversation", nil, 0},
		{"after the first tool call", []historyItem{call(0)}, 1},
		{"after the second tool call", []historyItem{call(0), call(1)}, 2},
		{"second prompt after the first say", []historyItem{call(0), call(1), text("first done")}, 3},
		{"say text matched with surrounding space", []historyItem{call(0), call(1), text("  first done\n")}, 3},
		{"foreign text is ignored", []historyItem{call(0), text("I will run make")}, 1},
		{"foreign call IDs are ignored", []historyItem{call(0), {callID: "toolu_01XYZ"}}, 1},
		{"call ID past the script is ignored", []historyItem{call(0), call(99)}, 1},
		{"say before its place does not rewind", []historyItem{call(3), text("first done")}, 4},
		{"end of script", []historyItem{call(3), text("second done")}, 5},
		{"other API prefixes", []historyItem{{callID: toolCallID("call_", 3)}}, 4},
		{"no prefix (Gemini)", []historyItem{{callID: toolCallID("", 0)}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := script.nextStep(tc.history); got != tc.want {
				t.Errorf("nextStep = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestScriptStepPastTheEndSaysExhausted(t *testing.T) {
	script := Script{Say("hi")}
	for _, i := range []int{-1, 1, 7} {
		if got := script.step(i); got.Kind != StepSay || got.Text != exhaustedText {
			t.Errorf("step(%d) = %v, want a say of %q", i, got, exhaustedText)
		}
	}
	if got := script.step(0); got.Text != "hi" {
		t.Errorf("step(0) = %v, want say hi", got)
	}
}

func TestScriptValidate(t *testing.T) {
	tests := []struct {
		name    string
		script  Script
		wantErr bool
	}{
		{"complete", Script{Shell("ls"), WriteFile("/a", ""), Say("ok")}, false},
		{"empty script", nil, false},
		{"empty command", Script{Shell("")}, true},
		{"empty path", Script{WriteFile("", "x")}, true},
		{"empty say", Script{Say("")}, true},
		{"zero step", Script{{}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.script.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestSchemaExample(t *testing.T) {
	tests := []struct {
		name, schema, want string
	}{
		{"codex title", `{"type":"object","properties":{"title":{"type":"string","minLength":1}},"required":["title"],"additionalProperties":false}`, `{"title":"fake"}`},
		{"gemini next speaker takes the first enum", `{"type":"object","properties":{"reasoning":{"type":"string"},"next_speaker":{"type":"string","enum":["user","model"]}},"required":["reasoning","next_speaker"]}`, `{"next_speaker":"user","reasoning":"fake"}`},
		{"gemini upper-case types", `{"type":"OBJECT","properties":{"n":{"type":"INTEGER"},"b":{"type":"BOOLEAN"}},"required":["n","b"]}`, `{"b":false,"n":0}`},
		{"optional properties are left out", `{"type":"object","properties":{"a":{"type":"string"}}}`, `{}`},
		{"nullable type list", `{"type":["string","null"]}`, `"fake"`},
		{"array", `{"type":"array","items":{"type":"string"}}`, `[]`},
		{"const", `{"const":"x"}`, `"x"`},
		{"anyOf takes the first", `{"anyOf":[{"type":"number"},{"type":"string"}]}`, `0`},
		{"not a schema", `42`, `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var schema any
			if err := json.Unmarshal([]byte(tc.schema), &schema); err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(schemaExample(schema))
			if err != nil {
				t.Fatal(err)
			}
			var gotV, wantV any
			json.Unmarshal(got, &gotV)
			json.Unmarshal([]byte(tc.want), &wantV)
			if !reflect.DeepEqual(gotV, wantV) {
				t.Errorf("schemaExample = %s, want %s", got, tc.want)
			}
		})
	}
}

func FuzzStepOfCallID(f *testing.F) {
	for _, s := range []string{"toolu_aitrack_step_3", "call_aitrack_step_0", "aitrack_step_12", "toolu_01ABC", "aitrack_step_-1", "aitrack_step_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		n, ok := stepOfCallID(id)
		if !ok {
			return
		}
		if n < 0 {
			t.Fatalf("stepOfCallID(%q) = %d, ok", id, n)
		}
		if m, ok := stepOfCallID(toolCallID("x_", n)); !ok || m != n {
			t.Fatalf("round trip of %d gave %d, %v", n, m, ok)
		}
	})
}

func FuzzSchemaExample(f *testing.F) {
	for _, s := range []string{`{"type":"object","properties":{"a":{"enum":[1]}},"required":["a","b"]}`, `{"anyOf":[]}`, `{"type":[]}`, `[]`, `{"required":[1,null]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, schema string) {
		var v any
		if json.Unmarshal([]byte(schema), &v) != nil {
			return
		}
		if _, err := json.Marshal(schemaExample(v)); err != nil {
			t.Fatalf("schemaExample(%s) is not encodable: %v", schema, err)
		}
	})
}
