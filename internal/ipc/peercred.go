package ipc

import (
	"context"
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// PeerInfo is the identity of the process at the other end of the socket,
// read from the kernel when the connection was made.
type PeerInfo struct {
	credentials.CommonAuthInfo
	UID, PID int
}

// AuthType implements credentials.AuthInfo.
func (PeerInfo) AuthType() string { return "peercred" }

// peerCreds reads the peer's credentials in the transport handshake. It
// never fails the handshake itself: a refusal there reaches the client as
// an opaque "connection closed", so the server's interceptors refuse other
// users per RPC with a clear status instead.
type peerCreds struct{}

func (peerCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return conn, peerInfo(conn), nil
}

func (peerCreds) ClientHandshake(_ context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	info := peerInfo(conn)
	// A socket planted by another user must not receive our sessions.
	if info.UID != os.Getuid() {
		conn.Close()
		return nil, nil, fmt.Errorf("the process listening on %s belongs to uid %d, not to you (uid %d): refusing to talk to it", conn.RemoteAddr(), info.UID, os.Getuid())
	}
	return conn, info, nil
}

func (peerCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "peercred"}
}

func (p peerCreds) Clone() credentials.TransportCredentials { return p }

func (peerCreds) OverrideServerName(string) error { return nil }

func peerInfo(conn net.Conn) PeerInfo {
	info := PeerInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}, UID: -1, PID: -1}
	if uc, ok := conn.(*net.UnixConn); ok {
		info.UID, info.PID = peerCred(uc)
	}
	return info
}

// ServerOptions are the options every aitrackd gRPC server needs: peer
// credentials, message limits, and the same-user check on every RPC.
// refused is called for each refused call, for logging.
func ServerOptions(refused func(uid, pid int, method string)) []grpc.ServerOption {
	check := func(ctx context.Context, method string) error {
		p, ok := peer.FromContext(ctx)
		info, _ := p.AuthInfo.(PeerInfo)
		if !ok || info.UID != os.Getuid() {
			if refused != nil {
				refused(info.UID, info.PID, method)
			}
			return status.Errorf(codes.PermissionDenied, "aitrackd serves uid %d only; this connection comes from uid %d: run your own aitrackd (set AITRACK_SOCKET and AITRACK_STATE_DIR)", os.Getuid(), info.UID)
		}
		return nil
	}
	return []grpc.ServerOption{
		grpc.Creds(peerCreds{}),
		grpc.MaxRecvMsgSize(MaxMessage),
		grpc.MaxSendMsgSize(MaxMessage),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := check(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := check(ss.Context(), info.FullMethod); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}
