// The Confidential Data Hub's other services, as kata-agent and image-rs call them
// (guest-components protos/protos/confidential-data-hub/api.proto and keyprovider.proto):
//
//	get-resource SOCK RESOURCE_PATH OUT   GetResource; writes the resource to OUT
//	unseal SOCK SECRET_FILE OUT           UnsealSecret of the file's bytes; writes the plaintext to OUT
//	unwrap-key SOCK INPUT_FILE OUT        keyprovider UnWrapKey of the file's JSON; writes the output JSON to OUT
//
// Errors print "ERROR <code>: <message>" and exit 1 (report).
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/containerd/ttrpc"
)

// api.GetResourceRequest / GetResourceResponse
type GetResourceRequest struct {
	ResourcePath string `protobuf:"bytes,1,opt,name=ResourcePath,proto3"`
}

func (m *GetResourceRequest) Reset()         { *m = GetResourceRequest{} }
func (m *GetResourceRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*GetResourceRequest) ProtoMessage()    {}

type GetResourceResponse struct {
	Resource []byte `protobuf:"bytes,1,opt,name=Resource,proto3"`
}

func (m *GetResourceResponse) Reset()         { *m = GetResourceResponse{} }
func (m *GetResourceResponse) String() string { return "GetResourceResponse{...}" }
func (*GetResourceResponse) ProtoMessage()    {}

// api.UnsealSecretInput / UnsealSecretOutput
type UnsealSecretInput struct {
	Secret []byte `protobuf:"bytes,1,opt,name=secret,proto3"`
}

func (m *UnsealSecretInput) Reset()         { *m = UnsealSecretInput{} }
func (m *UnsealSecretInput) String() string { return "UnsealSecretInput{...}" }
func (*UnsealSecretInput) ProtoMessage()    {}

type UnsealSecretOutput struct {
	Plaintext []byte `protobuf:"bytes,1,opt,name=plaintext,proto3"`
}

func (m *UnsealSecretOutput) Reset()         { *m = UnsealSecretOutput{} }
func (m *UnsealSecretOutput) String() string { return "UnsealSecretOutput{...}" }
func (*UnsealSecretOutput) ProtoMessage()    {}

// keyprovider.KeyProviderKeyWrapProtocolInput / Output
type KeyProviderKeyWrapProtocolInput struct {
	KeyProviderKeyWrapProtocolInput []byte `protobuf:"bytes,1,opt,name=KeyProviderKeyWrapProtocolInput,proto3"`
}

func (m *KeyProviderKeyWrapProtocolInput) Reset()         { *m = KeyProviderKeyWrapProtocolInput{} }
func (m *KeyProviderKeyWrapProtocolInput) String() string { return "KeyProviderKeyWrapProtocolInput{...}" }
func (*KeyProviderKeyWrapProtocolInput) ProtoMessage()    {}

type KeyProviderKeyWrapProtocolOutput struct {
	KeyProviderKeyWrapProtocolOutput []byte `protobuf:"bytes,1,opt,name=KeyProviderKeyWrapProtocolOutput,proto3"`
}

func (m *KeyProviderKeyWrapProtocolOutput) Reset()         { *m = KeyProviderKeyWrapProtocolOutput{} }
func (m *KeyProviderKeyWrapProtocolOutput) String() string { return "KeyProviderKeyWrapProtocolOutput{...}" }
func (*KeyProviderKeyWrapProtocolOutput) ProtoMessage()    {}

// cdhCall makes one call with kata-agent's CDH timeout (agent.cdh_api_timeout, 50 s) and writes the
// answer's bytes to out.
func cdhCall(sock, service, method string, req interface{}, resp interface{}, get func() []byte, out string) {
	c := ttrpc.NewClient(dial(sock))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	if err := c.Call(ctx, service, method, req, resp); err != nil {
		report(err)
	}
	if err := os.WriteFile(out, get(), 0600); err != nil {
		die("%v", err)
	}
}

func readArg(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		die("%v", err)
	}
	return b
}

func init() {
	extraCommands["get-resource"] = func(sock string, args []string) {
		if len(args) != 2 {
			die("usage: get-resource SOCK RESOURCE_PATH OUT")
		}
		var resp GetResourceResponse
		cdhCall(sock, "api.GetResourceService", "GetResource", &GetResourceRequest{ResourcePath: args[0]}, &resp,
			func() []byte { return resp.Resource }, args[1])
	}
	extraCommands["unseal"] = func(sock string, args []string) {
		if len(args) != 2 {
			die("usage: unseal SOCK SECRET_FILE OUT")
		}
		var resp UnsealSecretOutput
		cdhCall(sock, "api.SealedSecretService", "UnsealSecret", &UnsealSecretInput{Secret: readArg(args[0])}, &resp,
			func() []byte { return resp.Plaintext }, args[1])
	}
	extraCommands["unwrap-key"] = func(sock string, args []string) {
		if len(args) != 2 {
			die("usage: unwrap-key SOCK INPUT_FILE OUT")
		}
		var resp KeyProviderKeyWrapProtocolOutput
		cdhCall(sock, "keyprovider.KeyProviderService", "UnWrapKey",
			&KeyProviderKeyWrapProtocolInput{KeyProviderKeyWrapProtocolInput: readArg(args[0])}, &resp,
			func() []byte { return resp.KeyProviderKeyWrapProtocolOutput }, args[1])
	}
}
