// Package logging builds aitrackd's zap loggers: readable console output in
// the foreground, and structured JSON to a size-rotated file in the state
// directory when a service manager runs the daemon (journald and launchd
// keep stderr only for what goes wrong before that file is open).
package logging

import (
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc/grpclog"
	"gopkg.in/natefinch/lumberjack.v2"
)

// File is the daemon's log file name in the state directory.
const File = "aitrackd.log"

// Options choose the logger.
type Options struct {
	Level string // debug, info, warn, error
	// Service selects JSON to StateDir/File instead of the console.
	Service  bool
	StateDir string
}

// New returns the daemon's logger. gRPC's own logs go through it at warn
// and above.
func New(o Options) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(o.Level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", o.Level)
	}
	var core zapcore.Core
	if o.Service {
		w := &lumberjack.Logger{Filename: filepath.Join(o.StateDir, File), MaxSize: 20, MaxBackups: 3}
		enc := zap.NewProductionEncoderConfig()
		enc.EncodeTime = zapcore.ISO8601TimeEncoder
		core = zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(w), level)
	} else {
		enc := zap.NewDevelopmentEncoderConfig()
		enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		core = zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), level)
	}
	log := zap.New(core)
	grpclog.SetLoggerV2(grpcLogger{log.Named("grpc").Sugar()})
	return log, nil
}

// grpcLogger passes gRPC's warnings and errors on and drops its chatter.
type grpcLogger struct{ s *zap.SugaredLogger }

func (grpcLogger) Info(...any)                   {}
func (grpcLogger) Infoln(...any)                 {}
func (grpcLogger) Infof(string, ...any)          {}
func (g grpcLogger) Warning(a ...any)            { g.s.Warn(a...) }
func (g grpcLogger) Warningln(a ...any)          { g.s.Warn(a...) }
func (g grpcLogger) Warningf(f string, a ...any) { g.s.Warnf(f, a...) }
func (g grpcLogger) Error(a ...any)              { g.s.Error(a...) }
func (g grpcLogger) Errorln(a ...any)            { g.s.Error(a...) }
func (g grpcLogger) Errorf(f string, a ...any)   { g.s.Errorf(f, a...) }
func (g grpcLogger) Fatal(a ...any)              { g.s.Fatal(a...) }
func (g grpcLogger) Fatalln(a ...any)            { g.s.Fatal(a...) }
func (g grpcLogger) Fatalf(f string, a ...any)   { g.s.Fatalf(f, a...) }
func (grpcLogger) V(l int) bool                  { return l <= 0 }
