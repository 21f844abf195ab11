package wrapper

import "testing"

func TestClassifyInput(t *testing.T) {
	tests := []struct {
		in    string
		keys  int
		reply bool
	}{
		{"a", 1, false},
		{"ls -la\r", 7, false},
		{"héllo", 5, false},
		{"\x03", 1, false},
		{"\x1b[A", 1, false},       // up arrow
		{"\x1b[A\x1b[B", 2, false}, // two arrows in one read
		{"\x1bOP", 1, false},       // F1
		{"\x1bb", 1, false},        // Alt+b
		{"\x1b", 1, false},         // Esc alone
		{"\x1b[200~pasted text\x1b[201~", 1, false},
		{"\x1b[12;40R", 0, true},    // cursor position report
		{"\x1b[?62;22c", 0, true},   // DA1
		{"\x1b[>1;10;0c", 0, true},  // DA2
		{"\x1b[?2026;2$y", 0, true}, // DECRQM
		{"\x1b[?1u", 0, true},       // kitty keyboard flags
		{"\x1b[I", 0, true},         // focus in
		{"\x1b]11;rgb:1e1e/1e1e/1e1e\x07", 0, true},
		{"\x1bP>|xterm(390)\x1b\\", 0, true},
		{"\x1b[5;1R", 0, true},
		{"\x1b[1;5A", 1, false}, // Ctrl+Up is a key, not a report
	}
	for _, tt := range tests {
		keys, reply := classifyInput([]byte(tt.in))
		if keys != tt.keys || reply != tt.reply {
			t.Errorf("classifyInput(%q) = %d, %v; want %d, %v", tt.in, keys, reply, tt.keys, tt.reply)
		}
	}
}

func FuzzClassifyInput(f *testing.F) {
	f.Add([]byte("\x1b[200~x"))
	f.Add([]byte("\x1b["))
	f.Fuzz(func(t *testing.T, p []byte) {
		if keys, _ := classifyInput(p); keys < 0 || keys > len(p) {
			t.Fatalf("%d keys in %d bytes", keys, len(p))
		}
	})
}
