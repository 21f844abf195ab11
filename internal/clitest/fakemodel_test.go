package clitest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixtureScript is the script the requests in testdata/ were recorded with
// (paths rewritten to /home/dev/project).
var fixtureScript = Script{
	Shell("echo hello-from-tool > marker.txt"),
	Shell("git status"),
	Shell("ls /nonexistent"),
	WriteFile("/home/dev/project/notes.txt", "written by the fake model\n"),
	Say("all done"),
}

// sseEvent is one server-sent event of a reply.
type sseEvent struct {
	name string
	data map[string]any
}

func readSSE(t *testing.T, r io.Reader) []sseEvent {
	t.Helper()
	var events []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				t.Fatalf("SSE data is not JSON: %v: %s", err, line)
			}
		case line == "":
			events = append(events, cur)
			cur = sseEvent{}
		}
	}
	return events
}

func post(t *testing.T, url string, body []byte) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// played is what a reply asked the CLI to do, decoded from the wire.
type played struct {
	callID, tool, args, text string
	usage                    Usage
}

// playAnthropic reassembles a Messages API stream.
func playAnthropic(t *testing.T, events []sseEvent) played {
	t.Helper()
	var p played
	var names []string
	for _, e := range events {
		names = append(names, e.name)
		if e.data["type"] != e.name {
			t.Errorf("event %q has type %v", e.name, e.data["type"])
		}
		switch e.name {
		case "message_start":
			u := e.data["message"].(map[string]any)["usage"].(map[string]any)
			p.usage.InputTokens = int(u["input_tokens"].(float64))
		case "content_block_start":
			b := e.data["content_block"].(map[string]any)
			if b["type"] == "tool_use" {
				p.callID, p.tool = b["id"].(string), b["name"].(string)
			}
		case "content_block_delta":
			d := e.data["delta"].(map[string]any)
			p.args += str(d["partial_json"])
			p.text += str(d["text"])
		case "message_delta":
			p.usage.OutputTokens = int(e.data["usage"].(map[string]any)["output_tokens"].(float64))
		}
	}
	want := "message_start content_block_start ping content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("events %q, want %q", got, want)
	}
	return p
}

// playResponses reassembles an OpenAI Responses stream.
func playResponses(t *testing.T, events []sseEvent) played {
	t.Helper()
	var p played
	for i, e := range events {
		if e.data["type"] != e.name || int(e.data["sequence_number"].(float64)) != i {
			t.Errorf("event %d %q: type %v, sequence_number %v", i, e.name, e.data["type"], e.data["sequence_number"])
		}
		switch e.name {
		case "response.output_item.done":
			item := e.data["item"].(map[string]any)
			p.callID, p.tool = str(item["call_id"]), str(item["name"])
			p.args = str(item["arguments"]) + str(item["input"])
		case "response.output_text.delta":
			p.text += str(e.data["delta"])
		case "response.completed":
			u := e.data["response"].(map[string]any)["usage"].(map[string]any)
			p.usage = Usage{int(u["input_tokens"].(float64)), int(u["output_tokens"].(float64))}
		}
	}
	if first, last := events[0].name, events[len(events)-1].name; first != "response.created" || last != "response.completed" {
		t.Errorf("stream runs from %s to %s", first, last)
	}
	return p
}

// playGemini reads a Gemini stream, which must end with finishReason and
// usageMetadata.
func playGemini(t *testing.T, events []sseEvent) played {
	t.Helper()
	var p played
	for _, e := range events {
		c := e.data["candidates"].([]any)[0].(map[string]any)
		for _, part := range c["content"].(map[string]any)["parts"].([]any) {
			part := part.(map[string]any)
			p.text += str(part["text"])
			if fc, ok := part["functionCall"].(map[string]any); ok {
				args, _ := marshalJSON(fc["args"])
				p.callID, p.tool, p.args = str(fc["id"]), str(fc["name"]), string(args)
			}
		}
	}
	last := events[len(events)-1].data
	if last["candidates"].([]any)[0].(map[string]any)["finishReason"] != "STOP" {
		t.Errorf("last chunk has no finishReason STOP")
	}
	u, ok := last["usageMetadata"].(map[string]any)
	if !ok {
		t.Fatalf("last chunk has no usageMetadata")
	}
	p.usage = Usage{int(u["promptTokenCount"].(float64)), int(u["candidatesTokenCount"].(float64))}
	return p
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// TestFakeModelAnswersRecordedRequests replays requests recorded from the
// real CLIs and checks the answer each API gets, on the wire.
func TestFakeModelAnswersRecordedRequests(t *testing.T) {
	gemini := "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
	tests := []struct {
		name, fixture, path string
		play                func(*testing.T, []sseEvent) played
		want                played // usage not compared
		wantStep            int
		wantSide            bool
		// wantExits are the exit codes of the tool results in the request.
		wantExits []int
	}{
		{"claude first prompt", "anthropic-first.json", "/v1/messages?beta=true", playAnthropic,
			played{callID: "toolu_aitrack_step_0", tool: "Bash", args: `{"command":"echo hello-from-tool > marker.txt","description":"Run script step 0"}`}, 0, false, nil},
		{"claude after all tools", "anthropic-last.json", "/v1/messages?beta=true", playAnthropic,
			played{text: "all done"}, 4, false, []int{0, 0, 2, -1}},
		{"codex first prompt", "responses-first.json", "/v1/responses", playResponses,
			played{callID: "call_aitrack_step_0", tool: "exec_command", args: `{"cmd":"echo hello-from-tool > marker.txt"}`}, 0, false, nil},
		{"codex title request", "responses-title.json", "/v1/responses", playResponses,
			played{text: `{"title":"fake"}`}, -1, true, nil},
		{"codex after all tools", "responses-last.json", "/v1/responses", playResponses,
			played{text: "all done"}, 4, false, []int{0, 0, 2, -1}},
		{"gemini first prompt", "gemini-first.json", gemini, playGemini,
			played{callID: "aitrack_step_0", tool: "run_shell_command", args: `{"command":"echo hello-from-tool > marker.txt","description":"Run script step 0"}`}, 0, false, nil},
		{"gemini after all tools", "gemini-last.json", gemini, playGemini,
			played{text: "all done"}, 4, false, []int{0, 0, 2, -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model := NewFakeModel(t, fixtureScript)
			resp := post(t, model.URL+tc.path, fixture(t, tc.fixture))
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			got := tc.play(t, readSSE(t, resp.Body))
			reqs := model.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests recorded, want 1", len(reqs))
			}
			if got.usage != reqs[0].Usage || got.usage.InputTokens == 0 || got.usage.OutputTokens == 0 {
				t.Errorf("usage on the wire %+v, recorded %+v; want equal and non-zero", got.usage, reqs[0].Usage)
			}
			got.usage = Usage{}
			if got != tc.want {
				t.Errorf("reply played\n%+v\nwant\n%+v", got, tc.want)
			}
			if reqs[0].Step != tc.wantStep || reqs[0].Side != tc.wantSide {
				t.Errorf("recorded step %d side %v, want %d %v", reqs[0].Step, reqs[0].Side, tc.wantStep, tc.wantSide)
			}
			var exits []int
			for i, r := range model.ToolResults() {
				exits = append(exits, r.ExitCode)
				if r.Step != i || r.Command != fixtureScript[i].Command {
					t.Errorf("result %d: step %d command %q", i, r.Step, r.Command)
				}
			}
			if !slices.Equal(exits, tc.wantExits) {
				t.Errorf("tool result exit codes %v, want %v", exits, tc.wantExits)
			}
			if err := model.Err(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestFakeModelIsStatelessAndRecordsResultsOnce replays the same request
// twice, as a CLI's retry would.
func TestFakeModelIsStatelessAndRecordsResultsOnce(t *testing.T) {
	model := NewFakeModel(t, fixtureScript)
	body := fixture(t, "responses-last.json")
	var texts []string
	for range 2 {
		resp := post(t, model.URL+"/v1/responses", body)
		texts = append(texts, playResponses(t, readSSE(t, resp.Body)).text)
	}
	if texts[0] != "all done" || texts[1] != texts[0] {
		t.Errorf("replies %q, want the same final answer twice", texts)
	}
	if n := len(model.ToolResults()); n != 4 {
		t.Errorf("%d tool results recorded, want each of the 4 once", n)
	}
	reqs := model.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests recorded, want 2", len(reqs))
	}
	want := Usage{reqs[0].Usage.InputTokens + reqs[1].Usage.InputTokens, reqs[0].Usage.OutputTokens + reqs[1].Usage.OutputTokens}
	if got := model.Usage(); got != want {
		t.Errorf("Usage() = %+v, want the sum %+v", got, want)
	}
}

// TestFakeModelReplies checks each API's reply shape for every step kind and
// for side requests, streamed and not, from minimal hand-written requests.
func TestFakeModelReplies(t *testing.T) {
	script := Script{Shell("make test"), WriteFile("/w/a.txt", "one\ntwo\n"), Say("finished")}
	anthropicTools := `"tools":[{"name":"Bash"}]`
	responsesTools := `"tools":[{"type":"function","name":"exec_command"}]`
	geminiTools := `"tools":[{"functionDeclarations":[{"name":"run_shell_command"}]}]`
	tests := []struct {
		name, path, body string
		stream           bool
		// want is a substring of the reply body (JSON-encoded strings).
		want string
	}{
		{"claude shell", "/v1/messages", `{"stream":true,` + anthropicTools + `,"messages":[{"role":"user","content":"go"}]}`, true,
			`"partial_json":"{\"command\":\"make test\",\"description\":\"Run script step 0\"}"`},
		{"claude write", "/v1/messages", `{"stream":true,` + anthropicTools + `,"messages":[{"role":"user","content":"go"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_aitrack_step_0"}]}]}`, true,
			`"partial_json":"{\"content\":\"one\\ntwo\\n\",\"file_path\":\"/w/a.txt\"}"`},
		{"claude say, not streamed", "/v1/messages", `{` + anthropicTools + `,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"toolu_aitrack_step_1"}]}]}`, false,
			`"content":[{"type":"text","text":"finished"}],"id":`},
		{"claude tool-less side request", "/v1/messages", `{"stream":true,"messages":[{"role":"user","content":"title?"}]}`, true,
			`"text":"Fake title"`},
		{"claude JSON-schema side request", "/v1/messages", `{"stream":true,` + anthropicTools + `,"output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"title":{"type":"string"}},"required":["title"]}}},"messages":[]}`, true,
			`"text":"{\"title\":\"fake\"}"`},
		{"codex shell", "/v1/responses", `{"stream":true,` + responsesTools + `,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"go"}]}]}`, true,
			`"call_id":"call_aitrack_step_0","name":"exec_command","arguments":"{\"cmd\":\"make test\"}"`},
		{"codex write", "/v1/responses", `{"stream":true,` + responsesTools + `,"input":[{"type":"function_call","call_id":"call_aitrack_step_0"}]}`, true,
			`"input":"*** Begin Patch\n*** Add File: /w/a.txt\n+one\n+two\n*** End Patch\n"`},
		{"codex say, not streamed", "/v1/responses", `{` + responsesTools + `,"input":[{"type":"custom_tool_call","call_id":"call_aitrack_step_1"}]}`, false,
			`"content":[{"annotations":[],"text":"finished","type":"output_text"}]`},
		{"codex string input", "/v1/responses", `{"stream":true,` + responsesTools + `,"input":"go"}`, true,
			`"name":"exec_command"`},
		{"gemini shell", "/v1beta/models/m:streamGenerateContent?alt=sse", `{` + geminiTools + `,"contents":[{"role":"user","parts":[{"text":"go"}]}]}`, true,
			`"functionCall":{"id":"aitrack_step_0","name":"run_shell_command","args":{"command":"make test","description":"Run script step 0"}}`},
		{"gemini write", "/v1beta/models/m:streamGenerateContent?alt=sse", `{` + geminiTools + `,"contents":[{"role":"model","parts":[{"functionCall":{"id":"aitrack_step_0","name":"run_shell_command"}}]}]}`, true,
			`"functionCall":{"id":"aitrack_step_1","name":"write_file","args":{"content":"one\ntwo\n","file_path":"/w/a.txt"}}`},
		{"gemini say, not streamed", "/v1beta/models/m:generateContent", `{` + geminiTools + `,"contents":[{"role":"model","parts":[{"functionCall":{"id":"aitrack_step_1","name":"write_file"}}]}]}`, false,
			`"parts":[{"text":"finished"}]`},
		{"gemini stream without alt=sse is a JSON array", "/v1beta/models/m:streamGenerateContent", `{` + geminiTools + `,"contents":[]}`, false,
			`[{"candidates":`},
		{"gemini JSON-schema side request", "/v1beta/models/m:generateContent", `{"generationConfig":{"responseJsonSchema":{"type":"object","properties":{"next_speaker":{"enum":["user","model"]}},"required":["next_speaker"]}},"contents":[]}`, false,
			`"text":"{\"next_speaker\":\"user\"}"`},
		{"gemini countTokens", "/v1beta/models/m:countTokens", `{"contents":[]}`, false,
			`{"totalTokens":4}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model := NewFakeModel(t, script)
			resp := post(t, model.URL+tc.path, []byte(tc.body))
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if isSSE := resp.Header.Get("Content-Type") == "text/event-stream"; isSSE != tc.stream {
				t.Errorf("content type %q, want streamed %v", resp.Header.Get("Content-Type"), tc.stream)
			}
			if !bytes.Contains(body, []byte(tc.want)) {
				t.Errorf("reply does not contain %s:\n%s", tc.want, body)
			}
			if err := model.Err(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestFakeModelReadsExitCodes checks how each API's tool results become exit
// codes, including the cases that state none.
func TestFakeModelReadsExitCodes(t *testing.T) {
	script := Script{Shell("false")}
	tests := []struct {
		name, path, body string
		wantExit         int
		wantError        bool
	}{
		{"claude success", "/v1/messages", `{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_aitrack_step_0","content":"ok"}]}]}`, 0, false},
		{"claude failure", "/v1/messages", `{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_aitrack_step_0","is_error":true,"content":[{"type":"text","text":"Exit code 3\nboom"}]}]}]}`, 3, true},
		{"claude error without a code", "/v1/messages", `{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_aitrack_step_0","is_error":true,"content":"Interrupted by user"}]}]}`, -1, true},
		{"codex exit code", "/v1/responses", `{"input":[{"type":"function_call_output","call_id":"call_aitrack_step_0","output":"Chunk ID: 1\nProcess exited with code 1\nOutput:\n"}]}`, 1, false},
		{"codex output as parts", "/v1/responses", `{"input":[{"type":"function_call_output","call_id":"call_aitrack_step_0","output":[{"type":"input_text","text":"Exit code: 4"}]}]}`, 4, false},
		{"codex still running", "/v1/responses", `{"input":[{"type":"function_call_output","call_id":"call_aitrack_step_0","output":"Process running with session ID 7"}]}`, -1, false},
		{"gemini success states no code", "/v1beta/models/m:generateContent", `{"contents":[{"role":"user","parts":[{"functionResponse":{"id":"aitrack_step_0","name":"run_shell_command","response":{"output":"Output: (empty)"}}}]}]}`, 0, false},
		{"gemini failure", "/v1beta/models/m:generateContent", `{"contents":[{"role":"user","parts":[{"functionResponse":{"id":"aitrack_step_0","name":"run_shell_command","response":{"output":"Output: x\nExit Code: 5"}}}]}]}`, 5, false},
		{"gemini tool error", "/v1beta/models/m:generateContent", `{"contents":[{"role":"user","parts":[{"functionResponse":{"id":"aitrack_step_0","name":"run_shell_command","response":{"error":"cancelled"}}}]}]}`, -1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model := NewFakeModel(t, script)
			if resp := post(t, model.URL+tc.path, []byte(tc.body)); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			results := model.ToolResults()
			if len(results) != 1 {
				t.Fatalf("%d tool results, want 1", len(results))
			}
			r := results[0]
			if r.ExitCode != tc.wantExit || r.IsError != tc.wantError || r.Step != 0 || r.Command != "false" {
				t.Errorf("result %+v, want exit %d, error %v, step 0", r, tc.wantExit, tc.wantError)
			}
		})
	}
}

func TestFakeModelRecordsBadAndUnknownRequests(t *testing.T) {
	model := NewFakeModel(t, Script{Say("hi")})
	if resp := post(t, model.URL+"/v1/messages", []byte(`{"messages":[{"role":"user","content":42}]}`)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("undecodable content: status %d, want 400", resp.StatusCode)
	}
	if resp := post(t, model.URL+"/v1beta/models/m:embedContent", []byte(`{}`)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unsupported Gemini action: status %d, want 400", resp.StatusCode)
	}
	resp, err := http.Get(model.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: status %d, want 404", resp.StatusCode)
	}
	var statuses []int
	for _, r := range model.Requests() {
		statuses = append(statuses, r.Status)
	}
	if want := []int{400, 400, 404}; !slices.Equal(statuses, want) {
		t.Errorf("recorded statuses %v, want %v", statuses, want)
	}
	if err := model.Err(); err == nil || !strings.Contains(err.Error(), "Anthropic") || !strings.Contains(err.Error(), "embedContent") {
		t.Errorf("Err() = %v, want both bad requests reported", err)
	}
}

// The decoders face whatever a CLI sends; none may panic, and a decoded
// request must lead to a step within the script or just past it.
func fuzzDecoder(f *testing.F, decode func(*FakeModel, []byte) (turn, error), fixtures ...string) {
	for _, name := range fixtures {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"toolu_aitrack_step_99999999999999999999"}]}]}`))
	f.Add([]byte(`{"input":[{"type":"function_call_output","output":{"a":1}}]}`))
	f.Add([]byte(`{"contents":[{"role":"user","parts":[{"functionResponse":{"response":"x"}}]}]}`))
	model := &FakeModel{script: fixtureScript, seenCall: map[string]bool{}}
	f.Fuzz(func(t *testing.T, body []byte) {
		tn, err := decode(model, body)
		if err != nil {
			return
		}
		if n := model.script.nextStep(tn.history); n < 0 || n > len(model.script) {
			t.Fatalf("nextStep = %d for a script of %d", n, len(model.script))
		}
		for _, r := range tn.results {
			if r.Step >= len(model.script) {
				t.Fatalf("result for step %d of a script of %d", r.Step, len(model.script))
			}
		}
	})
}

func FuzzDecodeAnthropic(f *testing.F) {
	fuzzDecoder(f, (*FakeModel).decodeAnthropic, "anthropic-first.json", "anthropic-last.json")
}

func FuzzDecodeResponses(f *testing.F) {
	fuzzDecoder(f, (*FakeModel).decodeResponses, "responses-first.json", "responses-last.json", "responses-title.json")
}

func FuzzDecodeGemini(f *testing.F) {
	fuzzDecoder(f, (*FakeModel).decodeGemini, "gemini-first.json", "gemini-last.json")
}
