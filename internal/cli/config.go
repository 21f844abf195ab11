package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/aitrack/aitrack/internal/config"
)

// PrintConfig writes every effective setting with where it came from.
func PrintConfig(w io.Writer, c *config.Config) {
	fmt.Fprintf(w, "config file: %s\n\n", c.Path)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tFROM")
	for _, s := range c.Settings() {
		from := s.Source
		if s.Where != "" {
			from += " (" + s.Where + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, s.Value, from)
	}
	tw.Flush()
}
