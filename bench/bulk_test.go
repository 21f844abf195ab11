package bench

import (
	"bytes"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteBulkFile(t *testing.T) {
	tests := []struct {
		name string
		size int64
	}{
		{"whole lines", 77 * 10},
		{"a partial last line", 77*10 + 30},
		{"less than a line", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bulk")
			bf, err := writeBulkFile(path, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(data)) != tt.size {
				t.Fatalf("file has %d bytes, want %d", len(data), tt.size)
			}
			for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
				if len(line) > 76 {
					t.Fatalf("line %d has %d columns, want at most 76", i, len(line))
				}
			}
			// What a terminal shows: ONLCR turns each newline into CR LF.
			stream := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
			if bf.want != int64(len(stream)) {
				t.Errorf("want = %d, the terminal stream has %d bytes", bf.want, len(stream))
			}
			if got := crc32.Checksum(stream, castagnoli); bf.wantCRC != got {
				t.Errorf("wantCRC = %08x, the stream's is %08x", bf.wantCRC, got)
			}
		})
	}
	t.Run("the same seed writes the same file", func(t *testing.T) {
		a, _ := writeBulkFile(filepath.Join(t.TempDir(), "a"), 10000)
		b, _ := writeBulkFile(filepath.Join(t.TempDir(), "b"), 10000)
		if a.wantCRC != b.wantCRC {
			t.Error("two bulk files of the same size differ")
		}
	})
}
