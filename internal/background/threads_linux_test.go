package background

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// threadNices reads each thread's niceness from /proc (field 19 of stat).
func threadNices(t *testing.T) []int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		n, _ := strconv.Atoi(fields[16])
		out = append(out, n)
	}
	return out
}
