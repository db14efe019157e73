// Commands for ccpull as the Confidential Data Hub (test_cdh.sh):
//
//	securemount-server SOCK LOG          serves api.SecureMountService/SecureMount on SOCK, a stand-in
//	                                     for another CDH: appends each request to LOG as one JSON line
//	                                     ({"volume_type", "options", "flags", "mount_point"}) and answers
//	                                     {}; a volume_type "refuse" is answered PERMISSION_DENIED
//	                                     "stand-in CDH: refused"
//	securemount SOCK VOLUME_TYPE MOUNT_POINT [KEY=VALUE|+FLAG]...
//	                                     SecureMount as kata-agent calls it (50 s); prints OK, or
//	                                     "ERROR <code>: <message>" and exits 1
//	status SOCK SERVICE METHOD           any method with an empty payload; prints "<code>: <message>"
package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// api.SecureMountRequest / api.SecureMountResponse, field numbers of guest-components' api.proto.
type SecureMountRequest struct {
	VolumeType string            `protobuf:"bytes,1,opt,name=volume_type,proto3"`
	Options    map[string]string `protobuf:"bytes,2,rep,name=options,proto3" protobuf_key:"bytes,1,opt,name=key,proto3" protobuf_val:"bytes,2,opt,name=value,proto3"`
	Flags      []string          `protobuf:"bytes,3,rep,name=flags,proto3"`
	MountPoint string            `protobuf:"bytes,4,opt,name=mount_point,proto3"`
}

func (m *SecureMountRequest) Reset()         { *m = SecureMountRequest{} }
func (m *SecureMountRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*SecureMountRequest) ProtoMessage()    {}

func init() {
	extraCommands["securemount-server"] = func(sock string, args []string) {
		if len(args) != 1 {
			die("usage: securemount-server SOCK LOG")
		}
		secureMountServer(sock, args[0])
	}
	extraCommands["securemount"] = func(sock string, args []string) {
		if len(args) < 2 {
			die("usage: securemount SOCK VOLUME_TYPE MOUNT_POINT [KEY=VALUE|+FLAG]...")
		}
		req := &SecureMountRequest{VolumeType: args[0], MountPoint: args[1], Options: map[string]string{}}
		for _, a := range args[2:] {
			if strings.HasPrefix(a, "+") {
				req.Flags = append(req.Flags, a[1:])
			} else if kv := strings.SplitN(a, "=", 2); len(kv) == 2 {
				req.Options[kv[0]] = kv[1]
			} else {
				die("bad argument %q", a)
			}
		}
		c := ttrpc.NewClient(dial(sock))
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
		defer cancel()
		if err := c.Call(ctx, "api.SecureMountService", "SecureMount", req, &Empty{}); err != nil {
			report(err)
		}
		fmt.Println("OK")
	}
	extraCommands["status"] = func(sock string, args []string) {
		if len(args) != 2 {
			die("usage: status SOCK SERVICE METHOD")
		}
		c := ttrpc.NewClient(dial(sock))
		defer c.Close()
		err := c.Call(context.Background(), args[0], args[1], &Empty{}, &Empty{})
		st, _ := status.FromError(err)
		fmt.Printf("%s: %s\n", st.Code(), st.Message())
	}
}

func secureMountServer(sock, logPath string) {
	l, s, logLine := loggedServer(sock, logPath)
	s.Register("api.SecureMountService", map[string]ttrpc.Method{
		"SecureMount": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req SecureMountRequest
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			flags := req.Flags
			if flags == nil {
				flags = []string{}
			}
			logLine(map[string]interface{}{"volume_type": req.VolumeType, "options": req.Options,
				"flags": flags, "mount_point": req.MountPoint})
			if req.VolumeType == "refuse" {
				return nil, status.Errorf(codes.PermissionDenied, "stand-in CDH: refused")
			}
			return &Empty{}, nil
		},
	})
	serveOn(s, l)
}
