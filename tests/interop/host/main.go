// Command interop-host plays Vault with HashiCorp's own go-plugin client
// (Debian's go-plugin 1.0.1, AutoMTLS on): it launches a plugin binary,
// dispenses the backend, serves a brokered in-memory pb.Storage and a minimal
// pb.SystemView with broker.AcceptAndServe, drives Setup, Type, SpecialPaths,
// Initialize and HandleRequest (a write that must land in the brokered
// storage, then a read of it), kills the plugin and exits non-zero on any
// mismatch.
//
// Usage: interop-host [-engine mock|taskcred] <plugin binary>
//   mock:     write/read kv/x on taskcred-mock-plugin (the default)
//   taskcred: write/read the engine's config on the real taskcred plugin
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"taskcred/interop/logical"
	"taskcred/interop/pb"
)

const (
	cookieKey   = "VAULT_BACKEND_PLUGIN"
	cookieValue = "6669da05-b1c8-4f49-97d9-c8e5bed98e20"
)

// backendPlugin is the host half of the "backend" plugin: GRPCClient wraps
// the connection go-plugin opened to the plugin.
type backendPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (backendPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the host never serves the backend")
}

func (backendPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return &backendClient{broker: b, backend: pb.NewBackendClient(c)}, nil
}

type backendClient struct {
	broker  *plugin.GRPCBroker
	backend pb.BackendClient
}

// memStorage is pb.Storage over a map, as the host's storage view.
type memStorage struct {
	pb.UnimplementedStorageServer
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStorage) List(_ context.Context, a *pb.StorageListArgs) (*pb.StorageListReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for k := range s.m {
		if !strings.HasPrefix(k, a.GetPrefix()) {
			continue
		}
		rest := strings.TrimPrefix(k, a.GetPrefix())
		if i := strings.Index(rest, "/"); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return &pb.StorageListReply{Keys: keys}, nil
}

func (s *memStorage) Get(_ context.Context, a *pb.StorageGetArgs) (*pb.StorageGetReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[a.GetKey()]
	if !ok {
		return &pb.StorageGetReply{}, nil
	}
	return &pb.StorageGetReply{Entry: &pb.StorageEntry{Key: a.GetKey(), Value: v}}, nil
}

func (s *memStorage) Put(_ context.Context, a *pb.StoragePutArgs) (*pb.StoragePutReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[a.GetEntry().GetKey()] = append([]byte(nil), a.GetEntry().GetValue()...)
	return &pb.StoragePutReply{}, nil
}

func (s *memStorage) Delete(_ context.Context, a *pb.StorageDeleteArgs) (*pb.StorageDeleteReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, a.GetKey())
	return &pb.StorageDeleteReply{}, nil
}

// sysView answers the SystemView calls a secrets engine makes.
type sysView struct {
	pb.UnimplementedSystemViewServer
}

func (sysView) DefaultLeaseTTL(context.Context, *pb.Empty) (*pb.TTLReply, error) {
	return &pb.TTLReply{TTL: int64(time.Hour)}, nil
}

func (sysView) MaxLeaseTTL(context.Context, *pb.Empty) (*pb.TTLReply, error) {
	return &pb.TTLReply{TTL: int64(24 * time.Hour)}, nil
}

func (sysView) PluginEnv(context.Context, *pb.Empty) (*pb.PluginEnvReply, error) {
	return &pb.PluginEnvReply{PluginEnvironment: &logical.PluginEnvironment{VaultVersion: "1.8.0-interop"}}, nil
}

func (sysView) EntityInfo(context.Context, *pb.EntityInfoArgs) (*pb.EntityInfoReply, error) {
	return &pb.EntityInfoReply{}, nil
}

func (sysView) LocalMount(context.Context, *pb.Empty) (*pb.LocalMountReply, error) {
	return &pb.LocalMountReply{}, nil
}

func request(op, path string, data map[string]interface{}) *pb.HandleRequestArgs {
	raw := []byte("null")
	if data != nil {
		raw, _ = json.Marshal(data)
	}
	return &pb.HandleRequestArgs{Request: &pb.Request{
		Id:          fmt.Sprintf("interop-%s-%d", op, time.Now().UnixNano()),
		Operation:   op,
		Path:        path,
		Data:        string(raw),
		ClientToken: "interop-token",
		MountPoint:  "interop/",
		MountType:   "taskcred",
	}}
}

// run drives one plugin process whose host offers `versions`.
// scenario is the write-then-read exchange a run performs.
type scenario struct {
	path   string                 // written with update, then read
	data   map[string]interface{} // the write's body
	marker string                 // must appear in storage and in the read
}

var scenarios = map[string]scenario{
	"mock":     {path: "kv/x", data: map[string]interface{}{"value": "from-go-plugin"}, marker: "from-go-plugin"},
	"taskcred": {path: "config", data: map[string]interface{}{"issuer": "https://from-go-plugin.example/v1/taskcred"}, marker: "from-go-plugin.example"},
}

func run(binary string, versions []int, sc scenario) error {
	logger := hclog.New(&hclog.LoggerOptions{Name: "interop-host", Level: hclog.Debug, Output: os.Stderr})
	sets := map[int]plugin.PluginSet{}
	want := 0
	for _, v := range versions {
		sets[v] = plugin.PluginSet{"backend": backendPlugin{}}
		if v > want {
			want = v
		}
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  uint(versions[0]),
			MagicCookieKey:   cookieKey,
			MagicCookieValue: cookieValue,
		},
		VersionedPlugins: sets,
		Cmd:              exec.Command(binary),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           logger,
		StartTimeout:     20 * time.Second,
	})
	defer client.Kill()

	rpcClient, err := client.Client()
	if err != nil {
		return fmt.Errorf("go-plugin client: %w", err)
	}
	if got := client.NegotiatedVersion(); got != want {
		return fmt.Errorf("negotiated protocol %d, want %d", got, want)
	}
	raw, err := rpcClient.Dispense("backend")
	if err != nil {
		return fmt.Errorf("dispense: %w", err)
	}
	bc := raw.(*backendClient)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if want >= 5 {
		ctx = metadata.AppendToOutgoingContext(ctx, "multiplex_id", "interop001")
	}

	store := &memStorage{m: map[string][]byte{}}
	brokerID := bc.broker.NextId()
	go bc.broker.AcceptAndServe(brokerID, func(opts []grpc.ServerOption) *grpc.Server {
		opts = append(opts, grpc.MaxRecvMsgSize(math.MaxInt32), grpc.MaxSendMsgSize(math.MaxInt32))
		s := grpc.NewServer(opts...)
		pb.RegisterStorageServer(s, store)
		pb.RegisterSystemViewServer(s, sysView{})
		return s
	})

	setup, err := bc.backend.Setup(ctx, &pb.SetupArgs{
		BrokerId:    brokerID,
		Config:      map[string]string{"plugin_name": "taskcred-mock", "plugin_type": "secret"},
		BackendUUID: "7d2f4c1e-8a45-4b9e-9a3c-5d1f0e2b6c70",
	})
	if err != nil {
		return fmt.Errorf("Setup RPC: %w", err)
	}
	if setup.GetErr() != "" {
		return fmt.Errorf("Setup reply error: %s", setup.GetErr())
	}
	typ, err := bc.backend.Type(ctx, &pb.Empty{})
	if err != nil {
		return fmt.Errorf("Type RPC: %w", err)
	}
	if typ.GetType() != 1 {
		return fmt.Errorf("Type = %d, want 1 (logical)", typ.GetType())
	}
	paths, err := bc.backend.SpecialPaths(ctx, &pb.Empty{})
	if err != nil {
		return fmt.Errorf("SpecialPaths RPC: %w", err)
	}
	logger.Info("special paths", "paths", paths.GetPaths().String())
	if init, err := bc.backend.Initialize(ctx, &pb.InitializeArgs{}); err != nil {
		if status.Code(err) != codes.Unimplemented {
			return fmt.Errorf("Initialize RPC: %w", err)
		}
	} else if init.GetErr() != nil && (init.GetErr().GetErrType() != 0 || init.GetErr().GetErrMsg() != "") {
		return fmt.Errorf("Initialize reply error: %v", init.GetErr())
	}

	write, err := bc.backend.HandleRequest(ctx, request("update", sc.path, sc.data))
	if err != nil {
		return fmt.Errorf("HandleRequest update %s: %w", sc.path, err)
	}
	if e := write.GetErr(); e != nil && (e.GetErrType() != 0 || e.GetErrMsg() != "") {
		return fmt.Errorf("update %s error: %v", sc.path, e)
	}
	store.mu.Lock()
	stored := 0
	for k, v := range store.m {
		if strings.Contains(string(v), sc.marker) {
			stored++
			logger.Info("plugin wrote through the broker", "key", k)
		}
	}
	store.mu.Unlock()
	if stored == 0 {
		return fmt.Errorf("the write of %s did not reach the brokered storage", sc.path)
	}

	read, err := bc.backend.HandleRequest(ctx, request("read", sc.path, nil))
	if err != nil {
		return fmt.Errorf("HandleRequest read %s: %w", sc.path, err)
	}
	if e := read.GetErr(); e != nil && (e.GetErrType() != 0 || e.GetErrMsg() != "") {
		return fmt.Errorf("read %s error: %v", sc.path, e)
	}
	var data map[string]interface{}
	if err := json.Unmarshal([]byte(read.GetResponse().GetData()), &data); err != nil {
		return fmt.Errorf("read %s: response data is not JSON: %w", sc.path, err)
	}
	if !strings.Contains(read.GetResponse().GetData(), sc.marker) {
		return fmt.Errorf("read %s returned %s, want the written value", sc.path, read.GetResponse().GetData())
	}

	client.Kill()
	if !client.Exited() {
		return errors.New("plugin still running after Kill")
	}
	return nil
}

func main() {
	args := os.Args[1:]
	engine := "mock"
	if len(args) == 3 && args[0] == "-engine" {
		engine, args = args[1], args[2:]
	}
	sc, known := scenarios[engine]
	if len(args) != 1 || !known {
		fmt.Fprintln(os.Stderr, "usage: interop-host [-engine mock|taskcred] <plugin binary>")
		os.Exit(2)
	}
	failed := false
	for _, versions := range [][]int{{4, 5}, {4}} {
		if err := run(args[0], versions, sc); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL host offering %v: %v\n", versions, err)
			failed = true
			continue
		}
		fmt.Printf("ok   host offering %v\n", versions)
	}
	if failed {
		os.Exit(1)
	}
}
