// ttrpc_client: a second, independent ttrpc implementation (containerd's Go ttrpc) calling
// `ccpull serve` as kata-agent calls the Confidential Data Hub, plus raw frames for the cases a
// well-behaved client never sends. Built offline by test_serve.sh (GO111MODULE=off, Debian's gocode).
//
//	pull SOCK IMAGE BUNDLE               PullImage; prints the manifest digest
//	call SOCK SERVICE METHOD             any method with an empty payload; prints the status code
//	concurrent SOCK SLOW_IMG SLOW_BUNDLE FAST_IMG FAST_BUNDLE RELEASE
//	                                     two PullImage calls on one connection: the fast one must
//	                                     finish while the slow one is held, then RELEASE is created
//	raw-timeout SOCK IMAGE BUNDLE MS     PullImage with timeout_nano = MS ms; prints the status code
//	malformed SOCK                       undecodable request, truncated frame: only those connections end
//	oversize SOCK                        a frame over 4 MiB is refused; the connection goes on
//	aa-server SOCK LOG [ok|fail|not-supported]
//	                                     serves the attestation agent's ExtendRuntimeMeasurement on
//	                                     SOCK, appends each request to LOG as one JSON line and
//	                                     answers Result OK, an INTERNAL error or NOT_SUPPORTED; and
//	                                     GetTeeType ("sample", or $AA_TEE_TYPE) and GetEvidence (Trustee's sample
//	                                     evidence of the RuntimeData; with fail, an INTERNAL error),
//	                                     logged as {"method": ..., "runtime_data": base64}; GetToken
//	                                     and keyprovider UnWrapKey when the environment asks for
//	                                     them (aa_token.go)
//
// The package's other files add commands of their own (extraCommands; each file says which).
//
// Errors print "ERROR <code>: <message>" and exit 1.
package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// api.ImagePullRequest / api.ImagePullResponse, field numbers of guest-components' api.proto.
type ImagePullRequest struct {
	ImageUrl   string `protobuf:"bytes,1,opt,name=image_url,proto3"`
	BundlePath string `protobuf:"bytes,2,opt,name=bundle_path,proto3"`
}

func (m *ImagePullRequest) Reset()         { *m = ImagePullRequest{} }
func (m *ImagePullRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*ImagePullRequest) ProtoMessage()    {}

type ImagePullResponse struct {
	ManifestDigest string `protobuf:"bytes,1,opt,name=manifest_digest,proto3"`
}

func (m *ImagePullResponse) Reset()         { *m = ImagePullResponse{} }
func (m *ImagePullResponse) String() string { return fmt.Sprintf("%+v", *m) }
func (*ImagePullResponse) ProtoMessage()    {}

// attestation_agent.ExtendRuntimeMeasurementRequest / Response, field numbers of guest-components'
// attestation-agent.proto.
type ExtendRuntimeMeasurementRequest struct {
	Domain        string  `protobuf:"bytes,1,opt,name=Domain,proto3"`
	Operation     string  `protobuf:"bytes,2,opt,name=Operation,proto3"`
	Content       string  `protobuf:"bytes,3,opt,name=Content,proto3"`
	RegisterIndex *uint64 `protobuf:"varint,4,opt,name=RegisterIndex,proto3"`
}

func (m *ExtendRuntimeMeasurementRequest) Reset()         { *m = ExtendRuntimeMeasurementRequest{} }
func (m *ExtendRuntimeMeasurementRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*ExtendRuntimeMeasurementRequest) ProtoMessage()    {}

type ExtendRuntimeMeasurementResponse struct {
	Result int32 `protobuf:"varint,1,opt,name=Result,proto3"`
}

func (m *ExtendRuntimeMeasurementResponse) Reset()         { *m = ExtendRuntimeMeasurementResponse{} }
func (m *ExtendRuntimeMeasurementResponse) String() string { return fmt.Sprintf("%+v", *m) }
func (*ExtendRuntimeMeasurementResponse) ProtoMessage()    {}

// attestation_agent.GetEvidenceRequest / GetEvidenceResponse / GetTeeTypeRequest / GetTeeTypeResponse.
type GetEvidenceRequest struct {
	RuntimeData []byte `protobuf:"bytes,1,opt,name=RuntimeData,proto3"`
}

func (m *GetEvidenceRequest) Reset()         { *m = GetEvidenceRequest{} }
func (m *GetEvidenceRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*GetEvidenceRequest) ProtoMessage()    {}

type GetEvidenceResponse struct {
	Evidence []byte `protobuf:"bytes,1,opt,name=Evidence,proto3"`
}

func (m *GetEvidenceResponse) Reset()         { *m = GetEvidenceResponse{} }
func (m *GetEvidenceResponse) String() string { return fmt.Sprintf("%+v", *m) }
func (*GetEvidenceResponse) ProtoMessage()    {}

type GetTeeTypeResponse struct {
	Tee string `protobuf:"bytes,1,opt,name=tee,proto3"`
}

func (m *GetTeeTypeResponse) Reset()         { *m = GetTeeTypeResponse{} }
func (m *GetTeeTypeResponse) String() string { return fmt.Sprintf("%+v", *m) }
func (*GetTeeTypeResponse) ProtoMessage()    {}

// aaServer serves ExtendRuntimeMeasurement, GetTeeType and GetEvidence until killed; the log line is
// written before the answer.
// loggedServer listens on sock and makes a ttrpc server whose logLine appends one JSON line to logPath.
func loggedServer(sock, logPath string) (net.Listener, *ttrpc.Server, func(map[string]interface{})) {
	l, err := net.Listen("unix", sock)
	if err != nil {
		die("listen %s: %v", sock, err)
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0644)
	if err != nil {
		die("%v", err)
	}
	s, err := ttrpc.NewServer()
	if err != nil {
		die("%v", err)
	}
	var mu sync.Mutex
	logLine := func(v map[string]interface{}) {
		line, _ := json.Marshal(v)
		mu.Lock()
		_, werr := f.Write(append(line, '\n'))
		mu.Unlock()
		if werr != nil {
			die("%v", werr)
		}
	}
	return l, s, logLine
}

// serveOn announces the server to the test, then serves until it is killed.
func serveOn(s *ttrpc.Server, l net.Listener) {
	fmt.Println("serving")
	if err := s.Serve(context.Background(), l); err != nil {
		die("serve: %v", err)
	}
}

func aaServer(sock, logPath, mode string) {
	l, s, logLine := loggedServer(sock, logPath)
	methods := map[string]ttrpc.Method{
		"ExtendRuntimeMeasurement": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req ExtendRuntimeMeasurementRequest
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			logLine(map[string]interface{}{"domain": req.Domain, "operation": req.Operation,
				"content": req.Content, "register_index_set": req.RegisterIndex != nil})
			switch mode {
			case "fail":
				return nil, status.Errorf(codes.Internal, "test attestation agent: extend refused")
			case "not-supported":
				return &ExtendRuntimeMeasurementResponse{Result: 1}, nil
			}
			return &ExtendRuntimeMeasurementResponse{}, nil
		},
		"GetTeeType": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req Empty
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			logLine(map[string]interface{}{"method": "GetTeeType"})
			tee := "sample"
			if t := os.Getenv("AA_TEE_TYPE"); t != "" {
				tee = t // a kbs-types name such as az-snp-vtpm
			}
			return &GetTeeTypeResponse{Tee: tee}, nil
		},
		"GetEvidence": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req GetEvidenceRequest
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			logLine(map[string]interface{}{"method": "GetEvidence", "runtime_data": req.RuntimeData})
			if mode == "fail" {
				return nil, status.Errorf(codes.Internal, "test attestation agent: no evidence")
			}
			// Trustee's sample attester: {"svn": "1", "report_data": base64(runtime data)}
			ev, _ := json.Marshal(map[string]string{"svn": "1",
				"report_data": base64.StdEncoding.EncodeToString(req.RuntimeData)})
			return &GetEvidenceResponse{Evidence: ev}, nil
		},
	}
	aaTokenMethods(methods, mode, logLine) // aa_token.go
	s.Register("attestation_agent.AttestationAgentService", methods)
	keyproviderService(s, logLine)
	serveOn(s, l)
}

type Empty struct{}

func (m *Empty) Reset()         { *m = Empty{} }
func (m *Empty) String() string { return "{}" }
func (*Empty) ProtoMessage()    {}

const service = "api.ImagePullService"

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "ttrpc_client: "+format+"\n", a...)
	os.Exit(2)
}

func dial(sock string) net.Conn {
	c, err := net.Dial("unix", sock)
	if err != nil {
		die("dial %s: %v", sock, err)
	}
	return c
}

func pull(c *ttrpc.Client, image, bundle string) (string, error) {
	var resp ImagePullResponse
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Second)
	defer cancel()
	err := c.Call(ctx, service, "PullImage", &ImagePullRequest{ImageUrl: image, BundlePath: bundle}, &resp)
	return resp.ManifestDigest, err
}

func report(err error) {
	st, _ := status.FromError(err)
	fmt.Printf("ERROR %s: %s\n", st.Code(), st.Message())
	os.Exit(1)
}

// Raw framing: header (length, stream id BE; type; flags) + data.
func writeFrame(c net.Conn, id uint32, typ byte, data []byte, length uint32) {
	h := make([]byte, 10)
	binary.BigEndian.PutUint32(h[0:4], length)
	binary.BigEndian.PutUint32(h[4:8], id)
	h[8] = typ
	if _, err := c.Write(append(h, data...)); err != nil {
		die("write: %v", err)
	}
}

func readResponse(c net.Conn) (uint32, *ttrpc.Response, error) {
	h := make([]byte, 10)
	if _, err := io.ReadFull(c, h); err != nil {
		return 0, nil, err
	}
	if h[8] != 2 {
		die("frame type %d, want a response", h[8])
	}
	p := make([]byte, binary.BigEndian.Uint32(h[0:4]))
	if _, err := io.ReadFull(c, p); err != nil {
		return 0, nil, err
	}
	var r ttrpc.Response
	if err := proto.Unmarshal(p, &r); err != nil {
		die("response does not decode: %v", err)
	}
	return binary.BigEndian.Uint32(h[4:8]), &r, nil
}

func request(svc, method string, payload []byte, timeout int64) []byte {
	p, err := proto.Marshal(&ttrpc.Request{Service: svc, Method: method, Payload: payload, TimeoutNano: timeout})
	if err != nil {
		die("marshal: %v", err)
	}
	return p
}

func expectCode(c net.Conn, id uint32, want codes.Code) {
	got, r, err := readResponse(c)
	if err != nil {
		die("stream %d: no response: %v", id, err)
	}
	if got != id || codes.Code(r.Status.GetCode()) != want {
		die("stream %d: got stream %d code %v (%s), want %v", id, got, codes.Code(r.Status.GetCode()),
			r.Status.GetMessage(), want)
	}
}

func expectEOF(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		die("connection still open after a malformed frame (read %d, %v)", n, err)
	}
}

// extraCommands are the commands defined in the package's other files (one file per service),
// registered from their init functions: name -> run(SOCK, ARGS).
var extraCommands = map[string]func(sock string, args []string){}

func main() {
	if len(os.Args) < 3 {
		die("usage: ttrpc_client COMMAND SOCK ARGS...")
	}
	cmd, sock, args := os.Args[1], os.Args[2], os.Args[3:]
	if run, ok := extraCommands[cmd]; ok {
		run(sock, args)
		return
	}
	switch {
	case cmd == "pull" && len(args) == 2:
		c := ttrpc.NewClient(dial(sock))
		defer c.Close()
		d, err := pull(c, args[0], args[1])
		if err != nil {
			report(err)
		}
		fmt.Println(d)
	case cmd == "call" && len(args) == 2:
		c := ttrpc.NewClient(dial(sock))
		defer c.Close()
		err := c.Call(context.Background(), args[0], args[1], &Empty{}, &Empty{})
		st, _ := status.FromError(err)
		fmt.Println(st.Code())
	case cmd == "concurrent" && len(args) == 5:
		c := ttrpc.NewClient(dial(sock))
		defer c.Close()
		type result struct {
			d   string
			err error
		}
		slow, fast := make(chan result, 1), make(chan result, 1)
		go func() { d, err := pull(c, args[0], args[1]); slow <- result{d, err} }()
		go func() { d, err := pull(c, args[2], args[3]); fast <- result{d, err} }()
		f := <-fast
		if f.err != nil {
			report(f.err)
		}
		select {
		case <-slow:
			die("the held pull finished before it was released")
		default:
		}
		if fh, err := os.Create(args[4]); err != nil {
			die("%v", err)
		} else {
			fh.Close()
		}
		s := <-slow
		if s.err != nil {
			report(s.err)
		}
		fmt.Println(s.d)
		fmt.Println(f.d)
	case cmd == "raw-timeout" && len(args) == 3:
		ms, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil {
			die("%v", err)
		}
		c := dial(sock)
		defer c.Close()
		in, _ := proto.Marshal(&ImagePullRequest{ImageUrl: args[0], BundlePath: args[1]})
		p := request(service, "PullImage", in, ms*int64(time.Millisecond))
		writeFrame(c, 1, 1, p, uint32(len(p)))
		_, r, err := readResponse(c)
		if err != nil {
			die("no response: %v", err)
		}
		fmt.Println(codes.Code(r.Status.GetCode()))
	case cmd == "malformed" && len(args) == 0:
		good := ttrpc.NewClient(dial(sock))
		defer good.Close()
		// data that is not a ttrpc.Request: answered INVALID_ARGUMENT, then the connection ends
		bad := dial(sock)
		junk := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
		writeFrame(bad, 1, 1, junk, uint32(len(junk)))
		expectCode(bad, 1, codes.InvalidArgument)
		expectEOF(bad)
		// a frame cut off in its data
		cut := dial(sock)
		p := request(service, "PullImage", nil, 0)
		writeFrame(cut, 3, 1, p[:len(p)/2], uint32(len(p)))
		cut.(*net.UnixConn).CloseWrite()
		expectEOF(cut)
		// an even stream id is refused on that stream only
		even := dial(sock)
		writeFrame(even, 2, 1, p, uint32(len(p)))
		expectCode(even, 2, codes.InvalidArgument)
		writeFrame(even, 5, 1, request("no.Such", "Method", nil, 0), uint32(len(request("no.Such", "Method", nil, 0))))
		expectCode(even, 5, codes.Unimplemented)
		// the server still serves the first connection
		err := good.Call(context.Background(), service, "NoSuchMethod", &Empty{}, &Empty{})
		if st, _ := status.FromError(err); st.Code() != codes.Unimplemented {
			die("after malformed frames: %v", err)
		}
		fmt.Println("OK")
	case cmd == "oversize" && len(args) == 0:
		c := dial(sock)
		defer c.Close()
		big := make([]byte, 4<<20+1)
		go writeFrame(c, 7, 1, big, uint32(len(big)))
		expectCode(c, 7, codes.ResourceExhausted)
		p := request("no.Such", "Method", nil, 0)
		writeFrame(c, 9, 1, p, uint32(len(p)))
		expectCode(c, 9, codes.Unimplemented)
		fmt.Println("OK")
	case cmd == "aa-server" && (len(args) == 1 || len(args) == 2):
		mode := "ok"
		if len(args) == 2 {
			mode = args[1]
		}
		aaServer(sock, args[0], mode)
	default:
		die("unknown command or wrong arguments: %v", os.Args[1:])
	}
}
