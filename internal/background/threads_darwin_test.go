package background

import "testing"

// threadNices is empty on macOS, where niceness belongs to the process
// (the child's, checked by the test, is inherited from it).
func threadNices(*testing.T) []int { return nil }
