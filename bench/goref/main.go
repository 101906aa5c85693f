// Command taskcred-goref is the bench's Go reference plugin: HashiCorp's
// go-plugin server and grpc-go (Debian's packages, the transport of every Go
// SDK plugin) serving pb.Backend with the two handlers taskcred-bench
// compares the runtime on, nothing else:
//
//	read sleep     answers {"slept_ms": 0} at once (no brokered call)
//	read kv/<key>  one brokered storage Get; answers the stored JSON
//
// The same host harness launches it exactly as it launches taskcred, so a
// bench row shows what the same request costs a Go plugin process.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"taskcred/interop/pb"
)

type backendPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (backendPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	if err := fixBrokerTLS(broker); err != nil {
		return err
	}
	pb.RegisterBackendServer(s, &backend{broker: broker})
	return nil
}

// fixBrokerTLS makes Debian's go-plugin 1.0.1 dial brokered endpoints the
// way current go-plugin (Vault's) does under AutoMTLS: trusting the host's
// certificate (PLUGIN_CLIENT_CERT) with the server name "localhost". 1.0.1
// dials with the server's own tls.Config, which has no RootCAs and no
// ServerName, so its broker.Dial fails against any AutoMTLS host. That
// config is unexported; it is set through reflection here, in this bench
// reference only.
func fixBrokerTLS(broker *plugin.GRPCBroker) error {
	field := reflect.ValueOf(broker).Elem().FieldByName("tls")
	if !field.IsValid() || field.Type() != reflect.TypeOf((*tls.Config)(nil)) {
		return errors.New("go-plugin's GRPCBroker has no tls field: not go-plugin 1.0.1?")
	}
	cfg := *(**tls.Config)(unsafe.Pointer(field.UnsafeAddr()))
	if cfg == nil {
		return nil // plaintext host
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(os.Getenv("PLUGIN_CLIENT_CERT"))) {
		return errors.New("PLUGIN_CLIENT_CERT does not parse")
	}
	cfg.RootCAs = pool
	cfg.ServerName = "localhost"
	return nil
}

func (backendPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (interface{}, error) {
	return nil, errors.New("the reference plugin has no client side")
}

type backend struct {
	pb.UnimplementedBackendServer
	broker  *plugin.GRPCBroker
	mu      sync.Mutex
	storage pb.StorageClient
}

func (b *backend) Setup(_ context.Context, a *pb.SetupArgs) (*pb.SetupReply, error) {
	conn, err := b.broker.Dial(a.GetBrokerId())
	if err != nil {
		return &pb.SetupReply{Err: err.Error()}, nil
	}
	b.mu.Lock()
	b.storage = pb.NewStorageClient(conn)
	b.mu.Unlock()
	return &pb.SetupReply{}, nil
}

func (b *backend) Initialize(context.Context, *pb.InitializeArgs) (*pb.InitializeReply, error) {
	return &pb.InitializeReply{}, nil
}

func (b *backend) Type(context.Context, *pb.Empty) (*pb.TypeReply, error) {
	return &pb.TypeReply{Type: 1}, nil
}

func (b *backend) SpecialPaths(context.Context, *pb.Empty) (*pb.SpecialPathsReply, error) {
	return &pb.SpecialPathsReply{Paths: &pb.Paths{}}, nil
}

func (b *backend) Cleanup(context.Context, *pb.Empty) (*pb.Empty, error) { return &pb.Empty{}, nil }

func (b *backend) InvalidateKey(context.Context, *pb.InvalidateKeyArgs) (*pb.Empty, error) {
	return &pb.Empty{}, nil
}

func (b *backend) HandleExistenceCheck(context.Context, *pb.HandleExistenceCheckArgs) (*pb.HandleExistenceCheckReply, error) {
	return &pb.HandleExistenceCheckReply{}, nil
}

func failure(msg string) *pb.HandleRequestReply {
	return &pb.HandleRequestReply{Err: &pb.ProtoError{ErrType: 0, ErrMsg: msg}}
}

func (b *backend) HandleRequest(ctx context.Context, a *pb.HandleRequestArgs) (*pb.HandleRequestReply, error) {
	path := a.GetRequest().GetPath()
	switch {
	case path == "sleep":
		return &pb.HandleRequestReply{Response: &pb.Response{Data: `{"slept_ms":0}`}}, nil
	case strings.HasPrefix(path, "kv/"):
		b.mu.Lock()
		storage := b.storage
		b.mu.Unlock()
		if storage == nil {
			return failure("Setup was not called"), nil
		}
		r, err := storage.Get(ctx, &pb.StorageGetArgs{Key: path})
		if err != nil {
			return failure(err.Error()), nil
		}
		if r.GetErr() != "" {
			return failure(r.GetErr()), nil
		}
		if r.GetEntry() == nil {
			return &pb.HandleRequestReply{}, nil
		}
		return &pb.HandleRequestReply{Response: &pb.Response{Data: string(r.GetEntry().GetValue())}}, nil
	}
	return failure("unsupported path " + path), nil
}

func main() {
	if os.Getenv("VAULT_BACKEND_PLUGIN") == "" {
		os.Stderr.WriteString("taskcred-goref is a plugin for taskcred-bench's host harness\n")
		os.Exit(1)
	}
	p := backendPlugin{}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			MagicCookieKey:   "VAULT_BACKEND_PLUGIN",
			MagicCookieValue: "6669da05-b1c8-4f49-97d9-c8e5bed98e20",
		},
		VersionedPlugins: map[int]plugin.PluginSet{
			4: {"backend": p},
			5: {"backend": p},
		},
		GRPCServer: plugin.DefaultGRPCServer,
	})
}
