package ipc

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// The helper process: dial or serve on $IPC_TEST_SOCKET as whatever user
// the test started it as.
func TestMain(m *testing.M) {
	switch os.Getenv("IPC_TEST_ROLE") {
	case "client":
		// A hostile client: no peer check of its own.
		conn, err := grpc.NewClient("unix://"+os.Getenv("IPC_TEST_SOCKET"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err == nil {
			_, err = aitrackv1.NewRecorderClient(conn).Hello(context.Background(), &aitrackv1.HelloRequest{})
		}
		fmt.Println(status.Code(err), err)
		os.Exit(0)
	case "server":
		srv, lis := serve(os.Getenv("IPC_TEST_SOCKET"), nil)
		os.Chmod(os.Getenv("IPC_TEST_SOCKET"), 0o777)
		fmt.Println("ready")
		io.ReadAll(os.Stdin) // until the test closes stdin
		srv.Stop()
		lis.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type helloServer struct {
	aitrackv1.UnimplementedRecorderServer
}

func (helloServer) Hello(context.Context, *aitrackv1.HelloRequest) (*aitrackv1.HelloResponse, error) {
	return &aitrackv1.HelloResponse{DaemonVersion: "test"}, nil
}

func serve(path string, refused func(uid, pid int, method string)) (*grpc.Server, net.Listener) {
	lis, err := net.Listen("unix", path)
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(ServerOptions(refused)...)
	aitrackv1.RegisterRecorderServer(srv, helloServer{})
	go srv.Serve(lis)
	return srv, lis
}

func hello(path string) error {
	conn, err := Dial(path)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = aitrackv1.NewRecorderClient(conn).Hello(ctx, &aitrackv1.HelloRequest{})
	return err
}

func TestSameUserIsServed(t *testing.T) {
	path := filepath.Join(shortTemp(t), "s.sock")
	srv, lis := serve(path, nil)
	defer lis.Close()
	defer srv.Stop()
	if err := hello(path); err != nil {
		t.Fatalf("Hello from the same user: %v", err)
	}
}

// otherUser prepares a world-readable copy of the test binary and a
// directory another user can reach: the file-mode guard is deliberately
// opened so that the peer-credential check is what gets tested.
func otherUser(t *testing.T) (bin, dir string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to run a process as another user (CI runs as root)")
	}
	dir = shortTemp(t)
	os.Chmod(dir, 0o777)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "ipc.test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, dir
}

const nobody = 65534

func asNobody(bin string, env ...string) *exec.Cmd {
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	return cmd
}

func TestOtherUserIsRefused(t *testing.T) {
	bin, dir := otherUser(t)
	path := filepath.Join(dir, "s.sock")
	type refusal struct{ uid, pid int }
	refusals := make(chan refusal, 1)
	srv, lis := serve(path, func(uid, pid int, _ string) { refusals <- refusal{uid, pid} })
	defer lis.Close()
	defer srv.Stop()
	os.Chmod(path, 0o777)

	cmd := asNobody(bin, "IPC_TEST_ROLE=client", "IPC_TEST_SOCKET="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as nobody: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), codes.PermissionDenied.String()) || !strings.Contains(string(out), fmt.Sprintf("from uid %d", nobody)) {
		t.Fatalf("client as nobody got %q, want PermissionDenied naming its uid", out)
	}
	select {
	case r := <-refusals:
		if r.uid != nobody || r.pid <= 0 {
			t.Errorf("server logged refusal of uid %d pid %d", r.uid, r.pid)
		}
	case <-time.After(5 * time.Second):
		t.Error("server did not report the refusal")
	}
}

func TestClientRefusesOtherUsersDaemon(t *testing.T) {
	bin, dir := otherUser(t)
	path := filepath.Join(dir, "s.sock")
	cmd := asNobody(bin, "IPC_TEST_ROLE=server", "IPC_TEST_SOCKET="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("server as nobody did not start: %q %v", buf, err)
	}
	err := hello(path)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("belongs to uid %d", nobody)) {
		t.Fatalf("Hello to another user's daemon = %v, want a refusal naming its uid", err)
	}
}
