package main

// Debian's grpc-go 1.33 encodes with github.com/golang/protobuf 1.3 (APIv1),
// which cannot marshal the APIv2 messages Debian's protoc-gen-go 1.28
// generates from our protos (it panics on their unexported state fields).
// go-plugin 1.0.1's own internal messages are APIv1. This codec, registered
// under the name "proto" (so it replaces the default), handles both.

import (
	"fmt"

	protov1 "github.com/golang/protobuf/proto"
	"google.golang.org/grpc/encoding"
	protov2 "google.golang.org/protobuf/proto"
)

type dualCodec struct{}

func (dualCodec) Marshal(v interface{}) ([]byte, error) {
	if m, ok := v.(protov2.Message); ok {
		return protov2.Marshal(m)
	}
	if m, ok := v.(protov1.Message); ok {
		return protov1.Marshal(m)
	}
	return nil, fmt.Errorf("dualCodec: %T is not a protobuf message", v)
}

func (dualCodec) Unmarshal(data []byte, v interface{}) error {
	if m, ok := v.(protov2.Message); ok {
		return protov2.Unmarshal(data, m)
	}
	if m, ok := v.(protov1.Message); ok {
		return protov1.Unmarshal(data, m)
	}
	return fmt.Errorf("dualCodec: %T is not a protobuf message", v)
}

func (dualCodec) Name() string { return "proto" }

func init() { encoding.RegisterCodec(dualCodec{}) }
